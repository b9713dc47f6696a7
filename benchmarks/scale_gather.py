"""The gathering alone: one ``RunState`` gathers every host of a site, timed (scale.py's
``gather`` ways). No pytest, no checks, no reports: what a run spends before its first check.

    python3 benchmarks/scale_gather.py site.yaml [CONNECTS [WORKING]]

``CONNECTS`` sets ``gather.state.PARALLEL_CONNECTS`` (hosts connecting at once), ``WORKING``
``gather.state.PARALLEL_HOSTS`` (hosts worked on at once). ``CONNECTS`` equal to ``WORKING`` is the
gathering as it was before connects ran wide: one pool that connects and works, so unreachable
hosts hold its threads in turn.
"""

from __future__ import annotations

import contextlib
import sys
import time
from pathlib import Path

from rs_preflight.gather import state as model
from rs_preflight.spec.catalogue import load_catalogue
from rs_preflight.spec.errors import PreflightError
from rs_preflight.spec.site import load_site


def main(argv: list[str]) -> int:
    if len(argv) > 1:
        model.PARALLEL_CONNECTS = int(argv[1])
    if len(argv) > 2:
        model.PARALLEL_HOSTS = int(argv[2])
    site = load_site(Path(argv[0]))
    state = model.RunState.create(site, load_catalogue())
    t0 = time.perf_counter()
    with contextlib.suppress(PreflightError):
        state.facts(site.hosts[0])  # the first call gathers every host
    wall = time.perf_counter() - t0
    got = state.gathered()
    bad = sum(isinstance(v, PreflightError) for v in got.values())
    state.cleanup()
    print(f"gather: {len(got) - bad} answered, {bad} unreachable in {wall:.2f} s "
          f"({model.PARALLEL_CONNECTS} connecting, {model.PARALLEL_HOSTS} working at once)")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
