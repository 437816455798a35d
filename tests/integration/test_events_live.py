"""Live ansible-runner runs of varied playbooks through the event parser.

For every playbook the per-host counters the parser derives from the individual
events must equal ansible's own recap (``runner.stats`` / ``playbook_on_stats``),
and at least one task must get the status the playbook makes it have.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ansible_runner
import pytest
import yaml

from agentmaint.ansible.events import EventParser, ParsedRun, read_artifact_dir
from agentmaint.records import HostCounts, RunStatus, TaskStatus

pytestmark = pytest.mark.integration

OK, CHANGED, FAILED = TaskStatus.OK, TaskStatus.CHANGED, TaskStatus.FAILED
IGNORED, SKIPPED, RESCUED = TaskStatus.IGNORED, TaskStatus.SKIPPED, TaskStatus.RESCUED
UNREACHABLE = TaskStatus.UNREACHABLE
CENSORED = (
    "the output has been hidden due to the fact that 'no_log: true' was specified for this result"
)
PLAY = "- hosts: all\n  gather_facts: false\n"
THREE = ("h1", "h2", "h3")


@dataclass(frozen=True)
class Case:
    """A playbook, where it runs, and what must come out of it."""

    playbook: str
    hosts: tuple[str, ...] = THREE
    unreachable: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)
    cmdline: str | None = None
    # (host, task) -> status every result of that task on that host has; None: no result
    expect: dict[tuple[str, str], TaskStatus | None] = field(default_factory=dict)
    messages: dict[tuple[str, str], str] = field(default_factory=dict)  # must contain
    roles: dict[tuple[str, str], str] = field(default_factory=dict)
    # a warning that must be there: the ambiguous failures a case is about
    warning: str | None = None
    error: bool = False
    secret: str | None = None  # must appear nowhere in the parsed run


CASES: dict[str, Case] = {
    "changes": Case(
        PLAY
        + """  tasks:
    - name: create
      command: echo created
    - name: read
      command: echo read
      changed_when: false
    - name: only h1
      debug: {msg: hi}
      when: inventory_hostname == 'h1'
""",
        hosts=("h1", "h2"),
        expect={("h1", "create"): CHANGED, ("h2", "read"): OK, ("h2", "only h1"): SKIPPED},
        messages={("h1", "create"): "created"},
    ),
    "failure_on_one_of_three": Case(
        PLAY
        + """  tasks:
    - name: break h2
      command: /bin/false
      when: inventory_hostname == 'h2'
    - name: after
      debug: {msg: after}
""",
        expect={("h2", "break h2"): FAILED, ("h2", "after"): None, ("h1", "after"): OK},
        messages={("h2", "break h2"): "non-zero return code 1 from false"},
    ),
    "unreachable_and_ignore_unreachable": Case(
        PLAY
        + """  tasks:
    - name: ping
      ping:
      ignore_unreachable: "{{ inventory_hostname == 'bad2' }}"
    - name: after
      debug: {msg: after}
""",
        hosts=("h1",),
        unreachable=("bad", "bad2"),
        expect={
            ("bad", "ping"): UNREACHABLE,
            ("bad", "after"): None,
            ("bad2", "ping"): IGNORED,
            ("bad2", "after"): OK,
            ("h1", "ping"): OK,
        },
        messages={("bad", "ping"): "Failed to connect to the host via ssh"},
    ),
    "rescued_block": Case(
        PLAY
        + """  tasks:
    - block:
        - name: risky
          fail: {msg: boom}
          when: inventory_hostname == 'h1'
        - name: rest
          debug: {msg: rest}
      rescue:
        - name: roll back
          debug: {msg: rolled back}
      always:
        - name: clean up
          debug: {msg: cleaned}
    - name: after
      debug: {msg: after}
""",
        expect={
            ("h1", "risky"): RESCUED,
            ("h1", "rest"): None,
            ("h1", "roll back"): OK,
            ("h2", "roll back"): None,
            ("h1", "after"): OK,
        },
        messages={("h1", "risky"): "boom"},
    ),
    "rescued_single_host_last_block": Case(
        PLAY
        + """  tasks:
    - block:
        - name: risky
          fail: {msg: boom}
      rescue:
        - name: roll back
          debug: {msg: rolled back}
""",
        hosts=("h1",),
        expect={("h1", "risky"): RESCUED},
    ),
    "rescued_then_next_play": Case(
        PLAY
        + """  tasks:
    - block:
        - name: risky
          fail: {msg: boom}
      rescue:
        - name: roll back
          debug: {msg: rolled back}
"""
        + PLAY
        + """  tasks:
    - name: second play
      debug: {msg: p2}
""",
        hosts=("h1",),
        expect={("h1", "risky"): RESCUED, ("h1", "second play"): OK},
    ),
    "always_without_rescue_single_host": Case(
        PLAY
        + """  tasks:
    - block:
        - name: risky
          fail: {msg: boom}
      always:
        - name: clean up
          debug: {msg: cleaned}
""",
        hosts=("h1",),
        expect={("h1", "risky"): FAILED, ("h1", "clean up"): OK},
        warning="taken as not rescued since the run failed",
    ),
    "always_without_rescue": Case(
        PLAY
        + """  tasks:
    - block:
        - name: risky
          fail: {msg: boom}
          when: inventory_hostname == 'h1'
        - name: rest
          debug: {msg: rest}
      always:
        - name: clean up
          debug: {msg: cleaned}
    - name: after
      debug: {msg: after}
""",
        expect={("h1", "risky"): FAILED, ("h1", "clean up"): OK, ("h1", "after"): None},
    ),
    "nested_blocks_with_always": Case(
        PLAY
        + """  tasks:
    - block:
        - block:
            - name: inner
              fail: {msg: inner}
              when: inventory_hostname != 'h3'
          always:
            - name: inner always
              debug: {msg: inner always}
            - name: always fails
              fail: {msg: always fails}
              when: inventory_hostname == 'h2'
      rescue:
        - name: outer rescue
          debug: {msg: outer rescue}
        - name: rescue fails
          fail: {msg: rescue fails}
          when: inventory_hostname == 'h2'
      always:
        - name: outer always
          debug: {msg: outer always}
    - name: after
      debug: {msg: after}
""",
        expect={
            ("h1", "inner"): RESCUED,
            ("h2", "inner"): RESCUED,
            ("h2", "always fails"): RESCUED,
            ("h2", "rescue fails"): FAILED,
            ("h2", "outer always"): OK,
            ("h2", "after"): None,
            ("h1", "after"): OK,
            ("h3", "outer rescue"): None,
        },
    ),
    "rescue_that_fails": Case(
        PLAY
        + """  tasks:
    - block:
        - name: risky
          fail: {msg: boom}
          when: inventory_hostname == 'h1'
      rescue:
        - name: roll back
          fail: {msg: rollback failed}
      always:
        - name: clean up
          debug: {msg: cleaned}
    - name: after
      debug: {msg: after}
""",
        hosts=("h1", "h2"),
        expect={("h1", "risky"): RESCUED, ("h1", "roll back"): FAILED, ("h1", "after"): None},
    ),
    "loops": Case(
        PLAY
        + """  tasks:
    - name: loop ignored
      fail: {msg: "item {{ item }} failed"}
      when: item == 2
      loop: [1, 2, 3]
      ignore_errors: true
    - name: loop changed
      debug: {msg: "{{ item }}"}
      changed_when: item == 2
      loop: [1, 2]
    - name: loop fails on h1
      fail: {msg: "item {{ item }} failed"}
      when: item == 2 and inventory_hostname == 'h1'
      loop: [1, 2]
    - name: empty loop
      debug: {msg: never}
      loop: []
    - name: after
      debug: {msg: after}
""",
        hosts=("h1", "h2"),
        expect={
            ("h1", "loop ignored"): IGNORED,
            ("h1", "loop changed"): CHANGED,
            ("h1", "loop fails on h1"): FAILED,
            ("h2", "loop fails on h1"): SKIPPED,
            ("h2", "empty loop"): SKIPPED,
            ("h1", "after"): None,
        },
        messages={("h1", "loop fails on h1"): "item=2: item 2 failed"},
    ),
    "retries_until": Case(
        PLAY
        + """  tasks:
    - name: second attempt
      debug: {msg: try}
      register: r
      until: r.attempts >= 2
      retries: 3
      delay: 0
    - name: never succeeds
      fail: {msg: nope}
      register: r2
      until: r2 is succeeded
      retries: 1
      delay: 0
      ignore_errors: true
""",
        hosts=("h1", "h2"),
        expect={("h1", "second attempt"): OK, ("h2", "never succeeds"): IGNORED},
    ),
    "handlers": Case(
        PLAY
        + """  tasks:
    - name: change
      command: echo a
      notify: [handler ok, handler fails]
    - name: flush
      meta: flush_handlers
    - name: change again
      command: echo b
      notify: handler ok
  handlers:
    - name: handler ok
      debug: {msg: handled}
    - name: handler fails
      command: /bin/false
      when: inventory_hostname == 'h3'
""",
        expect={
            ("h1", "handler ok"): OK,
            ("h3", "handler fails"): FAILED,
            ("h1", "handler fails"): SKIPPED,
            ("h3", "change again"): None,
        },
    ),
    "ignore_errors_failed_when_changed_when": Case(
        PLAY
        + """  tasks:
    - name: ignored and changed
      shell: exit 1
      changed_when: true
      ignore_errors: true
    - name: failed_when on h2
      debug: {msg: fine}
      failed_when: inventory_hostname == 'h2'
    - name: after
      debug: {msg: after}
""",
        hosts=("h1", "h2"),
        expect={
            ("h1", "ignored and changed"): IGNORED,
            ("h2", "failed_when on h2"): FAILED,
            ("h1", "failed_when on h2"): OK,
            ("h2", "after"): None,
        },
    ),
    "async": Case(
        PLAY
        + """  tasks:
    - name: async poll
      command: "true"
      async: 10
      poll: 1
    - name: fire and forget
      command: "true"
      async: 10
      poll: 0
      register: job
    - name: wait
      async_status: {jid: "{{ job.ansible_job_id }}"}
      register: st
      until: st.finished
      retries: 10
      delay: 1
    - name: async fails on h2
      command: /bin/false
      async: 10
      poll: 1
      when: inventory_hostname == 'h2'
""",
        hosts=("h1", "h2"),
        expect={
            ("h1", "async poll"): CHANGED,
            ("h1", "fire and forget"): CHANGED,
            ("h2", "wait"): CHANGED,
            ("h2", "async fails on h2"): FAILED,
        },
    ),
    "includes_imports_roles": Case(
        PLAY
        + """  roles:
    - r1
  tasks:
    - name: include once
      include_tasks: inc.yml
    - import_tasks: inc.yml
    - name: include loop
      include_tasks: inc.yml
      loop: [1, 2]
    - name: include on h1
      include_tasks: inc.yml
      when: inventory_hostname == 'h1'
    - name: include role
      include_role: {name: r1}
    - name: include missing
      include_tasks: missing.yml
      when: inventory_hostname == 'h3'
""",
        files={
            "inc.yml": "- name: included\n  debug: {msg: inc}\n",
            "roles/r1/tasks/main.yml": (
                "- name: role task\n  command: echo role\n  notify: role handler\n"
            ),
            "roles/r1/handlers/main.yml": "- name: role handler\n  debug: {msg: rh}\n",
        },
        expect={
            ("h1", "include loop"): OK,
            ("h2", "include on h1"): SKIPPED,
            ("h3", "include missing"): FAILED,
            ("h1", "role task"): CHANGED,
            ("h1", "role handler"): OK,
            ("h3", "role handler"): None,
        },
        messages={("h3", "include missing"): "Could not find or access"},
        roles={("h1", "role task"): "r1"},
    ),
    "no_log": Case(
        PLAY
        + """  tasks:
    - name: secret
      command: echo topsecret
      no_log: true
    - name: secret ignored
      shell: echo topsecret; exit 1
      changed_when: true
      no_log: true
      ignore_errors: true
    - name: secret loop
      command: echo topsecret {{ item }}
      loop: [1, 2]
      no_log: true
    - name: secret failure
      fail: {msg: topsecret}
      no_log: true
      when: inventory_hostname == 'h1'
""",
        hosts=("h1", "h2"),
        expect={
            ("h1", "secret"): CHANGED,
            ("h1", "secret ignored"): IGNORED,
            ("h2", "secret loop"): CHANGED,
            ("h1", "secret failure"): FAILED,
        },
        messages={
            ("h1", "secret"): CENSORED,
            ("h1", "secret ignored"): CENSORED,
            ("h2", "secret loop"): CENSORED,
            ("h1", "secret failure"): CENSORED,
        },
        secret="topsecret",
    ),
    "meta_tasks": Case(
        PLAY
        + """  tasks:
    - name: noop
      meta: noop
    - name: end h2
      meta: end_host
      when: inventory_hostname == 'h2'
    - name: after
      debug: {msg: after}
    - name: flush never
      meta: flush_handlers
      when: false
""",
        expect={("h1", "end h2"): SKIPPED, ("h2", "after"): None, ("h3", "after"): OK},
    ),
    "run_once_and_delegate_to": Case(
        PLAY
        + """  tasks:
    - name: once
      command: echo once
      run_once: true
    - name: delegated
      debug: {msg: delegated}
      delegate_to: h1
    - name: once fails
      fail: {msg: once}
      run_once: true
    - name: never
      debug: {msg: never}
""",
        expect={
            ("h1", "once"): CHANGED,
            ("h2", "once"): None,
            ("h3", "delegated"): OK,
            ("h1", "once fails"): FAILED,
            ("h2", "never"): None,
        },
    ),
    "serial_batches_and_second_play": Case(
        """- hosts: all
  gather_facts: false
  serial: 2
  tasks:
    - name: work
      debug: {msg: work}
    - name: batch failure
      fail: {msg: batch}
      when: inventory_hostname == 'h3'
    - name: after
      debug: {msg: after}
"""
        + PLAY
        + """  tasks:
    - name: second play
      debug: {msg: p2}
""",
        hosts=("h1", "h2", "h3", "h4"),
        expect={
            ("h3", "batch failure"): FAILED,
            ("h3", "second play"): None,
            ("h4", "after"): OK,
            ("h4", "second play"): OK,
        },
    ),
    "serial_1_rolling_update": Case(
        """- hosts: all
  gather_facts: false
  serial: 1
  tasks:
    - block:
        - name: update
          fail: {msg: update failed}
          when: inventory_hostname == 'h1'
      rescue:
        - name: roll back
          debug: {msg: rolled back}
    - block:
        - name: check
          fail: {msg: check failed}
          when: inventory_hostname == 'h3'
      always:
        - name: clean up
          debug: {msg: cleaned}
    - name: after
      debug: {msg: after}
""",
        expect={("h1", "update"): RESCUED, ("h3", "check"): FAILED, ("h3", "after"): None},
    ),
    "run_once_in_always": Case(
        PLAY
        + """  tasks:
    - block:
        - name: risky
          fail: {msg: x}
          when: inventory_hostname == 'h1'
      always:
        - name: notify once
          debug: {msg: once}
          run_once: true
    - name: after
      debug: {msg: after}
""",
        expect={("h1", "risky"): FAILED, ("h1", "notify once"): OK, ("h2", "notify once"): None},
    ),
    "max_fail_percentage": Case(
        """- hosts: all
  gather_facts: false
  max_fail_percentage: 20
  tasks:
    - name: fail h1
      fail: {msg: x}
      when: inventory_hostname == 'h1'
    - name: after
      debug: {msg: after}
""",
        expect={("h1", "fail h1"): FAILED, ("h2", "after"): None},
    ),
    "any_errors_fatal_with_rescue": Case(
        """- hosts: all
  gather_facts: false
  any_errors_fatal: true
  tasks:
    - block:
        - name: fail h1
          fail: {msg: x}
          when: inventory_hostname == 'h1'
      rescue:
        - name: rescue
          debug: {msg: rescue}
    - name: after
      debug: {msg: after}
""",
        expect={("h1", "fail h1"): RESCUED, ("h2", "rescue"): OK, ("h1", "after"): OK},
    ),
    "free_strategy": Case(
        """- hosts: all
  gather_facts: false
  strategy: free
  tasks:
    - block:
        - name: fail h1
          fail: {msg: x}
          when: inventory_hostname == 'h1'
        - name: rest
          debug: {msg: rest}
      rescue:
        - name: rescue
          debug: {msg: rescue}
      always:
        - name: always
          debug: {msg: always}
    - block:
        - name: fail h2
          fail: {msg: y}
          when: inventory_hostname == 'h2'
      always:
        - name: always 2
          debug: {msg: always2}
    - name: after
      debug: {msg: after}
""",
        expect={("h1", "fail h1"): RESCUED, ("h2", "fail h2"): FAILED, ("h2", "after"): None},
    ),
    "force_handlers": Case(
        """- hosts: all
  gather_facts: false
  force_handlers: true
  tasks:
    - name: notify
      command: echo a
      notify: forced
    - name: fail h1
      fail: {msg: x}
      when: inventory_hostname == 'h1'
  handlers:
    - name: forced
      debug: {msg: forced}
""",
        expect={("h1", "fail h1"): FAILED, ("h1", "forced"): OK},
    ),
    "handler_failure_rescued": Case(
        PLAY
        + """  tasks:
    - block:
        - name: notify
          command: echo a
          notify: failing handler
        - name: flush
          meta: flush_handlers
      rescue:
        - name: rescue
          debug: {msg: rescued}
  handlers:
    - name: failing handler
      fail: {msg: handler}
      when: inventory_hostname == 'h1'
""",
        hosts=("h1", "h2"),
        expect={("h1", "failing handler"): RESCUED, ("h1", "rescue"): OK, ("h2", "rescue"): None},
    ),
    "clear_host_errors": Case(
        PLAY
        + """  tasks:
    - name: fail h1
      fail: {msg: x}
      when: inventory_hostname == 'h1'
    - name: clear
      meta: clear_host_errors
"""
        + PLAY
        + """  tasks:
    - name: second play
      debug: {msg: p2}
""",
        expect={("h1", "fail h1"): FAILED, ("h1", "second play"): OK},
    ),
    "syntax_error_before_any_play": Case(
        "- hosts: all\n  tasks:\n    - name: x\n      debug: msg=1\n     bad: [\n",
        hosts=("h1",),
        error=True,
    ),
    "missing_role_before_any_play": Case(PLAY + "  roles:\n    - no_such_role\n", error=True),
    "limit_matching_nothing": Case(
        PLAY + "  tasks:\n    - debug: {msg: x}\n", cmdline="--limit nomatch", error=True
    ),
}


def inventory(case: Case) -> dict[str, Any]:
    hosts: dict[str, dict[str, Any]] = {
        host: {"ansible_connection": "local", "ansible_python_interpreter": sys.executable}
        for host in case.hosts
    }
    for host in case.unreachable:
        hosts[host] = {
            "ansible_connection": "ssh",
            "ansible_host": "127.0.0.1",
            "ansible_port": 1,
            "ansible_ssh_common_args": "-o ConnectTimeout=2",
        }
    return {"all": {"hosts": hosts}}


def stats_of(runner_stats: dict[str, Any] | None) -> dict[str, HostCounts] | None:
    """ansible-runner's `stats` (the playbook_on_stats tables) as HostCounts."""
    if runner_stats is None:
        return None
    hosts = set(runner_stats.get("processed", {}))
    for name in ("ok", "changed", "failures", "dark", "skipped", "rescued", "ignored"):
        hosts.update(runner_stats.get(name, {}))

    def get(name: str, host: str) -> int:
        value: int = runner_stats.get(name, {}).get(host, 0)
        return value

    return {
        host: HostCounts(
            ok=get("ok", host),
            changed=get("changed", host),
            failures=get("failures", host),
            unreachable=get("dark", host),
            skipped=get("skipped", host),
            rescued=get("rescued", host),
            ignored=get("ignored", host),
        )
        for host in hosts
    }


def run_case(case: Case, private: Path) -> tuple[Any, ParsedRun]:
    (private / "project").mkdir(parents=True)
    (private / "inventory").mkdir()
    (private / "project" / "site.yml").write_text(case.playbook)
    for name, text in case.files.items():
        path = private / "project" / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (private / "inventory" / "hosts.yml").write_text(yaml.safe_dump(inventory(case)))
    parser = EventParser()
    runner = ansible_runner.run(
        private_data_dir=str(private),
        playbook="site.yml",
        cmdline=case.cmdline,
        forks=5,
        quiet=True,
        envvars={"PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
        # feed() is cheap, so it is safe inside the handler (the 5 s expect pitfall)
        event_handler=lambda event: (parser.feed(event), True)[1],
    )
    return runner, parser.finish(runner.status, runner.rc)


@pytest.mark.parametrize("name", list(CASES))
def test_live_run(name: str, tmp_path: Path) -> None:
    case = CASES[name]
    runner, run = run_case(case, tmp_path / "private")
    warnings = "\n".join(run.warnings)

    if case.error:
        assert runner.stats is None
        assert run.status == RunStatus.ERROR
        assert run.error is not None and run.error.startswith("[ERROR]"), run.error
        assert "\x1b" not in run.error
        assert run.results == () and run.stats is None
        assert not run.partial
        return

    expected = stats_of(runner.stats)
    assert expected is not None
    assert run.stats == expected
    assert run.counts == expected, warnings  # the oracle
    assert run.status.value == runner.status
    assert run.rc == runner.rc
    assert not run.partial, warnings
    assert run.error is None

    if case.warning is None:
        assert "rescued" not in warnings, warnings  # decided from the events, not assumed
    else:
        assert case.warning in warnings

    by_key: dict[tuple[str, str], list[TaskStatus]] = {}
    for result in run.results:
        by_key.setdefault((result.host, result.task), []).append(result.status)
    for key, status in case.expect.items():
        if status is None:
            assert key not in by_key, (key, by_key.get(key))
        else:
            assert by_key.get(key), (key, sorted(by_key))
            assert set(by_key[key]) == {status}, (key, by_key[key], warnings)
    for (host, task), text in case.messages.items():
        messages = [r.message or "" for r in run.results if (r.host, r.task) == (host, task)]
        assert messages and all(text in m for m in messages), (host, task, messages)
    for (host, task), role in case.roles.items():
        assert {r.role for r in run.results if (r.host, r.task) == (host, task)} == {role}

    if case.secret is not None:
        assert case.secret not in repr(run)
        assert case.secret not in str(run.to_dict())

    stored = read_artifact_dir(tmp_path / "private")
    assert stored.counts == run.counts
    assert stored.results == run.results
    assert stored.status == run.status
