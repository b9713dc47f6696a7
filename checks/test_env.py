"""RS-ENV-*: R-Service's own settings (.env, .env.web, .env.job, .env.realtime; App. 1).

These need no host at all: they lint the files named in the site's ``env_files``.
"""

from __future__ import annotations

import pytest

from rs_preflight.judge import env as judge
from rs_preflight.model import Target
from rs_preflight.spec.results import Verdict, skipped

RS_ROLES = ("app", "job", "realtime")


def _need_settings(rs: Target) -> None:
    if not rs.site.settings.present:
        pytest.skip("no R-Service settings in the site (env_files or settings): nothing to lint")


@pytest.mark.kind("env_required")
def test_required_variables(rs: Target) -> Verdict:
    _need_settings(rs)
    roles = [r for r in RS_ROLES if rs.site.hosts_with(r)] or list(RS_ROLES)
    return judge.required({r: rs.settings(r) for r in roles}, rs.params["required"])


@pytest.mark.kind("env_secrets")
def test_secrets(rs: Target) -> Verdict:
    _need_settings(rs)
    t = rs.params
    return judge.secrets_strong(rs.settings(), t["variables"], t["min_length"],
                                t["placeholders"])


@pytest.mark.kind("env_https")
def test_https(rs: Target) -> Verdict:
    _need_settings(rs)
    return judge.https_on(rs.settings())


@pytest.mark.kind("env_enumerations")
def test_enumerations(rs: Target) -> Verdict:
    _need_settings(rs)
    return judge.enumerations(rs.settings(), rs.params["enums"], rs.params["booleans"])


@pytest.mark.kind("env_consistency")
def test_consistency(rs: Target) -> Verdict:
    _need_settings(rs)
    if not rs.site.domain:
        return skipped("ITRP_DOMAIN is not set (RS-ENV-01 reports it)")
    dns = rs.state.dns
    return judge.consistency(rs.settings(), rs.site.domain, dns.known_or_resolvable,
                             dns.down() or "the site's resolvers did not answer for them")
