"""A real Docker Engine and a registry of its own for the docker role's tests.

Registered from ``tests/conftest.py``. The session fixture `docker_engine` installs what
is missing with apt-get (``docker.io``, ``docker-compose``, ``docker-registry``,
``busybox-static``; as root only), then starts, in one temporary directory:

- ``dockerd`` with the vfs storage driver, no iptables and no bridge, its data root, exec
  root, pidfile and unix socket all inside that directory (``DOCKER_HOST`` points at it);
- Debian's ``docker-registry`` (distribution v2) with its own configuration, listening on
  127.0.0.1 at a free port, storing into that directory.

Images come from ``docker import`` of a busybox-static root file system
(`DockerEngine.make_image`); nothing is fetched from outside the machine. At the end of
the session every container of this daemon is removed, the daemon and the registry are
stopped by their own pids, whatever the daemon left mounted under the directory is
unmounted and the directory is removed: nothing else is touched.

The package's own services are never started: while apt-get installs, a policy-rc.d that
denies every start is put in place (only when there is none, and removed after).

Without the packages and without root (a developer's laptop) the tests that need the
engine skip with the reason; in CI a skip fails the session (see ``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

#: Debian's packages and the programs of theirs the tests run.
PACKAGES = ("docker.io", "docker-compose", "docker-registry", "busybox-static")
DOCKERD = Path("/usr/sbin/dockerd")
DOCKER = Path("/usr/bin/docker")
COMPOSE = Path("/usr/bin/docker-compose")
REGISTRY = Path("/usr/bin/docker-registry")
BUSYBOX = Path("/bin/busybox")
_POLICY_RC_D = Path("/usr/sbin/policy-rc.d")
_START_TIMEOUT = 90
_STOP_TIMEOUT = 60


@dataclass(frozen=True)
class DockerEngine:
    """A running private dockerd and registry."""

    directory: Path
    registry: str  # host:port of the registry, e.g. "127.0.0.1:41234"

    @property
    def environment(self) -> dict[str, str]:
        """What the docker CLI and compose need to talk to this daemon only."""
        return {
            "DOCKER_HOST": f"unix://{self.directory / 'docker.sock'}",
            "DOCKER_CONFIG": str(self.directory / "client"),
        }

    def docker(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run Debian's docker CLI against this daemon."""
        done = subprocess.run(
            [str(DOCKER), *args],
            capture_output=True,
            text=True,
            env={**os.environ, **self.environment},
            check=False,
            timeout=300,
        )
        if check and done.returncode != 0:
            raise RuntimeError(f"docker {' '.join(args)}: {done.stderr.strip()}")
        return done

    def make_image(self, reference: str, files: dict[str, str]) -> str:
        """Import a busybox root holding `files` (path -> text) as `reference`; its ID."""
        with tempfile.TemporaryDirectory(dir=self.directory) as root:
            (Path(root) / "bin").mkdir()
            shutil.copy2(BUSYBOX, Path(root) / "bin" / "busybox")
            for applet in ("sh", "sleep", "cat"):
                (Path(root) / "bin" / applet).symlink_to("busybox")
            for path, text in files.items():
                target = Path(root) / path.lstrip("/")
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
            tar = subprocess.Popen(["tar", "-C", root, "-c", "."], stdout=subprocess.PIPE)
            assert tar.stdout is not None
            done = subprocess.run(
                [str(DOCKER), "import", "--change", 'CMD ["/bin/sleep", "86400"]', "-", reference],
                stdin=tar.stdout,
                capture_output=True,
                text=True,
                env={**os.environ, **self.environment},
                check=False,
                timeout=300,
            )
            tar.stdout.close()
            tar.wait()
        if done.returncode != 0 or tar.returncode != 0:
            raise RuntimeError(f"docker import {reference}: {done.stderr.strip()}")
        return self.image_id(reference)

    def image_id(self, reference: str) -> str:
        """The ID of a local image."""
        return self.docker("image", "inspect", "--format", "{{.Id}}", reference).stdout.strip()


def _missing() -> list[str]:
    """The packages whose programs are not installed."""
    missing = [
        package
        for package, program in zip(PACKAGES, (DOCKERD, COMPOSE, REGISTRY, BUSYBOX), strict=True)
        if not program.exists()
    ]
    if "busybox-static" not in missing:
        # Debian's dynamic busybox installs the same path: an imported root needs the static one.
        status = subprocess.run(
            ["dpkg-query", "-W", "-f", "${Status}", "busybox-static"],
            capture_output=True,
            text=True,
            check=False,
        )
        if not status.stdout.endswith("installed"):
            missing.append("busybox-static")
    if not DOCKER.exists() and "docker.io" not in missing:
        missing.append("docker.io")
    return missing


def _install(packages: list[str]) -> str | None:
    """Install Debian's packages (as root) without starting their services; why not, or None."""
    if os.geteuid() != 0:
        return "not root, so they cannot be installed"
    if shutil.which("apt-get") is None:
        return "no apt-get to install them"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "-q", *packages]
    # Their init scripts would start a system-wide dockerd and a registry on port 5000.
    own_policy = not _POLICY_RC_D.exists()
    if own_policy:
        _POLICY_RC_D.write_text("#!/bin/sh\n# agentmaint tests: no service starts\nexit 101\n")
        _POLICY_RC_D.chmod(0o755)
    try:
        done = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
        if done.returncode != 0:
            subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False)
            done = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    finally:
        if own_policy:
            _POLICY_RC_D.unlink()
    if done.returncode != 0:
        return f"apt-get install {' '.join(packages)} failed: {done.stderr.strip()[-500:]}"
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _wait_until(
    ready: Callable[[], bool], what: str, process: subprocess.Popen[bytes], log: Path
) -> None:
    """Poll `ready()` until true; fail with the log when the process died or it never came."""
    deadline = time.monotonic() + _START_TIMEOUT
    while not ready():
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited ({process.returncode}): {log.read_text()[-2000:]}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"{what} not ready in {_START_TIMEOUT}s: {log.read_text()[-2000:]}")
        time.sleep(0.2)


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM, then SIGKILL after a while: this process only, by its pid."""
    if process.poll() is not None:
        return
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=_STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=_STOP_TIMEOUT)


def _mounts_under(directory: Path) -> list[str]:
    """Mount points under `directory`, deepest first (so they can be unmounted in order)."""
    prefix = f"{directory}/"
    points = []
    for line in Path("/proc/self/mounts").read_text().splitlines():
        point = line.split()[1].replace("\\040", " ")
        if point.startswith(prefix) or point == str(directory):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def _registry_ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


@contextlib.contextmanager
def _engine() -> Iterator[DockerEngine]:
    directory = Path(tempfile.mkdtemp(prefix="agentmaint-docker-", dir="/tmp"))
    processes: list[subprocess.Popen[bytes]] = []
    engine = DockerEngine(directory=directory, registry=f"127.0.0.1:{_free_port()}")
    try:
        (directory / "client").mkdir()
        dockerd_log = directory / "dockerd.log"
        with dockerd_log.open("wb") as log:
            dockerd = subprocess.Popen(
                [
                    str(DOCKERD),
                    "--storage-driver",
                    "vfs",
                    "--iptables=false",
                    "--ip6tables=false",
                    "--bridge=none",
                    "--data-root",
                    str(directory / "root"),
                    "--exec-root",
                    str(directory / "exec"),
                    "--host",
                    engine.environment["DOCKER_HOST"],
                    "--pidfile",
                    str(directory / "dockerd.pid"),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        processes.append(dockerd)
        _wait_until(
            lambda: engine.docker("info", check=False).returncode == 0,
            "dockerd",
            dockerd,
            dockerd_log,
        )
        config = directory / "registry.yml"
        config.write_text(
            "version: 0.1\n"
            "log: {level: warn}\n"
            f"storage: {{filesystem: {{rootdirectory: {directory / 'registry'}}}}}\n"
            f"http: {{addr: '{engine.registry}'}}\n"
        )
        registry_log = directory / "registry.log"
        with registry_log.open("wb") as log:
            registry = subprocess.Popen(
                [str(REGISTRY), "serve", str(config)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
            )
        processes.append(registry)
        _wait_until(
            lambda: _registry_ready(f"http://{engine.registry}/v2/"),
            "docker-registry",
            registry,
            registry_log,
        )
        yield engine
    finally:
        if processes and processes[0].poll() is None:
            # Containers first, so that the daemon's shutdown does not wait for them.
            ids = engine.docker("ps", "--all", "--quiet", check=False).stdout.split()
            if ids:
                engine.docker("rm", "--force", *ids, check=False)
        for process in reversed(processes):
            _stop(process)
        for point in _mounts_under(directory):
            subprocess.run(["umount", "--lazy", point], capture_output=True, check=False)
        shutil.rmtree(directory, ignore_errors=True)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[DockerEngine]:
    """The session's Docker Engine and registry (skips, with the reason, when there can be none)."""
    missing = _missing()
    if missing:
        reason = _install(missing)
        if reason is not None:
            pytest.skip(f"{', '.join(missing)} not installed and {reason}")
        still = _missing()
        if still:
            pytest.skip(
                f"apt-get installed {', '.join(missing)} but {', '.join(still)} still missing"
            )
    with _engine() as engine:
        yield engine
