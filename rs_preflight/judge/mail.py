"""RS-MAIL-*: mailbox settings, IMAP login and folders, SMTP submission, inbound routing. Pure.

The probes (:mod:`rs_preflight.gather.probes.mail`) say what a session showed and where it stopped;
these functions say whether that is what R-Service needs, with expected and found.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from rs_preflight.spec.results import Verdict, error, failed, passed, skipped

# RFC 5322 dot-atom local part and an RFC 1035 host name (no quoted local parts, no literals:
# R-Service's mailers and tenants' clients would not cope with them either).
_LOCAL = re.compile(r"^[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*$")
_LABEL = re.compile(r"^(?!-)[A-Za-z0-9-]{1,63}(?<!-)$")
TRUE = ("true", "1", "yes", "on")


def address_problem(value: str) -> str | None:
    """Why ``value`` is not a plain ``local@domain`` address (None: it is one)."""
    if value.count("@") != 1:
        return "not of the form local@domain"
    local, domain = value.split("@")
    if not local or len(local) > 64 or not _LOCAL.match(local):
        return f"invalid local part {local!r}"
    labels = domain.rstrip(".").split(".")
    if len(labels) < 2 or len(domain) > 253 or not all(_LABEL.match(x) for x in labels):
        return f"invalid domain {domain!r}"
    return None


def mailboxes(settings: Mapping[str, str], variables: Sequence[str]) -> Verdict:
    """RS-MAIL-01: every mailbox variable is set and a valid address."""
    bad = []
    for var in variables:
        value = (settings.get(var) or "").strip()
        why = "not set" if not value else address_problem(value)
        if why:
            bad.append(f"{var}={value!r}: {why}" if value else f"{var}: not set")
    expected = f"{', '.join(variables)} set to valid addresses"
    if bad:
        return failed(f"{len(bad)} mailbox setting(s) wrong: " + "; ".join(bad), expected,
                      "; ".join(bad))
    found = ", ".join(f"{v}={settings[v]}" for v in variables)
    return passed(f"all {len(variables)} mailbox addresses are valid", expected, found)


def is_true(value: str | None, default: bool = False) -> bool:
    return default if value is None or not value.strip() else value.strip().lower() in TRUE


def imap_tls_mode(enable_ssl: str | None) -> str:
    """CLACKS_ENABLE_SSL true (the default): implicit TLS; false: STARTTLS."""
    return "implicit" if is_true(enable_ssl, default=True) else "starttls"


def imap_login(stage: str, error_text: str | None, server: str, tls: str, user: str,
               verified_by: str) -> Verdict:
    """RS-MAIL-02: TLS as configured, certificate accepted, login works."""
    expected = f"{tls} to {server}, certificate valid ({verified_by}), login as {user}"
    if error_text is None:
        return passed(f"IMAP login as {user} at {server} over {tls} works", expected,
                      f"{tls}, certificate valid, logged in")
    where = {"tls": f"{tls} did not work", "login": "login failed"}.get(stage, "IMAP failed")
    return failed(f"IMAP at {server}: {where}: {error_text}", expected, error_text)


def folders(stage: str, error_text: str | None, present: Sequence[str], mailbox: str,
            archive: str | None) -> Verdict:
    """RS-MAIL-03: CLACKS_MAILBOX and CLACKS_ARCHIVEBOX exist."""
    if error_text is not None and stage != "done":
        return error(f"cannot list IMAP folders: {error_text} (RS-MAIL-02)")
    wanted = [mailbox] + ([archive] if archive else [])
    have = {f.upper() if f.upper() == "INBOX" else f for f in present}
    missing = [f for f in wanted if (f.upper() if f.upper() == "INBOX" else f) not in have]
    expected = "folders " + ", ".join(wanted)
    found = "folders " + (", ".join(present) or "none")
    if not archive:
        return failed("CLACKS_ARCHIVEBOX is not set: clacks needs a folder to move processed "
                      "mail to", expected + " and CLACKS_ARCHIVEBOX set", found)
    if missing:
        return failed(f"missing IMAP folder(s): {', '.join(missing)}", expected, found)
    return passed(f"IMAP folders {', '.join(wanted)} exist", expected, found)


def inbox_size(count: int | None, mailbox: str, limit: int) -> Verdict:
    """RS-MAIL-04: at most ``limit`` messages in CLACKS_MAILBOX."""
    expected = f"<= {limit} messages in {mailbox}"
    if count is None:
        return error(f"could not count the messages in {mailbox} (RS-MAIL-02/03)")
    if count > limit:
        return failed(f"{mailbox} holds {count} messages: IMAP slows on big folders",
                      expected, f"{count} messages")
    return passed(f"{mailbox} holds {count} messages", expected, f"{count} messages")


def smtp_submission(stage: str, error_text: str | None, server: str, tls: str,
                    verify_mode: str, user: str | None, mechanism: str | None,
                    auth_before_tls: Sequence[str]) -> Verdict:
    """RS-MAIL-05: TLS as the port implies, certificate per verify mode, AUTH works."""
    auth = f"AUTH {mechanism.upper()} as {user}" if user and mechanism else "no AUTH configured"
    expected = f"{tls} to {server}, certificate checked ({verify_mode}), {auth}"
    if error_text is not None:
        where = {"tls": f"{tls} did not work", "auth": "AUTH failed"}.get(stage, "SMTP failed")
        return failed(f"SMTP at {server}: {where}: {error_text}", expected, error_text)
    note = "" if auth_before_tls else " (AUTH is offered only after STARTTLS, as it should be)"
    return passed(f"SMTP at {server}: {tls}, {auth} works{note}", expected,
                  f"{tls}, {auth} accepted")


def smtp_verify_mode(value: str | None) -> tuple[bool, str] | None:
    """RSERVICE_SMTP_OPENSSL_VERIFY_MODE → (verify?, label); None for an unknown value.
    Ruby's Net::SMTP verifies (peer) unless told ``none``."""
    mode = (value or "peer").strip().lower()
    if mode in ("none", "verify_none"):
        return False, "none"
    if mode in ("peer", "verify_peer", "client_once", "fail_if_no_peer_cert",
                "verify_client_once", "verify_fail_if_no_peer_cert"):
        return True, "peer"
    return None


def probe_recipient(inbound: str, catch_all: bool, label: str) -> str:
    """Where a tenant's mail goes: ``<local>+<label>@<domain>`` (subaddressing) or
    ``<label>@<mail domain>`` (catch-all; the domain of ITRP_INBOUND_MAILBOX)."""
    local, _, domain = inbound.partition("@")
    return f"{label}@{domain}" if catch_all else f"{local}+{label}@{domain}"


def round_trip(to: str, stage: str, error_text: str | None, latency_s: float | None,
               to_header: str | None, cleanup: str, mode: str, folder: str) -> Verdict:
    """RS-MAIL-06: the probe arrived in the folder with its To intact (and only it was
    deleted)."""
    expected = f"a probe to {to} ({mode}) arrives in {folder} with To: {to}"
    if stage == "imap":
        return error(f"cannot watch {folder} for the probe: {error_text} (RS-MAIL-02)")
    if stage == "send" and error_text and error_text.startswith("could not submit"):
        return error(f"{error_text} (RS-MAIL-05)")
    tail = f"; probe {cleanup}"
    if error_text is not None:
        return failed(f"inbound routing ({mode}): {error_text}{tail}", expected, error_text)
    if to_header is None or to.lower() not in to_header.lower():
        found = f"To: {to_header}" if to_header else "no To header"
        return failed(f"the probe arrived after {latency_s} s but its To header was changed"
                      f"{tail}", expected, found)
    if not cleanup.startswith("deleted"):
        return failed(f"the probe arrived after {latency_s} s, but {cleanup}", expected,
                      f"arrived; {cleanup}")
    return passed(f"a probe to {to} arrived in {folder} after {latency_s} s with its To "
                  f"header intact{tail}", expected, f"arrived after {latency_s} s, To: {to}")


def clacks_consistent(port: str | None, enable_ssl: str | None) -> Verdict:
    """RS-MAIL-07: CLACKS_PORT 993 ⇔ CLACKS_ENABLE_SSL true; 143 ⇔ false."""
    if not port:
        return skipped("CLACKS_PORT is not set (RS-ENV-01 reports it)")
    ssl_on = is_true(enable_ssl, default=True)
    shown = f"CLACKS_PORT={port}, CLACKS_ENABLE_SSL={(enable_ssl or 'unset (true)').strip()}"
    want = {"993": True, "143": False}.get(port.strip())
    if want is None:
        return passed(f"{shown}: a non-standard port, nothing to compare", None, shown)
    expected = f"CLACKS_PORT={port} with CLACKS_ENABLE_SSL={'true' if want else 'false'}"
    if ssl_on != want:
        return failed(f"{shown}: port {port} is IMAP{'S' if want else ''} but TLS is "
                      f"{'off' if want else 'on (implicit)'}", expected, shown)
    return passed(f"{shown} agree", expected, shown)


__all__ = ["address_problem", "clacks_consistent", "folders", "imap_login", "imap_tls_mode",
           "inbox_size", "is_true", "mailboxes", "probe_recipient", "round_trip",
           "smtp_submission", "smtp_verify_mode"]
