"""RS-LB-*: what the backends receive through the load balancer (guide §9.7, §2.10, App. 1).

Glue only. One request per (name, load-balancer address) to the header-echo path, asked of the
run's state once (``rs.state.probe``) and judged by RS-LB-01/02/03/06 alike; the echo backend
answers with what arrived
(``{"headers": [[name, value], …], "client": [address, port]}``). Names: the domain, a fresh
random tenant and every predetermined name. Judged by :mod:`rs_preflight.judge.lb`.

Phase *pre*: nothing answers behind the load balancer yet, so rs-preflight's own header-echo
listener runs on each app and realtime host (:mod:`rs_preflight.gather.header_probe`, started by the
first LB check that needs it, stopped after the last one and by the run's cleanup); only its
answers count (they carry the run's token). The listener runs on the port(s) the load balancer
may use for each role (:mod:`rs_preflight.spec.backends`), and each echo says on which port and in
which protocol the load balancer's request came in: ``found`` names it ("backends seen:
app1:80 plain HTTP, …"). Phase *post* is read-only and starts nothing:
R-Service answers behind the load balancer and does not echo what it receives, so
RS-LB-01/02/03/06 are skipped ("the header probe runs before installation") unless what answers
is a header echo; RS-LB-04 and RS-LB-05 talk to R-Service itself. RS-LB-04 asks each backend,
on its role's port(s), whether it speaks TLS or plain HTTP before it fetches ``/_gif`` and
``/teapot``.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterator, Sequence

import pytest

from rs_preflight.gather.header_probe import HeaderProbe, token_query
from rs_preflight.gather.probes import ProbeError, http
from rs_preflight.gather.probes.where import lb_addresses
from rs_preflight.judge import lb as judge
from rs_preflight.judge.tls import summarize
from rs_preflight.model import Target
from rs_preflight.spec.backends import Backend, backends_of, protocol
from rs_preflight.spec.dnsnames import realtime_name, web_names
from rs_preflight.spec.results import Verdict, error, failed, skipped

NOT_ECHO = ("what answered behind the load balancer is not the header echo (status {status}): "
            "the backend's view of the headers can only be read through an echo listener")
NOT_OURS = ("what answered behind the load balancer is not rs-preflight's header probe "
            "(status {status}): the load balancer sends this name to a backend that is not an "
            "app/realtime host of the site, or refuses the probe (a load balancer that verifies "
            "its backends' certificates refuses the probe's self-signed one)")
AFTER_INSTALL = ("the header probe runs before installation (phase pre, with rs-preflight's own "
                 "listener on the backends): R-Service answers behind the load balancer now and "
                 "does not echo what it receives (status {status})")


@pytest.fixture(scope="module")
def lb_listener() -> Iterator[HeaderProbe]:
    """The header-echo listener on the backends (phase pre): started on first use, stopped
    after this module's last check (and by the run's cleanup if the run is interrupted)."""
    probe = HeaderProbe()
    try:
        yield probe
    finally:
        probe.stop()


def _listen(rs: Target, probe: HeaderProbe) -> Verdict | None:
    """Phase pre: our listener on every backend host, or the error saying why not."""
    if rs.phase != "pre":
        return None
    rs.state.progress("starting the header-echo listeners on the backends…")
    problems = probe.ensure(rs.site, rs.state.connections.get, rs.state.on_cleanup)
    return error("; ".join(problems)) if problems else None


def _timeout(rs: Target) -> float:
    return float(rs.params.get("timeout", 5))


def _settings(rs: Target) -> dict[str, str]:
    return {k: v.value for k, v in rs.settings().items()}


def _domain(rs: Target) -> str:
    if not rs.site.domain:
        pytest.skip("ITRP_DOMAIN is not set (RS-ENV-01 reports it)")
    return rs.site.domain


def _addresses(rs: Target, name: str) -> list[str]:
    return lb_addresses(rs.site, name, rs.state.dns)


def _echoes(rs: Target, tenant: str, probe: HeaderProbe
            ) -> list[tuple[str, str, http.Echo]] | Verdict:
    """(name, address, what the backend saw) for every name and address, or an error (or, in
    phase post when no header echo answers, a skip)."""
    domain = _domain(rs)
    not_listening = _listen(rs, probe)
    if not_listening is not None:
        return not_listening
    ours_only = rs.phase == "pre" and not probe.foreign_ok
    out: list[tuple[str, str, http.Echo]] = []
    failures: list[str] = []
    statuses: list[int] = []
    for name in web_names(_settings(rs), domain, tenant):
        addresses = _addresses(rs, name)
        if not addresses:
            failures.append(f"{name}: no load_balancer.addresses in the site and the name "
                            f"does not resolve at the site's resolvers")
        for address in addresses:
            try:
                got = rs.state.probe(("lb-echo", probe.token, name, address),
                                     functools.partial(_fetch, rs, address, name, probe),
                                     at=address)
            except ProbeError as exc:
                failures.append(str(exc))
                continue
            echo = http.echo(got)
            if echo is None or (ours_only and echo.probe != probe.token):
                statuses.append(got.status)
                text = NOT_OURS if ours_only else NOT_ECHO
                failures.append(f"{name} @ {address}: " + text.format(status=got.status))
            else:
                out.append((name, address, echo))
    if rs.phase == "post" and statuses and not out and len(statuses) == len(failures):
        return skipped(AFTER_INSTALL.format(status="/".join(map(str, sorted(set(statuses))))))
    if failures:
        return error("; ".join(dict.fromkeys(failures)))
    return out


def _fetch(rs: Target, address: str, name: str, probe: HeaderProbe) -> http.Answer:
    port = rs.site.tls_port
    url = (f"https://{name}{'' if port == 443 else f':{port}'}{http.ECHO_PATH}"
           f"?{token_query(probe.token)}")
    return http.until_settled(functools.partial(http.get, address, url, timeout=_timeout(rs)),
                              probe.settling)


def _with_backends(verdict: Verdict, seen: Sequence[str]) -> Verdict:
    """``found`` also names the backend port(s) and protocol(s) the requests came in on."""
    where = ", ".join(sorted({s for s in seen if s}))
    if not where:
        return verdict
    found = f"{verdict.found}; backends seen: {where}" if verdict.found else \
        f"backends seen: {where}"
    return dataclasses.replace(verdict, found=found)


def _each(rs: Target, tenant: str, probe: HeaderProbe, what: str,
          judge_one: Callable[[str, str, http.Echo], Verdict]) -> Verdict:
    got = _echoes(rs, tenant, probe)
    if isinstance(got, Verdict):
        return got
    verdict = summarize(what, [(f"{name} @ {address}", judge_one(name, address, echo))
                               for name, address, echo in got])
    return _with_backends(verdict, [echo.backend for _, _, echo in got])


@pytest.mark.kind("lb_host_header")
def test_host_kept(rs: Target, rs_tenant_label: str,
                   lb_listener: HeaderProbe) -> Verdict:
    return _each(rs, rs_tenant_label, lb_listener, "Host header",
                 lambda name, _, echo: judge.host_kept(name, echo))


@pytest.mark.kind("lb_forwarded_for")
def test_forwarded_for(rs: Target, rs_tenant_label: str,
                       lb_listener: HeaderProbe) -> Verdict:
    return _each(rs, rs_tenant_label, lb_listener, "X-Forwarded-For",
                 lambda _, address, echo: judge.forwarded_for(http.source_address(address),
                                                              echo))


@pytest.mark.kind("lb_forwarded_proto")
def test_forwarded_proto(rs: Target, rs_tenant_label: str,
                         lb_listener: HeaderProbe) -> Verdict:
    return _each(rs, rs_tenant_label, lb_listener, "X-Forwarded-Proto",
                 lambda _, __, echo: judge.forwarded_proto(echo))


@pytest.mark.kind("lb_health_checks")
def test_health_checks(rs: Target) -> Verdict:
    domain = _domain(rs)
    body = str(rs.params.get("teapot_body", "I am a teapot"))
    realtime = realtime_name(_settings(rs), domain)
    port = rs.site.tls_port
    suffix = "" if port == 443 else f":{port}"
    checks: list[tuple[str, str, str, str | None]] = []  # (target, address, url, body)
    for address in _addresses(rs, domain):
        checks += [(f"LB {address} /_gif", address, f"https://{domain}{suffix}/_gif", None),
                   (f"LB {address} /teapot", address, f"https://{domain}{suffix}/teapot", body)]
    for address in _addresses(rs, realtime):
        checks.append((f"LB {address} {realtime}/teapot", address,
                       f"https://{realtime}{suffix}/teapot", body))
    found_at: list[tuple[str, Verdict]] = []  # backends whose port/protocol is unclear
    wheres: list[str] = []
    for host in rs.site.hosts_with("app", "realtime"):
        for backend in backends_of(rs.site, host):
            base = _backend_base(rs, host.address, host.name, backend, domain)
            if isinstance(base, Verdict):
                found_at.append((f"{host.name} ({backend.role})", base))
                continue
            where, url = base
            wheres.append(where)
            paths = ("/_gif", "/teapot") if backend.role == "app" else ("/teapot",)
            checks += [(f"{where} {p}", host.address, f"{url}{p}",
                        body if p == "/teapot" else None) for p in paths]
    if not checks and not found_at:
        return error("no load_balancer.addresses and no app/realtime hosts in the site")
    verdicts = list(found_at)
    for target, address, url, want in checks:
        try:
            verdicts.append((target, judge.health(url, http.get(address, url,
                                                                timeout=_timeout(rs)), want)))
        except ProbeError as exc:
            verdicts.append((target, error(str(exc))))
    return _with_backends(summarize("health endpoints", list(dict(verdicts).items())), wheres)


def _backend_base(rs: Target, address: str, name: str, backend: Backend, domain: str
                  ) -> tuple[str, str] | Verdict:
    """("app1:80 plain HTTP", "http://<domain>:80") for the first of the role's ports that
    accepts, with the protocol it speaks; a declared protocol that differs fails."""
    tried = []
    for port in backend.ports:
        try:
            tls = http.speaks_tls(address, port, timeout=_timeout(rs))
        except ProbeError as exc:
            tried.append(str(exc))
            continue
        if backend.tls is not None and tls != backend.tls:
            said = f"the site says the load balancer speaks {protocol(backend.tls)} to {name}"
            return failed(f"{name}:{port} speaks {protocol(tls)}, but {said}",
                          f"{name}:{port} {protocol(backend.tls)}",
                          f"{name}:{port} {protocol(tls)}")
        scheme = "https" if tls else "http"
        suffix = "" if port == (443 if tls else 80) else f":{port}"
        return f"{name}:{port} {protocol(tls)}", f"{scheme}://{domain}{suffix}"
    return error(f"{name} accepts on none of its {backend.role} port(s) "
                 f"{' or '.join(map(str, backend.ports))}: {'; '.join(tried)}")


@pytest.mark.kind("lb_websocket")
def test_websocket(rs: Target, lb_listener: HeaderProbe) -> Verdict:
    name = realtime_name(_settings(rs), _domain(rs))
    not_listening = _listen(rs, lb_listener)
    if not_listening is not None:
        return not_listening
    addresses = _addresses(rs, name)
    if not addresses:
        return error(f"no load_balancer.addresses in the site and {name} does not resolve at "
                     f"the site's resolvers")
    verdicts = []
    seen: list[str] = []
    for address in addresses:
        try:
            upgrade = http.until_settled(
                functools.partial(_upgrade, rs, address, name, lb_listener),
                lb_listener.settling)
        except ProbeError as exc:
            verdicts.append((f"{name} @ {address}", error(str(exc))))
            continue
        verdicts.append((f"{name} @ {address}", judge.websocket(name, upgrade)))
        seen.append(upgrade.backend)
    return _with_backends(summarize("WebSocket", verdicts), seen)


def _upgrade(rs: Target, address: str, name: str, probe: HeaderProbe) -> http.Upgrade:
    return http.websocket(address, name, port=rs.site.tls_port,
                          path=f"/faye?{token_query(probe.token)}", timeout=_timeout(rs))


@pytest.mark.kind("lb_trusted_proxies")
def test_trusted_proxies(rs: Target, rs_tenant_label: str,
                         lb_listener: HeaderProbe) -> Verdict:
    got = _echoes(rs, rs_tenant_label, lb_listener)
    if isinstance(got, Verdict):
        return got
    trusted = rs.site.settings.get("ITRP_TRUSTED_PROXIES", role="app")
    return _with_backends(judge.trusted_proxy([echo.client for _, _, echo in got], trusted),
                          [echo.backend for _, _, echo in got])
