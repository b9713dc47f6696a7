"""Containers on a lab host: Docker runs them from local images only (no registry here), so a
program is a static binary imported as a one-file image (``docker import``, LAB.md "Docker").

>>> image = import_program(host, "clacks", workdir)      # rslab/clacks with /clacks in it
>>> run_container(host, image, "clacks", "clacks")      # its process is named clacks

The program pauses forever: it stands for R-Service's long-running processes (clacks,
delayed-job-periodic) where only their name and their count matter.
"""

from __future__ import annotations

import base64
import subprocess
from pathlib import Path

from rs_lab.hosts import LabHost
from rs_lab.netns import LabError

PAUSE_C = "#include <unistd.h>\nint main(void) { for (;;) pause(); return 0; }\n"


def pause_binary(workdir: Path) -> Path:
    """A static binary that pauses forever (it needs no library inside the image)."""
    out = workdir / "pause-static"
    if not out.exists():
        src = workdir / "pause.c"
        src.write_text(PAUSE_C)
        subprocess.run(["gcc", "-static", "-O2", "-o", str(out), str(src)], check=True,
                       capture_output=True)
    return out


def import_program(host: LabHost, name: str, workdir: Path) -> str:
    """Import the pause binary as image ``rslab/<name>`` holding ``/<name>``; the image."""
    image = f"rslab/{name}"
    data = base64.b64encode(pause_binary(workdir).read_bytes()).decode()
    host.run(f"d=$(mktemp -d) && base64 -d > \"$d/{name}\" && chmod 755 \"$d/{name}\" && "
             f"tar -C \"$d\" -cf - {name} | docker import - {image} >/dev/null && rm -rf \"$d\"",
             input=data, check=True, timeout=60)
    return image


def run_container(host: LabHost, image: str, container: str, program: str) -> str:
    """Start ``container`` from ``image`` running ``/<program>`` (no network); its ID."""
    done = host.run(["docker", "run", "-d", "--name", container, "--network", "none", image,
                     f"/{program}"], timeout=60)
    if done.returncode != 0:
        raise LabError(f"{host.name}: docker run {container}: {done.stderr.strip()}")
    return done.stdout.strip()


def remove_container(host: LabHost, container: str) -> None:
    host.run(["docker", "rm", "-f", container], timeout=60)


__all__ = ["import_program", "pause_binary", "remove_container", "run_container"]
