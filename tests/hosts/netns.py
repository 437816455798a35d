"""Real SSH test hosts: sshd in its own namespaces over one cached Debian root file system.

Each host is an overlay mount over a shared debootstrapped Debian root (writes land in the
host's own upper directory), its own network namespace joined by a veth pair to a bridge
on the controller, and ``unshare --mount --uts --ipc --pid`` running ``chroot ... sshd -D``
under a small shell "init" that restarts sshd after a test's simulated reboot.
No NAT and no forwarding: the hosts only talk to the controller, on a private /24 picked
at run time among the subnets the machine does not use.

    with sshd_hosts(3) as hosts:
        hosts[0].ssh("hostname")                     # a CompletedProcess
        inventory = {h.name: h.ansible_vars() for h in hosts}

Execution nodes (``sshd_hosts(count, nodes=n)``: the first n hosts) also have ansible-core
and ansible-runner (and mitogen when the controller has it), at the controller's versions,
in a virtualenv at ``/opt/agentmaint-node`` inside their own file system: a second cached
layer, built once with the root file system's Python from wheels the controller's pip
fetched, stacked over the root file system only for node hosts. They also hold a copy of
the session's private key at the controller's path, so an inventory rendered on the
controller works unchanged on a node; nodes and targets share one subnet.

    with sshd_hosts(22, nodes=2) as hosts:
        nodes, targets = hosts[:2], hosts[2:]
        nodes[0].runner_path                         # /opt/agentmaint-node/bin/ansible-runner
        nodes[1].kill()                              # the whole host dies at once

Manual check: ``python -m tests.hosts.netns 3 [--nodes 1]`` starts 3 hosts, prints their ssh
commands and tears everything down on Enter, Ctrl-C or SIGTERM.

What a session creates is written to ``/run/agentmaint-tests/sessions/<tag>.json`` as it is
created, so a later session removes what a killed one left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib.metadata
import ipaddress
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

CACHE_DIR = Path("/var/cache/agentmaint-tests")
ROOTFS = CACHE_DIR / "rootfs"
RUN_DIR = Path("/run/agentmaint-tests")
SESSIONS_DIR = RUN_DIR / "sessions"
SUITE = "bookworm"
ROOTFS_PACKAGES = (
    "python3",
    "openssh-server",
    "openssh-sftp-server",
    "iproute2",
    # for the bundled roles: apt module, virtualenvs and pip (python_deps)
    "python3-apt",
    "python3-venv",
    "python3-pip",
)
ROOTFS_MARKER = ".agentmaint-rootfs"
ROOTFS_VERSION = f"1 {SUITE} {','.join(ROOTFS_PACKAGES)}"
MIRROR_VARIABLE = "AGENTMAINT_DEBIAN_MIRROR"
NODE_LAYER = CACHE_DIR / "node-layer"
NODE_LAYER_MARKER = ".agentmaint-node-layer"
NODE_VENV = "/opt/agentmaint-node"
NODE_RUNNER = f"{NODE_VENV}/bin/ansible-runner"
# Installed on execution nodes at the controller's versions (the optional ones only if the
# controller has them).
NODE_PACKAGES = ("ansible-core", "ansible-runner")
NODE_OPTIONAL_PACKAGES = ("mitogen",)
# Controller tool -> the Debian package that provides it.
CONTROLLER_TOOLS = {
    "debootstrap": "debootstrap",
    "ip": "iproute2",
    "ssh": "openssh-client",
    "ssh-keygen": "openssh-client",
    "ps": "procps",
}
UTIL_LINUX_TOOLS = ("unshare", "nsenter", "setpriv", "chroot", "mount", "umount")
SUBNET_POOL = ipaddress.IPv4Network("10.213.0.0/16")  # candidate /24s, the first free one wins
PREFIXLEN = 24
SSH_COMMON_ARGS = "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o ConnectTimeout=5"
LOGIN_TIMEOUT = 30.0
STOP_TIMEOUT = 10.0
_EXTRA_PATH = ("/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin")

# Runs inside the new mount/uts/ipc/pid namespaces (pid 1 there), before the chroot. The
# overlay is mounted inside the private mount namespace, so every mount of a host goes
# away with its last process, whatever happens to the controller.
#
# Pid 1 stays this shell: a tiny "init" that boots the host again whenever sshd is killed
# by a signal, so that tests can exercise reboots (there is no kernel to reboot here).
# Each boot gets a fresh /run and /tmp and a new boot id in /run/agentmaint-boot-id; a
# "reboot" is `kill -KILL -1` from inside the host, which kills every process of the
# namespace except this init (run it detached from the ssh session, e.g.
# `nohup setsid -f sh -c 'sleep 1; kill -KILL -1' </dev/null >/dev/null 2>&1`). An sshd
# that exits on its own (e.g. a bad option) ends the host as before, and SIGKILL to this
# shell from outside still takes the namespace down.
#
# An execution node gets the private key copied in at every boot: the key usually lives
# under /tmp, which is the host's own tmpfs.
_HOST_SCRIPT = r"""
set -eu
root=$1 lower=$2 upper=$3 work=$4 name=$5 key=$6
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t sysfs -o ro,nosuid,nodev,noexec sysfs "$root/sys"
mount -t tmpfs -o mode=755,nosuid,size=1m dev "$root/dev"
for node in null zero full random urandom tty; do
    : > "$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
done
mkdir -m 755 "$root/dev/pts"
mount -t devpts -o newinstance,ptmxmode=0666,mode=0620,gid=5 devpts "$root/dev/pts"
ln -s pts/ptmx "$root/dev/ptmx"
ln -s /proc/self/fd "$root/dev/fd"
ln -s /proc/self/fd/0 "$root/dev/stdin"
ln -s /proc/self/fd/1 "$root/dev/stdout"
ln -s /proc/self/fd/2 "$root/dev/stderr"
mkdir -m 1777 "$root/dev/shm"
hostname "$name"
booted=
while :; do
    if [ -n "$booted" ]; then
        umount --lazy "$root/tmp" "$root/run" "$root/dev/shm" || :
    fi
    booted=yes
    # POSIX shared memory and semaphores: Python's multiprocessing (ansible-playbook) needs it
    mount -t tmpfs -o mode=1777,nosuid,nodev shm "$root/dev/shm"
    mount -t tmpfs -o mode=755,nosuid,nodev run "$root/run"
    mkdir -m 755 "$root/run/sshd"
    mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$root/tmp"
    cat /proc/sys/kernel/random/uuid > "$root/run/agentmaint-boot-id"
    if [ -n "$key" ]; then  # execution nodes: the private key at the controller's path
        mkdir -p -m 700 "$root${key%/*}"
        cp "$key" "$root$key"
        chmod 600 "$root$key"
    fi
    status=0
    chroot "$root" /usr/sbin/sshd -D -e -o UsePAM=no -o PrintMotd=no -o UseDNS=no || status=$?
    if [ "$status" -le 128 ]; then
        exit "$status"
    fi
    echo "agentmaint-test-host: sshd killed by signal $((status - 128)): rebooting" >&2
done
"""


class HostsError(RuntimeError):
    """The test hosts or their root file system could not be set up (or torn down)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class TestHost:
    """One running sshd host, reachable from the controller as ``user@address:port``."""

    __test__ = False  # not a pytest test class

    name: str
    address: str
    port: int = 22
    user: str = "root"
    key_path: Path
    pid: int
    runner_path: str | None = None  # ansible-runner on an execution node, else None

    @property
    def private_key(self) -> Path:
        """The session's private key (the same path on the controller and on nodes)."""
        return self.key_path

    def ssh_url(self) -> str:
        """``ssh://user@address:port``."""
        return f"ssh://{self.user}@{self.address}:{self.port}"

    def kill(self, *, silent: bool = False) -> None:
        """Kill the whole host at once, as if it died; its address no longer answers after.

        Every process of its pid namespace goes (sshd, its sessions, an ansible-runner
        worker, ansible-playbook, ssh clients to other hosts). By default the host's TCP
        connections are closed by its kernel first (peers see EOF at once, like a crashed
        process); with ``silent=True`` the link goes down first, so peers notice only through
        their own timeouts (like a power cut). Teardown still works after this.
        """
        _kill_host(self, silent=silent)

    def execution_node(self, name: str) -> dict[str, Any]:
        """This execution node as an entry of a schedule's ``execution.nodes``."""
        assert self.runner_path is not None, f"{self.name} is not an execution node"
        return {
            "name": name,
            "url": self.ssh_url(),
            "key": str(self.private_key),
            "ansible_runner": self.runner_path,
            # test hosts share host keys and are thrown away: no known_hosts
            "ssh_options": {"StrictHostKeyChecking": "no", "UserKnownHostsFile": "/dev/null"},
        }

    def ansible_vars(self) -> dict[str, str | int | bool]:
        """Inventory variables that make Ansible reach this host over SSH."""
        return {
            "ansible_host": self.address,
            "ansible_port": self.port,
            "ansible_user": self.user,
            "ansible_ssh_private_key_file": str(self.key_path),
            "ansible_ssh_common_args": SSH_COMMON_ARGS,
            # mitogen checks host keys itself and ignores the ssh options above
            "ansible_host_key_checking": False,
            "ansible_python_interpreter": "/usr/bin/python3",
        }

    def ssh_argv(self, command: str | None = None) -> list[str]:
        """An ssh command line for this host (no connection sharing, no known_hosts)."""
        argv = [
            _tool("ssh"),
            "-i",
            str(self.key_path),
            "-p",
            str(self.port),
            "-o",
            "BatchMode=yes",
            "-o",
            "ControlMaster=no",
            "-o",
            "ControlPath=none",
            "-o",
            "LogLevel=ERROR",
            *SSH_COMMON_ARGS.split(),
            f"{self.user}@{self.address}",
        ]
        return [*argv, command] if command is not None else argv

    def ssh(self, command: str, *, timeout: float = 30.0) -> subprocess.CompletedProcess[str]:
        """Run `command` on the host; the result carries rc, stdout and stderr."""
        return subprocess.run(
            self.ssh_argv(command), capture_output=True, text=True, timeout=timeout, check=False
        )


def _kill_host(host: TestHost, *, silent: bool) -> None:
    proc = _HOST_PROCS.get(host.pid)
    if proc is None:
        raise HostsError(f"{host.name} is not a running host of this process")
    link_down = [_tool("ip"), "-n", host.name, "link", "set", "eth0", "down"]
    if proc.poll() is not None:  # already dead (its pid may be someone else's by now)
        _must(link_down)
        return
    if silent:
        _must(link_down)
    # The pid-namespace init (the host script): the kernel kills the rest of the namespace,
    # then unshare reaps it and exits.
    _kill(_children(host.pid) or [host.pid])
    try:
        proc.wait(timeout=STOP_TIMEOUT)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(timeout=STOP_TIMEOUT)
    if not silent:
        # Let the FINs/RSTs of the closed connections reach the controller before the link
        # goes down (established connections from here then leave that state).
        deadline = time.monotonic() + 2.0
        while _tcp_peer_inodes({host.address}, states={"01"}) and time.monotonic() < deadline:
            time.sleep(0.02)
        _must(link_down)


def spare_address(hosts: Sequence[TestHost]) -> str:
    """An address in the hosts' subnet that nobody uses: connections to it fail."""
    if not hosts:
        raise ValueError("no hosts")
    network = ipaddress.IPv4Interface(f"{hosts[0].address}/{PREFIXLEN}").network
    used = {h.address for h in hosts} | {str(network[1])}
    for candidate in reversed(list(network.hosts())):
        if str(candidate) not in used:
            return str(candidate)
    raise HostsError(f"no spare address left in {network}")


# --------------------------------------------------------------------------- tools, apt


def _tool(name: str) -> str:
    """The full path of a controller tool, also looking in sbin directories."""
    path = os.pathsep.join([os.environ.get("PATH", ""), *_EXTRA_PATH])
    found = shutil.which(name, path=path)
    if found is None:
        raise HostsError(f"{name} not found on this machine")
    return found


def _has_tool(name: str) -> bool:
    try:
        _tool(name)
    except HostsError:
        return False
    return True


def _run(argv: Sequence[str], *, timeout: float = 120.0) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        list(argv), capture_output=True, text=True, timeout=timeout, check=False, stdin=None
    )


def _must(argv: Sequence[str], *, timeout: float = 120.0) -> str:
    done = _run(argv, timeout=timeout)
    if done.returncode != 0:
        raise HostsError(f"{' '.join(argv)} failed (exit {done.returncode}): {done.stderr.strip()}")
    return done.stdout


@contextlib.contextmanager
def _flock(path: Path) -> Iterator[None]:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def ensure_tools(tools: Iterable[str] = ("ip", "ssh", "ssh-keygen", "ps")) -> None:
    """Install the Debian packages of missing controller tools with apt-get."""
    missing = sorted({CONTROLLER_TOOLS[t] for t in tools if not _has_tool(t)})
    if not missing:
        return
    if not _has_tool("apt-get"):
        raise HostsError(f"missing {', '.join(missing)} and no apt-get to install them")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    lock = ["-o", "DPkg::Lock::Timeout=300"]
    with _flock(CACHE_DIR / "apt.lock"):
        for argv in (
            ["apt-get", *lock, "-q", "update"],
            ["apt-get", *lock, "-q", "-y", "--no-install-recommends", "install", *missing],
        ):
            done = subprocess.run(
                argv, capture_output=True, text=True, env=env, timeout=900, check=False
            )
            if done.returncode != 0:
                output = (done.stdout + done.stderr).strip()[-2000:]
                raise HostsError(f"{' '.join(argv)} failed (exit {done.returncode}):\n{output}")


# --------------------------------------------------------------------------- the mirror


@dataclass(frozen=True, slots=True)
class AptSource:
    """One source of the machine's apt configuration."""

    origin: str
    types: tuple[str, ...]
    uris: tuple[str, ...]
    suites: tuple[str, ...]
    components: tuple[str, ...]


def _one_line_sources(path: Path) -> Iterator[AptSource]:
    for raw in path.read_text(errors="replace").splitlines():
        tokens = raw.split("#", 1)[0].split()
        if len(tokens) < 3 or tokens[0] not in {"deb", "deb-src"}:
            continue
        kind, rest = tokens[0], tokens[1:]
        if rest[0].startswith("["):  # options: [arch=amd64 signed-by=...]
            while rest and not rest[0].endswith("]"):
                rest = rest[1:]
            rest = rest[1:]
        if len(rest) >= 2:
            yield AptSource(str(path), (kind,), (rest[0],), (rest[1],), tuple(rest[2:]))


def _deb822_sources(path: Path) -> Iterator[AptSource]:
    paragraphs: list[dict[str, str]] = [{}]
    key: str | None = None
    for raw in path.read_text(errors="replace").splitlines():
        if raw.startswith("#"):
            continue
        if not raw.strip():
            if paragraphs[-1]:
                paragraphs.append({})
            key = None
        elif raw[0] in " \t":
            if key is not None:
                paragraphs[-1][key] += "\n" + raw.strip()
        elif ":" in raw:
            key, value = raw.split(":", 1)
            key = key.strip().lower()
            paragraphs[-1][key] = value.strip()
    for fields in paragraphs:
        if not fields or fields.get("enabled", "yes").lower() == "no":
            continue
        yield AptSource(
            str(path),
            tuple(fields.get("types", "").split()),
            tuple(fields.get("uris", "").split()),
            tuple(fields.get("suites", "").split()),
            tuple(fields.get("components", "").split()),
        )


def apt_sources(root: Path = Path("/etc/apt")) -> list[AptSource]:
    """The sources of ``sources.list``, ``sources.list.d/*.list`` and ``*.sources``."""
    sources: list[AptSource] = []
    main = root / "sources.list"
    if main.is_file():
        sources.extend(_one_line_sources(main))
    directory = root / "sources.list.d"
    if directory.is_dir():
        for path in sorted(directory.iterdir()):
            if path.suffix == ".list" and path.is_file():
                sources.extend(_one_line_sources(path))
            elif path.suffix == ".sources" and path.is_file():
                sources.extend(_deb822_sources(path))
    return sources


def debian_mirror(suite: str = SUITE, root: Path = Path("/etc/apt")) -> str:
    """The Debian mirror URL of this machine's apt configuration (or $AGENTMAINT_DEBIAN_MIRROR).

    Prefers a source that serves `suite` itself with ``main``; then any source whose URL
    path ends in ``/debian``. Raises `HostsError` when there is none.
    """
    override = os.environ.get(MIRROR_VARIABLE, "").strip()
    if override:
        return override
    candidates = [
        (uri, source)
        for source in apt_sources(root)
        if "deb" in source.types
        for uri in source.uris
        if uri.split(":", 1)[0] in {"http", "https", "ftp", "file"}
    ]
    for uri, source in candidates:
        if suite in source.suites and "main" in source.components:
            return uri
    for uri, source in candidates:
        if uri.rstrip("/").endswith("/debian") and not any("security" in s for s in source.suites):
            return uri
    raise HostsError(
        f"no Debian mirror for {suite!r} in the apt configuration under {root} "
        "(sources.list, sources.list.d/*.list, sources.list.d/*.sources); add one there "
        f"or set {MIRROR_VARIABLE}"
    )


# --------------------------------------------------------------------------- the rootfs


def _rootfs_ready(path: Path) -> bool:
    try:
        return (path / ROOTFS_MARKER).read_text().strip() == ROOTFS_VERSION
    except OSError:
        return False


def _mounts_under(path: Path) -> list[str]:
    """Mount points at or below `path` in this process's mount namespace, deepest first."""
    prefix = str(path).rstrip("/")
    points = []
    for line in Path("/proc/self/mountinfo").read_text().splitlines():
        point = line.split()[4]
        for escape, char in (("\\040", " "), ("\\011", "\t"), ("\\012", "\n"), ("\\134", "\\")):
            point = point.replace(escape, char)
        if point == prefix or point.startswith(prefix + "/"):
            points.append(point)
    return sorted(points, key=len, reverse=True)


def _remove_tree(path: Path) -> None:
    """Unmount whatever is mounted below `path`, then delete it (never through a mount)."""
    if not path.exists():
        return
    for point in _mounts_under(path):
        _run([_tool("umount"), "--lazy", point])
    left = _mounts_under(path)
    if left:
        raise HostsError(f"not deleting {path}: still mounted: {', '.join(left)}")
    shutil.rmtree(path)


def ensure_rootfs() -> Path:
    """The cached Debian root file system of the test hosts, built on first use.

    Built once per machine with debootstrap (minbase + python3, openssh-server,
    iproute2) from the mirror of this machine's apt configuration, into a temporary
    directory renamed into place when complete; a lock file serialises builders.
    """
    if _rootfs_ready(ROOTFS):
        return ROOTFS
    if os.geteuid() != 0:
        raise HostsError("building the test root file system needs root")
    CACHE_DIR.mkdir(parents=True, exist_ok=True)
    with _flock(CACHE_DIR / "rootfs.lock"):
        if _rootfs_ready(ROOTFS):
            return ROOTFS
        ensure_tools(["debootstrap", "ssh-keygen"])
        mirror = debian_mirror()
        for stale in [*CACHE_DIR.glob("rootfs.tmp-*"), *CACHE_DIR.glob("rootfs.old-*")]:
            _remove_tree(stale)
        build = Path(tempfile.mkdtemp(prefix="rootfs.tmp-", dir=CACHE_DIR))
        try:
            build.chmod(0o755)
            _debootstrap(build, mirror)
            _finish_rootfs(build)
            old = CACHE_DIR / f"rootfs.old-{secrets.token_hex(4)}"
            if ROOTFS.exists():  # an outdated or unfinished version
                ROOTFS.rename(old)
            build.rename(ROOTFS)
        except BaseException:
            _remove_tree(build)
            raise
        _remove_tree(old)
    return ROOTFS


def _debootstrap(target: Path, mirror: str) -> None:
    log = CACHE_DIR / "debootstrap.log"
    argv = [
        _tool("debootstrap"),
        "--variant=minbase",
        f"--include={','.join(ROOTFS_PACKAGES)}",
        "--components=main",
        SUITE,
        str(target),
        mirror,
    ]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "PATH": ":".join(_EXTRA_PATH)}
    with log.open("w") as out:
        returncode = _logged_run(argv, env, out)
    if returncode != 0:
        tail = _log_tail(log, 20)
        raise HostsError(f"debootstrap from {mirror} failed (exit {returncode}):\n{tail}")


def _logged_run(argv: list[str], env: dict[str, str], out: IO[str]) -> int:
    """Run `argv` with its command line and all of its output written to `out`; its rc."""
    out.write(f"$ {' '.join(argv)}\n")
    out.flush()
    done = subprocess.run(
        argv, stdout=out, stderr=subprocess.STDOUT, env=env, timeout=1800, check=False
    )
    return done.returncode


def _log_tail(log: Path, lines: int) -> str:
    return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])


def _finish_rootfs(root: Path) -> None:
    if not list((root / "etc" / "ssh").glob("ssh_host_*_key")):
        _must([_tool("chroot"), str(root), "/usr/bin/ssh-keygen", "-A"])
    for deb in (root / "var" / "cache" / "apt" / "archives").glob("*.deb"):
        deb.unlink()
    for needed in ("usr/sbin/sshd", "usr/bin/python3", "bin/sh"):
        if not (root / needed).exists():
            raise HostsError(f"the debootstrapped root lacks /{needed}")
    (root / ROOTFS_MARKER).write_text(ROOTFS_VERSION + "\n")


# --------------------------------------------------------------------------- the node layer

# Runs in a private mount namespace (every mount goes with it): the venv is built in an
# overlay over the root file system with the root's own Python, offline from the wheels.
_NODE_BUILD_SCRIPT = r"""
set -eu
lower=$1 upper=$2 work=$3 root=$4 wheels=$5 venv=$6
shift 6
mount -t overlay overlay -o "lowerdir=$lower,upperdir=$upper,workdir=$work" "$root"
mount -t proc -o nosuid,nodev,noexec proc "$root/proc"
mount -t tmpfs -o mode=755,nosuid dev "$root/dev"
for node in null zero random urandom; do
    : > "$root/dev/$node"
    mount --bind "/dev/$node" "$root/dev/$node"
done
mount -t tmpfs -o mode=1777,nosuid,nodev tmp "$root/tmp"
mkdir "$root/tmp/wheels"
mount --bind "$wheels" "$root/tmp/wheels"
set -x
chroot "$root" /usr/bin/python3 -m venv "$venv"
chroot "$root" "$venv/bin/python" -m pip install --no-index --no-cache-dir \
    --disable-pip-version-check --find-links /tmp/wheels "$@"
chroot "$root" "$venv/bin/python" -m pip list --disable-pip-version-check
chroot "$root" "$venv/bin/ansible-runner" --version
chroot "$root" "$venv/bin/ansible-playbook" --version
"""


def node_requirements() -> list[str]:
    """``name==version`` of the packages a node gets: the controller's versions."""
    requirements = []
    for name in (*NODE_PACKAGES, *NODE_OPTIONAL_PACKAGES):
        try:
            requirements.append(f"{name}=={importlib.metadata.version(name)}")
        except importlib.metadata.PackageNotFoundError:
            if name in NODE_PACKAGES:
                raise HostsError(f"{name} is not installed on the controller") from None
    return requirements


def _node_layer_version() -> str:
    return f"1 {ROOTFS_VERSION} {NODE_VENV} {' '.join(node_requirements())}"


def _node_layer_ready(path: Path) -> bool:
    try:
        return (path / NODE_LAYER_MARKER).read_text().strip() == _node_layer_version()
    except OSError:
        return False


def ensure_node_layer() -> Path:
    """The cached layer of execution nodes (a venv at `NODE_VENV`), built on first use.

    Stacked over the root file system (``lowerdir=<layer>:<rootfs>``) only for node hosts.
    The controller's pip fetches the wheels (so its index, proxy and certificates apply);
    the root's own ``python3 -m venv`` and pip install them offline in a chroot. Rebuilt
    when the controller's versions or the root file system's version change.
    """
    version = _node_layer_version()
    if _node_layer_ready(NODE_LAYER):
        return NODE_LAYER
    if os.geteuid() != 0:
        raise HostsError("building the execution-node layer needs root")
    rootfs = ensure_rootfs()
    with _flock(CACHE_DIR / "node-layer.lock"):
        if _node_layer_ready(NODE_LAYER):
            return NODE_LAYER
        for stale in [*CACHE_DIR.glob("node-layer.tmp-*"), *CACHE_DIR.glob("node-layer.old-*")]:
            _remove_tree(stale)
        build = Path(tempfile.mkdtemp(prefix="node-layer.tmp-", dir=CACHE_DIR))
        old = CACHE_DIR / f"node-layer.old-{secrets.token_hex(4)}"
        try:
            layer = _build_node_layer(rootfs, build)
            (layer / NODE_LAYER_MARKER).write_text(version + "\n")
            if NODE_LAYER.exists():  # an outdated or unfinished version
                NODE_LAYER.rename(old)
            layer.rename(NODE_LAYER)
        finally:
            _remove_tree(build)
        _remove_tree(old)
    return NODE_LAYER


def _build_node_layer(rootfs: Path, build: Path) -> Path:
    """Build the venv under `build`; return the finished layer directory (inside `build`)."""
    requirements = node_requirements()
    log = CACHE_DIR / "node-layer.log"
    wheels, upper, work, merged, layer = (
        build / d for d in ("wheels", "upper", "work", "merged", "layer")
    )
    for directory in (wheels, upper, work, merged, layer):
        directory.mkdir(mode=0o755)
    with log.open("w") as out:

        def step(argv: list[str], env: dict[str, str], what: str) -> None:
            returncode = _logged_run(argv, env, out)
            if returncode != 0:
                tail = _log_tail(log, 30)
                raise HostsError(f"{what} failed (exit {returncode}), see {log}:\n{tail}")

        # The controller's pip, with the controller's configuration (index, proxy, CA).
        step(
            [sys.executable, "-m", "pip", "wheel", "--wheel-dir", str(wheels), *requirements],
            {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1"},
            "fetching the execution-node wheels with the controller's pip",
        )
        argv = [
            _tool("unshare"),
            "--mount",
            "--propagation",
            "private",
            "--",
            "/bin/sh",
            "-c",
            _NODE_BUILD_SCRIPT,
            "agentmaint-node-layer",
            str(rootfs),
            str(upper),
            str(work),
            str(merged),
            str(wheels),
            NODE_VENV,
            *requirements,
        ]
        clean = {"PATH": ":".join(_EXTRA_PATH), "LANG": "C.UTF-8", "HOME": "/root"}
        step(argv, clean, "installing ansible-runner in the execution-node layer")
    venv = upper / NODE_VENV.lstrip("/")
    if not (venv / "bin" / "ansible-runner").is_file():
        raise HostsError(f"the execution-node build left no {NODE_RUNNER}; see {log}")
    # Only the venv goes into the layer, plus ansible* commands on the default PATH (the
    # worker starts `ansible-playbook` by name).
    for directory in ("opt", "usr", "usr/local", "usr/local/bin"):
        (layer / directory).mkdir(mode=0o755)
        (layer / directory).chmod(0o755)
    venv.rename(layer / NODE_VENV.lstrip("/"))
    for command in sorted((layer / NODE_VENV.lstrip("/") / "bin").glob("ansible*")):
        (layer / "usr/local/bin" / command.name).symlink_to(f"{NODE_VENV}/bin/{command.name}")
    layer.chmod(0o755)
    return layer


# --------------------------------------------------------------------------- availability


def available() -> str | None:
    """None when this machine can run the hosts, else why not."""
    if not sys.platform.startswith("linux"):
        return "test hosts need Linux namespaces"
    if os.geteuid() != 0:
        return "test hosts need root (network namespaces, mounts, chroot)"
    for tool in UTIL_LINUX_TOOLS:
        if not _has_tool(tool):
            return f"{tool} not found (util-linux/coreutils)"
    missing = [t for t in CONTROLLER_TOOLS if not _has_tool(t)]
    if missing and not _has_tool("apt-get"):
        return f"missing {', '.join(missing)} and no apt-get to install them"
    if not _rootfs_ready(ROOTFS):
        try:
            debian_mirror()
        except HostsError as error:
            return str(error)
    return _probe_overlay() or _probe_network()


def _probe_overlay() -> str | None:
    with tempfile.TemporaryDirectory(prefix="agentmaint-probe-") as scratch:
        dirs = [Path(scratch, d) for d in ("lower", "upper", "work", "merged")]
        for d in dirs:
            d.mkdir()
        lower, upper, work, merged = dirs
        options = f"lowerdir={lower},upperdir={upper},workdir={work}"
        # In a throwaway mount namespace: nothing can stay mounted.
        done = _run(
            [
                _tool("unshare"),
                "--mount",
                "--propagation",
                "private",
                _tool("mount"),
                "-t",
                "overlay",
                "overlay",
                "-o",
                options,
                str(merged),
            ],
            timeout=30,
        )
        if done.returncode != 0:
            return f"overlayfs does not work here: {done.stderr.strip()}"
    return None


def _probe_network() -> str | None:
    if not _has_tool("ip"):  # installed by sshd_hosts; namespaces at least must work
        done = _run([_tool("unshare"), "--net", "true"], timeout=30)
        return None if done.returncode == 0 else f"no network namespaces: {done.stderr.strip()}"
    ip = _tool("ip")
    # Bridges and veth pairs, in a throwaway network namespace: nothing can stay behind.
    script = f"{ip} link add amtprobebr type bridge && {ip} link add amtprobe0 type veth peer eth0"
    done = _run([_tool("unshare"), "--net", "/bin/sh", "-c", script], timeout=30)
    if done.returncode != 0:
        return f"bridges or veth pairs do not work here: {done.stderr.strip()}"
    name = f"amtprobe-{os.getpid()}-{secrets.token_hex(2)}"
    added = _run([ip, "netns", "add", name], timeout=30)
    if added.returncode != 0:
        return f"ip netns does not work here: {added.stderr.strip()}"
    _run([ip, "netns", "delete", name], timeout=30)
    return None


# --------------------------------------------------------------------------- processes


def _proc_pids() -> Iterator[int]:
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            yield int(entry.name)


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


_DEAD = {"Z", "X", ""}  # zombies wait for a PID 1 that may be slow to reap them


def _state(pid: int) -> str:
    """The one-letter state of a process ("" when it is gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return ""
    return stat.rsplit(")", 1)[1].split()[0]


def _comm(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/comm").read_text().strip()
    except OSError:
        return ""


def _tcp_peer_inodes(addresses: set[str], states: set[str] | None = None) -> set[str]:
    """Socket inodes of the controller's TCP connections to these addresses (in `states`)."""
    inodes: set[str] = set()
    try:
        lines = Path("/proc/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return inodes
    for line in lines:
        fields = line.split()
        peer = fields[2].split(":", 1)[0]
        address = str(ipaddress.IPv4Address(bytes.fromhex(peer)[::-1]))
        if address in addresses and (states is None or fields[3] in states):
            inodes.add(fields[9])
    return inodes


def ssh_processes(addresses: Iterable[str]) -> list[int]:
    """Pids of ssh clients (ControlPersist masters included) talking to these addresses.

    A master renames itself (``ssh: <control path> [mux]``), so it is found by its TCP
    connection; a client still connecting, by its command line.
    """
    wanted = set(addresses)
    if not wanted:
        return []
    sockets = {f"socket:[{inode}]" for inode in _tcp_peer_inodes(wanted)}
    targets = {a.encode() for a in wanted}
    found = []
    for pid in _proc_pids():
        if pid == os.getpid():
            continue
        if _state(pid) in _DEAD or _comm(pid) != "ssh":
            continue
        # The destination argument: ADDRESS or USER@ADDRESS.
        if any(arg.rsplit(b"@", 1)[-1] in targets for arg in _cmdline(pid).split(b"\0")):
            found.append(pid)
            continue
        with contextlib.suppress(OSError):
            fds = Path(f"/proc/{pid}/fd")
            if any(os.readlink(fd) in sockets for fd in fds.iterdir()):
                found.append(pid)
    return sorted(found)


def stop_ssh_clients(addresses: Iterable[str]) -> list[str]:
    """SIGKILL the ssh clients and masters talking to these addresses; describe each one.

    A killed master leaves its control socket behind: it is removed too.
    """
    stopped = []
    for pid in ssh_processes(addresses):
        title = _cmdline(pid).split(b"\0")[0].decode(errors="replace")
        _kill([pid])
        stopped.append(f"{pid}: {title}")
        if title.startswith("ssh: ") and title.endswith(" [mux]"):
            socket = Path(title.removeprefix("ssh: ").removesuffix(" [mux]"))
            with contextlib.suppress(OSError):
                if socket.is_socket():
                    socket.unlink()
    return stopped


_HOST_COMMANDS = {"ssh", "sshd", "unshare", "nsenter", "sh", "chroot", "mount"}


def _processes_in(workdir: str) -> list[int]:
    """Our processes of a session: chrooted below `workdir`, or started with it as argument."""
    marker = workdir.encode()
    found = []
    for pid in _proc_pids():
        if pid == os.getpid():
            continue
        try:
            root = os.readlink(f"/proc/{pid}/root")
            comm = Path(f"/proc/{pid}/comm").read_text().strip()
        except OSError:
            continue
        if root.startswith(workdir + "/") or (comm in _HOST_COMMANDS and marker in _cmdline(pid)):
            found.append(pid)
    return found


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(child) for child in text.split()]


def _kill(pids: Iterable[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


# --------------------------------------------------------------------------- sessions


@dataclass
class _Session:
    """Everything one `sshd_hosts` call created; saved as it grows, for crash recovery."""

    tag: str
    owner: int
    workdir: str
    bridge: str | None = None
    subnet: str | None = None
    veths: list[str] = field(default_factory=list)
    netns: list[str] = field(default_factory=list)
    pids: list[int] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)

    @property
    def record(self) -> Path:
        return SESSIONS_DIR / f"{self.tag}.json"

    def save(self) -> None:
        SESSIONS_DIR.mkdir(parents=True, exist_ok=True)
        temp = self.record.with_suffix(".tmp")
        temp.write_text(json.dumps(asdict(self)))
        temp.replace(self.record)


def _owner_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _reap_stale_sessions() -> None:
    """Tear down what sessions whose process died left behind."""
    if not SESSIONS_DIR.is_dir():
        return
    for record in SESSIONS_DIR.glob("*.json"):
        try:
            session = _Session(**json.loads(record.read_text()))
        except (OSError, ValueError, TypeError):
            record.unlink(missing_ok=True)
            continue
        if session.owner != os.getpid() and not _owner_alive(session.owner):
            with contextlib.suppress(HostsError):
                _teardown(session, {})


def _used_networks() -> list[ipaddress.IPv4Network]:
    networks = []
    for line in _must([_tool("ip"), "-o", "-4", "addr", "show"]).splitlines():
        tokens = line.split()
        if "inet" in tokens:
            networks.append(ipaddress.IPv4Interface(tokens[tokens.index("inet") + 1]).network)
    route_types = {"unicast", "local", "broadcast", "multicast", "blackhole", "unreachable"}
    for line in _must([_tool("ip"), "-4", "route", "show", "table", "all"]).splitlines():
        tokens = line.split()
        if tokens and tokens[0] in route_types | {"prohibit", "throw", "anycast"}:
            tokens = tokens[1:]
        if not tokens or tokens[0] == "default":
            continue
        with contextlib.suppress(ValueError):
            networks.append(ipaddress.IPv4Network(tokens[0], strict=False))
    return networks


def _pick_subnet() -> ipaddress.IPv4Network:
    used = _used_networks()
    for candidate in SUBNET_POOL.subnets(new_prefix=PREFIXLEN):
        if not any(candidate.overlaps(n) for n in used):
            return candidate
    raise HostsError(f"no free /{PREFIXLEN} left in {SUBNET_POOL}")


def _pick_tag(prefix: str) -> str:
    links = _must([_tool("ip"), "-o", "link", "show"])
    namespaces = _must([_tool("ip"), "netns", "list"])
    for _ in range(100):
        tag = secrets.token_hex(2)
        if f"{prefix}{tag}" not in links and f"{prefix}-{tag}-" not in namespaces:
            return tag
    raise HostsError("could not find an unused interface name")


def _teardown(session: _Session, procs: dict[int, subprocess.Popen[bytes]]) -> None:
    """Remove everything `session` created; raise `HostsError` if something stays."""
    stop_ssh_clients(session.addresses)
    problems = _stop_hosts(session, procs)
    stop_ssh_clients(session.addresses)
    problems += _remove_links(session)
    try:
        _remove_tree(Path(session.workdir))
    except (HostsError, OSError) as error:
        problems.append(str(error))
    if problems:
        raise HostsError(f"teardown of test hosts {session.tag}: " + "; ".join(problems))
    session.record.unlink(missing_ok=True)


def _stop_hosts(session: _Session, procs: dict[int, subprocess.Popen[bytes]]) -> list[str]:
    ours = [p for p in session.pids if session.workdir.encode() in _cmdline(p)]
    # SIGKILL each host's pid-namespace init (the kernel kills the rest of the namespace)
    # so that unshare, its parent, reaps it and exits; killing unshare first (it ignores
    # SIGTERM) works too, but leaves the init a zombie for the machine's PID 1 to reap.
    _kill(child for pid in ours for child in _children(pid))
    for pid in ours:
        proc = procs.get(pid)
        if proc is None:
            continue
        try:
            proc.wait(timeout=STOP_TIMEOUT / 2)
        except subprocess.TimeoutExpired:
            proc.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=STOP_TIMEOUT / 2)
    _kill(p for p in ours if p not in procs and session.workdir.encode() in _cmdline(p))
    deadline = time.monotonic() + STOP_TIMEOUT
    while (left := _processes_in(session.workdir)) and time.monotonic() < deadline:
        _kill(left)
        time.sleep(0.05)
    return [f"processes still running: {left}"] if left else []


def _remove_links(session: _Session) -> list[str]:
    ip = _tool("ip")
    problems = []
    commands = [(["link", "delete", veth], "Cannot find device") for veth in session.veths]
    commands += [(["netns", "delete", name], "No such file") for name in session.netns]
    if session.bridge:
        commands.append((["link", "delete", session.bridge], "Cannot find device"))
    for command, gone in commands:
        done = _run([ip, *command])
        if done.returncode != 0 and gone not in done.stderr:
            problems.append(f"ip {' '.join(command)}: {done.stderr.strip()}")
    return problems


def _no_ipv6(interface: str) -> None:
    """No IPv6 (so no link-local traffic) on our controller-side interfaces."""
    with contextlib.suppress(OSError):
        Path(f"/proc/sys/net/ipv6/conf/{interface}/disable_ipv6").write_text("1")


def _prepare_upper(upper: Path, name: str, public_key: str) -> None:
    for directory, mode in (("etc", 0o755), ("root", 0o700), ("root/.ssh", 0o700)):
        (upper / directory).mkdir(parents=True, exist_ok=True)
        (upper / directory).chmod(mode)
    keys = upper / "root" / ".ssh" / "authorized_keys"
    keys.write_text(public_key)
    keys.chmod(0o600)
    (upper / "etc" / "hostname").write_text(name + "\n")
    (upper / "etc" / "hosts").write_text(f"127.0.0.1\tlocalhost\n127.0.1.1\t{name}\n")


def _start_host(
    lower: str, hostdir: Path, name: str, netns: str, key: Path | None
) -> subprocess.Popen[bytes]:
    argv = [
        # Hosts die with the controller even if it is SIGKILLed (the parent *thread*, in
        # fact: start hosts from a thread that outlives them); the next session removes
        # the rest of what it left.
        _tool("setpriv"),
        "--pdeathsig",
        "KILL",
        "--",
        _tool("nsenter"),
        f"--net=/run/netns/{netns}",
        "--",
        _tool("unshare"),
        "--mount",
        "--propagation",
        "private",
        "--uts",
        "--ipc",
        "--pid",
        "--fork",
        "--kill-child",
        "--",
        "/bin/sh",
        "-c",
        _HOST_SCRIPT,
        "agentmaint-test-host",
        str(hostdir / "merged"),
        lower,
        str(hostdir / "upper"),
        str(hostdir / "work"),
        name,
        str(key) if key is not None else "",
    ]
    with (hostdir / "sshd.log").open("wb") as log:
        return subprocess.Popen(
            argv,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C in the terminal is ours to handle, not sshd's
            env={"PATH": ":".join(_EXTRA_PATH), "LANG": "C"},
        )


def _wait_for_login(host: TestHost, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + LOGIN_TIMEOUT
    last = ""
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise HostsError(
                f"host {host.name} exited (rc {proc.returncode}): "
                f"{log.read_text(errors='replace').strip()[-2000:]}"
            )
        with contextlib.suppress(subprocess.TimeoutExpired):
            done = host.ssh("true", timeout=10)
            if done.returncode == 0:
                return
            last = done.stderr.strip()
        time.sleep(0.1)
    raise HostsError(
        f"host {host.name} ({host.address}) accepted no ssh login within {LOGIN_TIMEOUT:.0f}s: "
        f"{last}; sshd log: {log.read_text(errors='replace').strip()[-2000:]}"
    )


# The host processes (unshare) of this process's sessions, by pid: for `TestHost.kill`.
_HOST_PROCS: dict[int, subprocess.Popen[bytes]] = {}


@contextlib.contextmanager
def sshd_hosts(count: int, *, nodes: int = 0, prefix: str = "amt") -> Iterator[list[TestHost]]:
    """Start `count` sshd hosts, yield them once each accepts a login, then remove everything.

    The first `nodes` of them are execution nodes (ansible-runner installed, the session's
    private key at the same path as on the controller, `TestHost.runner_path` set); all
    share one subnet, so nodes reach the others over SSH. `prefix` (1-6 lowercase letters
    or digits) starts every interface, namespace and host name. Everything created is
    removed on exit, even when the body raised.
    """
    if not 1 <= count <= 200:
        raise ValueError("count must be between 1 and 200")
    if not 0 <= nodes <= count:
        raise ValueError("nodes must be between 0 and count")
    if not (1 <= len(prefix) <= 6 and prefix.isascii() and prefix.isalnum() and prefix.islower()):
        raise ValueError("prefix must be 1-6 lowercase ASCII letters or digits")
    reason = available()
    if reason is not None:
        raise HostsError(reason)
    ensure_tools()
    rootfs = ensure_rootfs()
    node_lower = f"{ensure_node_layer()}:{rootfs}" if nodes else ""
    workdir = Path(tempfile.mkdtemp(prefix="agentmaint-hosts-"))
    session = _Session(tag="", owner=os.getpid(), workdir=str(workdir))
    procs: dict[int, subprocess.Popen[bytes]] = {}
    try:
        key = workdir / "id_ed25519"
        _must([_tool("ssh-keygen"), "-q", "-t", "ed25519", "-N", "", "-C", "amt", "-f", str(key)])
        public_key = key.with_suffix(".pub").read_text()
        ip = _tool("ip")
        with _flock(RUN_DIR / "network.lock"):
            _reap_stale_sessions()
            session.tag = _pick_tag(prefix)
            subnet = _pick_subnet()
            session.subnet = str(subnet)
            session.bridge = f"{prefix}{session.tag}br"
            session.save()
            _must([ip, "link", "add", session.bridge, "type", "bridge"])
            _no_ipv6(session.bridge)
            _must([ip, "addr", "add", f"{subnet[1]}/{PREFIXLEN}", "dev", session.bridge])
            _must([ip, "link", "set", session.bridge, "up"])
        hosts: list[TestHost] = []
        for index in range(1, count + 1):
            name = f"{prefix}-{session.tag}-{index}"
            veth = f"{prefix}{session.tag}v{index}"
            address = str(subnet[1 + index])
            session.netns.append(name)
            session.veths.append(veth)
            session.addresses.append(address)
            session.save()
            _must([ip, "netns", "add", name])
            _must([ip, "link", "add", veth, "type", "veth", "peer", "name", "eth0", "netns", name])
            _no_ipv6(veth)
            _must([ip, "link", "set", veth, "master", session.bridge, "up"])
            _must([ip, "-n", name, "addr", "add", f"{address}/{PREFIXLEN}", "dev", "eth0"])
            _must([ip, "-n", name, "link", "set", "eth0", "up"])
            _must([ip, "-n", name, "link", "set", "lo", "up"])
            hostdir = workdir / name
            for sub in ("upper", "work", "merged"):
                (hostdir / sub).mkdir(parents=True)
            _prepare_upper(hostdir / "upper", name, public_key)
            node = index <= nodes
            lower = node_lower if node else str(rootfs)
            proc = _start_host(lower, hostdir, name, name, key if node else None)
            procs[proc.pid] = proc
            _HOST_PROCS[proc.pid] = proc
            session.pids.append(proc.pid)
            session.save()
            runner = NODE_RUNNER if node else None
            hosts.append(
                TestHost(name=name, address=address, key_path=key, pid=proc.pid, runner_path=runner)
            )
        for host in hosts:
            _wait_for_login(host, procs[host.pid], workdir / host.name / "sshd.log")
        yield hosts
    finally:
        for pid in procs:
            _HOST_PROCS.pop(pid, None)
        if session.tag:
            _teardown(session, procs)
        else:
            _remove_tree(workdir)


# --------------------------------------------------------------------------- script


def main(argv: Sequence[str]) -> int:
    """``python -m tests.hosts.netns [COUNT] [--nodes N] [--inventory FILE]``: hosts until Enter.

    With ``--inventory FILE`` (used by the molecule scenarios) the hosts are also written
    as a YAML inventory (group ``molecule``) once they accept logins.
    """
    args = list(argv)
    inventory_file: Path | None = None
    if "--inventory" in args:
        at = args.index("--inventory")
        inventory_file = Path(args[at + 1])
        del args[at : at + 2]
    nodes = 0
    if "--nodes" in args:
        at = args.index("--nodes")
        nodes = int(args[at + 1])
        del args[at : at + 2]
    count = int(args[0]) if args else 3

    def stop(signum: int, frame: object) -> None:
        for ignored in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(ignored, signal.SIG_IGN)  # teardown must not be interrupted
        raise KeyboardInterrupt

    for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(signum, stop)
    started = time.monotonic()
    try:
        with sshd_hosts(count, nodes=nodes) as hosts:
            print(f"{count} hosts up in {time.monotonic() - started:.1f}s:", flush=True)
            for host in hosts:
                role = f" (execution node: {host.runner_path})" if host.runner_path else ""
                print(f"  {host.name}: {' '.join(host.ssh_argv())}{role}", flush=True)
            if inventory_file is not None:
                hosts_vars = {host.name: host.ansible_vars() for host in hosts}
                document = {"all": {"children": {"molecule": {"hosts": hosts_vars}}}}
                partial = inventory_file.with_suffix(".tmp")
                partial.write_text(json.dumps(document, indent=2))
                partial.replace(inventory_file)  # appears whole: molecule's create waits for it
            print("Enter, Ctrl-C or SIGTERM tears them down.", flush=True)
            try:
                input()
            except EOFError:  # no terminal: wait for a signal
                while True:
                    signal.pause()
            for ignored in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                signal.signal(ignored, signal.SIG_IGN)
    except KeyboardInterrupt:
        pass
    print("torn down.", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
