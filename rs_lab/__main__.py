"""``python -m rs_lab`` (``scripts/lab``): the lab for a person.

    scripts/lab up small [--overlay NAME[@HOST] ...] [--dir DIR] [--phase post] [--no-docker]
    rs-preflight --site <the printed site file>
    scripts/lab status [--dir DIR]
    scripts/lab down [--dir DIR]
    scripts/lab overlays

``up`` leaves every process running after it exits and records them in ``DIR/lab-state.json``
(DIR defaults to ``/tmp/rs-lab``); ``down`` ends them by PID, removes the recorded namespaces and
veths, sweeps the prefix's lab namespaces and deletes DIR. The prefix and network come from
``RS_LAB_PREFIX``/``RS_LAB_NET`` (``scripts/lab`` defaults them to ``rsd``/``214``, so a person's
lab and the tests' lab — ``rsl``/``213`` — can run side by side).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

DEFAULT_DIR = Path(os.environ.get("RS_LAB_DIR", "/tmp/rs-lab"))


def _parser() -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(prog="scripts/lab", description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="bring a scenario up and print its site file")
    up.add_argument("scenario", choices=["small"])
    up.add_argument("--overlay", action="append", default=[], metavar="NAME[@HOST]",
                    help="break one thing (repeatable); see `scripts/lab overlays`")
    up.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    up.add_argument("--phase", choices=["pre", "post"], default="pre")
    up.add_argument("--no-docker", dest="docker", action="store_false",
                    help="no dockerd in app/job/rt hosts (saves ~75 MB and a second each)")
    up.add_argument("--echo", action="store_true",
                    help="run the header-echo backends even in phase pre")
    up.add_argument("--wait-ntp", action="store_true", help="wait until chrony is synced")
    for name in ("down", "status"):
        p = sub.add_parser(name, help=f"{name} the lab recorded in DIR")
        p.add_argument("--dir", type=Path, default=DEFAULT_DIR)
    sub.add_parser("overlays", help="list the overlays")
    return ap


def _state(folder: Path) -> dict[str, object]:
    path = folder / "lab-state.json"
    if not path.exists():
        return {}
    data: dict[str, object] = json.loads(path.read_text())
    return data


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    folder: Path | None = getattr(args, "dir", None)
    if folder is not None:
        folder = folder.absolute()
        state = _state(folder)
        # The lab's names come from the environment at import: use the recorded ones.
        if state.get("prefix"):
            os.environ["RS_LAB_PREFIX"] = str(state["prefix"])
            os.environ["RS_LAB_NET"] = str(state["net"])
    from rs_lab import scenario as sc

    if args.command == "overlays":
        for name, ov in sorted(sc.OVERLAYS.items()):
            where = f" on {ov.host}" if ov.host else ""
            breaks = ", ".join(ov.breaks) or "(nothing: a variant)"
            print(f"{name:24} {breaks}{where}" + (f" — {ov.doc}" if ov.doc else ""))
        return 0
    assert folder is not None
    if args.command == "down":
        removed = sc.down_from_state(folder)
        print(f"lab down: removed {len(removed)} things", file=sys.stderr)
        return 0
    if args.command == "status":
        if not state:
            print(f"no lab recorded in {folder}")
            return 1
        from rs_lab.netns import sh

        present = set(sh(["ip", "netns", "list"], check=False).stdout.split())
        names = [str(n) for n in state.get("namespaces", [])]  # type: ignore[attr-defined]
        up = [n for n in names if n in present]
        print(f"scenario {state['scenario']} (overlays {state['overlays']}), phase "
              f"{state['phase']}, prefix {state['prefix']}, net 10.{state['net']}.0.0/24")
        print(f"site file: {state['site_file']}")
        print(f"namespaces up: {len(up)}: {' '.join(up)}")
        return 0
    if state:
        print(f"a lab is already recorded in {folder}: run `scripts/lab down --dir {folder}` "
              "first", file=sys.stderr)
        return 1
    scenario = sc.Scenario.small(phase=args.phase, docker=args.docker,
                                 echo=True if args.echo else None, wait_ntp=args.wait_ntp)
    for item in args.overlay:
        name, _, host = item.partition("@")
        scenario = scenario.with_overlay(name, host or None)
    site = sc.LabSite(scenario, folder)
    try:
        site.up()
        site.save_state()
    except BaseException:
        site.down()  # up() already tore down what it started; this removes the folder
        raise
    times = ", ".join(f"{k} {v:.1f}s" for k, v in site.timings.items())
    print(f"lab up ({times}); check it with: rs-preflight --site {site.site_file}; "
          "remove it with: scripts/lab down" + ("" if folder == DEFAULT_DIR.absolute()
                                                  else f" --dir {folder}"), file=sys.stderr)
    print(site.site_file)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BrokenPipeError:  # `scripts/lab overlays | head`
        sys.exit(0)
