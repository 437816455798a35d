"""Re-record the ansible-runner artifact fixtures used by tests/unit/test_events.py.

Usage (from the repository root)::

    .venv/bin/python tests/data/artifacts/record.py            # every case
    .venv/bin/python tests/data/artifacts/record.py handlers   # some cases

Each case runs a small playbook for real through ``ansible_runner.run`` against
local hosts (``ansible_connection: local``, this interpreter) and, for the
unreachable case, an ssh host on a closed port of 127.0.0.1. The run happens in a
fresh private_data_dir under ``$TMPDIR/agentmaint-record/<case>``; only
``artifacts/<case>/job_events/``, ``status`` and ``rc`` are copied next to this
script, into ``<case>/``. Nothing else is kept: ``command`` holds the whole
environment, and ``stdout``, ``env`` or ``fact_cache`` are not needed.

The ``truncated`` case is derived, not run: a copy of ``rescued_block`` whose
last event file (``playbook_on_stats``) is cut in half, as a run killed while
writing would leave it.

The events keep the temporary paths and timestamps of the recording; the tests
only rely on what the playbooks decide (hosts, tasks, statuses, messages, counts).
"""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from pathlib import Path

import ansible_runner
import yaml

HERE = Path(__file__).resolve().parent
VENV_BIN = Path(sys.executable).parent

PLAY = "- hosts: all\n  gather_facts: false\n"

# name -> (playbook, local hosts, unreachable hosts)
CASES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "success_changes": (
        PLAY
        + """  tasks:
    - name: create a marker
      command: echo created
    - name: read it back
      command: echo read
      changed_when: false
    - name: only on h1
      debug:
        msg: hello from h1
      when: inventory_hostname == 'h1'
""",
        ("h1", "h2"),
        (),
    ),
    "fail_one_of_three": (
        PLAY
        + """  tasks:
    - name: prepare
      command: echo prepare
    - name: break h2
      command: /bin/false
      when: inventory_hostname == 'h2'
    - name: after
      debug:
        msg: still here
""",
        ("h1", "h2", "h3"),
        (),
    ),
    "unreachable": (
        PLAY
        + """  tasks:
    - name: ping
      ping:
    - name: after
      debug:
        msg: reachable
""",
        ("h1",),
        ("bad",),
    ),
    "rescued_block": (
        PLAY
        + """  tasks:
    - name: update
      block:
        - name: risky step
          fail:
            msg: update broke
          when: inventory_hostname == 'h1'
        - name: rest of the block
          debug:
            msg: updated
      rescue:
        - name: roll back
          debug:
            msg: rolled back
      always:
        - name: clean up
          debug:
            msg: cleaned
    - name: after
      debug:
        msg: done
""",
        ("h1", "h2"),
        (),
    ),
    "loop_failed_item": (
        PLAY
        + """  tasks:
    - name: loop
      command: "{{ 'false' if item == 2 else 'echo ' ~ item }}"
      loop: [1, 2, 3]
    - name: never reached
      debug:
        msg: unreachable code
""",
        ("h1",),
        (),
    ),
    "ignore_errors": (
        PLAY
        + """  tasks:
    - name: tolerated failure
      shell: echo oops >&2; exit 3
      ignore_errors: true
    - name: failed_when on h2 only, ignored
      command: echo fine
      changed_when: false
      failed_when: inventory_hostname == 'h2'
      ignore_errors: true
    - name: after
      debug:
        msg: carried on
""",
        ("h1", "h2"),
        (),
    ),
    "handlers": (
        PLAY
        + """  tasks:
    - name: change config
      command: echo changed
      notify: [restart service, check service]
    - name: flush
      meta: flush_handlers
    - name: after
      debug:
        msg: after handlers
  handlers:
    - name: restart service
      debug:
        msg: restarted
    - name: check service
      command: /bin/false
      when: inventory_hostname == 'h2'
""",
        ("h1", "h2"),
        (),
    ),
    "always_single": (
        PLAY
        + """  tasks:
    - name: guarded
      block:
        - name: fails
          fail:
            msg: no rescue here
      always:
        - name: always runs
          debug:
            msg: cleanup
""",
        ("h1",),
        (),
    ),
    "syntax_error": (
        "- hosts: all\n  tasks:\n    - name: x\n      debug: msg=1\n     bad: [\n",
        ("h1",),
        (),
    ),
}


def inventory(hosts: tuple[str, ...], unreachable: tuple[str, ...]) -> str:
    """An inventory of local hosts plus ssh hosts on a closed port."""
    entries: dict[str, dict[str, object]] = {}
    for host in hosts:
        entries[host] = {
            "ansible_connection": "local",
            "ansible_python_interpreter": sys.executable,
        }
    for host in unreachable:
        entries[host] = {
            "ansible_connection": "ssh",
            "ansible_host": "127.0.0.1",
            "ansible_port": 1,
            "ansible_ssh_common_args": "-o ConnectTimeout=2",
        }
    return yaml.safe_dump({"all": {"hosts": entries}}, sort_keys=False)


def record(name: str) -> Path:
    """Run one case and copy its job_events, status and rc into <name>/."""
    playbook, hosts, unreachable = CASES[name]
    work = Path(tempfile.gettempdir()) / "agentmaint-record" / name
    shutil.rmtree(work, ignore_errors=True)
    (work / "project").mkdir(parents=True)
    (work / "inventory").mkdir()
    (work / "project" / "site.yml").write_text(playbook)
    (work / "inventory" / "hosts.yml").write_text(inventory(hosts, unreachable))
    runner = ansible_runner.run(
        private_data_dir=str(work),
        playbook="site.yml",
        ident=name,
        quiet=True,
        forks=5,
        envvars={"PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}"},
    )
    source = work / "artifacts" / name
    target = HERE / name
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir()
    shutil.copytree(source / "job_events", target / "job_events")
    for keep in ("status", "rc"):
        shutil.copy2(source / keep, target / keep)
    shutil.rmtree(work, ignore_errors=True)
    print(
        f"{name}: {runner.status} rc={runner.rc}, {len(list(target.glob('job_events/*')))} events"
    )
    return target


def truncate(source: str = "rescued_block", name: str = "truncated") -> Path:
    """Copy a recorded case and cut its last event file in half."""
    target = HERE / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(HERE / source, target)
    files = sorted(
        (target / "job_events").glob("*.json"), key=lambda p: int(p.name.split("-", 1)[0])
    )
    data = files[-1].read_bytes()
    files[-1].write_bytes(data[: len(data) // 2])
    print(f"{name}: {files[-1].name} cut to {len(data) // 2} of {len(data)} bytes")
    return target


def main(argv: list[str]) -> None:
    """Record the cases named in argv (all by default), then the truncated copy."""
    names = argv or list(CASES)
    unknown = [name for name in names if name not in CASES and name != "truncated"]
    if unknown:
        raise SystemExit(f"unknown case(s): {', '.join(unknown)}; known: {', '.join(CASES)}")
    for name in names:
        if name != "truncated":
            record(name)
    if not argv or "truncated" in names or "rescued_block" in names:
        truncate()


if __name__ == "__main__":
    main(sys.argv[1:])
