"""Prometheus' ``promtool`` for the tests: the one on PATH, or Debian's, unpacked.

`promtool` (session fixture) is ``promtool`` from PATH when there is one. Otherwise it
downloads Debian's ``prometheus`` package with ``apt-get download`` (running ``apt-get
update`` first when the package lists are empty or stale and the suite runs as root) and
unpacks only the package's files with ``dpkg-deb -x`` into a temporary directory: the
package is not installed, so its maintainer scripts never run and no Prometheus server
is started (a full ``apt-get install prometheus`` starts one through its init script, and
pulls ~100 MB of dependencies the check does not need). Works in CI as root on a fresh
Debian machine with only the package mirrors reachable.

Without apt-get or dpkg-deb (not Debian), the tests that need it skip with the reason; in
CI a skip fails the session (see ``tests/conftest.py``).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

PACKAGE = "prometheus"


def _download(directory: Path) -> str | None:
    """Download the package's .deb into `directory`; return why not, or None."""
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    download = ["apt-get", "download", "-q", PACKAGE]
    done = subprocess.run(
        download, cwd=directory, capture_output=True, text=True, env=env, check=False
    )
    if done.returncode != 0 and os.geteuid() == 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False)
        done = subprocess.run(
            download, cwd=directory, capture_output=True, text=True, env=env, check=False
        )
    if done.returncode != 0:
        return f"apt-get download {PACKAGE} failed: {done.stderr.strip()[-500:]}"
    return None


def _unpacked_promtool(directory: Path) -> Path | str:
    """promtool unpacked from Debian's package into `directory`, or why it could not be."""
    for tool in ("apt-get", "dpkg-deb"):
        if shutil.which(tool) is None:
            return f"no {tool} to fetch Debian's {PACKAGE} package"
    reason = _download(directory)
    if reason is not None:
        return reason
    debs = sorted(directory.glob(f"{PACKAGE}_*.deb"))
    if not debs:
        return f"apt-get download {PACKAGE} left no .deb in {directory}"
    root = directory / "root"
    done = subprocess.run(
        ["dpkg-deb", "-x", str(debs[-1]), str(root)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return f"dpkg-deb -x {debs[-1].name} failed: {done.stderr.strip()[-500:]}"
    tool = root / "usr" / "bin" / "promtool"
    return tool if tool.is_file() else f"{debs[-1].name} holds no usr/bin/promtool"


@pytest.fixture(scope="session")
def promtool() -> Iterator[Path]:
    """A runnable ``promtool`` (skips, with the reason, when none can be had)."""
    found = shutil.which("promtool")
    if found is not None:
        yield Path(found)
        return
    directory = Path(tempfile.mkdtemp(prefix="agentmaint-promtool-"))
    try:
        tool = _unpacked_promtool(directory)
        if isinstance(tool, str):
            pytest.skip(f"promtool is not installed and {tool}")
        yield tool
    finally:
        shutil.rmtree(directory, ignore_errors=True)


def check_metrics(promtool: Path, exposition: str) -> subprocess.CompletedProcess[str]:
    """``promtool check metrics`` of `exposition` (on its standard input)."""
    return subprocess.run(
        [str(promtool), "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
