"""Read a schedule document (YAML or JSON) safely into plain Python data.

PyYAML's ``SafeLoader`` already refuses ``!!python/...`` tags. On top of it this
loader:

* keeps dates and sexagesimal numbers as the strings the operator wrote (YAML 1.1
  would turn an unquoted ``time: 13:30`` into the integer 810 and ``2026-12-24``
  into a ``date``, which the schema would then reject with a confusing message);
* reports duplicate keys and non-string keys by their path instead of silently
  keeping the last value;
* bounds the document: file size, nesting depth, and the number of nodes after
  alias expansion (a "billion laughs" document is refused before anything walks it);
* records the line of each setting (`SourceLines`) so that problems name it:
  ``schedule.yaml:14: environments.production.hosts[2]: ...``.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from agentmaint.config.lines import SourceLines
from agentmaint.errors import Problem, ScheduleError, format_path

MAX_BYTES = 16 * 1024 * 1024
MAX_NODES = 1_000_000
MAX_DEPTH = 64


class _Loader(yaml.SafeLoader):
    """SafeLoader without timestamp and sexagesimal resolution."""


_INT = re.compile(
    r"""^(?:[-+]?0b[0-1_]+
    |[-+]?0[0-7_]+
    |[-+]?(?:0|[1-9][0-9_]*)
    |[-+]?0x[0-9a-fA-F_]+)$""",
    re.VERBOSE,
)
_FLOAT = re.compile(
    r"""^(?:[-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
    |\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
    |[-+]?\.(?:inf|Inf|INF)
    |\.(?:nan|NaN|NAN))$""",
    re.VERBOSE,
)
_DROPPED = {
    "tag:yaml.org,2002:timestamp",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
}
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver("tag:yaml.org,2002:int", _INT, list("-+0123456789"))
_Loader.add_implicit_resolver("tag:yaml.org,2002:float", _FLOAT, list("-+0123456789."))


@dataclass(frozen=True, slots=True)
class LoadedDocument:
    """A parsed schedule document and where each of its settings is in the file."""

    data: Any
    #: Empty for JSON (its problems keep their ``path: message`` form).
    lines: SourceLines = field(default_factory=SourceLines)


def load_file(path: Path) -> Any:
    """Read and parse a schedule file; raise `ScheduleError` with every problem found."""
    return read_document(path).data


def read_document(path: Path) -> LoadedDocument:
    """Read and parse a schedule file with its line map; raise `ScheduleError` if unreadable."""
    source = str(path)
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_BYTES + 1)
    except OSError as exc:
        raise ScheduleError(
            source, [Problem("", f"cannot read the file: {exc.strerror}")]
        ) from None
    return parse_document(raw, source, json_syntax=path.suffix.lower() == ".json")


def load_bytes(raw: bytes, source: str, *, json_syntax: bool = False) -> Any:
    """Parse a schedule document from bytes (YAML, or JSON when `json_syntax`)."""
    return parse_document(raw, source, json_syntax=json_syntax).data


def parse_document(raw: bytes, source: str, *, json_syntax: bool = False) -> LoadedDocument:
    """Parse a schedule document from bytes, with its line map when it is YAML."""
    if len(raw) > MAX_BYTES:
        raise ScheduleError(
            source, [Problem("", f"the file is larger than {MAX_BYTES // (1024 * 1024)} MiB")]
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ScheduleError(
            source, [Problem("", f"not UTF-8 text (invalid byte at offset {exc.start})")]
        ) from None
    if "\x00" in text:
        raise ScheduleError(source, [Problem("", "not a text file (contains NUL bytes)")])
    if not text.strip():
        raise ScheduleError(source, [Problem("", "the file is empty")])
    if json_syntax:
        return LoadedDocument(_load_json(text, source))
    return _load_yaml(text, source)


def _load_json(text: str, source: str) -> Any:
    problems: list[Problem] = []

    def pairs(items: list[tuple[str, Any]]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key, value in items:
            if key in result:
                problems.append(Problem("", f"duplicate key {key!r}"))
            result[key] = value
        return result

    try:
        data = json.loads(text, object_pairs_hook=pairs)
    except json.JSONDecodeError as exc:
        raise ScheduleError(
            source,
            [Problem("", f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}")],
        ) from None
    except RecursionError:
        raise ScheduleError(source, [Problem("", "the document is nested too deeply")]) from None
    if problems:
        raise ScheduleError(source, problems)
    return data


def _load_yaml(text: str, source: str) -> LoadedDocument:
    loader: _Loader | None = None
    try:
        loader = _Loader(text)
        node = loader.get_single_node()
        if node is None:
            raise ScheduleError(source, [Problem("", "the file is empty")])
        problems: list[Problem] = []
        checker = _Checker(problems)
        checker.check(node)
        lines = SourceLines(checker.lines)
        if problems:
            raise ScheduleError(source, lines.locate(problems))
        return LoadedDocument(loader.construct_document(node), lines)
    except yaml.MarkedYAMLError as exc:
        raise ScheduleError(source, [_yaml_problem(exc)]) from None
    except yaml.YAMLError as exc:
        raise ScheduleError(source, [Problem("", f"invalid YAML: {exc}")]) from None
    except RecursionError:
        raise ScheduleError(source, [Problem("", "the document is nested too deeply")]) from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_problem(exc: yaml.MarkedYAMLError) -> Problem:
    """A YAML syntax error (a wrong indentation, an unclosed bracket) at its line.

    The line goes in the problem, so that it is reported as ``file:line: ...`` like every
    other problem of the file (an editor or a terminal turns that into a link).
    """
    mark = exc.problem_mark or exc.context_mark
    where = f" at column {mark.column + 1}" if mark else ""
    what = "; ".join(part for part in (exc.context, exc.problem) if part) or "unreadable"
    return Problem("", f"invalid YAML{where}: {what}", line=mark.line + 1 if mark else None)


class _Checker:
    """Walks the composed node graph once, memoising shared (aliased) nodes.

    On the way it records the line of every key and list item by its path (`lines`);
    the paths are built one step at a time, since formatting each from its parts
    again would cost as much as the walk.
    """

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        self.sizes: dict[int, int] = {}
        self.active: set[int] = set()
        self.lines: dict[str, int] = {}

    def check(self, root: Node) -> None:
        total = self._size(root, "", 0)
        if total > MAX_NODES:
            self.problems.append(
                Problem(
                    "",
                    f"the document expands to more than {MAX_NODES:,} values "
                    "(too many aliases or too large)",
                )
            )

    def _size(self, node: Node, path: str, depth: int) -> int:
        key = id(node)
        if key in self.sizes:
            return self.sizes[key]
        if key in self.active:
            self.problems.append(Problem(path, "recursive alias"))
            return 1
        if depth > MAX_DEPTH:
            self.problems.append(Problem(path, f"nested deeper than {MAX_DEPTH} levels"))
            return 1
        self.active.add(key)
        size = 1
        if isinstance(node, SequenceNode):
            for index, child in enumerate(node.value):
                item = f"{path}[{index}]"
                self.lines[item] = child.start_mark.line + 1
                size += self._size(child, item, depth + 1)
                if size > MAX_NODES:
                    break
        elif isinstance(node, MappingNode):
            size += self._mapping(node, path, depth)
        self.active.discard(key)
        self.sizes[key] = size
        return size

    def _mapping(self, node: MappingNode, path: str, depth: int) -> int:
        size = 0
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                size += self._size(value_node, path, depth + 1)
                continue
            line = key_node.start_mark.line + 1
            if not isinstance(key_node, ScalarNode) or key_node.tag != "tag:yaml.org,2002:str":
                shown = key_node.value if isinstance(key_node, ScalarNode) else "a collection"
                self.problems.append(
                    Problem(
                        path,
                        f"key {shown!r} at line {line} is not a string (quote it)",
                        line=line,
                    )
                )
                continue
            name = str(key_node.value)
            step = format_path([name])
            where = f"{path}.{step}" if path and step[0] != "[" else path + step
            if name in seen:
                self.problems.append(
                    Problem(
                        where,
                        f"duplicate key at line {line} (first defined at line {seen[name]})",
                        line=line,
                    )
                )
            seen.setdefault(name, line)
            # A key's line, not its value's: a block mapping's value starts a line below.
            self.lines[where] = line
            size += self._size(value_node, where, depth + 1)
            if size > MAX_NODES:
                break
        return size
