"""RS-MAIL-*: mailbox settings, IMAP (clacks), SMTP submission, the inbound round trip (§5.1).

Glue only. IMAP and SMTP are probed from the runner, once per run (``rs.state.probe``), to
addresses from the site (literal IPs, site hosts, or the site's resolvers:
:mod:`rs_preflight.gather.probes.where`) with the configured names in TLS; that the job hosts (IMAP)
and app/job hosts (SMTP) reach those ports through their own firewalls is RS-PORT-01's flow
check, run on those hosts. Judged by :mod:`rs_preflight.judge.mail`.

RS-MAIL-06 is an *active* probe: it sends one mail and deletes it again (only it). On by default
before installation, opt-in after (``--rs-mail-probe=on``; ``off`` skips it in any phase).
"""

from __future__ import annotations

import functools
from typing import Any

import pytest

from rs_preflight.gather.probes import ProbeError, Unreachable
from rs_preflight.gather.probes import mail as probe
from rs_preflight.gather.probes.where import address_for
from rs_preflight.judge import mail as judge
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict, error, skipped

IMAP, SMTP = ("mail", "imap"), ("mail", "smtp")  # the run's probes: one IMAP login, one SMTP


def _s(rs: Target, role: str | None = None) -> dict[str, str]:
    return {k: v.value for k, v in rs.settings(role).items()}


def _timeout(rs: Target) -> float:
    return float(rs.params.get("timeout", 10))


def _trust(rs: Target) -> str:
    return f"tls.ca_bundle {rs.site.tls_ca_bundle.name}" if rs.site.tls_ca_bundle else \
        "the system trust store"


def _imap_config(rs: Target) -> tuple[probe.Server, str, str, str] | Verdict:
    s = _s(rs, "job")
    missing = [v for v in ("CLACKS_ADDRESS", "CLACKS_USERNAME", "CLACKS_PASSWORD")
               if not s.get(v)]
    if missing:
        return skipped(f"{', '.join(missing)} not set (RS-ENV-01 reports it)")
    mode = judge.imap_tls_mode(s.get("CLACKS_ENABLE_SSL"))
    port = s.get("CLACKS_PORT") or ("993" if mode == "implicit" else "143")
    if not port.isdigit():
        return error(f"CLACKS_PORT {port!r} is not a port number")
    try:
        address = address_for(rs.site, s["CLACKS_ADDRESS"], rs.state.dns)
    except ProbeError as exc:
        return error(f"cannot reach IMAP: {exc}")
    return (probe.Server(address, s["CLACKS_ADDRESS"].strip(), int(port)), mode,
            s["CLACKS_USERNAME"], s["CLACKS_PASSWORD"])


def _imap(rs: Target) -> tuple[probe.ImapLogin, str] | Verdict:
    """The run's IMAP login (RS-MAIL-02/03/04 judge the same one), or the verdict why not."""
    config = _imap_config(rs)
    if isinstance(config, Verdict):
        return config
    server, mode, user, password = config
    folder = _s(rs, "job").get("CLACKS_MAILBOX") or "INBOX"
    ctx = probe.tls_context(True, rs.site.tls_ca_bundle)
    try:
        got = rs.state.probe(IMAP, functools.partial(
            probe.imap_login, server, mode, ctx, user, password, [folder], _timeout(rs)))
    except ProbeError as exc:
        return error(f"{exc} (from the runner)")
    return got, user


@pytest.mark.kind("mailboxes")
def test_mailboxes(rs: Target) -> Verdict:
    if not rs.site.settings.present:
        return skipped("no R-Service settings in the site: nothing to check")
    return judge.mailboxes(_s(rs), rs.params["variables"])


@pytest.mark.kind("imap_login")
def test_imap_login(rs: Target) -> Verdict:
    got = _imap(rs)
    if isinstance(got, Verdict):
        return got
    rec, user = got
    verdict = judge.imap_login(rec.stage, rec.error, rec.server, rec.tls, user, _trust(rs))
    note = " (probed from the runner; RS-PORT-01 checks the flow from each job host)"
    return Verdict(verdict.outcome, verdict.message + note, verdict.expected, verdict.found,
                   verdict.severity)


@pytest.mark.kind("imap_folders")
def test_imap_folders(rs: Target) -> Verdict:
    got = _imap(rs)
    if isinstance(got, Verdict):
        return got
    rec, _ = got
    s = _s(rs, "job")
    return judge.folders(rec.stage, rec.error, rec.folders, s.get("CLACKS_MAILBOX") or "INBOX",
                         s.get("CLACKS_ARCHIVEBOX"))


@pytest.mark.kind("imap_inbox_size")
def test_small_inbox(rs: Target) -> Verdict:
    got = _imap(rs)
    if isinstance(got, Verdict):
        return got
    rec, _ = got
    folder = _s(rs, "job").get("CLACKS_MAILBOX") or "INBOX"
    if rec.error is not None:
        return error(f"cannot count messages in {folder}: {rec.error} (RS-MAIL-02)")
    return judge.inbox_size(rec.counts.get(folder), folder, int(rs.params["max_messages"]))


def _smtp_config(rs: Target) -> tuple[Any, ...] | Verdict:
    s = _s(rs)
    host, port = s.get("RSERVICE_SMTP_HOST"), s.get("RSERVICE_SMTP_PORT") or "587"
    if not host:
        return skipped("RSERVICE_SMTP_HOST is not set (RS-ENV-01 reports it)")
    if not port.isdigit():
        return error(f"RSERVICE_SMTP_PORT {port!r} is not a port number")
    verify = judge.smtp_verify_mode(s.get("RSERVICE_SMTP_OPENSSL_VERIFY_MODE"))
    if verify is None:
        return error(f"RSERVICE_SMTP_OPENSSL_VERIFY_MODE "
                     f"{s['RSERVICE_SMTP_OPENSSL_VERIFY_MODE']!r} is not none or peer")
    try:
        address = address_for(rs.site, host, rs.state.dns)
    except ProbeError as exc:
        return error(f"cannot reach SMTP: {exc}")
    helo = s.get("RSERVICE_SMTP_DOMAIN") or rs.site.domain or "localhost"
    ctx = probe.tls_context(verify[0], rs.site.tls_ca_bundle)
    return (probe.Server(address, host.strip(), int(port)), ctx, helo,
            s.get("RSERVICE_SMTP_USERNAME") or None, s.get("RSERVICE_SMTP_PASSWORD") or None,
            s.get("RSERVICE_SMTP_AUTHENTICATION") or "login", verify[1])


@pytest.mark.kind("smtp_submission")
def test_smtp_submission(rs: Target) -> Verdict:
    config = _smtp_config(rs)
    if isinstance(config, Verdict):
        return config
    server, ctx, helo, user, password, mechanism, verify_label = config
    try:
        rec = rs.state.probe(SMTP, functools.partial(
            probe.smtp_check, server, ctx, helo, user, password, mechanism, _timeout(rs)))
    except ProbeError as exc:
        return error(f"{exc} (from the runner)")
    verdict = judge.smtp_submission(rec.stage, rec.error, rec.server, rec.tls, verify_label,
                                    user, mechanism if user else None, rec.auth_before_tls)
    note = " (probed from the runner; RS-PORT-01 checks the flow from each app and job host)"
    return Verdict(verdict.outcome, verdict.message + note, verdict.expected, verdict.found,
                   verdict.severity)


def _probe_enabled(rs: Target, request: pytest.FixtureRequest) -> str | None:
    """Why the round trip does not run, or None when it does."""
    try:
        choice = request.config.getoption("rs_mail_probe")
    except ValueError:
        choice = "auto"
    if choice == "off":
        return "the inbound mail round trip is turned off (--rs-mail-probe=off)"
    if choice != "on" and rs.phase != "pre":
        return ("the inbound mail round trip sends a real mail: after installation it runs "
                "only with --rs-mail-probe=on")
    return None


@pytest.mark.kind("mail_round_trip")
def test_inbound_round_trip(rs: Target, request: pytest.FixtureRequest) -> Verdict:
    why = _probe_enabled(rs, request)
    if why:
        return skipped(why)
    for key in (IMAP, SMTP):  # a server that timed out already costs no second timeout
        earlier = rs.state.probes.error(key)
        if isinstance(earlier, Unreachable):
            return error(f"round trip: {earlier} (earlier in this run)")
    s = _s(rs)
    inbound = s.get("ITRP_INBOUND_MAILBOX") or ""
    if judge.address_problem(inbound):
        return skipped("ITRP_INBOUND_MAILBOX is not a valid address (RS-MAIL-01 reports it)")
    imap_config, smtp_config = _imap_config(rs), _smtp_config(rs)
    for config in (imap_config, smtp_config):
        if isinstance(config, Verdict):
            return config
    assert not isinstance(imap_config, Verdict) and not isinstance(smtp_config, Verdict)
    catch_all = judge.is_true(s.get("ITRP_INBOUND_CATCH_ALL"))
    mode = "catch-all" if catch_all else "subaddressing"
    to = judge.probe_recipient(inbound, catch_all, probe.random_label())
    sender = s.get("ITRP_NOREPLY_MAILBOX") or smtp_config[3] or inbound
    msg = probe.probe_message(sender, to, inbound.partition("@")[2])
    server, tls_mode, user, password = imap_config
    imap_ctx = probe.tls_context(True, rs.site.tls_ca_bundle)
    folder = _s(rs, "job").get("CLACKS_MAILBOX") or "INBOX"
    wait_s = float(rs.params.get("wait_s", 60))
    rs.state.progress(f"waiting for the mail round trip to {to} (up to {wait_s:g} s)…")
    try:
        trip = probe.round_trip(smtp_config[:6], (server, tls_mode, imap_ctx, user, password),
                                folder, msg, wait_s,
                                _timeout(rs))
    except ProbeError as exc:
        return error(f"round trip: {exc}")
    return judge.round_trip(to, trip.stage, trip.error, trip.latency_s, trip.to_header,
                            trip.cleanup, mode, folder)


@pytest.mark.kind("imap_port_matches_tls")
def test_clacks_settings(rs: Target) -> Verdict:
    s = _s(rs, "job")
    return judge.clacks_consistent(s.get("CLACKS_PORT"), s.get("CLACKS_ENABLE_SSL"))
