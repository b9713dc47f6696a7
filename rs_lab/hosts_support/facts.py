"""Per-host fact files: ``/etc/os-release`` texts and fake ``/proc/cpuinfo`` / ``/proc/meminfo``.

>>> os_release("ubuntu", "24.04").splitlines()[0]
'PRETTY_NAME="Ubuntu 24.04 LTS"'
"""

from __future__ import annotations

from pathlib import Path

_UBUNTU_CODENAMES = {"20.04": "focal", "22.04": "jammy", "24.04": "noble", "26.04": "resolute"}
_DEBIAN_CODENAMES = {"11": "bullseye", "12": "bookworm", "13": "trixie"}


def os_release(distro: str, version: str) -> str:
    """A realistic ``/etc/os-release`` for ``distro`` (ubuntu, rhel, centos, astra, debian,
    other)."""
    if distro == "ubuntu":
        code = _UBUNTU_CODENAMES.get(version, "unknown")
        lts = " LTS" if version.endswith(".04") and int(version.split(".")[0]) % 2 == 0 else ""
        return (f'PRETTY_NAME="Ubuntu {version}{lts}"\nNAME="Ubuntu"\nVERSION_ID="{version}"\n'
                f'VERSION="{version}{lts} ({code.capitalize()})"\nVERSION_CODENAME={code}\n'
                f'ID=ubuntu\nID_LIKE=debian\nHOME_URL="https://www.ubuntu.com/"\n'
                f'UBUNTU_CODENAME={code}\n')
    if distro == "rhel":
        major = version.split(".")[0]
        return (f'NAME="Red Hat Enterprise Linux"\nVERSION="{version} (Plow)"\nID="rhel"\n'
                f'ID_LIKE="fedora"\nVERSION_ID="{version}"\nPLATFORM_ID="platform:el{major}"\n'
                f'PRETTY_NAME="Red Hat Enterprise Linux {version} (Plow)"\nANSI_COLOR="0;31"\n'
                f'CPE_NAME="cpe:/o:redhat:enterprise_linux:{major}::baseos"\n'
                f'HOME_URL="https://www.redhat.com/"\n')
    if distro == "centos":  # CentOS Linux 7's file as shipped (centos-release-7)
        major = version.split(".")[0]
        return (f'NAME="CentOS Linux"\nVERSION="{major} (Core)"\nID="centos"\n'
                f'ID_LIKE="rhel fedora"\nVERSION_ID="{major}"\n'
                f'PRETTY_NAME="CentOS Linux {major} (Core)"\nANSI_COLOR="0;31"\n'
                f'CPE_NAME="cpe:/o:centos:centos:{major}"\nHOME_URL="https://www.centos.org/"\n'
                f'BUG_REPORT_URL="https://bugs.centos.org/"\n\n'
                f'CENTOS_MANTISBT_PROJECT="CentOS-{major}"\n'
                f'CENTOS_MANTISBT_PROJECT_VERSION="{major}"\n'
                f'REDHAT_SUPPORT_PRODUCT="centos"\nREDHAT_SUPPORT_PRODUCT_VERSION="{major}"\n')
    if distro == "astra":  # Astra writes VERSION_ID=1.8_x86-64, unquoted (LAB.md)
        return ('PRETTY_NAME="Astra Linux"\nNAME="Astra Linux"\nID=astra\nID_LIKE=debian\n'
                'ANSI_COLOR="1;31"\nHOME_URL="https://astralinux.ru"\n'
                f'VERSION_ID={version}\nVERSION_CODENAME={version}\n')
    if distro == "debian":
        code = _DEBIAN_CODENAMES.get(version, "unknown")
        return (f'PRETTY_NAME="Debian GNU/Linux {version} ({code})"\nNAME="Debian GNU/Linux"\n'
                f'VERSION_ID="{version}"\nVERSION="{version} ({code})"\n'
                f'VERSION_CODENAME={code}\nID=debian\nHOME_URL="https://www.debian.org/"\n')
    return (f'PRETTY_NAME="{distro} {version}"\nNAME="{distro}"\nID={distro}\n'
            f'VERSION_ID="{version}"\n')


def cpu_list(cpus: int) -> str:
    """The ``/sys/devices/system/cpu/online`` form: ``0`` or ``0-N``."""
    return "0\n" if cpus == 1 else f"0-{cpus - 1}\n"


def cpuinfo(cpus: int, real: str | None = None) -> str:
    """``cpus`` processor blocks cloned from the machine's first one, renumbered."""
    text = real if real is not None else Path("/proc/cpuinfo").read_text()
    first = text.strip().split("\n\n")[0].splitlines()
    renumber = {"processor": "{i}", "core id": "{i}", "apicid": "{i}", "initial apicid": "{i}",
                "siblings": str(cpus), "cpu cores": str(cpus)}
    blocks = []
    for i in range(cpus):
        lines = []
        for line in first:
            key = line.split(":")[0].strip()
            if key in renumber:
                line = f"{line.split(':')[0]}: {renumber[key].format(i=i)}"
            lines.append(line)
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + "\n\n"


def meminfo(mem_kb: int, real: str | None = None) -> str:
    """The machine's ``/proc/meminfo`` with the totals replaced and every field capped."""
    text = real if real is not None else Path("/proc/meminfo").read_text()
    override = {"MemTotal": mem_kb, "MemFree": mem_kb * 8 // 10, "MemAvailable": mem_kb * 9 // 10,
                "SwapTotal": 0, "SwapFree": 0}
    out = []
    for line in text.splitlines():
        key, _, rest = line.partition(":")
        fields = rest.split()
        if key in override:
            value = override[key]
        elif len(fields) == 2 and fields[1] == "kB":
            value = min(int(fields[0]), mem_kb // 10)
        else:
            out.append(line)
            continue
        out.append(f"{key + ':':<16}{value:>8} kB")
    return "\n".join(out) + "\n"
