"""Ansible vars plugin: each host's password-like connection variables, from agentmaint.

Loaded by ansible-playbook (never imported by agentmaint itself) when a job's ansible.cfg
enables it. It connects once to the unix socket named by ``AGENTMAINT_SECRETS_SOCKET``
(served by `agentmaint.ansible.secrets.SecretServer` for the job's lifetime): an abstract
name on the controller, a path (starting with ``/``) on an execution node, where the
job's ssh connection forwards it to the controller. The socket's peer must run as this
process's user (on a node: the user's sshd session), else nothing is read. It reads a
JSON mapping host -> variable -> value, keeps it in memory and returns each host's
variables marked unsafe (never templated). Without the variable it returns nothing. It
imports nothing from agentmaint: it runs inside ansible-playbook (on a node, agentmaint
is not even installed: the plugin travels with the job).
"""

from __future__ import annotations

import json
import os
import socket
import struct
from typing import Any

from ansible.errors import AnsibleError
from ansible.inventory.host import Host
from ansible.plugins.vars import BaseVarsPlugin
from ansible.utils.unsafe_proxy import wrap_var

DOCUMENTATION = """
    name: agentmaint_connection_secrets
    short_description: password-like connection variables handed over by agentmaint
    description:
      - Reads the job's connection secrets from the agentmaint controller over a socket.
    options:
      stage:
        ini:
          - key: stage
            section: vars_agentmaint_connection_secrets
        env:
          - name: ANSIBLE_VARS_PLUGIN_STAGE
    extends_documentation_fragment:
      - vars_plugin_staging
"""

_VARIABLE = "AGENTMAINT_SECRETS_SOCKET"  # agentmaint.ansible.secrets.SOCKET_VARIABLE
_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid
_values: dict[str, dict[str, str]] | None = None


def _fetch(name: str) -> dict[str, dict[str, str]]:
    chunks: list[bytes] = []
    address = name if name.startswith("/") else "\0" + name
    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
            client.connect(address)
            _, uid, _ = _PEERCRED.unpack(
                client.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
            )
            if uid != os.getuid():  # someone else's socket: take nothing from it
                raise AnsibleError(
                    f"agentmaint: the connection secrets socket is served by uid {uid}, "
                    f"not by this user (uid {os.getuid()}): refused"
                )
            while chunk := client.recv(65536):
                chunks.append(chunk)
    except OSError as exc:
        raise AnsibleError(
            f"agentmaint: cannot read the connection secrets from the controller ({exc})"
        ) from None
    if not chunks:
        raise AnsibleError("agentmaint: the controller refused to hand over connection secrets")
    document: Any = json.loads(b"".join(chunks))
    return document if isinstance(document, dict) else {}


class VarsModule(BaseVarsPlugin):  # type: ignore[misc]
    """Host variables from agentmaint's secret server (nothing for groups)."""

    REQUIRES_ENABLED = True

    def get_vars(self, loader: Any, path: Any, entities: Any, cache: bool = True) -> Any:
        """The secrets of the hosts among `entities`."""
        global _values  # noqa: PLW0603 -- fetched once per process, kept in memory only
        name = os.environ.get(_VARIABLE)
        if not name:
            return {}
        if _values is None:
            _values = _fetch(name)
        found: dict[str, Any] = {}
        for entity in entities if isinstance(entities, list) else [entities]:
            if isinstance(entity, Host) and entity.name in _values:
                found.update(_values[entity.name])
        return wrap_var(found)
