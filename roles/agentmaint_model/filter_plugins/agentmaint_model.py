"""Filters of the agentmaint_model role: which installed versions an update prunes.

Role-local (Ansible loads ``filter_plugins/`` of a role it runs), so the filter names carry
the role's prefix: once loaded they are visible to the whole play. The functions take and
return plain data, so ``tests/unit/test_role_filters.py`` checks them without Ansible.
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable, Mapping
from typing import Any


def versions_to_prune(
    found: Iterable[Mapping[str, Any]], *, version: str, keep: int, previous: str
) -> list[str]:
    """The installed versions to remove, in the order ``found`` lists them.

    ``found`` is ``ansible.builtin.find``'s ``files`` for the ``versions/`` directory: one
    entry per version directory, with its ``path`` and ``mtime`` (when its files were written
    in staging). The ``keep`` newest versions stay, ``version`` (the one ``current`` now points
    to) counting as the newest whatever its mtime: it may have been installed long before this
    run switched back to it. ``previous`` (the version to roll back to; may be empty) always
    stays, even beyond ``keep``.
    """
    if keep < 1:
        raise ValueError(f"keep must be at least 1, got {keep}")
    entries = list(found)
    installed = [posixpath.basename(str(entry["path"])) for entry in entries]
    newest_first = sorted(entries, key=lambda entry: float(entry["mtime"]), reverse=True)
    older = [
        name
        for name in (posixpath.basename(str(entry["path"])) for entry in newest_first)
        if name != version
    ]
    kept = {*([version, *older][:keep]), previous}
    pruned: list[str] = []
    for name in installed:
        if name not in kept and name not in pruned:
            pruned.append(name)
    return pruned


class FilterModule:
    """The role's filters, by the names the tasks use."""

    def filters(self) -> dict[str, Callable[..., Any]]:
        """Filter name -> function, as Ansible's filter plugin loader expects."""
        return {"agentmaint_model_versions_to_prune": versions_to_prune}
