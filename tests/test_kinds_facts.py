"""Each kind declares the fact sections its check reads (data/kinds.yaml ``facts:``), and a run
gathers only the sections of the selected requirements' kinds. A check reading a section its
kind does not declare would then be an error in a run narrowed to it (``-k``): this runs every
shipped check on this machine (local backend, every role, phase pre and post) with a recorder
of every section each check reads, and compares that with the declarations.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from rs_preflight.spec.catalogue import shipped
from rs_preflight.spec.kinds import ALWAYS_GATHERED, load_kinds

ROOT = Path(__file__).resolve().parents[1]

RECORDER = '''
"""Records (node id, fact section) of every HostFacts.get while a check runs."""
import json, os
import pytest
from rs_preflight.gather import facts

READS = {}
CURRENT = [None]
_get = facts.HostFacts.get


def get(self, name):
    if CURRENT[0] is not None:
        READS.setdefault(CURRENT[0], set()).add(name)
    return _get(self, name)


facts.HostFacts.get = get


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    CURRENT[0] = item.nodeid
    try:
        return (yield)
    finally:
        CURRENT[0] = None


def pytest_sessionfinish(session):
    with open(os.environ["RS_T_READS"], "w") as out:
        json.dump({k: sorted(v) for k, v in READS.items()}, out)
'''

SITE = """\
name: this-machine
profile: small
storage: {path: /tmp}
hosts:
  here: {connection: local, roles: [app, job, realtime, db, search, lb, deploy]}
"""


@pytest.mark.parametrize("phase", ["pre", "post"])
def test_each_check_reads_only_what_its_kind_declares(tmp_path: Path, phase: str) -> None:
    (tmp_path / "rs_t_recorder.py").write_text(RECORDER)
    (tmp_path / "site.yaml").write_text(SITE)
    reads_file = tmp_path / "reads.json"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(tmp_path)]),
           "RS_T_READS": str(reads_file)}
    proc = subprocess.run([sys.executable, "-m", "rs_preflight.cli", "--site", "site.yaml",
                           "--phase", phase, "-p", "rs_t_recorder", "--rs-mail-probe=off"],
                          cwd=tmp_path, capture_output=True, text=True, timeout=600, env=env)
    assert reads_file.exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    reads: dict[str, list[str]] = json.loads(reads_file.read_text())
    doc = json.loads((tmp_path / "rs-preflight-report" / "results.json").read_text())
    assert len(doc["results"]) == 57, proc.stdout[-3000:]
    kinds = load_kinds()
    undeclared = {}
    for nodeid, sections in reads.items():
        rid = nodeid.rsplit("[", 1)[1].split("@")[0].rstrip("]")
        kind = kinds[shipped()[rid].kind]
        extra = set(sections) - set(kind.facts) - set(ALWAYS_GATHERED)
        if extra:
            undeclared[f"{rid} ({kind.name})"] = sorted(extra)
    assert not undeclared, undeclared
    # the checks that read host facts did read them (the recorder works)
    read_by = {nodeid.rsplit("[", 1)[1].split("@")[0].rstrip("]") for nodeid in reads}
    assert {"RS-OS-01", "RS-SYSCTL-01", "RS-LIMIT-01"} <= read_by
    never = [r for r in doc["results"] if "was not gathered" in (r["message"] or "")]
    assert not never, never
