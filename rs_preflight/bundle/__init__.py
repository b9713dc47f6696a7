"""The support bundle: every host's state in one ``.tar.gz``, redacted, proven secret-free.

``rs-preflight bundle [--site FILE] [-o PATH]`` (or ``--rs-bundle PATH`` on a normal run) runs
the checks, then collects from every host in one round trip each (``collect``, ``items``),
redacts every member (``redaction``), writes ``manifest.json`` and ``redactions.json``, and
scans the written archive for every known secret before renaming it into place (``archive``).

>>> summary = make_bundle(site, catalogue, BundleOptions(Path("support.tar.gz")),
...                       report_files=[Path("rs-preflight-report/results.json")])
>>> summary.hosts
{'app1': 'collected', 'db1': 'unreachable'}

Layout of the archive (one top folder ``rs-bundle-<site>-<UTC time>/``)::

    manifest.json        every member: host, source, exit code, duration, size, truncated,
                         sha256; hosts and their status; what was not collected and why
    redactions.json      rule, member, count and line numbers of every redaction (no values)
    results/             results.json, junit.xml, report.html of the same run
    site/                the site description and its .env files, redacted
    hosts/<host>/        facts.json, os/, sysctl/, limits/, docker/, containers/, time/,
                         disks/, memory/, network/, processes/, journal/
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from rs_preflight.bundle.archive import BundleError, BundleLeak
from rs_preflight.bundle.options import BundleOptions, Limits

if TYPE_CHECKING:  # the collectors import testinfra: only when a bundle is made
    from rs_preflight.bundle.build import BundleSummary
    from rs_preflight.spec.catalogue import Catalogue
    from rs_preflight.spec.site import Site

__all__ = ["BundleError", "BundleLeak", "BundleOptions", "Limits", "make_bundle"]


def make_bundle(site: Site, catalogue: Catalogue, options: BundleOptions,
                report_files: Sequence[Path] = ()) -> BundleSummary:
    """Collect from every host, redact, write, scan; raise ``BundleError`` when not written."""
    from rs_preflight.bundle.build import make_bundle as make
    return make(site, catalogue, options, report_files)
