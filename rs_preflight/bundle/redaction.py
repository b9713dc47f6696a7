"""What the bundle removes before anything is archived, and the scan that proves it.

Rules, applied to every member in this order (``RULES``; each records where it matched):

- ``pem-private-key``: any PEM private key block (``redact.PEM_BLOCK``).
- ``site-secret``: every secret value the site knows (``site.redactor``: the .env values of
  ``*_PASSWORD``, ``*_SECRET*``, ``*_TOKEN``, ``*_KEY``, ``*_SALT``…, ``*_env``/``*_file``
  references), also in their JSON-escaped and URL-encoded spellings (container logs are JSON).
- ``url-credentials``: the password in ``scheme://user:password@host`` (URLs, DSNs).
- ``secret-assignment``: the value in ``NAME=value``, ``NAME: value``, ``"name": "value"`` and
  ``--name=value`` when NAME says password/secret/token/api key/access key/private key/salt —
  secrets the site does not know (process arguments, configuration files, log lines).
  Small numbers and booleans stay (``net.ipv4.ipfrag_secret_interval = 600``).
- ``pattern-N``: the N-th ``--redact-pattern REGEX`` (its ``mask`` group, else the whole match).

``redactions.json`` records member, rule, count and line numbers — never a value. ``Scanner``
then looks for every known value (and every canary a caller adds) in every member of the
written archive; ``Obfuscator`` gives hosts, the domain and addresses consistent pseudonyms.
"""

from __future__ import annotations

import bisect
import json
import re
import urllib.parse
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from ..envfile import is_secret_name
from ..redact import MASK, MIN_LEN, PEM_BLOCK
from ..site import Site

MAX_LINES = 50  # line numbers kept per (member, rule) in redactions.json
URL_CREDENTIALS = re.compile(
    r"(?P<pre>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@\"'<>]*:)(?P<mask>[^\s@/\"'<>]+)(?=@)")
SECRET_WORDS = r"(?:password|passwd|pwd|secret|token|api[_-]?key|access[_-]?key|" \
               r"private[_-]?key|salt|credentials?)"
# The name starts at a token boundary: without the lookbehind, every position of a long token
# (a 10 kB log line) would rescan the token — quadratic.
SECRET_ASSIGNMENT = re.compile(
    rf"(?P<pre>(?<![A-Za-z0-9_.-])(?i:[A-Za-z0-9_.-]*{SECRET_WORDS}[A-Za-z0-9_.-]*)"
    rf"[\"']?[ \t]*[=:][ \t]*[\"']?)"
    rf"(?P<mask>[^\s\"',;&}}<>]+)")
# not secrets, however the key is named (net.ipv4.ipfrag_secret_interval = 600)
PLAIN_VALUE = re.compile(r"\d{1,10}|true|false|yes|no|null|none|on|off", re.IGNORECASE)
PEM_HEADER = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")


@dataclass(frozen=True)
class Redaction:
    member: str
    rule: str
    count: int
    lines: tuple[int, ...]

    def to_dict(self) -> dict[str, object]:
        return {"member": self.member, "rule": self.rule, "count": self.count,
                "lines": list(self.lines)}


def variants(value: str) -> set[str]:
    """A secret as it may be spelled in what we collect: raw, JSON-escaped, URL-encoded."""
    out = {value, json.dumps(value)[1:-1], urllib.parse.quote(value, safe=""),
           urllib.parse.quote_plus(value)}
    return {v for v in out if len(v) >= MIN_LEN and "\n" not in v}


def site_secret_names(site: Site) -> dict[str, str]:
    """``{value: variable name}`` for messages that must name a leak without printing it."""
    names: dict[str, str] = {}
    for values in site.settings.by_file.values():
        for name, env in values.items():
            if is_secret_name(name) and env.value:
                names.setdefault(env.value, name)
    for name, env in site.settings.overrides.items():
        names.setdefault(env.value, name)
    return names


class _Lines:
    """Line numbers (1-based) of offsets in one text."""

    def __init__(self, text: str) -> None:
        self._nl = [m.start() for m in re.finditer("\n", text)]

    def of(self, offset: int) -> int:
        return bisect.bisect_left(self._nl, offset) + 1


Rule = Callable[[str], tuple[str, list[int]]]  # text -> (text, offsets of masks in it)


def _masking(pattern: re.Pattern[str], keep: re.Pattern[str] | None = None) -> Rule:
    """A rule masking the ``mask`` group of ``pattern`` (else the whole match); a value
    matching ``keep`` entirely stays."""
    def apply(text: str) -> tuple[str, list[int]]:
        starts: list[int] = []
        grouped = "mask" in pattern.groupindex

        def sub(m: re.Match[str]) -> str:
            if grouped:
                value = m.group("mask")
                if value is None or value.startswith(MASK) or (
                        keep is not None and keep.fullmatch(value)):
                    return m.group(0)
                starts.append(m.start("mask"))
                return text[m.start():m.start("mask")] + MASK + text[m.end("mask"):m.end()]
            starts.append(m.start())
            return MASK
        return pattern.sub(sub, text), starts
    return apply


def _pem(text: str) -> tuple[str, list[int]]:
    # A block spans lines: report the line of the mask in the output, not of the input.
    out: list[str] = []
    starts: list[int] = []
    last = 0
    length = 0
    for m in PEM_BLOCK.finditer(text):
        out.append(text[last:m.start()])
        length += m.start() - last
        starts.append(length)
        out.append(MASK)
        length += len(MASK)
        last = m.end()
    out.append(text[last:])
    return "".join(out), starts


@dataclass
class BundleRedactor:
    """The bundle's rules (see the module docstring); ``disabled`` is for proving the scan."""

    secrets: Iterable[str] = ()
    patterns: Iterable[str] = ()
    disabled: frozenset[str] = frozenset()
    rules: dict[str, Rule] = field(init=False)

    def __post_init__(self) -> None:
        needles = sorted({v for s in self.secrets for v in variants(s)}, key=len, reverse=True)
        self.rules = {"pem-private-key": _pem}
        if needles:
            self.rules["site-secret"] = _masking(
                re.compile("|".join(re.escape(n) for n in needles)))
        self.rules["url-credentials"] = _masking(URL_CREDENTIALS)
        self.rules["secret-assignment"] = _masking(SECRET_ASSIGNMENT, PLAIN_VALUE)
        for i, pattern in enumerate(self.patterns, 1):
            self.rules[f"pattern-{i}"] = _masking(re.compile(pattern))

    def __call__(self, member: str, text: str) -> tuple[str, list[Redaction]]:
        found: list[Redaction] = []
        for name, rule in self.rules.items():
            if name in self.disabled:
                continue
            text, starts = rule(text)
            if starts:
                lines = _Lines(text)
                nums = sorted({lines.of(s) for s in starts})
                found.append(Redaction(member, name, len(starts), tuple(nums[:MAX_LINES])))
        return text, found


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


RULES = ("pem-private-key", "site-secret", "url-credentials", "secret-assignment", "pattern-N")
