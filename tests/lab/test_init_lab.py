"""``rs-preflight init --from-env`` round-trips the lab's own ``.env`` files (what R-Service's
installer was given) into a valid site with the same settings, per role."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from rs_lab.preflight import ROOT, run_preflight
from rs_lab.scenario import LabSite
from rs_preflight.spec.site import load_site


def test_init_round_trips_the_lab_env_files(tmp_path: Path, small_site: LabSite) -> None:
    out = tmp_path / "rs-preflight.yaml"
    proc = subprocess.run([sys.executable, "-m", "rs_preflight.cli", "init", "--from-env",
                           str(small_site.site_dir), "-o", str(out)], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr
    made, lab = load_site(out), load_site(small_site.site_file)
    assert made.name == lab.domain  # named after ITRP_DOMAIN
    assert made.settings.files == lab.settings.files  # the same four files, the same roles
    for role in (None, "app", "job", "realtime", "search", "db"):
        assert made.settings.for_role(role) == lab.settings.for_role(role), role
    run = run_preflight(out, "-k", "RS-ENV-03", cwd=tmp_path, timeout=120)
    assert run["RS-ENV-03"]["outcome"] == "passed", run.output[-2000:]
    assert run.output.startswith(f"rs-preflight: site {out} (--site)")
