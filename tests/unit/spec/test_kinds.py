"""The kind registry (data/kinds.yaml) and what it computes for the gather layer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jsonschema
import pytest

from rs_preflight.gather.facts import SECTIONS, Context, commands
from rs_preflight.spec.catalogue import load_catalogue, load_catalogues, shipped
from rs_preflight.spec.kinds import (
    ALWAYS_GATHERED,
    SCOPES,
    closest,
    load_kinds,
    needs_for,
    sections_for,
    unknown_kind,
)
from rs_preflight.spec.site import default_site

KINDS = load_kinds()


@pytest.mark.parametrize("name", list(KINDS))
def test_every_kind_is_well_formed(name: str) -> None:
    kind = KINDS[name]
    assert name.isidentifier() and name == name.lower()  # lowercase snake_case
    assert kind.scope in SCOPES and kind.description
    jsonschema.Draft202012Validator.check_schema(dict(kind.params))
    assert kind.params["type"] == "object" and kind.params["additionalProperties"] is False
    for param, spec in kind.params["properties"].items():
        assert spec.get("description"), f"{name}.params.{param} needs a description"
    assert set(kind.params.get("required", ())) <= set(kind.params["properties"])
    assert set(kind.facts) <= set(SECTIONS), set(kind.facts) - set(SECTIONS)
    for need, source in kind.needs.items():
        sources = source if isinstance(source, tuple) else (source,)
        assert set(sources) <= set(kind.params["properties"]), (need, source)


def test_every_shipped_requirement_uses_a_kind_of_matching_scope() -> None:
    for req in shipped().values():
        assert KINDS[req.kind].scope == ("site" if req.site_level else "host"), req.id


def test_unknown_kind_says_the_closest() -> None:
    assert closest("sysctll", KINDS) == "sysctl"
    assert closest("zzzz", KINDS) is None
    message = unknown_kind("lb_forwarded_protocol")
    assert message.startswith("unknown kind 'lb_forwarded_protocol' (known: clock_skew, ")
    assert message.endswith(" / did you mean 'lb_forwarded_proto'?)")
    assert "did you mean" not in unknown_kind(42)


def test_needs_come_from_the_requirements_params() -> None:
    rservice = shipped()
    needs = needs_for(rservice.values())
    assert needs["sysctl_keys"] == ("fs.file-max", "vm.max_map_count")
    (table,) = needs["flow_tables"]
    assert table == {"flows": rservice["RS-PORT-01"].params["flows"], "timeout_s": 3}
    only = needs_for([rservice["RS-SYSCTL-02"], rservice["RS-OS-01"]])
    assert dict(only) == {"sysctl_keys": ("vm.max_map_count",)}
    with pytest.raises(TypeError):  # immutable
        needs["sysctl_keys"] = ()  # type: ignore[index]


def test_sections_are_those_of_the_kinds_plus_the_os() -> None:
    assert sections_for(["sysctl"]) == {"sysctl", "sysctl_persisted", *ALWAYS_GATHERED}
    assert sections_for([]) == set(ALWAYS_GATHERED)
    every = sections_for(KINDS)
    # every section is read by some kind, except what only the support bundle collects
    assert set(SECTIONS) - every == {"containers"}


def test_the_sysctl_section_reads_the_keys_asked_for_quoted() -> None:
    site = default_site()
    ctx = Context(site, site.hosts[0], {"sysctl_keys": ("net.core.somaxconn",)})
    built, failed = commands(ctx, ["sysctl"])
    assert not failed
    assert built["sysctl"] == ("printf '%s=' net.core.somaxconn; cat "
                               "/proc/sys/net/core/somaxconn 2>/dev/null || echo")
    assert commands(Context(site, site.hosts[0]), ["sysctl"])[0]["sysctl"] == "true"
    parsed = SECTIONS["sysctl"].parse(0, "net.ipv4.ip_local_port_range=32768\t60999\n"
                                         "kernel.core_pattern=core\nvm.x=\n")
    assert parsed == {"net.ipv4.ip_local_port_range": 32768, "kernel.core_pattern": "core",
                      "vm.x": None}


def test_the_flows_section_probes_every_table_once_per_destination(tmp_path: Path) -> None:
    """Two network_matrix requirements (a composed catalogue) share one probe per
    (destination, port); each maps the results onto its own flows."""
    from rs_preflight.gather.facts.network import by_flow
    from rs_preflight.spec.matrix import flows_for
    from rs_preflight.spec.site import Host, Site

    site = Site(name="t", file=None, phase="post",
                hosts=(Host("app1", "192.0.2.11", ("app",)), Host("rt1", "192.0.2.31",
                                                                   ("realtime",))))
    one: dict[str, Any] = {
        "flows": [{"label": "redis", "from": ["app"], "to_role": "realtime", "port": 6379}],
        "timeout_s": 2}
    two: dict[str, Any] = {
        "flows": [{"label": "cache", "from": ["app"], "to_role": "realtime", "port": 6379},
                  {"label": "mq", "from": ["app"], "to_role": "realtime", "port": 5672}],
        "timeout_s": 5}
    ctx = Context(site, site.hosts[0], {"flow_tables": (one, two)})
    built, _ = commands(ctx, ["flows"])
    script = built["flows"]
    assert script.count("/dev/tcp/") == 2 and "timeout 5 bash" in script  # the longer limit
    probed = SECTIONS["flows"].parse(0, "TO 0 6379 192.0.2.31\nTO 1 5672 192.0.2.31\n"
                                        "FLOW 1 1 3\nERR 1 Connection refused\n"
                                        "FLOW 0 0 2\nERR 0 \n")
    assert probed[("192.0.2.31", 6379)]["state"] == "open"
    assert probed[("192.0.2.31", 5672)]["state"] == "refused"
    flows = flows_for(site, site.hosts[0], two["flows"], "post")
    assert [p["state"] for p in by_flow(flows, probed).values()] == ["open", "refused"]


def test_a_composed_catalogue_is_cached_per_list_of_files(tmp_path: Path) -> None:
    path = tmp_path / "one.yaml"
    path.write_text("product: One\nroles: [app]\nrequirements: {}\n")
    assert load_catalogues((path,)) is load_catalogue(path)
    assert dict(load_catalogues((Path("r-service"),))) == dict(shipped())


def test_the_readme_table_of_kinds_is_current() -> None:
    """README "Other products" carries ``python3 -m rs_preflight.spec.kinds``'s table."""
    from rs_preflight.spec.kinds import markdown_table

    readme = (Path(__file__).resolve().parents[3] / "README.md").read_text()
    start = readme.index("<!-- kinds: generated by python3 -m rs_preflight.spec.kinds -->\n")
    end = readme.index("<!-- kinds: end -->")
    shown = readme[readme.index("\n", start) + 1:end]
    assert shown == markdown_table(shipped().values()), \
        "README's kinds table is stale: python3 -m rs_preflight.spec.kinds prints the current one"


def test_os_supported_checks_the_architecture_where_a_rule_names_one() -> None:
    from rs_preflight.judge.os import os_supported
    from rs_preflight.spec.results import FAILED, PASSED

    centos = {"ID": "centos", "VERSION_ID": "7", "PRETTY_NAME": "CentOS Linux 7 (Core)"}
    rules = [{"id": "centos", "name": "CentOS Linux", "major": "7", "arch": "x86_64"}]
    ok = os_supported(centos, rules, "x86_64")
    assert ok.outcome == PASSED and ok.message == "CentOS Linux 7 (Core) is supported (x86_64)"
    bad = os_supported(centos, rules, "aarch64")
    assert bad.outcome == FAILED and bad.expected == "CentOS Linux 7.x x86_64"
    assert "runs on aarch64: CentOS Linux is supported on x86_64 only" in bad.message
    assert os_supported(centos, [{k: v for k, v in rules[0].items() if k != "arch"}],
                        None).outcome == PASSED
    assert SECTIONS["machine"].parse(0, "x86_64\n") == "x86_64"


def test_planned_kinds_are_declared_and_validated_but_have_no_check() -> None:
    planned = {name for name, kind in KINDS.items() if kind.planned}
    # process_running ships (checks/test_processes.py), and so do os_end_of_life,
    # dns_forward_reverse, floating_address and dns_floating_names (test_os/dns/net.py),
    # couchdb_version, couchdb_replication (test_couchdb.py) and rabbitmq_cluster
    # (test_services.py): issue 14's VoIP kinds have all shipped
    assert planned == set()
    eol = KINDS["os_end_of_life"]
    assert eol.problems({"releases": [{"id": "centos", "version": "7", "name": "CentOS 7",
                                       "eol": "2024-06-31"}]}) == [
        (("releases", 0, "eol"), "'2024-06-31' is not a 'date'")]
