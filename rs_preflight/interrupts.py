"""SIGTERM and SIGINT end a run like Ctrl-C: reports are still written, active probes undone.

A CI timeout or ``kill`` sends SIGTERM, whose default action ends the process at once — no
``pytest_sessionfinish``, so no reports and the header-echo listener and the shared-folder
probe file left on the targets. ``Interrupts`` turns the *first* SIGTERM (or SIGINT, when
Python's own handler is installed) into a ``KeyboardInterrupt``, which pytest handles: the
running check stops, ``pytest_sessionfinish`` writes the reports (``complete: false``,
``interrupted: true``) and undoes the probes, and the exit code is 2. Signals after the first,
and any arriving once the run is winding down (``hold``), are noted and not raised, so they
cannot cut the clean-up short; every step of it is bounded by the SSH timeouts (SIGKILL still
ends everything at once).
"""

from __future__ import annotations

import signal
import threading
from types import FrameType
from typing import Any

SIGNALS = (signal.SIGTERM, signal.SIGINT)


class Interrupts:
    """The run's signal handlers: ``install`` in configure, ``restore`` in unconfigure."""

    def __init__(self) -> None:
        self.received: str | None = None
        self._holding = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        """Handle SIGTERM (and SIGINT unless someone else handles it); main thread only."""
        if self._previous or threading.current_thread() is not threading.main_thread():
            return
        for sig in SIGNALS:
            current = signal.getsignal(sig)
            if sig == signal.SIGINT and current is not signal.default_int_handler:
                continue  # a debugger's or the embedding program's: leave it alone
            self._previous[sig] = current
            signal.signal(sig, self._on_signal)

    def _on_signal(self, signum: int, frame: FrameType | None) -> None:
        name = signal.Signals(signum).name
        first = self.received is None
        self.received = self.received or name
        if first and not self._holding:
            raise KeyboardInterrupt(f"{name}: rs-preflight stops, writes its reports and "
                                    "removes its probes")

    def check(self) -> None:
        """Raise the stop again at a check's start if the signal's own ``KeyboardInterrupt``
        was lost: raised inside a weakref callback or a ``__del__``, Python reports it as
        "unraisable" and carries on, and the run would end "passed" after a SIGTERM."""
        if self.received is not None and not self._holding:
            raise KeyboardInterrupt(f"{self.received}: rs-preflight stops, writes its reports "
                                    "and removes its probes")

    def hold(self) -> None:
        """From now on (reports, clean-up) a signal is noted, not raised."""
        self._holding = True

    def restore(self) -> None:
        for sig, previous in self._previous.items():
            signal.signal(sig, previous)
        self._previous.clear()
