"""Password-like connection variables, handed to ansible-playbook without touching disk.

``ansible_become_password``, ``ansible_password``, ``ansible_ssh_private_key_passphrase``
and the like (`agentmaint.config.schedule.is_password_variable`) are never written into a
job's inventory. Instead, for the lifetime of a job that needs them, `SecretServer`
listens on a Linux *abstract* unix socket (a name with no file behind it), and the vars
plugin shipped in `PLUGIN_DIR` (enabled by the job's ansible.cfg) connects to it from
inside ansible-playbook, reads each host's values once and returns them as host
variables, marked unsafe so that Ansible never templates them. The job's environment
carries only the socket's random name (`SOCKET_VARIABLE`).

Why this mechanism and not another:

* an inherited pipe or file descriptor does not survive: ansible-runner starts
  ansible-playbook through pexpect/ptyprocess, which closes every descriptor above 2 and
  offers no ``pass_fds`` through ansible-runner's API;
* ansible-runner's ``passwords`` (answers to ``-k``/``-K`` prompts through the pty) give one
  SSH and one become password for the whole job, not one per host, and nothing for key
  passphrases or the other variables;
* environment variables are copied into the job's ``env/envvars`` artifact and are
  visible in ``/proc/<pid>/environ`` of every process of the job;
* a socket file would need a path shorter than 108 bytes under the state directory.

Anyone who can connect to an abstract socket in the same network namespace could ask,
so every connection is checked with ``SO_PEERCRED``: the peer must run as this user and
be a process of this job (`peer_check`, which looks for the job's id in the peer's
environment). A refused peer gets nothing and is logged (without any value).

The values live only in this process's memory and in ansible-playbook's: not in the
job's files, its environment, its command line, the artifacts or the history.

**Jobs on execution nodes** (`agentmaint.ansible.remote`) reach the same server through the
job's own ssh connection: OpenSSH forwards a unix socket on the node (``ssh -R
node_path:controller_path``, stream-local forwarding) to this server. OpenSSH cannot
forward abstract sockets, so with ``on_path=True`` the server listens on a socket file in
a fresh private directory (0700, made by `tempfile.mkdtemp`, removed with the socket when
the job ends), and `path` names it. The peer is then the job's ssh client (the
``peer_check`` of `agentmaint.ansible.remote` accepts that one process only); on the node,
sshd creates the socket (mode 0600 by sshd's default ``StreamLocalBindMask 0177``) in a
directory of the job that only the node's login user can reach, and the vars plugin
refuses a socket whose peer is not its own user. The values cross the SSH connection
encrypted, and stay in memory on both ends.

Trust boundary: any process running as the controller's user (locally) or as the node's
login user (on a node) while a job runs could ask for the values, as it could read the
user's SSH keys; other users cannot.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import struct
import tempfile
import threading
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType

from agentmaint.config.secret import Secret

__all__ = ["PLUGIN_DIR", "PLUGIN_NAME", "SOCKET_VARIABLE", "SecretServer"]

_log = logging.getLogger(__name__)

#: The job environment variable naming the abstract socket (the vars plugin reads it).
SOCKET_VARIABLE = "AGENTMAINT_SECRETS_SOCKET"
#: The vars plugin's name and directory (ansible.cfg's ``vars_plugins``).
PLUGIN_NAME = "agentmaint_connection_secrets"
PLUGIN_DIR = Path(__file__).resolve().parent / "vars_plugins"
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


class SecretServer:
    """Serves `values` (host -> variable -> secret) to the processes of one job.

    Use as a context manager around the job: `name` is the socket's name, for
    `SOCKET_VARIABLE`. `peer_check(pid)` says whether a connecting process belongs to
    the job. With `on_path`, the socket is a file instead (for ssh to forward):
    `path`, inside a private directory of its own, both removed on exit.
    """

    def __init__(
        self,
        values: Mapping[str, Mapping[str, Secret]],
        peer_check: Callable[[int], bool],
        *,
        on_path: bool = False,
    ) -> None:
        """Prepare to serve `values`; nothing listens until the context is entered."""
        self._values = values
        self._peer_check = peer_check
        self._on_path = on_path
        self.name = f"agentmaint-secrets-{secrets.token_hex(16)}"
        self.path: Path | None = None  # with `on_path`, once entered
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.served = 0  # connections answered (how a test sees that values were asked for)

    def __enter__(self) -> SecretServer:
        """Listen on the abstract socket and answer connections in a thread."""
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        if self._on_path:
            # mkdtemp: a new directory, 0700, never an existing one (nobody else can reach
            # the socket, nor put one of their own at its path).
            self.path = Path(tempfile.mkdtemp(prefix="agentmaint-secrets-")) / "socket"
            try:
                server.bind(str(self.path))
            except OSError:
                server.close()
                self._remove_path()
                raise
        else:
            server.bind("\0" + self.name)
        server.listen(16)
        self._socket = server
        self._thread = threading.Thread(target=self._serve, name="secret-server", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        """Stop listening; the name is gone with the socket."""
        if self._socket is not None:
            # shutdown() wakes the thread blocked in accept(); close() alone may not.
            with contextlib.suppress(OSError):
                self._socket.shutdown(socket.SHUT_RDWR)
            self._socket.close()
        if self._thread is not None:
            self._thread.join()
        self._remove_path()

    def _remove_path(self) -> None:
        """Remove the socket file and its directory (both ours, made by `__enter__`)."""
        if self.path is None:
            return
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        with contextlib.suppress(OSError):
            self.path.parent.rmdir()

    def _serve(self) -> None:
        assert self._socket is not None
        while True:
            try:
                connection, _ = self._socket.accept()
            except OSError:
                return  # closed by __exit__
            with connection:
                try:
                    self._answer(connection)
                except OSError as exc:
                    _log.warning("connection secrets: a job process hung up early (%s)", exc)

    def _answer(self, connection: socket.socket) -> None:
        pid, uid, _ = _PEERCRED.unpack(
            connection.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
        )
        if uid != os.getuid() or not self._peer_check(pid):
            _log.warning(
                "connection secrets: refused process %d (uid %d): not a process of this job",
                pid,
                uid,
            )
            return
        document = {
            host: {name: value.reveal() for name, value in variables.items()}
            for host, variables in self._values.items()
        }
        connection.sendall(json.dumps(document).encode())
        self.served += 1
        _log.debug(
            "handed connection secrets of %d host(s) to process %d of the job", len(document), pid
        )
