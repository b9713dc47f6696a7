"""What every ``rs-preflight`` subcommand shares: usage errors, broken pipes, help, report folder.

- ``UsageParser``: argparse, but a usage error exits **4** (argparse's own 2 is our
  "interrupted", ``cli.py`` documents the codes).
- ``quiet_pipe``: ``rs-preflight requirements | head`` ends without a BrokenPipeError traceback
  (the recipe of https://docs.python.org/3/library/signal.html#note-on-sigpipe).
- ``plugin_options``: the pytest plugin's ``--rs-*`` options, read from the plugin's own
  ``pytest_addoption``, so ``--help`` lists every one of them without a second copy.
- ``check_report_dir``: the report folder is created and proven writable before any check runs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any, NoReturn

USAGE_ERROR = 4


class UsageParser(argparse.ArgumentParser):
    """An ``ArgumentParser`` whose usage errors exit 4, with the message on stderr."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(USAGE_ERROR, f"{self.prog}: error: {message}\n")


@contextmanager
def quiet_pipe() -> Iterator[None]:
    """End quietly when the reader of stdout goes away (``| head``)."""
    try:
        yield
        sys.stdout.flush()
    except BrokenPipeError:
        # Python flushes stdout again at exit and would complain: point it at /dev/null.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)


class _Group:
    def __init__(self, title: str, description: str) -> None:
        self.title, self.description = title, description
        self.options: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    def addoption(self, *names: str, **attrs: Any) -> None:
        self.options.append((names, attrs))


class _Recorder:
    """Stands in for ``pytest.Parser``: records what the plugin's ``pytest_addoption`` adds."""

    def __init__(self) -> None:
        self.groups: dict[str, _Group] = {}

    def getgroup(self, name: str, description: str = "", after: str | None = None) -> _Group:
        return self.groups.setdefault(name, _Group(name, description))

    def addoption(self, *names: str, **attrs: Any) -> None:
        self.getgroup("general").addoption(*names, **attrs)

    def addini(self, *args: Any, **kwargs: Any) -> None:
        pass


def plugin_options() -> list[tuple[tuple[str, ...], dict[str, Any]]]:
    """The plugin's ``--rs-*`` options as (names, attrs), in the order the plugin adds them."""
    from rs_preflight import plugin

    recorder = _Recorder()
    plugin.pytest_addoption(recorder)  # type: ignore[arg-type]
    return [opt for group in recorder.groups.values() for opt in group.options]


def add_plugin_options(parser: argparse.ArgumentParser, skip: tuple[str, ...] = ()) -> None:
    """List the plugin's options in ``parser``'s help (they are passed on to pytest as given)."""
    group = parser.add_argument_group(
        "pytest plugin options (also accepted here; plain `pytest` takes them too)")
    for names, attrs in plugin_options():
        if any(n in skip for n in names):
            continue
        keep = {k: v for k, v in attrs.items() if k in ("help", "metavar", "choices", "action")}
        if keep.get("action") == "append":
            keep.pop("action")
        group.add_argument(*names, dest=f"_plugin_{names[0].lstrip('-')}",
                           default=argparse.SUPPRESS, **keep)


def check_report_dir(folder: Path, mode: int = 0o700) -> str | None:
    """Create ``folder`` (``mode`` if new: the reports are private) and prove it writable; the
    reason it is not, else None."""
    try:
        folder.mkdir(mode=mode, parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".rs-write-test-"):
            pass
    except OSError as exc:
        return f"cannot write the reports to {folder}: {exc.strerror or exc}"
    return None


def subcommand_parser(prog: str, description: str, catalogue: bool = True,
                      **kwargs: Any) -> UsageParser:
    """A subcommand's parser; ``--rs-catalogue`` everywhere, like the run itself."""
    parser = UsageParser(prog=f"rs-preflight {prog}", description=description,
                         formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
    if catalogue:
        parser.add_argument("--rs-catalogue", type=Path, metavar="FILE", default=None,
                            action="append",
                            help="requirements catalogue (default: R-Service's, shipped); "
                                 "repeat to compose (r-service: the shipped one)")
    return parser


def run_quietly(command: Callable[[], int]) -> int:
    """``command()`` with a reader that may go away (``| head``)."""
    rc = 0
    with quiet_pipe():
        rc = command()
    return rc
