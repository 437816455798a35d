"""A real PostgreSQL server for the tests: Debian's package, one private cluster per session.

Registered from ``tests/conftest.py``. The session fixture `postgres_server` finds
``/usr/lib/postgresql/*/bin/initdb`` (installing Debian's ``postgresql`` package with
apt-get when it is missing and the suite runs as root), creates a small cluster in a
temporary directory owned by the ``postgres`` user (root cannot run the server), and
starts it on a unix socket in that directory and on 127.0.0.1 at a free port. At the end
of the session the server is stopped and the directory removed.

`postgres_url` (function scope) creates a fresh database for one test, owned by a
password-protected role, and yields its ``postgresql://`` URL (TCP, password auth);
the database is dropped after the test, whatever connections are left.

Without the package and without root (a developer's laptop) the tests that need the
server skip with the reason; in CI a skip fails the session (see ``tests/conftest.py``).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import pytest

ROLE = "agentmaint"
#: The test role's password: URL-unsafe characters on purpose (quoting, redaction).
PASSWORD = "s3cr3t:p@ss/w%rd"
_START_TIMEOUT = 60


@dataclass(frozen=True)
class PostgresServer:
    """A running test cluster."""

    bin_dir: Path
    socket_dir: Path
    port: int

    def url(self, database: str, *, password: str = PASSWORD, user: str = ROLE) -> str:
        """A TCP URL of `database` with password authentication."""
        credentials = f"{quote(user, safe='')}:{quote(password, safe='')}"
        return f"postgresql://{credentials}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> str:
        """Run `sql` as the superuser over the unix socket (psql); return its output."""
        done = subprocess.run(
            [
                str(self.bin_dir / "psql"),
                "-X",
                "-q",
                "-A",
                "-t",
                "-v",
                "ON_ERROR_STOP=1",
                "-h",
                str(self.socket_dir),
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-d",
                "postgres",
                "-c",
                sql,
            ],
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
        if done.returncode != 0:
            raise RuntimeError(f"psql {sql!r}: {done.stderr.strip()}")
        return done.stdout


def _initdb_paths() -> list[Path]:
    return sorted(
        (Path(p) for p in glob.glob("/usr/lib/postgresql/*/bin/initdb")),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )


def _online_clusters() -> set[str]:
    if shutil.which("pg_lsclusters") is None:
        return set()
    done = subprocess.run(
        ["pg_lsclusters", "--no-header"], capture_output=True, text=True, check=False
    )
    clusters = set()
    for line in done.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 4 and fields[3].startswith("online"):
            clusters.add(f"{fields[0]} {fields[1]}")
    return clusters


def _install_postgresql() -> str | None:
    """Install Debian's package (as root); return why not, or None when installed."""
    if os.geteuid() != 0:
        return "not root, so the postgresql package cannot be installed"
    if shutil.which("apt-get") is None:
        return "no apt-get to install the postgresql package"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    online = _online_clusters()
    install = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "postgresql"]
    done = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, env=env, check=False)
        done = subprocess.run(install, capture_output=True, text=True, env=env, check=False)
    if done.returncode != 0:
        return f"apt-get install postgresql failed: {done.stderr.strip()[-500:]}"
    # The package creates and may start a default cluster: stop what the install started.
    for cluster in _online_clusters() - online:
        version, name = cluster.split()
        subprocess.run(["pg_ctlcluster", version, name, "stop"], capture_output=True, check=False)
    return None


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def _as_server_user(argv: list[str]) -> list[str]:
    """Root cannot run PostgreSQL: run its programs as the ``postgres`` user."""
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *argv]


@contextlib.contextmanager
def _cluster(bin_dir: Path) -> Iterator[PostgresServer]:
    root = Path(tempfile.mkdtemp(prefix="agentmaint-pg-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    if os.geteuid() == 0:
        owner = pwd.getpwnam("postgres")
        for path in (root, sockets):
            os.chown(path, owner.pw_uid, owner.pw_gid)
    root.chmod(0o700)
    started = False
    port = _free_port()
    try:
        subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "initdb"),
                    "-D",
                    str(data),
                    "-U",
                    "postgres",
                    "-A",
                    "trust",
                    "-E",
                    "UTF8",
                    "--locale=C.UTF-8",
                    "--no-sync",
                    "--no-instructions",
                ]
            ),
            capture_output=True,
            text=True,
            check=True,
        )
        # Unix socket: trust (the fixture's superuser); TCP: password only (the tests' role).
        (data / "pg_hba.conf").write_text(
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        )
        options = " ".join(
            [
                "-c listen_addresses=127.0.0.1",
                f"-c port={port}",
                f"-c unix_socket_directories={sockets}",
                "-c shared_buffers=32MB",
                "-c max_connections=60",
                "-c fsync=off",
                "-c synchronous_commit=off",
                "-c full_page_writes=off",
                "-c max_wal_size=256MB",
                "-c log_min_messages=warning",
            ]
        )
        done = subprocess.run(
            _as_server_user(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-l",
                    str(log),
                    "-o",
                    options,
                    "-w",
                    "-t",
                    str(_START_TIMEOUT),
                    "start",
                ]
            ),
            capture_output=True,
            text=True,
            check=False,
        )
        started = True
        if done.returncode != 0:
            text = log.read_text() if log.exists() else ""
            raise RuntimeError(f"PostgreSQL did not start: {done.stderr}\n{text[-2000:]}")
        server = PostgresServer(bin_dir, sockets, port)
        server.admin(f"CREATE ROLE {ROLE} LOGIN CREATEDB PASSWORD '{PASSWORD}'")
        yield server
    finally:
        if started:
            subprocess.run(
                _as_server_user(
                    [str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"]
                ),
                capture_output=True,
                check=False,
            )
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server (skips, with the reason, when there can be none)."""
    paths = _initdb_paths()
    if not paths:
        reason = _install_postgresql()
        if reason is not None:
            pytest.skip(f"PostgreSQL is not installed and {reason}")
        paths = _initdb_paths()
        if not paths:
            pytest.skip("apt-get installed postgresql but no /usr/lib/postgresql/*/bin/initdb")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        pytest.skip("psycopg is not installed: pip install 'agentmaint[postgresql]'")
    with _cluster(paths[-1].parent) as server:
        yield server


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    """A fresh, empty database for one test, as a ``postgresql://`` URL with a password."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    postgres_server.admin(f"CREATE DATABASE {name} OWNER {ROLE}")
    try:
        yield postgres_server.url(name)
    finally:
        deadline = time.monotonic() + 30
        while True:
            try:
                postgres_server.admin(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
                break
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
