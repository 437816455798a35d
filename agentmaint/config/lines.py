"""Where each setting of a YAML schedule file is: document path -> line number.

The loader records the line of every key and list item while it checks the
composed document (one walk it makes anyway), keyed by the path problems use
(``environments.production.hosts[2]``). A problem at a path that is not in the
file (a required key that is missing) gets the line of its nearest ancestor that
is: the mapping the key belongs in. A JSON schedule has no map and its problems
keep their plain ``path: message`` form.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace

from agentmaint.errors import Problem

__all__ = ["SourceLines"]


@dataclass(frozen=True, slots=True)
class SourceLines:
    """The 1-based line of each path of a YAML document (empty: lines unknown)."""

    lines: Mapping[str, int] = field(default_factory=dict)

    def line_of(self, path: str) -> int | None:
        """The line of `path`, else of its nearest ancestor in the file; None if unknown.

        The whole document (``""``) has no line: its problems are about the file.
        """
        if not self.lines or not path:
            return None
        while path:
            line = self.lines.get(path)
            if line is not None:
                return line
            path = _parent(path)
        return None

    def locate(self, problems: Iterable[Problem]) -> list[Problem]:
        """`problems` with the line of each one that has none yet and whose path is known."""
        located = []
        for problem in problems:
            line = problem.line if problem.line is not None else self.line_of(problem.path)
            located.append(problem if line == problem.line else replace(problem, line=line))
        return located


def _parent(path: str) -> str:
    """`path` without its last step: ``a.b[0]`` -> ``a.b``, ``a["x.y"]`` -> ``a``.

    A quoted key may hold ``.`` or ``[``; cutting inside it gives a path that is not in
    the map, and the walk goes on to the next cut, so no quote parsing is needed.
    """
    cut = max(path.rfind("."), path.rfind("["))
    return path[:cut] if cut > 0 else ""
