"""Secrets never leave: every text we write passes through a ``Redactor``.

The site loader registers each secret value it reads (passwords, tokens, keys from .env files,
``*_env``/``*_file`` references); renderers and the pytest report hook replace them with
``<redacted>``. Multi-line secrets (PEM keys) are also matched line by line.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MASK = "<redacted>"
MIN_LEN = 4  # shorter values would mask ordinary words; such secrets fail RS-ENV-02 anyway
PEM_BLOCK = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
                       re.DOTALL)


class Redactor:
    """Replaces registered secret values (and any PEM private key) in text."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        self._values: set[str] = set()
        self._pattern: re.Pattern[str] | None = None
        for value in secrets:
            self.add(value)

    def add(self, value: str) -> None:
        parts = {value, *(line.strip() for line in value.splitlines())}
        new = {p for p in parts if len(p) >= MIN_LEN} - self._values
        if new:
            self._values |= new
            self._pattern = None

    def __call__(self, text: str) -> str:
        text = PEM_BLOCK.sub(MASK, text)
        if not self._values:
            return text
        if self._pattern is None:
            alts = sorted(self._values, key=len, reverse=True)  # longest first
            self._pattern = re.compile("|".join(re.escape(v) for v in alts))
        return self._pattern.sub(MASK, text)

    def __len__(self) -> int:
        return len(self._values)

    @property
    def values(self) -> frozenset[str]:
        """The registered secret values (the bundle's rules and self-scan read them)."""
        return frozenset(self._values)
