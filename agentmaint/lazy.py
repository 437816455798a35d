"""Names a package imports on first use (PEP 562's module ``__getattr__``).

`agentmaint` and `agentmaint.metrics` export names whose modules are costly to import
(the run side, ansible-runner, prometheus_client); a script or command that does not use
them should not pay for them. Each package keeps a table of where its names are defined
and installs the ``__getattr__`` made here.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["first_use"]


def first_use(
    package: str, modules: Mapping[str, str], namespace: dict[str, Any]
) -> Callable[[str], Any]:
    """A module ``__getattr__`` for `package`: import a name's module on first use.

    `modules` maps each name to its module's full name; the value found is stored in
    `namespace` (the package's ``globals()``), so a name is looked up once. Any other name
    raises ``AttributeError`` as a module does.
    """

    def __getattr__(name: str) -> Any:
        try:
            module = modules[name]
        except KeyError:
            raise AttributeError(f"module {package!r} has no attribute {name!r}") from None
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    return __getattr__
