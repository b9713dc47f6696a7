"""The exceptions rs-preflight raises, one small tree.

- ``PreflightError``: the root; anything the tool reports to a user.
  - ``SiteError``: the site description is invalid; carries every ``Problem`` found at once.
  - ``HostUnreachable``: a host could not be connected to (DNS, TCP, SSH auth, host key).
  - ``CommandTimeout``: a remote command ran past ``ssh.command_timeout``.
  - ``CheckError``: a check could not decide (a fact is missing or unreadable): outcome *error*.

Library errors (paramiko, socket, YAML) are translated where they enter, ``raise X from exc``.
"""

from __future__ import annotations

from dataclasses import dataclass


class PreflightError(Exception):
    """Root of every error rs-preflight reports."""


@dataclass(frozen=True)
class Problem:
    """One problem in a site file: where, which key, what is wrong."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line > 0 else self.file  # 0: the whole file
        if not self.path and self.line <= 0:
            return f"{where}: {self.message}"
        return f"{where}: {self.path or '<top>'}: {self.message}"


MAX_SHOWN = 100  # problems printed at most: a hostile file must not print a million lines


class SiteError(PreflightError):
    """The site description is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem], warnings: list[Problem] | None = None) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.path))
        # what the site lint found that alone would not refuse the site (``rs-preflight lint``)
        self.warnings = sorted(warnings or [], key=lambda p: (p.file, p.line, p.path))
        shown = [str(p) for p in self.problems[:MAX_SHOWN]]
        if len(self.problems) > MAX_SHOWN:
            shown.append(f"… and {len(self.problems) - MAX_SHOWN} more problems")
        super().__init__("\n".join(shown))


class HostUnreachable(PreflightError):
    """A host could not be reached or logged in to; every check on it is an error."""


class CommandTimeout(PreflightError):
    """A remote command did not finish within the command timeout."""


class CheckError(PreflightError):
    """A check could not decide; its outcome is *error* with this message."""
