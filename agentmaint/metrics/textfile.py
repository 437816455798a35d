"""Writing the metrics textfile: atomically, and never through a symlink.

node_exporter's textfile collector reads every ``*.prom`` file of its directory at each
scrape, so the file is replaced whole: `prometheus_client.write_to_textfile` writes a
temporary file and renames it over the textfile (rename(2) is atomic and replaces a
path, never follows it). The temporary file goes into a private directory this module
creates next to the textfile (same filesystem, so the rename stays atomic; its name starts
with a dot and has no ``.prom`` suffix, so the collector ignores it): a name another user
of a shared directory could guess, and plant a symlink at, is never opened.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
import tempfile
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry, write_to_textfile

from agentmaint.config.schedule import Schedule
from agentmaint.errors import MetricsError
from agentmaint.history.store import HistoryStore
from agentmaint.metrics.collector import registry_of
from agentmaint.metrics.sample import read_sample, take_sample

__all__ = ["write_metrics", "write_textfile"]

_log = logging.getLogger(__name__)


def write_textfile(path: Path, registry: CollectorRegistry) -> None:
    """Replace `path` atomically with the exposition of `registry`.

    Raises `MetricsError` (writing nothing) when the directory of `path` is a symlink or
    not a directory, when `path` is a symlink or not a regular file, or when writing fails.
    """
    parent = path.parent
    if os.path.islink(parent) or not os.path.isdir(parent):
        raise MetricsError(
            f"metrics textfile {path}: {parent} is not a real directory (agentmaint never "
            "follows a symlink there): create it, or name the file in another directory"
        )
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as exc:
        raise MetricsError(f"metrics textfile {path}: {exc.strerror or exc}") from None
    if mode is not None and stat.S_ISLNK(mode):
        raise MetricsError(
            f"metrics textfile {path} is a symlink; agentmaint never writes through one: "
            "remove it (a regular file is written in its place)"
        )
    if mode is not None and not stat.S_ISREG(mode):
        raise MetricsError(f"metrics textfile {path} is not a regular file: remove it")
    try:
        private = tempfile.mkdtemp(prefix=".agentmaint-metrics-", dir=parent)
    except OSError as exc:
        raise MetricsError(
            f"metrics textfile {path}: cannot write in {parent}: {exc.strerror or exc}"
        ) from None
    try:
        write_to_textfile(str(path), registry, tmpdir=private)
    except OSError as exc:
        raise MetricsError(f"metrics textfile {path}: {exc.strerror or exc}") from None
    finally:
        # Empty once the file is renamed out of it (write_to_textfile removes its
        # temporary file on failure): only what this call created is removed.
        with contextlib.suppress(OSError):
            os.rmdir(private)
    _log.debug("metrics written to %s", path)


def write_metrics(
    schedule: Schedule, *, history: HistoryStore | None = None, at: datetime | None = None
) -> Path | None:
    """Write the schedule's metrics textfile (``metrics.textfile``); None when it has none.

    The metrics are read from `history` (an open store, e.g. the run's), or from the
    schedule's history opened read-only when None; the plan is taken at `at` (default: now).
    Raises `MetricsError` when the file cannot be written, `StoreError` when the history
    cannot be read.
    """
    if schedule.metrics is None:
        return None
    sample = read_sample(schedule, at) if history is None else take_sample(schedule, history, at)
    write_textfile(schedule.metrics.textfile, registry_of(sample))
    return schedule.metrics.textfile
