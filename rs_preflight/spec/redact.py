"""Secrets never leave: every text we write passes through ONE ``Redactor``.

The same rules run on every output — terminal (the pytest report hook), logs, results.json,
report.html, junit.xml and each member of the support bundle — in this order (``RULES``):

- ``pem-private-key``: any PEM private key block.
- ``site-secret``: every secret value the site knows (the .env values of ``*_PASSWORD``,
  ``*_PASS``, ``*_SECRET*``, ``*_TOKEN``, ``*_KEY``, ``*_SALT``…, ``*_env``/``*_file``
  references, the password of any URL in the settings), also JSON-escaped and URL-encoded.
- ``url-credentials``: the password in ``scheme://user:password@host`` (URLs, DSNs).
- ``secret-assignment``: the value in ``NAME=value``, ``NAME: value``, ``"name": "value"``,
  ``--name=value`` and ``--name value`` when NAME says password/pass/secret/token/api key/
  access key/private key/salt — secrets the site does not know (process arguments,
  configuration files, log lines). Small numbers and booleans stay
  (``net.ipv4.ipfrag_secret_interval = 600``).
- ``pattern-N``: the N-th user pattern (``--rs-redact-pattern REGEX``; its ``mask`` group, else
  the whole match).

Redact first, then cut: every truncation (evidence, command lines) happens on redacted text,
so a secret straddling a cut cannot leave a prefix. URLs reach messages only through
:func:`safe_url`.

>>> r = Redactor(["hunter2-pw"])
>>> r("login hunter2-pw, DSN postgres://rs:pw123456@db/rs, clacks --api-token abc123def")
'login <redacted>, DSN postgres://rs:<redacted>@db/rs, clacks --api-token <redacted>'
"""

from __future__ import annotations

import bisect
import json
import logging
import re
import urllib.parse
from collections.abc import Callable, Iterable
from dataclasses import dataclass

MASK = "<redacted>"
MIN_LEN = 4  # shorter values would mask ordinary words; such secrets fail RS-ENV-02 anyway
MAX_LINES = 50  # line numbers kept per (member, rule) in redactions.json
PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
                       re.DOTALL)
URL_CREDENTIALS = re.compile(
    r"(?P<pre>\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@\"'<>]*:)(?P<mask>[^\s/\"'<>]+)(?=@)")
# "pass" only as a whole part of a name (RABBIT_MQ_PASS, --pass), never inside a word
# (passive, bypass, compass).
SECRET_WORDS = r"(?:password|passwd|pwd|(?<![A-Za-z0-9])pass(?![A-Za-z0-9])|secret|token|" \
               r"api[_-]?key|access[_-]?key|private[_-]?key|salt|credentials?)"
_NAME = rf"(?<![A-Za-z0-9_.-])(?i:[A-Za-z0-9_.-]*{SECRET_WORDS}[A-Za-z0-9_.-]*)"
# The name starts at a token boundary: without the lookbehind, every position of a long token
# (a 10 kB log line) would rescan the token — quadratic.
SECRET_ASSIGNMENT = re.compile(
    rf"(?P<pre>{_NAME}[\"']?[ \t]*[=:][ \t]*[\"']?)(?P<mask>[^\s\"',;&}}<>]+)")
# ``--password VALUE``: an option, blanks, then a value that is not the next option
SECRET_OPTION = re.compile(
    rf"(?P<pre>(?<![A-Za-z0-9_.-])--?(?i:[A-Za-z0-9_.-]*{SECRET_WORDS}[A-Za-z0-9_.-]*)[ \t]+)"
    r"(?P<mask>[^\s\"',;&}<>-][^\s\"',;&}<>]*)")
# not secrets, however the key is named (net.ipv4.ipfrag_secret_interval = 600)
PLAIN_VALUE = re.compile(r"\d{1,10}|true|false|yes|no|null|none|on|off", re.IGNORECASE)
RULES = ("pem-private-key", "site-secret", "url-credentials", "secret-assignment", "pattern-N")


@dataclass(frozen=True)
class Redaction:
    """Where one rule masked something in one text (never what)."""

    member: str
    rule: str
    count: int
    lines: tuple[int, ...]

    def to_dict(self) -> dict[str, object]:
        return {"member": self.member, "rule": self.rule, "count": self.count,
                "lines": list(self.lines)}


def variants(value: str) -> set[str]:
    """A secret as it may be spelled in what we write: raw, JSON-escaped, URL-encoded."""
    out = {value, json.dumps(value)[1:-1], json.dumps(value, ensure_ascii=False)[1:-1],
           urllib.parse.quote(value, safe=""), urllib.parse.quote_plus(value),
           urllib.parse.quote(value)}
    return {v for v in out if len(v) >= MIN_LEN and "\n" not in v}


def url_passwords(text: str) -> set[str]:
    """The passwords of the URLs in ``text``, as written and URL-decoded (the site registers
    them: a URL setting's password is a secret wherever it shows up later)."""
    out: set[str] = set()
    for m in URL_CREDENTIALS.finditer(text):
        out |= {m.group("mask"), urllib.parse.unquote(m.group("mask"))}
    return out


def safe_url(url: str) -> str:
    """The one way a URL reaches a message: credentials and secret query values masked.

    Never raises (a URL that does not parse is still shown, masked).

    >>> safe_url("https://admin:S3cr3t@search1:9200/?api_key=abc123")
    'https://admin:<redacted>@search1:9200/?api_key=<redacted>'
    """
    return _RULES_ONLY(url)


class _Lines:
    """Line numbers (1-based) of offsets in one text."""

    def __init__(self, text: str) -> None:
        self._nl = [m.start() for m in re.finditer("\n", text)]

    def of(self, offset: int) -> int:
        return bisect.bisect_left(self._nl, offset) + 1


Rule = Callable[[str], tuple[str, list[int]]]  # text -> (text, offsets of masks in it)


# What a text must contain for a rule to match at all, tested before the rule's expressions
# (a run redacts tens of thousands of short texts, and scanning each with the assignment
# expressions was a quarter of a run's CPU). Each test is a necessary condition of its rule:
# the words are checked on a case-folded text in which the characters Python's expressions
# also take for i, s and k under IGNORECASE (ı İ ſ K) are those letters.
_FOLD = str.maketrans({"\u0130": "i", "\u0131": "i", "\u017f": "s", "\u212a": "k"})
_SECRET_PARTS = ("pass", "pwd", "secret", "token", "key", "salt", "credential")


_ANY_SECRET_PART = re.compile("|".join(_SECRET_PARTS), re.IGNORECASE)
_COPY_LIMIT = 64 * 1024  # a longer text is searched in place, not copied case-folded


def _may_name_a_secret(text: str) -> bool:
    if len(text) > _COPY_LIMIT:  # a whole report: no folded copy of it (peak memory)
        return _ANY_SECRET_PART.search(text) is not None
    folded = text.lower() if text.isascii() else text.translate(_FOLD).casefold()
    return any(part in folded for part in _SECRET_PARTS)


def _may_hold_url_credentials(text: str) -> bool:
    return "://" in text


def _masking(*patterns: re.Pattern[str], keep: re.Pattern[str] | None = None,
             may_match: Callable[[str], bool] | None = None) -> Rule:
    """A rule masking the ``mask`` group of each pattern (else the whole match) in one pass;
    a value matching ``keep`` entirely, or already masked, stays. ``may_match`` (a cheap
    necessary condition) skips the scan of a text that cannot match."""
    def apply(text: str) -> tuple[str, list[int]]:
        if may_match is not None and not may_match(text):
            return text, []
        spans: list[tuple[int, int]] = []
        for pattern in patterns:
            grouped = "mask" in pattern.groupindex
            for m in pattern.finditer(text):
                start, end = m.span("mask") if grouped else m.span()
                value = text[start:end]
                if start < 0 or value.startswith(MASK) or (
                        keep is not None and keep.fullmatch(value)):
                    continue
                spans.append((start, end))
        out: list[str] = []
        starts: list[int] = []
        last = length = 0
        for start, end in sorted(spans):
            if start < last:  # overlaps a span already masked
                continue
            out.append(text[last:start])
            length += start - last
            starts.append(length)
            out.append(MASK)
            length += len(MASK)
            last = end
        out.append(text[last:])
        return "".join(out), starts
    return apply


def _pem(text: str) -> tuple[str, list[int]]:
    # A block spans lines: report the line of the mask in the output, not of the input.
    out: list[str] = []
    starts: list[int] = []
    last = length = 0
    if "PRIVATE KEY-----" not in text:  # every block has it: no scan without it
        return text, []
    for m in PEM_BLOCK.finditer(text):
        out.append(text[last:m.start()])
        length += m.start() - last
        starts.append(length)
        out.append(MASK)
        length += len(MASK)
        last = m.end()
    out.append(text[last:])
    return "".join(out), starts


class Redactor:
    """Applies the rules (module docstring) to text; knows the site's secret values.

    ``redactor(text)`` gives the redacted text; ``redactor.apply(member, text)`` also says
    which rule masked what where (the bundle's redactions.json). ``disabled`` switches rules
    off (only to prove the bundle's self-scan).
    """

    def __init__(self, secrets: Iterable[str] = (), patterns: Iterable[str] = (),
                 disabled: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._patterns = tuple(patterns)
        self._disabled = frozenset(disabled)
        self._rules: dict[str, Rule] | None = None
        for value in secrets:
            self.add(value)

    def add(self, value: str) -> None:
        """Register a secret value (each line of a multi-line value too)."""
        parts = {value, *(line.strip() for line in value.splitlines())}
        new = {p for p in parts if len(p) >= MIN_LEN} - self._values
        if new:
            self._values |= new
            self._rules = None

    def derive(self, patterns: Iterable[str] = (), disabled: Iterable[str] = ()) -> Redactor:
        """The same secrets, with more user patterns and/or rules switched off."""
        return Redactor(self._values, (*self._patterns, *patterns), disabled)

    @property
    def rules(self) -> dict[str, Rule]:
        if self._rules is None:
            needles = sorted({v for s in self._values for v in variants(s)}, key=len,
                             reverse=True)
            rules: dict[str, Rule] = {"pem-private-key": _pem}
            if needles:
                rules["site-secret"] = _masking(
                    re.compile("|".join(re.escape(n) for n in needles)))
            rules["url-credentials"] = _masking(URL_CREDENTIALS,
                                                may_match=_may_hold_url_credentials)
            rules["secret-assignment"] = _masking(SECRET_ASSIGNMENT, SECRET_OPTION,
                                                  keep=PLAIN_VALUE,
                                                  may_match=_may_name_a_secret)
            for i, pattern in enumerate(self._patterns, 1):
                rules[f"pattern-{i}"] = _masking(re.compile(pattern))
            self._rules = {k: v for k, v in rules.items() if k not in self._disabled}
        return self._rules

    def apply(self, member: str, text: str) -> tuple[str, list[Redaction]]:
        """The redacted text and, per rule that matched, where (line numbers of the output)."""
        found: list[Redaction] = []
        for name, rule in self.rules.items():
            text, starts = rule(text)
            if starts:
                lines = _Lines(text)
                nums = sorted({lines.of(s) for s in starts})
                found.append(Redaction(member, name, len(starts), tuple(nums[:MAX_LINES])))
        return text, found

    def __call__(self, text: str) -> str:
        for rule in self.rules.values():
            text = rule(text)[0]
        return text

    def __len__(self) -> int:
        return len(self._values)

    @property
    def values(self) -> frozenset[str]:
        """The registered secret values (the bundle's self-scan looks for each)."""
        return frozenset(self._values)

    @property
    def patterns(self) -> tuple[str, ...]:
        return self._patterns


def cut(text: str, limit: int, marker: str = "\n[… trimmed]") -> str:
    """``text`` cut to ``limit`` characters — call it on redacted text only."""
    return text if len(text) <= limit else text[:limit] + marker


def clip(text: str, limit: int, marker: str = "…") -> str:
    """``text`` cut to at most ``limit`` characters *at a blank*: the token the cut would split
    goes whole. For cuts made before the site's redactor runs (a fact's error message): a
    secret across the cut leaves no prefix for the redactor to miss."""
    if len(text) <= limit:
        return text
    head = text[:limit]
    m = re.search(r"\s\S*\Z", head)
    return (head[:m.start()] if m else "") + marker


class RedactingFilter(logging.Filter):
    """A logging filter (on a handler) that redacts each record before it is written."""

    def __init__(self, redactor: Callable[[str], str]) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg, record.args = self.redactor(record.getMessage()), ()
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redactor(record.exc_text)
        return True


_RULES_ONLY = Redactor()

__all__ = [
    "MASK",
    "RULES",
    "RedactingFilter",
    "Redaction",
    "Redactor",
    "clip",
    "cut",
    "safe_url",
    "url_passwords",
    "variants",
]
