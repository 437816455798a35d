"""The ``render`` command: the job directory of a run (or of one node's slice), not run."""

from __future__ import annotations

import argparse
import contextlib
import os
import shlex
from collections.abc import Iterator
from pathlib import Path

from rich.console import Console

from agentmaint.ansible.naming import Target
from agentmaint.ansible.remote import ssh_argv, worker_command
from agentmaint.ansible.render import targets_from_decisions
from agentmaint.ansible.slicing import Slice, slice_targets
from agentmaint.cli.options import _selected_plan, parse_instant, read_schedule
from agentmaint.cli.output import EXIT_OK
from agentmaint.config.schedule import LOCAL_NODE, Schedule
from agentmaint.errors import MissingHistoryError, ScheduleError, StoreError, UsageError
from agentmaint.history.store import open_history
from agentmaint.planning.history import DurationReader
from agentmaint.run.ids import new_run_id
from agentmaint.run.jobdir import background_choices, prepare_run_dir


def _render(args: argparse.Namespace, out: Console) -> int:
    # The job holds no secret: only the plan's history (not read with --force) needs one.
    schedule = read_schedule(args.file, history=not args.force)
    at = parse_instant(args.at)
    # A bad --out is refused whatever is due: "nothing due" must not hide it until the
    # day something is.
    directory: Path = args.out
    try:
        _check_out(directory)
    except OSError as exc:
        raise UsageError(f"--out: cannot use {directory}: {exc.strerror or exc}") from None
    result = _selected_plan(schedule, at, args, force=args.force)
    targets = targets_from_decisions(result.due)
    if not targets:
        out.print("nothing due: nothing rendered (use --force to render anyway)")
        return EXIT_OK
    run_id = new_run_id(at)
    node = None
    if args.node is not None:
        part = _node_slice(schedule, targets, args.node)
        if part is None:
            out.print(f"nothing due on execution node {args.node}: nothing rendered")
            return EXIT_OK
        targets, node = part.targets, part.node
    # What `run` would choose for its big fused plays: from the same history.
    with _durations(args.file, schedule, force=args.force) as durations:
        choices = background_choices(schedule, targets, durations=durations)
    try:
        job = prepare_run_dir(
            schedule, targets, run_id=run_id, directory=directory, node=node, choices=choices
        )
    except OSError as exc:
        raise UsageError(f"--out: cannot write {directory}: {exc.strerror or exc}") from None
    out.print(f"inventory: {job.inventory}", highlight=False)
    out.print(f"playbook:  {job.private_data_dir / 'project' / job.playbook}", highlight=False)
    for choice in choices:
        out.print(f"waits:     {choice.describe()}", highlight=False)
    if node is not None:
        out.print(
            f"send with: ansible-runner transmit {job.private_data_dir} -p {job.playbook} "
            f"--ident {job.ident} | {shlex.join(ssh_argv(node, worker_command(node, job.ident)))} "
            f"| ansible-runner process {job.private_data_dir} --ident {job.ident}",
            highlight=False,
        )
        return EXIT_OK
    out.print(
        f"run with:  ANSIBLE_CONFIG={job.envvars['ANSIBLE_CONFIG']} ansible-playbook "
        f"-i {job.inventory} {job.private_data_dir / 'project' / job.playbook}",
        highlight=False,
    )
    return EXIT_OK


@contextlib.contextmanager
def _durations(file: Path, schedule: Schedule, *, force: bool) -> Iterator[DurationReader | None]:
    """The history's durations for ``execution.background: auto`` (None: none to read).

    With --force the schedule was read without the history's secret, and the plan did not
    need the history: the secret is resolved here if it can be, and a history that cannot
    be read then reads as nothing recorded (render --force never needed one).
    """
    if schedule.execution.background is not None:
        yield None  # true or false: nothing to weigh
        return
    if force:
        try:
            schedule = read_schedule(file, history=True)
        except ScheduleError:
            yield None
            return
    try:
        store = open_history(schedule.history_url, schedule.state_dir, readonly=True)
    except MissingHistoryError:
        yield None  # never created: nothing recorded
        return
    except StoreError:
        if not force:
            raise
        yield None
        return
    with store:
        yield store


def _check_out(directory: Path) -> None:
    """Accept a new path or an empty real directory (written into, kept as it is).

    Raises `UsageError` for a symlink (dangling or not: never written through), a
    file, or a directory that is not empty.
    """
    if os.path.islink(directory):
        raise UsageError(
            f"--out: {directory} is a symlink; render never writes through one "
            "(give a new path or an empty directory)"
        )
    if not os.path.lexists(directory):
        return
    if not directory.is_dir():
        raise UsageError(f"--out: {directory} exists and is not a directory")
    if any(directory.iterdir()):
        raise UsageError(f"--out: {directory} exists and is not empty")


def _node_slice(schedule: Schedule, targets: tuple[Target, ...], name: str) -> Slice | None:
    """The slice a run would send to execution node `name` (``local``: the controller's)."""
    if name != LOCAL_NODE and schedule.execution.node(name) is None:
        known = ", ".join([*(n.name for n in schedule.execution.nodes), LOCAL_NODE])
        raise UsageError(f"--node: {name!r} is not an execution node (known: {known})")
    parts = [p for p in slice_targets(schedule, targets) if p.name == name]
    if not parts:
        return None
    return Slice(parts[0].index, parts[0].node, tuple(t for p in parts for t in p.targets))
