"""YAML with line numbers: every key path of a document mapped to the line it starts on.

PyYAML's composer gives each node a start mark; we build plain Python data from the node tree
and remember where each path came from, so a validation message can say ``file:line: key``.
Duplicate keys (which PyYAML silently lets the last one win) are reported here.

Hostile documents are refused before they are built, each as a problem at its line: aliases
that would expand to more than ``MAX_VALUES`` values (a 1 KB "billion laughs" document grows to
gigabytes), an alias that contains itself, nesting deeper than ``MAX_DEPTH`` levels, and keys
that are not plain values.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import yaml

from rs_preflight.spec.errors import Problem

Path_ = tuple[str | int, ...]

MAX_VALUES = 20_000  # values of a document, also once its aliases and merge keys are expanded
MAX_DEPTH = 64        # levels of nesting (a site description needs six)


def dotted(path: Path_) -> str:
    """``("hosts", "app1", "roles", 0)`` → ``hosts.app1.roles[0]``."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


@dataclass
class SourceDoc:
    """A parsed YAML document: its data, its file name, and the line of every path."""

    file: str
    data: Any
    lines: dict[Path_, int] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)

    def line_of(self, path: Path_) -> int:
        """The line of ``path`` or of its nearest ancestor that has one."""
        while path and path not in self.lines:
            path = path[:-1]
        return self.lines.get(path, 1)

    def problem(self, path: Path_, message: str) -> Problem:
        return Problem(self.file, self.line_of(path), dotted(path), message)


class _Refused(Exception):
    """A document too expensive to build: where, and why."""

    def __init__(self, line: int, path: Path_, message: str) -> None:
        super().__init__(message)
        self.line, self.path, self.message = line, path, message


# libyaml's parser when PyYAML has it (the wheels and Debian's python3-yaml do): the same
# nodes with the same marks, much faster than the pure-Python one.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_NON_PRINTABLE = yaml.reader.Reader.NON_PRINTABLE  # what YAML does not allow in a stream
_OPEN = (yaml.SequenceStartEvent, yaml.MappingStartEvent)
_CLOSE = (yaml.SequenceEndEvent, yaml.MappingEndEvent)


def load_yaml(text: str, file: str) -> SourceDoc:
    """Parse ``text``; syntax errors and duplicate keys land in ``problems``, never raise."""
    doc = SourceDoc(file=file, data=None)
    bad = _NON_PRINTABLE.search(text)
    if bad:
        line = text.count("\n", 0, bad.start()) + 1
        doc.problems.append(Problem(file, line, "", f"YAML: character U+{ord(bad.group()):04X} "
                                                    f"is not allowed"))
        return doc
    try:
        _prescan(text)
        loader = _LOADER(text)
        try:
            node = loader.get_single_node()
            if node is not None:
                _measure(node, (), {}, set())
                doc.data = _build(node, (), loader, doc)
        finally:
            loader.dispose()
    except _Refused as exc:
        doc.problems.append(Problem(file, exc.line, dotted(exc.path), exc.message))
    except RecursionError:  # belt and braces: _prescan stops long before
        doc.problems.append(Problem(file, 1, "", f"nested too deeply (more than "
                                                 f"{MAX_DEPTH} levels)"))
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        doc.problems.append(Problem(file, line, "", f"YAML syntax: {exc.problem}"))
    except yaml.YAMLError as exc:
        doc.problems.append(Problem(file, 1, "", f"YAML: {exc}"))
    return doc


def _prescan(text: str) -> None:
    """Walk the parser's events (no nodes built yet) and stop at the first level deeper than
    ``MAX_DEPTH`` or the first value past ``MAX_VALUES``: nesting costs the parser time per
    level and the composer a Python frame, so neither may see a hostile document whole."""
    loader = _LOADER(text)
    depth = values = 0
    try:
        while loader.check_event():
            event = loader.get_event()  # type: ignore[no-untyped-call]
            line = event.start_mark.line + 1 if event.start_mark else 1
            if isinstance(event, _CLOSE):
                depth -= 1
                continue
            if isinstance(event, _OPEN):
                depth += 1
                if depth > MAX_DEPTH:
                    raise _Refused(line, (), f"nested too deeply (more than {MAX_DEPTH} levels)")
            if isinstance(event, (*_OPEN, yaml.ScalarEvent, yaml.AliasEvent)):
                values += 1
                if values > MAX_VALUES:
                    raise _Refused(line, (), f"too many values (more than {MAX_VALUES})")
    finally:
        loader.dispose()


def _measure(node: yaml.Node, path: Path_, sizes: dict[int, int], active: set[int]) -> int:
    """How many values ``node`` stands for once aliases are expanded (a shared node counts
    each time it is used, computed once): a cycle or more than ``MAX_VALUES`` is refused."""
    key = id(node)
    if key in sizes:
        return sizes[key]
    if key in active:
        raise _Refused(node.start_mark.line + 1, path,
                       "an alias refers to the value that contains it")
    size = 1
    if isinstance(node, yaml.MappingNode | yaml.SequenceNode):
        active.add(key)
        for i, item in enumerate(node.value):
            if isinstance(item, tuple):  # a mapping's (key, value)
                child = (*path, str(getattr(item[0], "value", "?")))
                size += sum(_measure(n, child, sizes, active) for n in item)
            else:
                size += _measure(item, (*path, i), sizes, active)
            if size > MAX_VALUES:  # _prescan let the document through: aliases grew it
                raise _Refused(node.start_mark.line + 1, path,
                               f"too many aliases: the document would expand to more than "
                               f"{MAX_VALUES} values")
        active.discard(key)
    sizes[key] = size
    return size


def _build(node: yaml.Node, path: Path_, loader: yaml.SafeLoader, doc: SourceDoc) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolve YAML merge keys (<<)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                doc.problems.append(Problem(doc.file, key_node.start_mark.line + 1,
                                            dotted(path), "a key must be a plain value, "
                                            "not a list or a mapping"))
                continue
            key = _scalar(key_node, path, loader, doc)
            key = key.isoformat() if isinstance(key, dt.date) else key
            if not isinstance(key, str | int | float | bool | None):
                key = key_node.value  # e.g. !!binary: the text as written
            child = (*path, str(key))
            if key in out:
                first = doc.lines.get(child, "?")
                doc.problems.append(Problem(doc.file, key_node.start_mark.line + 1, dotted(child),
                                            f"duplicate key (first defined on line {first})"))
                continue
            doc.lines[child] = key_node.start_mark.line + 1
            out[key] = _build(value_node, child, loader, doc)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_build(item, (*path, i), loader, doc) for i, item in enumerate(node.value)]
    value = _scalar(node, path, loader, doc)
    # Dates stay text: the schema checks their format, the model parses them.
    return value.isoformat() if isinstance(value, dt.date) else value


def _scalar(node: yaml.Node, path: Path_, loader: yaml.SafeLoader, doc: SourceDoc) -> Any:
    try:
        return loader.construct_object(node, deep=True)
    except yaml.YAMLError:
        raise
    except Exception as exc:  # PyYAML's constructors fail in many ways on odd scalars:
        # 2030-13-01 resolves as a date it cannot build, ``!!int`` on a word or on nothing
        doc.problems.append(Problem(doc.file, node.start_mark.line + 1, dotted(path),
                                    f"invalid value {str(node.value)[:80]!r}: {exc}"))
        return str(node.value)
