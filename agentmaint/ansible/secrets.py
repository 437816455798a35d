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
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import secrets
import socket
import struct
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
    the job.
    """

    def __init__(
        self,
        values: Mapping[str, Mapping[str, Secret]],
        peer_check: Callable[[int], bool],
    ) -> None:
        """Prepare to serve `values`; nothing listens until the context is entered."""
        self._values = values
        self._peer_check = peer_check
        self.name = f"agentmaint-secrets-{secrets.token_hex(16)}"
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self.served = 0  # connections answered (how a test sees that values were asked for)

    def __enter__(self) -> SecretServer:
        """Listen on the abstract socket and answer connections in a thread."""
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
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
