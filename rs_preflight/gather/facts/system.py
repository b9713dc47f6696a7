"""Facts about the operating system: os-release, processes, sysctls, login limits."""

from __future__ import annotations

import shlex

from rs_preflight.gather.facts import Context, FactUnavailable, section
from rs_preflight.spec.redact import clip


@section("os_release", "cat /etc/os-release || cat /usr/lib/os-release", bounded=True)
def _os_release(rc: int, text: str) -> dict[str, str]:
    if rc != 0:
        raise FactUnavailable(f"/etc/os-release unreadable: {clip(text.strip(), 120)}")
    values: dict[str, str] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if sep and key.strip() and not key.startswith("#"):
            values[key.strip()] = shlex.split(value)[0] if value.strip() else ""
    return values


def _sysctl_command(ctx: Context) -> str:
    """The runtime value of every key the selected ``sysctl`` requirements ask for (the
    catalogue's, never a list of our own): ``key=value`` lines, ``key=`` when unreadable."""
    keys = ctx.needs.get("sysctl_keys", ())
    return " ; ".join(f"printf '%s=' {shlex.quote(k)}; cat {shlex.quote(_proc_path(k))} "
                      "2>/dev/null || echo" for k in keys) or "true"


def _proc_path(key: str) -> str:
    """``net.core.somaxconn`` → ``/proc/sys/net/core/somaxconn`` (the kind's schema allows
    only letters, digits, ``_``, ``-`` between the dots: no ``/``, no ``..``)."""
    return "/proc/sys/" + key.replace(".", "/")


@section("sysctl", _sysctl_command, bounded=True)
def _sysctl(rc: int, text: str) -> dict[str, int | str | None]:
    """``{key: value}``: an integer (the first field of a multi-value setting), the text of a
    non-numeric one, None when it could not be read."""
    values: dict[str, int | str | None] = {}
    for line in text.splitlines():
        key, sep, value = line.partition("=")
        if not sep or not key:
            continue
        first = value.split()[0] if value.strip() else None
        try:
            values[key] = int(first) if first is not None else None
        except ValueError:
            values[key] = value.strip()
    return values


@section("sysctl_persisted", "grep -s -H -v -E '^[[:space:]]*([#;]|$)' /etc/sysctl.conf "
                             "/etc/sysctl.d/*.conf; true", bounded=True)
def _sysctl_persisted(rc: int, text: str) -> dict[str, tuple[str, str]]:
    """``{key: (value, "file")}`` for settings persisted in sysctl files (last one wins)."""
    found: dict[str, tuple[str, str]] = {}
    for line in text.splitlines():
        file, _, content = line.partition(":")
        key, sep, value = content.partition("=")
        if sep and not content.lstrip().startswith(("#", ";")):
            found[key.strip()] = (value.strip(), file)
    return found


@section("ulimit_nofile", "ulimit -S -n; ulimit -H -n", bounded=True)
def _ulimit(rc: int, text: str) -> dict[str, int | None]:
    soft, hard = text.split()[:2]

    def num(v: str) -> int | None:  # None = unlimited
        return None if v == "unlimited" else int(v)
    return {"soft": num(soft), "hard": num(hard)}


@section("processes", "ps -e -o comm=,args= 2>/dev/null")
def _processes(rc: int, text: str) -> list[tuple[str, str]]:
    """``[(comm, args)]`` of every running process."""
    if rc != 0 or not text.strip():
        raise FactUnavailable(f"ps failed (exit {rc}): {clip(text.strip(), 120)}")
    out = []
    for line in text.splitlines():
        comm, _, args = line.strip().partition(" ")
        if comm:
            out.append((comm, args.strip()))
    return out


# The cgroup column is padded to its width: 512 keeps a container's full 64-hex ID.
@section("process_cgroups", "ps -e -o cgroup:512=,comm=,args= 2>/dev/null")
def _process_cgroups(rc: int, text: str) -> list[tuple[str, str, str]]:
    """``[(cgroup, comm, args)]`` of every running process; cgroup ``-`` is the root one.
    What tells a container's processes from the host's (RS-SINGLETON-01)."""
    if rc != 0 or not text.strip():
        raise FactUnavailable(f"ps failed (exit {rc}): {text.strip()[:120]}")
    out = []
    for line in text.splitlines():
        cgroup, _, rest = line.strip().partition(" ")
        comm, _, args = rest.strip().partition(" ")
        if comm:
            out.append((cgroup, comm, args.strip()))
    return out


@section("default_target", "systemctl get-default 2>/dev/null || echo none")
def _default_target(rc: int, text: str) -> str:
    return text.strip() or "none"


def _units_command(ctx: Context) -> str:
    """``systemctl is-active`` of every unit the selected requirements name, each quoted (the
    kind's schema allows only unit-name characters)."""
    units = [u for group in ctx.needs.get("systemd_units", ()) for u in group]
    if not units:
        return "true"
    return ("command -v systemctl >/dev/null 2>&1 || { echo @@no-systemd@@; exit 0; }; "
            + "; ".join(f"printf '%s ' {shlex.quote(u)}; systemctl is-active {shlex.quote(u)}"
                        for u in dict.fromkeys(units)) + "; true")


@section("systemd_units", _units_command)
def _systemd_units(rc: int, text: str) -> dict[str, str]:
    """``{unit: state}`` (active, inactive, failed, activating, …) as systemctl says it."""
    if "@@no-systemd@@" in text:
        raise FactUnavailable("systemctl is not available on the host (no systemd)")
    out = {}
    for line in text.splitlines():
        unit, _, state = line.strip().partition(" ")
        if unit and state:
            out[unit] = state.strip()
    return out

