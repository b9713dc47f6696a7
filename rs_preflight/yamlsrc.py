"""YAML with line numbers: every key path of a document mapped to the line it starts on.

PyYAML's composer gives each node a start mark; we build plain Python data from the node tree
and remember where each path came from, so a validation message can say ``file:line: key``.
Duplicate keys (which PyYAML silently lets the last one win) are reported here.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

import yaml

from .errors import Problem

Path_ = tuple[str | int, ...]


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


def load_yaml(text: str, file: str) -> SourceDoc:
    """Parse ``text``; syntax errors and duplicate keys land in ``problems``, never raise."""
    doc = SourceDoc(file=file, data=None)
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is not None:
            doc.data = _build(node, (), loader, doc)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else 1
        doc.problems.append(Problem(file, line, "", f"YAML syntax: {exc.problem}"))
    except yaml.YAMLError as exc:
        doc.problems.append(Problem(file, 1, "", f"YAML: {exc}"))
    finally:
        loader.dispose()
    return doc


def _build(node: yaml.Node, path: Path_, loader: yaml.SafeLoader, doc: SourceDoc) -> Any:
    doc.lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        loader.flatten_mapping(node)  # resolve YAML merge keys (<<)
        out: dict[Any, Any] = {}
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            key = key.isoformat() if isinstance(key, dt.date) else key
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
    try:
        value = loader.construct_object(node, deep=True)
    except ValueError as exc:  # e.g. 2030-13-01 resolves as a date PyYAML cannot build
        doc.problems.append(Problem(doc.file, node.start_mark.line + 1, dotted(path),
                                    f"invalid value {node.value!r}: {exc}"))
        return node.value
    # Dates stay text: the schema checks their format, the model parses them.
    return value.isoformat() if isinstance(value, dt.date) else value
