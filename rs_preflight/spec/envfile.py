"""R-Service's own settings files (``.env``, ``.env.web``, ``.env.job``, ``.env.realtime``).

Parsing is python-dotenv's (quotes, comments, ``export``, empty values, multi-line values);
we only keep where each value came from, so messages can cite ``file:line``. Values are never
expanded or executed: ``$(...)`` stays text.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dotenv.parser import parse_stream

from rs_preflight.spec.errors import Problem
from rs_preflight.spec.inputs import InputError, read_text
from rs_preflight.spec.redact import MASK, safe_url

# Which roles read which file (guide §6): .env is read by every role.
FILE_ROLES: Mapping[str, tuple[str, ...]] = {
    ".env": ("all",),
    ".env.web": ("app",),
    ".env.job": ("job",),
    ".env.realtime": ("realtime",),
}
# PASS/PASSWD/PWD only as a whole part of the name (RABBIT_MQ_PASS, not PASSENGER_*)
SECRET_NAME = re.compile(r"PASSWORD|SECRET|TOKEN|PRIVATE_KEY|SALT|CREDENTIAL|_KEY$|"
                         r"(?:^|_)(?:PASS|PASSWD|PWD)(?:_|$)", re.IGNORECASE)


def is_secret_name(name: str) -> bool:
    """Variables whose values must never be printed (passwords, tokens, keys, salts)."""
    return bool(SECRET_NAME.search(name))


@dataclass(frozen=True)
class EnvValue:
    """One variable: its value and where it was set (file:line, or the site file's key)."""

    name: str
    value: str
    origin: str

    @property
    def secret(self) -> bool:
        return is_secret_name(self.name)

    def shown(self) -> str:
        """The value as it may appear in output: secrets masked, URL credentials too."""
        return MASK if self.secret else safe_url(self.value)


def roles_of(path: Path) -> tuple[str, ...]:
    """The roles that read ``path``, from its name (``.env.job`` → job)."""
    return FILE_ROLES.get(path.name, ("all",))


def parse_env_file(path: Path) -> tuple[dict[str, EnvValue], list[Problem]]:
    """Read one .env file; lines that do not parse become problems, the rest is kept."""
    values: dict[str, EnvValue] = {}
    problems: list[Problem] = []
    try:
        text = read_text(path, "env")
    except InputError as exc:
        return values, [exc.problem]
    if "\x00" in text:  # python-dotenv would keep it; no shell or Docker accepts it
        line = text.count("\n", 0, text.index("\x00")) + 1
        return values, [Problem(str(path), line, "", "a NUL character is not allowed")]
    with io.StringIO(text) as stream:
        for binding in parse_stream(stream):
            line = binding.original.line
            if binding.error or (binding.key is None and binding.original.string.strip() and \
                    not binding.original.string.strip().startswith("#")):
                problems.append(Problem(str(path), line, "", "not a NAME=value line"))
                continue
            if binding.key is None:
                continue
            values[binding.key] = EnvValue(binding.key, binding.value or "", f"{path}:{line}")
    return values, problems
