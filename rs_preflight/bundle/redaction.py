"""What the bundle removes before anything is archived, and the scan that proves it.

The rules are the run's own (``rs_preflight.spec.redact``: one redactor for every output), applied
to every member; ``redactions.json`` records member, rule, count and line numbers — never a
value. ``Scanner`` then looks for every known value (and every canary a caller adds) in every
member of the written archive; ``Obfuscator`` gives hosts, the domain and addresses consistent
pseudonyms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from rs_preflight.spec.envfile import is_secret_name
from rs_preflight.spec.redact import RULES, Redaction, Redactor, variants
from rs_preflight.spec.site import Site

PEM_HEADER = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")


def site_secret_names(site: Site) -> dict[str, str]:
    """``{value: variable name}`` of the site's secrets, for messages that must name a leak
    without printing it. Settings that are not secrets (``ITRP_SSL: true``) are not here."""
    names: dict[str, str] = {}
    for values in site.settings.by_file.values():
        for name, env in values.items():
            if is_secret_name(name) and env.value:
                names.setdefault(env.value, name)
    for name, env in site.settings.overrides.items():
        if env.value in site.redactor.values:  # a secret (by name, *_env or *_file)
            names.setdefault(env.value, name)
    return names


class Scanner:
    """Finds what must not be in the bundle: known values, canaries, PEM keys, real names."""

    def __init__(self, values: Mapping[str, str], names: Iterable[str] = ()) -> None:
        """``values``: ``{value: label}``; ``names``: originals obfuscation must have hidden."""
        self._needles = [(v.encode(), label) for value, label in values.items()
                         for v in variants(value)]
        names = sorted(set(names), key=len, reverse=True)
        self._names = re.compile(rb"(?<![A-Za-z0-9-])(?:" + b"|".join(
            re.escape(n.encode()) for n in names) + rb")(?![A-Za-z0-9-])") if names else None

    def __call__(self, data: bytes) -> str | None:
        """What leaked (a label, never the value), or None."""
        for needle, label in self._needles:
            if needle in data:
                return label
        if PEM_HEADER.search(data):
            return "a PEM private key"
        if self._names is not None and self._names.search(data):
            return "a host name or address that --obfuscate replaces"
        return None


IPV4 = re.compile(r"(?<![\d.])(?:\d{1,3}\.){3}\d{1,3}(?![\d.])")
KEEP_IPV4 = ("127.", "0.0.0.0", "255.")


class Obfuscator:
    """Consistent pseudonyms: site hosts → ``hostN``, the domain → ``domain.example``,
    addresses → ``100.80.x.y`` (IPv6 ``fd00:rs::N``). ``mapping`` is pseudonym → original and
    is written next to the bundle, never into it."""

    _pattern: re.Pattern[str] | None = None

    def __init__(self, site: Site) -> None:
        self.forward: dict[str, str] = {}
        for i, host in enumerate(site.hosts, 1):
            self.forward.setdefault(host.name, f"host{i}")
        if site.domain:
            self.forward.setdefault(site.domain, "domain.example")
        addresses = [h.address for h in site.hosts] + [*site.lb_addresses, *site.dns_resolvers]
        for address in addresses:
            self._address(address)
        self._compile()

    def _address(self, address: str) -> str:
        if address not in self.forward:
            n = sum(1 for v in self.forward.values() if v.startswith(("100.80.", "fd00:")))
            if ":" in address:
                self.forward[address] = f"fd00:rs::{n + 1:x}"
            elif IPV4.fullmatch(address):
                self.forward[address] = f"100.80.{(n + 1) // 250}.{(n + 1) % 250 + 1}"
            else:
                self.forward[address] = f"host-addr{n + 1}"
            self._pattern = None
        return self.forward[address]

    def _compile(self) -> None:
        names = sorted(self.forward, key=len, reverse=True)
        self._pattern = re.compile(
            r"(?<![A-Za-z0-9-])(?:" + "|".join(re.escape(n) for n in names) +
            r")(?![A-Za-z0-9-])") if names else None

    def __call__(self, text: str) -> str:
        def ip(m: re.Match[str]) -> str:
            value = m.group(0)
            if value.startswith(KEEP_IPV4) or any(int(p) > 255 for p in value.split(".")):
                return value
            return self._address(value)
        text = IPV4.sub(ip, text)  # every IPv4 address, not only the site's
        if self._pattern is None:
            self._compile()
        assert self._pattern is not None
        return self._pattern.sub(lambda m: self.forward[m.group(0)], text)

    @property
    def mapping(self) -> dict[str, str]:
        return {pseudo: real for real, pseudo in self.forward.items()}

    @property
    def originals(self) -> list[str]:
        return [real for real, pseudo in self.forward.items() if real != pseudo]


__all__ = ["RULES", "Obfuscator", "Redaction", "Redactor", "Scanner", "site_secret_names",
           "variants"]
