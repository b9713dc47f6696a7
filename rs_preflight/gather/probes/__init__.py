"""Probes: gathering over the network, as a client of the site sees it.

Every call has a timeout; names are resolved only through the site's resolvers
(:mod:`rs_preflight.gather.names`), and connections go to an address with the name carried in
SNI and ``Host`` — the runner's own resolver is never asked (where to connect:
:mod:`rs_preflight.gather.probes.where`). Probes return plain data
(:mod:`rs_preflight.gather.probes.records`) or raise :class:`ProbeError` saying why they could
not gather; a run asks each once (``RunState.probe``); judging is for
:mod:`rs_preflight.judge`, which no probe imports.
"""

from __future__ import annotations

from rs_preflight.spec.errors import PreflightError


class ProbeError(PreflightError):
    """A probe could not gather (refused, timed out, no answer): the check's outcome is error."""


class Unreachable(ProbeError):
    """The address could not be connected to at all (refused, timed out, no route)."""


__all__ = ["ProbeError", "Unreachable"]
