"""The site description: what a site is made of, loaded from YAML and validated all at once.

Only this module knows YAML. ``load_site`` returns frozen dataclasses or raises ``SiteError``
listing *every* problem as ``file:line: key.path: message``; nothing runs on a broken site.

>>> site = load_site(Path("examples/small-site.yaml"))
>>> [h.name for h in site.hosts_with("app")]
['app1', 'app2']
"""

from __future__ import annotations

import datetime as dt
import functools
import os
import socket
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import jsonschema

from rs_preflight.spec.addresses import (
    is_dns_name,
    is_ip,
    parse_jump_host,
    why_not_address,
    why_not_ip,
)
from rs_preflight.spec.catalogue import Catalogue, load_catalogue
from rs_preflight.spec.envfile import EnvValue, is_secret_name, parse_env_file, roles_of
from rs_preflight.spec.errors import Problem, SiteError
from rs_preflight.spec.hosts import Host
from rs_preflight.spec.inputs import (
    LIMITS,
    InputError,
    check_regular,
    decode,
    read_bytes,
    read_text,
)
from rs_preflight.spec.inventory import load_inventory
from rs_preflight.spec.redact import Redactor, url_passwords
from rs_preflight.spec.schema import site_schema
from rs_preflight.spec.sitelint import lint
from rs_preflight.spec.yamlsrc import SourceDoc, dotted, load_yaml

LOCAL_ROLES = ("app", "job", "realtime", "search", "db")
STDIN = Path("-")        # ``--site -``: the description comes from stdin
STDIN_NAME = "<stdin>"   # ... and its problems say ``<stdin>:line``


@dataclass(frozen=True)
class SshSettings:
    """The site's ``ssh:`` keys; what it leaves out, ssh_config may say (``sshconfig.py``)."""

    user: str | None = None
    port: int | None = None   # None: ssh_config's Port, else 22
    identity_file: Path | None = None
    known_hosts: Path | None = None
    jump_host: str | None = None
    config: Path | None = None  # ssh_config file; None: ~/.ssh/config if there is one
    sudo: bool = False
    connect_timeout: float = 5.0
    command_timeout: float = 30.0
    host_key_policy: str = "strict"
    password: str | None = field(default=None, repr=False)


@dataclass(frozen=True)
class FloatingAddress:
    """An address that moves between the hosts of its pair (``floating_addresses:``)."""

    label: str
    address: str
    hosts: tuple[str, ...]
    name: str | None = None  # the DNS name that points at it
    source: str = ""         # file:line it was written on


@dataclass(frozen=True)
class Waiver:
    requirement: str
    reason: str
    expires: dt.date
    hosts: tuple[str, ...] = ()
    by: str | None = None
    source: str = ""  # file:line it was written on (for auditors)

    def covers(self, requirement: str, host: str | None) -> bool:
        return requirement == self.requirement and (not self.hosts or host in self.hosts)

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def describe(self) -> str:
        who = f" by {self.by}" if self.by else ""
        return f"waived{who} until {self.expires.isoformat()}: {self.reason}"


@dataclass(frozen=True)
class EnvFile:
    path: Path
    roles: tuple[str, ...]


@dataclass(frozen=True)
class Settings:
    """R-Service variables: .env files merged per role, then explicit site overrides."""

    files: tuple[EnvFile, ...] = ()
    by_file: Mapping[Path, Mapping[str, EnvValue]] = field(default_factory=dict)
    overrides: Mapping[str, EnvValue] = field(default_factory=dict)

    def for_role(self, role: str | None = None) -> dict[str, EnvValue]:
        """What a host of ``role`` reads (None: the union of every file)."""
        out: dict[str, EnvValue] = {}
        for ref in sorted(self.files, key=lambda f: f.roles != ("all",)):
            if role is None or "all" in ref.roles or role in ref.roles:
                out.update(self.by_file.get(ref.path, {}))
        out.update(self.overrides)
        return out

    def get(self, name: str, default: str | None = None, role: str | None = None) -> str | None:
        value = self.for_role(role).get(name)
        return value.value if value is not None else default

    @property
    def present(self) -> bool:
        return bool(self.files or self.overrides)


@dataclass(frozen=True)
class Site:
    name: str
    file: Path | None
    profile: str = "small"
    phase: str = "pre"
    ssh: SshSettings = SshSettings()
    hosts: tuple[Host, ...] = ()
    settings: Settings = Settings()
    lb_addresses: tuple[str, ...] = ()
    lb_backend_port: int | None = None
    # role → (port, tls): what the site says the LB uses toward that role's backends
    # (``load_balancer.backends``); see :mod:`rs_preflight.spec.backends`
    lb_backends: Mapping[str, tuple[int, bool | None]] = field(default_factory=dict)
    dns_resolvers: tuple[str, ...] = ()
    dns_timeout: float = 3.0
    tls_ca_bundle: Path | None = None
    tls_warn_days: int = 30
    tls_port: int = 443
    max_skew_ms: float = 500.0
    storage_path: str | None = None
    waivers: tuple[Waiver, ...] = ()
    floating: tuple[FloatingAddress, ...] = ()
    # what the lint found that does not stop the run (``sitelint.py``): reported with it
    warnings: tuple[Problem, ...] = ()
    redactor: Redactor = field(default_factory=Redactor, compare=False, repr=False)

    @property
    def domain(self) -> str | None:
        return self.settings.get("ITRP_DOMAIN")

    def hosts_with(self, *roles: str) -> list[Host]:
        return [h for h in self.hosts if set(roles) & set(h.roles)]

    def host(self, name: str) -> Host:
        return self._by_name[name]  # KeyError for an unknown host, as StopIteration was

    @functools.cached_property
    def _by_name(self) -> dict[str, Host]:
        """Hosts by name: ``host()`` runs several times per check (a scan was O(hosts))."""
        return {h.name: h for h in reversed(self.hosts)}  # the first of a name wins

    def waiver_for(self, requirement: str, host: str | None) -> Waiver | None:
        return next((w for w in self.waivers if w.covers(requirement, host)), None)

    def with_phase(self, phase: str | None) -> Site:
        from dataclasses import replace
        return self if not phase else replace(self, phase=phase)


def default_site() -> Site:
    """The embedded default: this machine, checked as a pilot host over the local backend."""
    name = socket.gethostname() or "localhost"
    return Site(name=f"{name} (this machine)", file=None, profile="pilot", phase="pre",
                hosts=(Host(name=name, address="127.0.0.1", roles=LOCAL_ROLES,
                            connection="local"),))


def load_site(path: Path, phase: str | None = None,
              catalogue: Catalogue | None = None) -> Site:
    """Load and validate ``path``; raise ``SiteError`` with every problem found."""
    catalogue = catalogue or load_catalogue()
    name = STDIN_NAME if path == STDIN else str(path)
    if path == STDIN:
        data = read_stdin()
        if len(data) > LIMITS["site"]:
            raise InputError(Problem(name, 0, "", f"too large: at most {LIMITS['site']} bytes "
                                                  "are read from a site description"))
        text = decode(data, name)
    else:
        text = read_text(path, "site")
    doc = load_yaml(text, name)
    if doc.data is not None and not isinstance(doc.data, dict):
        doc.problems.append(doc.problem((), "the site description must be a mapping"))
    if isinstance(doc.data, dict) or (doc.data is None and not doc.problems):
        doc.problems.extend(_schema_problems(doc, catalogue))
    warnings: list[Problem] = []
    if doc.problems and isinstance(doc.data, dict):
        # Even with a schema problem, the rest of the file is still checked (missing files,
        # unknown waiver hosts, bad .env lines, the lint), so one run lists everything to fix.
        later, warnings = _later_problems(doc, path, catalogue, doc.problems)
        doc.problems.extend(later)
    if doc.problems:
        raise SiteError(doc.problems, warnings)
    return _Builder(doc, path, catalogue).build(phase)


@functools.cache
def read_stdin() -> bytes:
    """stdin, read once (``rs-preflight --site -`` reads it before pytest captures it), at
    most one byte more than a site description may have (``load_site`` says it is too large)."""
    return sys.stdin.buffer.read(LIMITS["site"] + 1)


def _later_problems(doc: SourceDoc, path: Path, catalogue: Catalogue,
                    known: list[Problem]) -> tuple[list[Problem], list[Problem]]:
    """What building the model finds, where the invalid parts let it get that far: its
    problems, and the lint's warnings."""
    builder = _Builder(doc, path, catalogue)
    try:
        builder.build(None)
    except SiteError as exc:
        return [p for p in exc.problems if p not in known], builder.warnings
    except (TypeError, KeyError, AttributeError, ValueError):
        pass  # a part the schema already rejected; what was found until then still counts
    return [p for p in builder.problems if p not in known], builder.warnings


def _schema_problems(doc: SourceDoc, catalogue: Catalogue) -> list[Problem]:
    validator = jsonschema.Draft202012Validator(
        site_schema(catalogue), format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    problems: list[Problem] = []
    for err in validator.iter_errors(doc.data or {}):
        problems.extend(_explain(doc, err))
    return problems


def _explain(doc: SourceDoc, err: jsonschema.ValidationError) -> list[Problem]:
    """Turn one jsonschema error into messages a person can act on."""
    path = tuple(err.absolute_path)
    kind = err.validator
    schema = err.schema if isinstance(err.schema, Mapping) else {}
    if kind == "additionalProperties" and isinstance(err.instance, dict):
        allowed = sorted(schema.get("properties", {}))
        extra = [k for k in err.instance if k not in allowed]
        return [doc.problem((*path, k), f"unknown key (allowed: {', '.join(allowed)})")
                for k in extra]
    if kind == "required":
        return [doc.problem(path, err.message.replace("is a required property",
                                                      "is required"))]
    if kind == "enum":
        choices = ", ".join(str(c) for c in err.validator_value)  # type: ignore[union-attr]
        if path and path[-1] == "requirement":
            return [doc.problem(path, f"unknown requirement ID {err.instance!r}")]
        return [doc.problem(path, f"{err.instance!r} is not one of: {choices}")]
    if kind == "type":
        return [doc.problem(path, f"expected {err.validator_value}, got "
                                  f"{type(err.instance).__name__} {err.instance!r}")]
    if kind == "oneOf":
        return [doc.problem(path, "expected a path, or a mapping with path and roles")]
    return [doc.problem(path, err.message)]


def _lb_backends(raw: Mapping[str, Any]) -> dict[str, tuple[int, bool | None]]:
    """``load_balancer.backends``: role → (port, tls); ``tls`` left out → 443 is TLS, any
    other port plain (the matrix's two cases), ``tls: null`` → found out."""
    out: dict[str, tuple[int, bool | None]] = {}
    for role, spec in (raw.get("backends") or {}).items():
        port = int(spec["port"])
        out[role] = (port, spec.get("tls", port == 443))
    return out


class _Builder:
    """Turns validated data into the model; problems found on the way are still collected."""

    def __init__(self, doc: SourceDoc, path: Path, catalogue: Catalogue) -> None:
        self.doc, self.catalogue = doc, catalogue
        self.path = Path(doc.file)  # origins name the file as the user gave it, or <stdin>
        self.file = None if path == STDIN else path
        self.folder = Path.cwd() if path == STDIN else path.resolve().parent
        self.data: dict[str, Any] = doc.data or {}
        self.problems: list[Problem] = []
        self.warnings: list[Problem] = []
        self.redactor = Redactor()

    def build(self, phase: str | None) -> Site:
        ssh = self._ssh(self.data.get("ssh") or {})
        settings = self._settings()
        # the lint reads the file as written (robust to the parts the schema rejects)
        found = lint(self.doc, settings.get("ITRP_DOMAIN"),
                     (self.data.get("ssh") or {}).get("port"))
        self.problems.extend(found.errors)
        self.warnings = found.warnings
        hosts = self._hosts(ssh)
        waivers = self._waivers()
        floating = self._floating(hosts)
        self._network()
        d = self.data
        if self.problems:
            raise SiteError(self.problems, self.warnings)
        return Site(
            name=d["name"], file=self.file,
            profile=d.get("profile", "small" if "small" in self.catalogue.profiles
                          else next(iter(self.catalogue.profiles), "small")),
            phase=phase or d.get("phase", "pre"), ssh=ssh, hosts=hosts, settings=settings,
            lb_addresses=tuple((d.get("load_balancer") or {}).get("addresses", ())),
            lb_backend_port=(d.get("load_balancer") or {}).get("backend_port"),
            lb_backends=_lb_backends(d.get("load_balancer") or {}),
            dns_resolvers=tuple((d.get("dns") or {}).get("resolvers", ())),
            dns_timeout=float((d.get("dns") or {}).get("timeout", 3.0)),
            tls_ca_bundle=self._path((d.get("tls") or {}).get("ca_bundle"), ("tls", "ca_bundle")),
            tls_warn_days=int((d.get("tls") or {}).get("warn_days", 30)),
            tls_port=int((d.get("tls") or {}).get("port", 443)),
            max_skew_ms=float((d.get("time") or {}).get("max_skew_ms", 500)),
            storage_path=(d.get("storage") or {}).get("path"),
            waivers=waivers, floating=floating, warnings=tuple(self.warnings),
            redactor=self.redactor,
        )

    def _path(self, value: str | None, key: tuple[str | int, ...], must_exist: bool = True
              ) -> Path | None:
        if not value:
            return None
        if "\x00" in value:
            self.problems.append(self.doc.problem(key, "a path must not contain a NUL character"))
            return None
        path = Path(os.path.expanduser(value))
        path = path if path.is_absolute() else self.folder / path
        if must_exist or path.exists():
            why = "file not found" if not path.exists() else check_regular(path)
            if why:  # a directory, a FIFO, /dev/zero: never read, never waited for
                self.problems.append(self.doc.problem(key, f"{why}: {path}"))
                return None
        return path

    def _secret(self, raw: Mapping[str, Any], base: str, key: tuple[str, ...]) -> str | None:
        """A secret from ``<base>_env`` (an environment variable) or ``<base>_file``."""
        if f"{base}_env" in raw:
            var = raw[f"{base}_env"]
            if var not in os.environ:
                self.problems.append(self.doc.problem((*key, f"{base}_env"),
                                                      f"environment variable {var} is not set"))
                return None
            value = os.environ[var]
        elif f"{base}_file" in raw:
            path = self._path(raw[f"{base}_file"], (*key, f"{base}_file"))
            if path is None:
                return None
            try:
                value = read_text(path, "secret").rstrip("\n")
            except InputError as exc:  # the site's line, the file's problem (never its text)
                self.problems.append(self.doc.problem((*key, f"{base}_file"),
                                                      f"{exc.problem.message}: {path}"))
                return None
        else:
            return None
        self.redactor.add(value)
        return value

    def _ssh(self, raw: Mapping[str, Any]) -> SshSettings:
        jump_host = self._jump_host(raw.get("jump_host"), ("ssh", "jump_host"))
        policy = raw.get("host_key_policy", "strict")  # strict unless said otherwise
        return SshSettings(
            user=raw.get("user"), port=raw.get("port"),
            identity_file=self._path(raw.get("identity_file"), ("ssh", "identity_file")),
            known_hosts=self._path(raw.get("known_hosts"), ("ssh", "known_hosts"),
                                   must_exist=policy == "strict"),
            jump_host=jump_host, sudo=bool(raw.get("sudo", False)),
            config=self._path(raw.get("config"), ("ssh", "config")),
            connect_timeout=float(raw.get("connect_timeout", 5)),
            command_timeout=float(raw.get("command_timeout", 30)),
            host_key_policy=policy,
            password=self._secret(raw, "password", ("ssh",)),
        )

    def _settings(self) -> Settings:
        files: list[EnvFile] = []
        by_file: dict[Path, Mapping[str, EnvValue]] = {}
        for i, entry in enumerate(self.data.get("env_files") or []):
            ref = entry if isinstance(entry, str) else entry["path"]
            path = self._path(ref, ("env_files", i))
            if path is None:
                continue
            roles = roles_of(path) if isinstance(entry, str) else tuple(entry["roles"])
            values, problems = parse_env_file(path)
            self.problems.extend(problems)
            files.append(EnvFile(path, roles))
            by_file[path] = values
            for value in values.values():
                if value.secret and value.value:
                    self.redactor.add(value.value)
                self._url_secrets(value.value)
        overrides: dict[str, EnvValue] = {}
        if "domain" in self.data:
            overrides["ITRP_DOMAIN"] = EnvValue("ITRP_DOMAIN", self.data["domain"],
                                                f"{self.path}:{self.doc.line_of(('domain',))}")
        raw = self.data.get("settings") or {}
        for name, value in raw.items():
            key = ("settings", name)
            origin = f"{self.path}:{self.doc.line_of(key)}"
            if name.endswith(("_env", "_file")):
                base = name.rsplit("_", 1)[0]
                secret = self._secret(raw, base, ("settings",))
                if secret is not None:
                    overrides[base] = EnvValue(base, secret, origin)
                continue
            text = str(value).lower() if isinstance(value, bool) else str(value)
            if is_secret_name(name):
                self.problems.append(self.doc.problem(key, f"a secret must not be written in "
                                                      f"the site file: use {name}_env or "
                                                      f"{name}_file"))
                continue
            overrides[name] = EnvValue(name, text, origin)
            self._url_secrets(text)
        return Settings(tuple(files), by_file, overrides)

    def _url_secrets(self, value: str) -> None:
        """A URL's password in any setting (ELASTICSEARCH_URLS, FAYE_URL, *_URL) is a secret."""
        for password in url_passwords(value):
            self.redactor.add(password)

    def _hosts(self, ssh: SshSettings) -> tuple[Host, ...]:
        hosts: dict[str, Host] = {}
        if "inventory" in self.data:
            inv = self._path(self.data["inventory"], ("inventory",))
            if inv is not None and self._readable(inv, "inventory", ("inventory",)):
                found, problems = load_inventory(inv, self.catalogue.roles)
                self.problems.extend(problems)
                hosts.update({h.name: h for h in found})
        for name, raw in (self.data.get("hosts") or {}).items():
            connection = raw.get("connection", "ssh")
            if raw.get("ssh") is False:
                connection = "none"
            address = raw.get("address") or (name if connection != "local" else "127.0.0.1")
            if connection not in ("local", "docker"):  # those never connect to the address
                self._check(why_not_address(address), ("hosts", name, "address"))
            port = raw.get("port")
            fqdn = raw.get("fqdn")
            if fqdn is not None and not is_dns_name(fqdn):
                self.problems.append(self.doc.problem(("hosts", name, "fqdn"),
                                                      f"{fqdn!r} is not a DNS name"))
            hosts[name] = Host(name=name, address=address, roles=tuple(raw["roles"]),
                               connection=connection, port=int(port) if port else None,
                               user=raw.get("user"), container=raw.get("container"),
                               identity_file=self._path(raw.get("identity_file"),
                                                        ("hosts", name, "identity_file")),
                               jump_host=self._jump_host(raw.get("jump_host"),
                                                         ("hosts", name, "jump_host")),
                               fqdn=fqdn,
                               names=self._names(raw.get("names") or (), name))
        if not hosts:
            self.problems.append(self.doc.problem(("hosts",), "the site has no hosts "
                                                  "(give hosts: or inventory:)"))
        return tuple(hosts.values())

    def _names(self, names: Any, host: str) -> tuple[str, ...]:
        """``hosts.*.names``: DNS names (a name, not an address or a URL), lower-cased."""
        out = []
        for i, value in enumerate(names if isinstance(names, list) else ()):
            if not isinstance(value, str):
                continue  # the schema said so
            if is_dns_name(value) and not is_ip(value):
                out.append(value.rstrip(".").lower())
            else:
                self._check(f"{value[:80]!r} is not a DNS name", ("hosts", host, "names", i))
        return tuple(out)

    def _readable(self, path: Path, kind: str, key: tuple[str | int, ...]) -> bool:
        """``path`` is a regular file within the cap of its kind (a problem if not)."""
        try:
            read_bytes(path, kind)
        except InputError as exc:
            self.problems.append(self.doc.problem(key, f"{exc.problem.message}: {path}"))
            return False
        return True

    def _jump_host(self, value: Any, key: tuple[str | int, ...]) -> Any:
        """``[user@]host[:port]``, or several, comma-separated (ProxyJump's hops)."""
        for spec in value.split(",") if isinstance(value, str) and value != "none" else ():
            try:
                parse_jump_host(spec.strip())
            except ValueError as exc:
                self.problems.append(self.doc.problem(key, f"expected [user@]host[:port]: "
                                                           f"{exc}"))
        return value

    def _check(self, why: str | None, key: tuple[str | int, ...]) -> None:
        if why:
            self.problems.append(self.doc.problem(key, why))

    def _network(self) -> None:
        """Addresses the checks will connect to: their syntax, at load time."""
        d = self.data
        for i, address in enumerate((d.get("load_balancer") or {}).get("addresses", ())):
            self._check(why_not_address(address), ("load_balancer", "addresses", i))
        for i, resolver in enumerate((d.get("dns") or {}).get("resolvers", ())):
            self._check(why_not_ip(resolver), ("dns", "resolvers", i))
        path = (d.get("storage") or {}).get("path")
        if isinstance(path, str) and not path.startswith("/"):
            self.problems.append(self.doc.problem(("storage", "path"),
                                                  f"{path!r} is not an absolute path"))

    def _floating(self, hosts: tuple[Host, ...]) -> tuple[FloatingAddress, ...]:
        """``floating_addresses:``: an IP address, the site hosts that share it, its name."""
        names = {h.name for h in hosts}
        out = []
        for label, raw in (self.data.get("floating_addresses") or {}).items():
            key = ("floating_addresses", label)
            self._check(why_not_ip(raw["address"]), (*key, "address"))
            name = raw.get("name")
            if name is not None and not is_dns_name(name):
                self.problems.append(self.doc.problem((*key, "name"),
                                                      f"{name!r} is not a DNS name"))
            for j, host in enumerate(raw["hosts"]):
                if host not in names:
                    self.problems.append(self.doc.problem((*key, "hosts", j),
                                                          f"no host named {host!r} in the site"))
            out.append(FloatingAddress(label=label, address=raw["address"],
                                       hosts=tuple(raw["hosts"]), name=name,
                                       source=f"{self.path}:{self.doc.line_of(key)}"))
        return tuple(out)

    def _waivers(self) -> tuple[Waiver, ...]:
        out = []
        names = set(self.data.get("hosts") or {})
        for i, raw in enumerate(self.data.get("waivers") or []):
            for j, host in enumerate(raw.get("hosts", [])):
                if names and host not in names:
                    self.problems.append(self.doc.problem(("waivers", i, "hosts", j),
                                                          f"no host named {host!r} in the site"))
            out.append(Waiver(requirement=raw["requirement"], reason=raw["reason"],
                              expires=dt.date.fromisoformat(raw["expires"]),
                              hosts=tuple(raw.get("hosts", ())), by=raw.get("by"),
                              source=f"{self.path}:{self.doc.line_of(('waivers', i))}"))
        return tuple(out)


__all__ = ["EnvFile", "FloatingAddress", "Host", "Settings", "Site", "SshSettings", "Waiver",
           "default_site", "dotted", "load_site"]
