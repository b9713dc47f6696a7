"""RS-SEARCH-*: OpenSearch distribution and major, plugins on every node, cluster health. Pure.

Inputs are the documented bodies of ``GET /``, ``GET /_cat/plugins?format=json`` (one row per
node and plugin) and ``GET /_cluster/health``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from rs_preflight.spec.results import Verdict, failed, passed

# The guide (§9.6) writes "analysis-phonenumbers"; OpenSearch's plugin is singular.
GUIDE_SPELLING = {"analysis-phonenumber": "analysis-phonenumbers"}


def _major(number: str) -> int | None:
    head = number.split(".", 1)[0]
    return int(head) if head.isdigit() else None


def version(root: Mapping[str, Any], distribution: str, major: int) -> Verdict:
    """RS-SEARCH-01: ``version.distribution`` is opensearch and ``version.number``'s major."""
    ver = root.get("version") if isinstance(root.get("version"), Mapping) else {}
    assert isinstance(ver, Mapping)
    dist = ver.get("distribution")
    number = str(ver.get("number", ""))
    expected = f"distribution {distribution}, version {major}.x"
    found = f"distribution {dist or '(none)'}, version {number or '(none)'}"
    if dist != distribution:
        why = ("no distribution: OpenSearch 1.x/2.x with compatibility."
               "override_main_response_version, or Elasticsearch") if dist is None else \
            f"distribution {dist!r}"
        return failed(f"not OpenSearch {major}: {why} (version {number})", expected, found)
    if _major(number) != major:
        return failed(f"OpenSearch {number}, not {major}.x", expected, found)
    return passed(f"OpenSearch {number}", expected, found)


def plugins(rows: Sequence[Mapping[str, Any]], node_count: int | None,
            required: Sequence[str]) -> Verdict:
    """RS-SEARCH-02: every required plugin on every node (``node_count`` from the health
    document, since a node with no plugin at all has no row)."""
    by_node: dict[str, set[str]] = {}
    for row in rows:
        by_node.setdefault(str(row.get("name")), set()).add(str(row.get("component")))
    expected = f"{', '.join(required)} on every node"
    problems = []
    for node, have in sorted(by_node.items()):
        missing = [p for p in required if p not in have]
        if missing:
            problems.append(f"{', '.join(_named(p) for p in missing)} missing on {node}")
    if node_count is not None and node_count > len(by_node):
        problems.append(f"{node_count - len(by_node)} of {node_count} node(s) have no plugins "
                        "at all")
    found = "; ".join(f"{n}: {', '.join(sorted(p))}" for n, p in sorted(by_node.items())) \
        or "no plugins"
    if problems:
        return failed("; ".join(problems), expected, found)
    return passed(f"{', '.join(required)} on all {len(by_node)} node(s)", expected, found)


def _named(plugin: str) -> str:
    alias = GUIDE_SPELLING.get(plugin)
    return f"{plugin} (the guide misspells it {alias})" if alias else plugin


def health(doc: Mapping[str, Any], profile: str, min_nodes_large: int) -> Verdict:
    """RS-SEARCH-03: red is a blocker, yellow a warning; >= ``min_nodes_large`` nodes for
    the large profile (a warning: §8.4 recommends, §12.2 explains)."""
    status = str(doc.get("status", "unknown"))
    nodes = doc.get("number_of_nodes")
    found = (f"status {status}, {nodes} node(s), {doc.get('unassigned_shards', '?')} "
             "unassigned shard(s)")
    want_nodes = min_nodes_large if profile == "large" else 1
    expected = f"status green (yellow: warning), >= {want_nodes} node(s)"
    if status == "red":
        return failed(f"cluster health is red: primary shards are unassigned ({found})",
                      expected, found)
    if status not in ("green", "yellow"):
        return failed(f"cluster health is {status!r}", expected, found)
    if isinstance(nodes, int) and nodes < want_nodes:
        return failed(f"{nodes} node(s); the large profile needs {want_nodes} for a quorum",
                      expected, found, severity="warning")
    if status == "yellow":
        return failed(f"cluster health is yellow: replica shards are unassigned ({found})",
                      expected, found, severity="warning")
    return passed(f"cluster health green, {nodes} node(s)", expected, found)


__all__ = ["GUIDE_SPELLING", "health", "plugins", "version"]
