"""Parse ansible-runner events into typed `TaskResult`s and per-host counters.

This is the only module that understands ansible-runner event dicts (those given
to ``ansible_runner.run(event_handler=...)`` or stored as
``artifacts/<ident>/job_events/*.json``). It is pure: no printing, and no I/O
except in `read_artifact_dir`.

`EventParser` is streaming: `EventParser.feed` one event at a time (cheap; raw
events are never kept), read `EventParser.results`, `EventParser.counts`,
`EventParser.stats` and `EventParser.error` at any time, and call
`EventParser.finish` once the run is over to get a frozen `ParsedRun`.

The counters of `EventParser.counts` are derived from the individual events only,
mirroring how ansible-core 2.19 increments its ``AggregateStats``
(``StrategyBase._process_pending_results`` and the include handling of the
linear and free strategies):

* ``runner_on_ok`` -> ok (+ changed); except ``include_tasks``/``include_role``,
  which count one ok per host per file to include (one per loop item that
  neither failed nor was skipped) once the strategy has loaded it;
* ``runner_on_failed`` with ``ignore_errors`` -> ok + ignored (+ changed);
  without it -> rescued when the task sat, at any depth, in the ``block:``
  section of a block that has a ``rescue:`` section, else failures;
* a ``runner_on_failed`` that follows an include's ``runner_on_ok`` for the same
  task and host is a file that could not be loaded -> failures instead of ok;
* ``runner_on_unreachable`` -> unreachable ("dark"), or ok + ignored under
  ``ignore_unreachable``;
* ``runner_on_skipped`` -> skipped, except skipped ``meta`` tasks (no counter);
* loop items, retries, async polls, notifications, ``meta`` tasks: no counter.

No event says whether a failure was rescued; `EventParser` explains how it is
recognised from the structure of the stream, and `ParsedRun.warnings` names the
rare failures for which the stream is genuinely ambiguous.

What the events cannot tell
---------------------------

ansible-core's own integration playbooks (tests/integration/test_events_corpus.py)
show these cases to be irreducible from the events alone; when the run has its
``playbook_on_stats``, the recap is the truth (`reconcile`): the counters of a
host are made to meet it by re-deciding its failures (rescued or failed) and its
unreachables (dark or ignored), with a warning naming the host. Without the
recap, the guesses below stand, with a warning per failure.

* ``meta: clear_host_errors``: a non-skipped ``meta`` task sends no result, only
  its ``playbook_on_task_start`` (whose arguments are not in the event), so a
  failed host that goes on after it looks rescued; the recap counts it failed.
* A ``rescue:`` made only of ``meta`` tasks (``meta: end_host``): the host has no
  result after its failure, which looks unrescued; the recap counts it rescued.
* A block with ``always:`` and no ``rescue:`` when no other host of the play ran
  cleanly (a single host; the others failed or unreachable) and the play ends with
  it: the ``always:`` tasks look like rescue tasks, and the run's rc cannot tell
  when an unreachable host fails the run too.

An unreachable result is dark unless its display says "...ignoring" (the default
callback's mark of ``ignore_unreachable``): a host that ``meta:
clear_host_errors`` brings back is still dark. Only a result without any display
is decided by what its host does next.

Events are read as ansible-runner reads them: only ``<counter>-*.json`` files
that are not ``-partial`` (an ``ansible-playbook`` run inside a task writes its
own ``<uuid>-partial.json`` files into the same ``job_events/``). A run whose
plays started keeps ansible-runner's status without ``playbook_on_stats``:
ansible-core 2.19 prints ``[ERROR]:`` blocks for ordinary task failures too.

The package follows the parser's own sections; the leading-underscore names its
modules share are private to the package:

* `model`: the frozen outcome, `ParsedRun`;
* `bookkeeping`: the kinds of result record and the parser's internal records;
* `fields`: reading the fields of one event (messages, changed, includes);
* `outcome`: counters, the ``playbook_on_stats`` numbers and the run's status;
* `rescue`: the rescue analysis of a play's failures;
* `decisions`: the parser's state, taking and settling decisions, assembly;
* `reconcile`: settling from ``playbook_on_stats`` what the events cannot tell;
* `dispatch`: `EventParser.feed` and the handling of each kind of event;
* `parser`: `EventParser`, its public reading API and `EventParser.finish`;
* `artifacts`: `read_artifact_dir`, reading ``artifacts/<ident>/`` from disk.
"""

from agentmaint.ansible.events.artifacts import read_artifact_dir
from agentmaint.ansible.events.model import ParsedRun
from agentmaint.ansible.events.parser import EventParser

__all__ = ["EventParser", "ParsedRun", "read_artifact_dir"]
