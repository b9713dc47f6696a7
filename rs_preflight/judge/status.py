"""Judges of a product's own health page: Altcraft's ``/status`` says ``OK`` when every
service is up, and otherwise prints the name of the one that is down (seeds/003, 4.1 step 3).

>>> status_page(200, "OK\\n", ["OK", "ОК"], "https://panel.example/status").outcome
'passed'
>>> status_page(200, "procworkflow\\n", ["OK"], "https://panel.example/status").message
'https://panel.example/status names a failing service: procworkflow'
"""

from __future__ import annotations

from collections.abc import Sequence

from rs_preflight.spec.results import Verdict, failed, passed

SHOWN = 300  # characters of a page's text a message quotes


def status_page(status: int, body: str, expect: Sequence[str], url: str) -> Verdict:
    """HTTP 200 whose text, trimmed, is one of ``expect``; any other text is what the page
    printed instead — the failing service's name — and is quoted (at most ``SHOWN``
    characters, whitespace folded)."""
    text = " ".join(body.split())
    want = f"HTTP 200 and the text {' or '.join(repr(e) for e in expect)}"
    found = f"HTTP {status}: {text[:SHOWN] or '(empty)'}"
    if status == 200 and text in expect:
        return passed(f"{url} says {text}", want, found)
    if status != 200:
        return failed(f"{url} answered HTTP {status}", want, found)
    if not text:
        return failed(f"{url} is empty", want, found)
    return failed(f"{url} names a failing service: {text[:SHOWN]}", want, found)


__all__ = ["status_page"]
