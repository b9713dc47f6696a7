"""Which site description a run checks, in the order an admin expects.

1. ``--site FILE`` (``--site -``: the description is read from stdin);
2. the environment variable ``RS_PREFLIGHT_SITE``;
3. ``./rs-preflight.yaml``, then ``./site.yaml`` in the current folder;
4. none: this machine, checked as a pilot host.

``find_site`` says which one won and why, so the run's first line can say so.

>>> find_site(None, {}, Path("/nowhere")).how
'no --site, no RS_PREFLIGHT_SITE, no ./rs-preflight.yaml or ./site.yaml: checking this machine'
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

ENV_VAR = "RS_PREFLIGHT_SITE"
DEFAULT_NAMES = ("rs-preflight.yaml", "site.yaml")
STDIN = Path("-")


@dataclass(frozen=True)
class FoundSite:
    path: Path | None  # None: this machine
    how: str           # one line for the terminal

    @property
    def line(self) -> str:
        return f"rs-preflight: {self.how}"


def find_site(given: Path | None, environ: Mapping[str, str], cwd: Path) -> FoundSite:
    """The site file to check (``path`` None: this machine) and how it was chosen."""
    if given is not None:
        if given == STDIN:
            return FoundSite(STDIN, "site description from stdin (--site -)")
        return FoundSite(given, f"site {given} (--site)")
    if environ.get(ENV_VAR):
        path = Path(environ[ENV_VAR])
        return FoundSite(path, f"site {path} (from {ENV_VAR})")
    for name in DEFAULT_NAMES:
        if (cwd / name).is_file():
            return FoundSite(Path(name), f"site {name} (found in the current folder "
                                         f"{cwd}; --site FILE chooses another)")
    return FoundSite(None, f"no --site, no {ENV_VAR}, no ./{DEFAULT_NAMES[0]} or "
                           f"./{DEFAULT_NAMES[1]}: checking this machine")
