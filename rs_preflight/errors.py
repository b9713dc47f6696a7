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
        return f"{self.file}:{self.line}: {self.path or '<top>'}: {self.message}"


class SiteError(PreflightError):
    """The site description is invalid; ``problems`` lists every problem found."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.file, p.line, p.path))
        super().__init__("\n".join(str(p) for p in self.problems))


class HostUnreachable(PreflightError):
    """A host could not be reached or logged in to; every check on it is an error."""


class CommandTimeout(PreflightError):
    """A remote command did not finish within the command timeout."""


class CheckError(PreflightError):
    """A check could not decide; its outcome is *error* with this message."""
