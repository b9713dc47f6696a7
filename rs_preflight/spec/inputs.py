"""Reading the files a user gives us: regular files only, size-capped, UTF-8, never a hang.

Every input file (site description, ``.env`` files, catalogue, waivers file, baseline, a
``*_file`` secret, an Ansible inventory) is read through ``read_text``. It refuses what is not a
regular file (a directory, ``/dev/zero``, a FIFO, a socket) *before* reading — ``os.stat``
first, then ``open(O_NONBLOCK)`` and ``fstat`` on what was opened, so a FIFO can never block —
refuses a file over its kind's cap, and turns bytes that are not UTF-8 into a problem at the
line they are on. Problems are ``InputError`` (a ``SiteError`` with one ``Problem``), so the
callers report them as ``file[:line]: message`` with exit code 4.

>>> LIMITS["site"]
1048576
"""

from __future__ import annotations

import os
import stat
from collections.abc import Mapping
from pathlib import Path

from rs_preflight.spec.errors import Problem, SiteError

KiB, MiB = 1024, 1024 * 1024

# The caps (README, "Input limits"): far above any real file of each kind.
LIMITS: Mapping[str, int] = {
    "site": 1 * MiB,          # a site of 1000 hosts is about 100 KiB
    "env": 1 * MiB,           # R-Service's .env files are a few KiB (a DKIM key included)
    "catalogue": 2 * MiB,     # the shipped catalogue is about 22 KiB
    "waivers": 1 * MiB,
    "baseline": 16 * MiB,     # results.json: evidence is capped per result
    "inventory": 1 * MiB,
    "secret": 64 * KiB,       # a password or token file (*_file)
}

_KINDS = ((stat.S_ISDIR, "a directory"), (stat.S_ISFIFO, "a FIFO (named pipe)"),
          (stat.S_ISCHR, "a character device"), (stat.S_ISBLK, "a block device"),
          (stat.S_ISSOCK, "a socket"))


class InputError(SiteError):
    """One input file cannot be used: not a regular file, too large, not UTF-8 text."""

    def __init__(self, problem: Problem) -> None:
        super().__init__([problem])
        self.problem = problem


def not_regular(mode: int) -> str | None:
    """What a non-regular file is (``"a directory"``), or None for a regular file."""
    if stat.S_ISREG(mode):
        return None
    return next((what for test, what in _KINDS if test(mode)), "not a regular file")


def check_regular(path: Path) -> str | None:
    """Why ``path`` cannot be read as an input file (missing, not regular), or None."""
    try:
        mode = os.stat(path).st_mode
    except OSError as exc:
        return f"cannot read: {exc.strerror}"
    what = not_regular(mode)
    return f"not a regular file: {what}" if what else None


def read_bytes(path: Path, kind: str) -> bytes:
    """The content of ``path``, at most ``LIMITS[kind]`` bytes, or ``InputError``."""
    limit = LIMITS[kind]
    why = check_regular(path)
    if why:
        raise InputError(Problem(str(path), 0, "", why))
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as exc:
        raise InputError(Problem(str(path), 0, "", f"cannot read: {exc.strerror}")) from exc
    with os.fdopen(fd, "rb") as stream:
        info = os.fstat(stream.fileno())
        what = not_regular(info.st_mode)  # replaced between stat and open
        if what:
            raise InputError(Problem(str(path), 0, "", f"not a regular file: {what}"))
        if info.st_size > limit:
            raise InputError(Problem(str(path), 0, "", _too_large(info.st_size, limit, kind)))
        data = stream.read(limit + 1)  # the file may have grown since fstat
    if len(data) > limit:
        raise InputError(Problem(str(path), 0, "", _too_large(None, limit, kind)))
    return data


def read_text(path: Path, kind: str) -> str:
    """``read_bytes`` decoded as UTF-8 (a leading byte-order mark is dropped)."""
    return decode(read_bytes(path, kind), str(path))


def decode(data: bytes, file: str) -> str:
    """UTF-8 text, or ``InputError`` at the line of the first byte that is not UTF-8."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        raise InputError(Problem(file, line, "", f"not UTF-8 text: byte 0x{data[exc.start]:02x} "
                                                 f"at column {column}")) from None


_NAMES = {"site": "a site description", "env": "an .env file", "catalogue": "a catalogue",
          "waivers": "a waivers file", "baseline": "a baseline (results.json)",
          "inventory": "an inventory", "secret": "a secret file"}


def _too_large(size: int | None, limit: int, kind: str) -> str:
    has = f" ({size} bytes)" if size is not None else ""
    return f"too large{has}: at most {limit} bytes are read from {_NAMES.get(kind, kind)}"


__all__ = ["LIMITS", "InputError", "check_regular", "decode", "not_regular", "read_bytes",
           "read_text"]
