"""The registry of starters: how each part of a scenario is brought up in a :class:`LabSite`.

A *part* (``"dns"``, ``"pg"``, ``"redis"`` …) registers one :class:`Starter`: when it is wanted,
what it must wait for, how its thing is made, started and stopped, which namespaces a crashed
run may leave of it, and what it writes into the site file. ``LabSite.up()`` walks
:data:`STARTERS` in registration order (dependencies first), runs every wanted part in parallel
once its ``after`` parts are up, and stops them newest first; ``write_site()`` asks every
starter for its sections of ``site.yaml``. Adding a service to the lab is one registration::

    register(Starter(
        "redis", after=("hosts",),
        make=lambda site: RedisServer(site.host_ns("rt1"), site.workdir / "redis"),
        namespaces=lambda sc: [],
        default=False))                  # not in the small site unless a scenario asks

``make`` returns the thing unstarted; the site records it (``site.services[part]``) and its
``stop`` *before* ``start`` runs, so a half-started part is still stopped. The defaults start
and stop a :class:`~rs_lab.service.LabService` (``thing.start()`` / ``thing.stop()``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rs_lab.scenario import LabSite, Scenario

__all__ = ["SITE_SECTIONS", "STARTERS", "Starter", "register"]

# The site file's top-level sections, in the order they are written (after name, profile,
# phase and env_files); a starter contributes some of them, the site writes the rest.
SITE_SECTIONS = ("ssh", "hosts", "load_balancer", "dns", "tls", "time", "storage")


def _start(site: LabSite, thing: Any) -> None:
    thing.start()


def _stop(site: LabSite, thing: Any) -> None:
    thing.stop()


def _no_namespaces(sc: Scenario) -> list[str]:
    return []


@dataclass(frozen=True)
class Starter:
    """How part ``part`` is brought up (see the module docstring).

    ``wanted``: whether a scenario runs it (default: ``part in scenario.parts``);
    ``after``: parts that are up first; ``make``/``start``/``stop``: build the thing, start it,
    stop it; ``namespaces``: the namespace names it may leave (crash sweeps);
    ``site_yaml``: its sections of ``site.yaml`` (key of :data:`SITE_SECTIONS` → lines, the
    ``key:`` line included), asked whether or not the part runs; ``default``: part of the
    small site's :data:`rs_lab.scenario.PARTS`. The thing is ``site.services[part]``.
    """

    part: str
    make: Callable[[LabSite], Any]
    start: Callable[[LabSite, Any], None] = _start
    stop: Callable[[LabSite, Any], None] = _stop
    after: tuple[str, ...] = ()
    wanted: Callable[[Scenario], bool] | None = None
    namespaces: Callable[[Scenario], list[str]] = _no_namespaces
    site_yaml: Callable[[LabSite], dict[str, list[str]]] | None = None
    default: bool = True
    doc: str = field(default="", compare=False)

    def is_wanted(self, sc: Scenario) -> bool:
        return self.wanted(sc) if self.wanted is not None else self.part in sc.parts


STARTERS: dict[str, Starter] = {}


def register(starter: Starter) -> Starter:
    """Add ``starter`` (after every part it waits for); a part registers once."""
    if starter.part in STARTERS:
        raise ValueError(f"lab part {starter.part!r} is registered already")
    missing = [p for p in starter.after if p not in STARTERS]
    if missing:
        raise ValueError(f"lab part {starter.part!r} waits for unregistered {missing}")
    STARTERS[starter.part] = starter
    return starter
