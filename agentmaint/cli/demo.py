"""The bundled demo fleet: real maintenance on hosts that need no remote machine.

`create_demo(directory)` lays out three hosts with ``ansible_connection: local``,
each with its own directory under ``hosts/<name>/`` (its configuration, its
models, its backups), and a schedule whose window is always open. A maintenance
cycle on it really:

* backs up each host's ``etc/`` and ``models/`` into a timestamped tar archive;
* updates ``agent-config`` and health-checks it; on ``demo-3`` the new
  configuration is rejected by the health check, so the archive is restored
  (the rollback, recorded as its own action);
* updates ``model`` by copying a new model file into a versioned directory after
  verifying its sha256 digest, then switching the ``current`` symlink atomically.

The demo only ever deletes a directory it created itself: it writes a marker file
(`MARKER`) first, and resets a directory only when that marker is a regular file in it.
Anything else (a symlink, a file, a non-empty directory without the marker, the
working or home directory) is refused with `UsageError`.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shlex
import shutil
import stat
import sys
from pathlib import Path

from agentmaint.ansible.render import dump_yaml
from agentmaint.errors import UsageError

#: The file `create_demo` writes first: only a directory holding it may be reset.
MARKER = ".agentmaint-demo"
_MARKER_TEXT = (
    "This directory was created by `agentmaint demo`; "
    "`agentmaint demo --dir` deletes and recreates it.\n"
)

HOSTS = ("demo-1", "demo-2", "demo-3")
FAILING_HOST = "demo-3"
MODEL_BYTES = b"agent-model weights v2\n" * 64

_UPDATE_MODEL = '''"""Install a model file by digest and switch the `current` symlink atomically."""
import hashlib, os, shutil, sys

source, digest, models = sys.argv[1], sys.argv[2], sys.argv[3]
data = open(source, "rb").read()
actual = hashlib.sha256(data).hexdigest()
if actual != digest:
    sys.exit(f"digest mismatch: expected {digest}, got {actual}; nothing changed")
target = os.path.join(models, "versions", digest[:12])
current = os.path.join(models, "current")
if os.path.realpath(current) == os.path.realpath(target):
    print("already current")
    sys.exit(0)
os.makedirs(target, exist_ok=True)
shutil.copyfile(source, os.path.join(target, "model.bin"))
if os.path.islink(current):
    previous = os.readlink(current)
    with open(os.path.join(models, "previous"), "w") as handle:
        handle.write(previous)
link = current + ".new"
if os.path.lexists(link):
    os.remove(link)
os.symlink(os.path.join("versions", digest[:12]), link)
os.replace(link, current)
print("switched to", digest[:12])
'''

_ROLLBACK_MODEL = '''"""Switch `current` back to the version recorded in `previous`."""
import os, sys

models = sys.argv[1]
previous = open(os.path.join(models, "previous")).read().strip()
link = os.path.join(models, "current.new")
if os.path.lexists(link):
    os.remove(link)
os.symlink(previous, link)
os.replace(link, os.path.join(models, "current"))
print("rolled back to", previous)
'''


def create_demo(directory: Path) -> Path:
    """Create (or reset) the demo fleet in `directory`; return its schedule file.

    `directory` may be missing, empty, or a demo this function created (it holds the
    `MARKER` file), which is deleted and created again. Raises `UsageError` for anything
    else, and deletes nothing then.
    """
    root = _demo_root(directory)
    if root.exists():
        shutil.rmtree(root)  # a real directory (not a symlink) holding our marker
    root.mkdir(mode=0o755, parents=True, exist_ok=True)
    _write_marker(root)
    (root / "bin").mkdir()
    (root / "artifacts").mkdir()
    (root / "bin" / "update_model.py").write_text(_UPDATE_MODEL)
    (root / "bin" / "rollback_model.py").write_text(_ROLLBACK_MODEL)
    model = root / "artifacts" / "agent-model-v2.bin"
    model.write_bytes(MODEL_BYTES)
    digest = hashlib.sha256(MODEL_BYTES).hexdigest()
    for host in HOSTS:
        base = root / "hosts" / host
        (base / "etc").mkdir(parents=True)
        (base / "backups").mkdir()
        (base / "etc" / "agent.conf").write_text("version=1\nhealthy=yes\n")
        v1 = base / "models" / "versions" / "v1"
        v1.mkdir(parents=True)
        (v1 / "model.bin").write_bytes(b"agent-model weights v1\n")
        (base / "models" / "current").symlink_to(Path("versions") / "v1")
        if host == FAILING_HOST:
            # This host's local policy rejects the new configuration: its health check fails.
            (base / "etc" / "policy").write_text("reject-version=2\n")
    (root / "schedule.yaml").write_text(_schedule(root, digest))
    return root / "schedule.yaml"


def _demo_root(directory: Path) -> Path:
    """The absolute demo directory, once it is known to be safe to (re)create.

    Returns it only when it does not exist, or is an empty directory, or is a real
    directory holding our marker (to be reset); raises `UsageError` otherwise.
    """
    if os.path.islink(directory):
        raise UsageError(
            f"--dir: {directory} is a symlink; the demo never follows one "
            "(give a new directory, or one an earlier `agentmaint demo` created)"
        )
    # Not resolve(): only the last component decides what would be deleted, and it is
    # not a symlink. Symlinks higher up (e.g. /tmp on macOS) are fine.
    root = Path(os.path.abspath(directory))
    protected = {Path("/"), *_with_parents(Path.cwd())}
    with contextlib.suppress(RuntimeError):  # no home directory known: nothing to protect
        protected |= _with_parents(Path.home().absolute())
    if root in protected or root.resolve() in protected:
        raise UsageError(
            f"--dir: {directory} is the working directory, the home directory or one "
            "of their parents; the demo only resets a directory it created"
        )
    if not os.path.lexists(root):
        return root
    if not root.is_dir():
        raise UsageError(f"--dir: {directory} exists and is not a directory")
    if _is_marker(root / MARKER):
        return root
    if any(root.iterdir()):
        raise UsageError(
            f"--dir: {directory} is not empty and was not created by `agentmaint demo` "
            f"(no {MARKER} file in it); give a new or empty directory"
        )
    return root


def _with_parents(path: Path) -> set[Path]:
    """`path` and every directory above it (deleting any of them would delete `path`)."""
    return {path, *path.parents}


def _is_marker(path: Path) -> bool:
    """Whether `path` is a regular file (a symlink named like the marker is not one)."""
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def _write_marker(root: Path) -> None:
    """Write the marker first, so that even a half-created demo can be reset."""
    fd = os.open(
        root / MARKER, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC, 0o644
    )
    with os.fdopen(fd, "w") as handle:
        handle.write(_MARKER_TEXT)


def _schedule(root: Path, digest: str) -> str:
    python = shlex.quote(sys.executable)
    host_dir = f"{shlex.quote(str(root / 'hosts'))}/$AGENTMAINT_HOST"
    backup = (
        f'tar -czf {host_dir}/backups/"$AGENTMAINT_COMPONENT-$(date +%Y%m%dT%H%M%S%N)".tar.gz '
        f"-C {host_dir} etc models"
    )
    restore = (
        f'tar -xzf "$(ls -1t {host_dir}/backups/agent-config-*.tar.gz | head -n 1)" -C {host_dir}'
    )
    verdict = (
        f"grep -q '^reject-version=2' {host_dir}/etc/policy 2>/dev/null && echo no || echo yes"
    )
    config_update = (
        f"printf 'version=2\\nhealthy=%s\\n' \"$({verdict})\" > {host_dir}/etc/agent.conf"
    )
    document = {
        "timezone": "UTC",
        "state_dir": str(root / "state"),
        "environments": {
            "demo": {
                "hosts": {host: {"ansible_connection": "local"} for host in HOSTS},
                "update_schedule": {"day_of_week": "daily", "time": "00:00", "duration": "24h"},
            }
        },
        "components": {
            "agent-config": {
                "description": "the agent's configuration file",
                "update_command": config_update,
                "healthcheck": {
                    "command": f"cat {host_dir}/etc/agent.conf",
                    "contains": "healthy=yes",
                    "retries": 1,
                    "delay": "1s",
                },
                "rollback_command": restore,
                "frequency": "weekly",
            },
            "model": {
                "description": "the agent's model weights, installed by sha256 digest",
                "update_command": (
                    f"{python} {shlex.quote(str(root / 'bin' / 'update_model.py'))} "
                    f"{shlex.quote(str(root / 'artifacts' / 'agent-model-v2.bin'))} {digest} "
                    f"{host_dir}/models"
                ),
                "healthcheck": f"test -s {host_dir}/models/current/model.bin",
                "rollback_command": (
                    f"{python} {shlex.quote(str(root / 'bin' / 'rollback_model.py'))} "
                    f"{host_dir}/models"
                ),
                "frequency": "monthly",
            },
        },
        "backup": {"pre_update": True, "backup_command": backup, "retention_days": 30},
        "notification": {"email": "", "slack_webhook": ""},
    }
    return "# The agentmaint demo fleet (generated by `agentmaint demo`).\n" + dump_yaml(document)
