"""Judges of R-Service's settings (.env files): RS-ENV-01 … RS-ENV-05.

Secret values are compared and measured here but never put into a message; other values
reach messages only through ``EnvValue.shown`` / ``redact.safe_url`` (URL credentials masked).
"""

from __future__ import annotations

import itertools
import urllib.parse
from collections.abc import Callable, Mapping, Sequence

from rs_preflight.spec.addresses import is_ip
from rs_preflight.spec.envfile import EnvValue
from rs_preflight.spec.redact import safe_url
from rs_preflight.spec.results import Verdict, error, failed, passed, worst

Vars = Mapping[str, EnvValue]


def required(per_role: Mapping[str, Vars], required_vars: Mapping[str, Sequence[str]]) -> Verdict:
    """RS-ENV-01: every required variable is set (non-empty) in what each role reads."""
    missing: list[str] = []
    for role, values in per_role.items():
        names = [*required_vars.get("all", ()), *required_vars.get(role, ())]
        gaps = [n for n in names if not (n in values and values[n].value.strip())]
        if gaps:
            missing.append(f"{role}: {', '.join(gaps)}")
    expected = "all required variables set for " + ", ".join(per_role)
    if missing:
        return failed(f"required variables are not set ({'; '.join(missing)})",
                      expected, "; ".join(missing))
    return passed("every required variable is set", expected, "all set")


def _weak(name: str, value: str, min_length: int, placeholders: Sequence[str]) -> str | None:
    if len(value) < min_length:
        return f"{name} is {len(value)} characters (needs >= {min_length})"
    low = value.lower()
    word = next((p for p in placeholders if p in low), None)
    if word or len(set(value)) <= 2:
        return f"{name} looks like a placeholder" + (f" (contains {word!r})" if word else "")
    return None


def secrets_strong(values: Vars, names: Sequence[str], min_length: int,
                   placeholders: Sequence[str]) -> Verdict:
    """RS-ENV-02: secrets long, not placeholders, pairwise distinct; values never shown."""
    problems = []
    present = {n: values[n].value for n in names if n in values and values[n].value}
    for name in names:
        if name not in present:
            problems.append(f"{name} is not set")
            continue
        weak = _weak(name, present[name], min_length, placeholders)
        if weak:
            problems.append(weak)
    for (a, va), (b, vb) in itertools.combinations(present.items(), 2):
        if va == vb:
            problems.append(f"{a} and {b} have the same value")
    expected = f">= {min_length} random characters each, all different"
    if problems:
        return failed("weak secrets (values never shown) — " + "; ".join(problems), expected,
                      "; ".join(problems))
    return passed(f"{len(present)} secrets are long, random-looking and distinct", expected,
                  "ok")


def https_on(values: Vars) -> Verdict:
    """RS-ENV-03: ITRP_SSL is true."""
    value = values.get("ITRP_SSL")
    if value is None:
        return failed("ITRP_SSL is not set (R-Service needs it true)", "ITRP_SSL=true", "unset")
    if value.value.strip().lower() != "true":
        return failed(f"ITRP_SSL is {value.shown()!r} ({value.origin})", "ITRP_SSL=true",
                      value.shown())
    return passed("ITRP_SSL is true", "ITRP_SSL=true", value.shown())


def enumerations(values: Vars, enums: Mapping[str, Sequence[str]],
                 booleans: Sequence[str]) -> Verdict:
    """RS-ENV-04: enumerated and boolean variables hold documented values."""
    problems = []
    rules = {**{b: ("true", "false") for b in booleans}, **enums}
    for name, allowed in rules.items():
        if name in values and values[name].value != "" and values[name].value not in allowed:
            problems.append(f"{name}={values[name].shown()!r} ({values[name].origin}) is not "
                            f"one of {', '.join(allowed)}")
    if problems:
        return failed("; ".join(problems), "documented values", "; ".join(problems))
    return passed("enumerations and booleans hold documented values", "documented values",
                  "ok")


def _url_problem(name: str, url: str, schemes: Sequence[str]) -> str | None:
    try:
        parsed = urllib.parse.urlsplit(url.strip())
        parsed.port  # noqa: B018 - raises ValueError on a bad port
    except ValueError as exc:
        return f"{name} entry {safe_url(url)!r} is not a URL ({exc})"
    if parsed.scheme not in schemes or not parsed.hostname:
        return f"{name} entry {safe_url(url)!r} is not a {'/'.join(schemes)} URL with a host"
    return None


def consistency(values: Vars, domain: str | None, known_host: Callable[[str], bool | None],
                why_unsure: str = "the site's resolvers did not answer") -> Verdict:
    """RS-ENV-05: FAYE_URL https under the domain; search URLs parse; named hosts known.
    ``known_host`` says None when it cannot tell (``why_unsure``): then the check is an error
    (could not check), never a failure — unless something else is definitely wrong."""
    verdicts: list[Verdict] = []
    faye = values.get("FAYE_URL")
    if faye is not None and faye.value:
        parsed = urllib.parse.urlsplit(faye.value)
        host = parsed.hostname or ""
        if parsed.scheme != "https":
            verdicts.append(failed(f"FAYE_URL is not https ({faye.origin})", "https://…",
                                   faye.shown()))
        elif domain and not (host == domain or host.endswith(f".{domain}")):
            verdicts.append(failed(f"FAYE_URL host {host} is not under {domain}",
                                   f"*.{domain}", host))
    urls = values.get("ELASTICSEARCH_URLS")
    search_hosts: list[str] = []
    if urls is not None and urls.value:
        for url in filter(None, (u.strip() for u in urls.value.split(","))):
            full = url if "://" in url else f"http://{url}"
            problem = _url_problem("ELASTICSEARCH_URLS", full, ("http", "https"))
            if problem:
                verdicts.append(failed(problem, "http(s)://host[:port]", safe_url(url)))
            else:
                search_hosts.append(urllib.parse.urlsplit(full).hostname or "")
    host_vars = ("DB_WRITER_HOST", "DB_READER_HOST", "REDIS_HOST", "FAYE_REDIS_HOST",
                 "RABBIT_MQ_HOST", "MEMCACHED_HOST", "CLACKS_ADDRESS", "RSERVICE_SMTP_HOST")
    named = [(n, values[n].value) for n in host_vars if n in values and values[n].value]
    named += [("ELASTICSEARCH_URLS", h) for h in search_hosts]
    named = [(n, h) for n, h in named if not is_ip(h)]
    known = dict(zip(named, map(known_host, (h for _, h in named)), strict=True))
    unknown = [f"{n}={h}" for (n, h), k in known.items() if k is False]
    unsure = [f"{n}={h}" for (n, h), k in known.items() if k is None]
    if unknown:
        verdicts.append(failed("hosts named in the settings are neither site hosts nor "
                               "resolvable: " + ", ".join(unknown),
                               "site hosts or resolvable names", ", ".join(unknown)))
    if verdicts:  # checked and wrong: a failure, even if other names could not be told
        return worst(verdicts)
    if unsure:
        return error(f"cannot tell whether the hosts named in the settings resolve "
                     f"({', '.join(unsure)}): {why_unsure}")
    return passed("FAYE_URL, ELASTICSEARCH_URLS and named hosts are consistent")


def no_settings() -> Verdict:
    return error("no R-Service settings given (env_files or settings in the site)")
