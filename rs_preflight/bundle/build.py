"""Assembling the bundle: collect, redact, obfuscate, describe, write (see ``__init__``)."""


from __future__ import annotations

import datetime as dt
import json
import os
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from rs_preflight import __version__
from rs_preflight.bundle import items as it
from rs_preflight.bundle.archive import BundleError, Member, json_bytes, write_bundle
from rs_preflight.bundle.collect import HostCollection, collect_site
from rs_preflight.bundle.options import BundleOptions
from rs_preflight.bundle.redaction import Obfuscator, Redaction, Scanner, site_secret_names
from rs_preflight.spec.catalogue import Catalogue
from rs_preflight.spec.site import Site

RULE_DOCS = {
    "pem-private-key": "PEM private key blocks",
    "site-secret": "every secret value the site knows (.env secrets, *_env/*_file), also "
                   "JSON-escaped and URL-encoded",
    "url-credentials": "the password in scheme://user:password@host",
    "secret-assignment": "the value of NAME=value / NAME: value / --name=value / --name "
                         "value when NAME says password, pass, secret, token, api/access/"
                         "private key, salt",
}


@dataclass
class BundleSummary:
    path: Path
    map_path: Path | None
    hosts: dict[str, str]
    members: int
    redactions: int
    verified_absent: int
    not_collected: list[dict[str, str]] = field(default_factory=list)

    def describe(self) -> str:
        states = Counter(self.hosts.values())
        hosts = ", ".join(f"{n} {s}" for s, n in sorted(states.items()))
        text = (f"bundle written: {self.path} ({self.members} files, {self.redactions} "
                f"redactions; hosts: {hosts}; {self.verified_absent} known secret values "
                "verified absent)")
        if self.map_path:
            text += f"\nobfuscation map (keep private, not in the bundle): {self.map_path}"
        return text


def make_bundle(site: Site, catalogue: Catalogue, options: BundleOptions,
                report_files: Sequence[Path] = ()) -> BundleSummary:
    """Collect from every host, redact, write, scan; raise ``BundleError`` when not written."""
    hosts = collect_site(site, catalogue, options.limits)
    return assemble(site, hosts, options, report_files)


def default_output(site: Site, now: dt.datetime | None = None) -> Path:
    return Path(f"{_root(site, now or dt.datetime.now(dt.UTC))}.tar.gz")


def _root(site: Site, now: dt.datetime) -> str:
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", site.name).strip("-") or "site"
    return f"rs-bundle-{name}-{now.strftime('%Y%m%dT%H%M%SZ')}"


class _Builder:
    def __init__(self, site: Site, options: BundleOptions) -> None:
        self.site = site
        self.redactor = site.redactor.derive(options.redact_patterns, options.disabled_rules)
        self.obf = Obfuscator(site) if options.obfuscate else None
        self.members: list[Member] = []
        self.redactions: list[Redaction] = []

    def name(self, text: str) -> str:
        return self.obf(text) if self.obf else text

    def add(self, path: str, data: bytes, meta: dict[str, Any]) -> None:
        path = self.name(path)
        text, found = self.redactor.apply(path, data.decode("utf-8", errors="replace"))
        if path.endswith("/processes/rservice.txt"):
            text = it.cut_command_lines(text)  # redacted first: a cut leaves no prefix
        text = self.name(text)
        self.redactions += found
        meta = {k: self.name(v) if isinstance(v, str) else v for k, v in meta.items()}
        self.members.append(Member(path, text.encode(), {**meta, "collected_size": len(data),
                                                         "redactions": sum(
                                                             r.count for r in found)}))

    def local(self, path: str, file: Path, what: str) -> None:
        try:
            data = file.read_bytes()
        except OSError as exc:
            raise BundleError(f"cannot read {what} {file}: {exc.strerror}") from exc
        self.add(path, data, {"host": "runner", "source": str(file), "kind": "file"})

    def host(self, hc: HostCollection) -> None:
        try:
            base = f"hosts/{it.member_host(hc.host)}"
        except ValueError as exc:
            raise BundleError(str(exc)) from exc
        shown = {i.path: i for i in it.static_items("")}
        if hc.facts:
            self.add(f"{base}/facts.json", json_bytes(hc.facts),
                     {"host": hc.host, "source": "rs_preflight.gather.facts sections "
                      f"{', '.join(sorted(hc.facts))}", "kind": "facts"})
        for frame in hc.frames:
            if not it.allowed_path(frame.path):  # collect drops these; never a member name
                raise BundleError(f"{hc.host}: unexpected item name {frame.path!r}")
            item = shown.get(frame.path)
            self.add(f"{base}/{frame.path}", frame.data, {
                "host": hc.host, "source": frame.source or (item.shown if item else ""),
                "kind": item.kind if item else "file", "exit_code": frame.rc,
                "duration_s": frame.duration_s, "truncated": frame.truncated,
                "source_size": frame.source_size})


def assemble(site: Site, hosts: Mapping[str, HostCollection], options: BundleOptions,
             report_files: Sequence[Path] = ()) -> BundleSummary:
    """Redact and write what was collected (no host access: unit tests start here)."""
    now = dt.datetime.now(dt.UTC)
    b = _Builder(site, options)
    for file in report_files:
        if file.exists():
            b.local(f"results/{file.name}", file, "report")
    if site.file is not None:
        b.local(f"site/{site.file.name}", site.file, "site description")
    seen: set[str] = set()
    for n, env in enumerate(site.settings.files):
        name = env.path.name if env.path.name not in seen else f"{n}-{env.path.name}"
        seen.add(name)
        b.local(f"site/env/{name}", env.path, ".env file")
    for hc in hosts.values():
        b.host(hc)
    missing = [{"host": hc.host, **m} for hc in hosts.values() for m in hc.missing]
    missing += [{"host": hc.host, "item": "*", "reason": hc.reason or hc.status}
                for hc in hosts.values() if hc.status in ("unreachable", "skipped")]
    values = {v: f"the value of {n}" for v, n in site_secret_names(site).items()}
    values.update({v: "a site secret" for v in site.redactor.values if v not in values})
    values.update({v: "a canary value" for v in options.canaries})
    b.members.append(Member("redactions.json", json_bytes({
        "rules": {**RULE_DOCS, **{f"pattern-{i}": p for i, p in
                                  enumerate(options.redact_patterns, 1)}},
        "disabled_rules": sorted(options.disabled_rules),
        "summary": dict(_by_rule(b.redactions)),
        "redactions": [r.to_dict() for r in b.redactions],
        "self_scan": {"known_values": len(values), "result": "passed"},
    }), {"host": "runner", "source": "rs-preflight", "kind": "report"}))
    manifest = {
        "tool": "rs-preflight", "version": __version__, "created": now.isoformat(),
        "site": b.name(site.name), "phase": site.phase, "obfuscated": options.obfuscate,
        "limits": asdict(options.limits),
        "hosts": {b.name(hc.host): {"status": hc.status, "reason": hc.reason,
                                    "roles": list(hc.roles), "seconds": hc.seconds,
                                    "round_trips": hc.round_trips} for hc in hosts.values()},
        "not_collected": missing,
    }
    manifest = json.loads(b.name(site.redactor(json.dumps(manifest))))
    scanner = Scanner(values, b.obf.originals if b.obf else ())
    name = options.output.name
    root = b.name(name.removesuffix(".tar.gz") if name.endswith(".tar.gz") else _root(site, now))
    path = write_bundle(options.output, root, b.members, manifest, scanner)
    map_path = None
    if b.obf is not None:
        map_path = options.output.with_name(options.output.name.removesuffix(".tar.gz") +
                                            ".private-map.json")
        _write_private(map_path, json.dumps(b.obf.mapping, indent=2))
    return BundleSummary(path, map_path, {hc.host: hc.status for hc in hosts.values()},
                         len(b.members) + 1, sum(r.count for r in b.redactions), len(values),
                         missing)


def _write_private(path: Path, text: str) -> None:
    """Write ``path`` 0600 without following a symlink planted there: a new file (O_EXCL,
    O_NOFOLLOW) beside it, then renamed over it (rename replaces a link, never follows it)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.part")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
    try:
        fd = os.open(tmp, flags, 0o600)
    except OSError as exc:
        raise BundleError(f"cannot write {path}: {exc.strerror}") from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(tmp, path)
    finally:
        if tmp.exists() and not tmp.is_symlink():
            tmp.unlink()


def _by_rule(redactions: list[Redaction]) -> Counter[str]:
    out: Counter[str] = Counter()
    for r in redactions:
        out[r.rule] += r.count
    return out
