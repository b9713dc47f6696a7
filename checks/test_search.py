"""RS-SEARCH-*: OpenSearch 3, its plugins on every node, cluster health (§9.6, §8.4, §12.2).

Glue only. Three GETs per ``ELASTICSEARCH_URLS`` entry, once per run (``rs.state.probe``), from
the runner to the address of the URL's host (literal, a site host, or the site's resolvers:
:mod:`rs_preflight.gather.probes.where`);
certificates verified against the site's CA bundle or the system store. That app and job hosts
reach the port is RS-PORT-01's flow check. Judged by :mod:`rs_preflight.judge.search`.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest

from rs_preflight.gather.probes import ProbeError
from rs_preflight.gather.probes import search as probe
from rs_preflight.gather.probes.where import address_for
from rs_preflight.judge import search as judge
from rs_preflight.judge.tls import summarize
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict, error, skipped


def _survey(rs: Target, url: str, verify: bool | str) -> probe.Seen:
    try:
        address = address_for(rs.site, urlsplit(url).hostname or "", rs.state.dns)
        return probe.survey(address, url, timeout=float(rs.params.get("timeout", 5)),
                            verify=verify)
    except ValueError as exc:
        raise ProbeError(f"{probe.shown(url)}: {exc}") from exc


def _each(rs: Target, what: str, key: str,
          judge_one: Callable[[probe.Seen], Verdict]) -> Verdict:
    """Each URL's answers (asked once per run: RS-SEARCH-01/02/03 judge the same ones)."""
    raw = rs.settings().get("ELASTICSEARCH_URLS")
    urls = probe.urls(raw.value if raw else None)
    if not urls:
        return skipped("ELASTICSEARCH_URLS is not set (RS-ENV-01 reports it)")
    verify: bool | str = str(rs.site.tls_ca_bundle) if rs.site.tls_ca_bundle else True
    out: list[tuple[str, Verdict]] = []
    for url in urls:
        try:
            got = rs.state.probe(("search", url), functools.partial(_survey, rs, url, verify))
        except ProbeError as exc:
            out.append((probe.shown(url), error(f"{exc} (from the runner)")))
            continue
        if key in got.errors:
            out.append((got.url, error(got.errors[key])))
        else:
            out.append((got.url, judge_one(got)))
    return summarize(what, out)


@pytest.mark.kind("search_version")
def test_opensearch_version(rs: Target) -> Verdict:
    t = rs.params
    return _each(rs, "OpenSearch version", "root",
                 lambda got: judge.version(got.root or {}, t["distribution"], int(t["major"])))


@pytest.mark.kind("search_plugins")
def test_opensearch_plugins(rs: Target) -> Verdict:
    def one(got: probe.Seen) -> Verdict:
        nodes = (got.health or {}).get("number_of_nodes")
        return judge.plugins(got.plugins or [], nodes if isinstance(nodes, int) else None,
                             rs.params["plugins"])
    return _each(rs, "OpenSearch plugins", "plugins", one)


@pytest.mark.kind("search_health")
def test_opensearch_health(rs: Target) -> Verdict:
    return _each(rs, "OpenSearch health", "health",
                 lambda got: judge.health(got.health or {}, rs.site.profile,
                                          int(rs.params["min_nodes_large"])))
