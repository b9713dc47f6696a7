"""The bundle in a pytest run: ``--rs-bundle PATH`` (and ``rs-preflight bundle``).

The bundle is made after every other ``pytest_sessionfinish`` (a wrapper: results.json,
junit.xml and the HTML report are written by then), on the controller only. A bundle that
cannot be written (a leak found by the self-scan) makes the run exit 3 and says why.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Generator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from rs_preflight.bundle.archive import BundleError
from rs_preflight.bundle.options import BundleOptions, Limits

if TYPE_CHECKING:
    from rs_preflight.bundle.build import BundleSummary

MAX_SHOWN = 20  # "not collected" lines printed; manifest.json has them all


def _regex(value: str) -> str:
    try:
        re.compile(value)
    except re.error as exc:
        raise pytest.UsageError(f"--rs-redact-pattern must be a Python regular expression "
                                f"(optionally with a (?P<mask>…) group): {exc}") from exc
    return value


def add_options(group: pytest.OptionGroup) -> None:
    group.addoption("--rs-bundle", metavar="PATH", type=Path, default=None,
                    help="after the checks, write a support bundle (.tar.gz) to PATH")
    group.addoption("--rs-bundle-since", metavar="WHEN", default=Limits.since,
                    help=f"journal entries since WHEN (journalctl --since; default "
                         f"{Limits.since})")
    group.addoption("--rs-redact-pattern", metavar="REGEX", type=_regex, action="append",
                    default=[], help="also redact what REGEX matches (its 'mask' group, "
                                     "else the whole match); repeatable")
    group.addoption("--rs-obfuscate", action="store_true", default=False,
                    help="replace host names, the domain and addresses by pseudonyms in the "
                         "bundle (the map is written next to it, never into it)")


def configure(config: pytest.Config) -> None:
    """Register the bundle maker when ``--rs-bundle`` is given (controller only)."""
    path = config.getoption("rs_bundle", None)
    if path is None or hasattr(config, "workerinput"):
        return
    options = BundleOptions(path, Limits(since=config.getoption("rs_bundle_since")),
                            tuple(config.getoption("rs_redact_pattern")),
                            config.getoption("rs_obfuscate"))
    config.pluginmanager.register(BundleAtFinish(options), "rs-bundle")


def report_files(config: pytest.Config) -> list[Path]:
    """This run's reports: results.json, junit.xml and report.html beside them."""
    files: list[Path] = []
    for option in ("rs_json", "rs_junit", "xmlpath", "rs_html"):
        value = getattr(config.option, option, None)
        if value:
            files.append(Path(value))
    for folder in {f.parent for f in files}:
        files.append(folder / "report.html")
    return list(dict.fromkeys(files))


class BundleAtFinish:
    """Makes the bundle once the run's reports are written; ``summary``/``error`` tell how."""

    def __init__(self, options: BundleOptions) -> None:
        self.options = options
        self.summary: BundleSummary | None = None
        self.error: str | None = None

    @pytest.hookimpl(wrapper=True, tryfirst=True)  # outermost: after every report, summary
    def pytest_sessionfinish(self, session: pytest.Session) -> Generator[None, None, None]:
        result = yield
        self.make(session)
        return result

    def make(self, session: pytest.Session) -> None:
        from rs_preflight.bundle.build import default_output, make_bundle
        from rs_preflight.runner import RS_KEY

        config = session.config
        preflight = config.stash.get(RS_KEY, None)
        write = _writer(config)
        if preflight is None:
            self.error = "no rs-preflight run to bundle"
        else:
            options = self.options
            if options.output.is_dir():
                options = BundleOptions(options.output / default_output(preflight.site),
                                        options.limits, options.redact_patterns,
                                        options.obfuscate, options.disabled_rules,
                                        options.canaries)
            try:
                self.summary = make_bundle(preflight.site, preflight.catalogue, options,
                                           report_files(config))
            except BundleError as exc:
                self.error = str(exc)
        if self.error is not None:
            write(f"rs-preflight bundle: ERROR: {self.error}")
            session.exitstatus = pytest.ExitCode.INTERNAL_ERROR
        elif self.summary is not None:
            write(self.summary.describe())
            if len(self.summary.not_collected) > MAX_SHOWN:
                write(f"  (and {len(self.summary.not_collected) - MAX_SHOWN} more: "
                      "manifest.json, not_collected)")
            redact = preflight.site.redactor if preflight is not None else str
            for missing in self.summary.not_collected[:MAX_SHOWN]:  # reasons quote hosts
                write(redact(f"  not collected: {missing['host']} {missing['item']}: "
                             f"{missing['reason']}"))


def _writer(config: pytest.Config) -> Callable[[str], None]:
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        return reporter.write_line  # type: ignore[no-any-return]
    return print
