"""RS-STORAGE-01: the shared network folder of app and job hosts (guide §2.4).

Active probe: a probe file is written on the first host that has the share and read back on
every other app and job host; it is removed when the run ends (README, "Side effects").
"""

from __future__ import annotations

import pytest

from rs_preflight.judge import storage as judge
from rs_preflight.model import Target
from rs_preflight.spec.results import PASSED, Verdict, passed, skipped, worst

# with -n: one probe file, written once and read on every other host, so all on one worker
pytestmark = pytest.mark.rs_one_worker("the shared-folder probe is written once per run")


@pytest.mark.kind("shared_folder")
def test_shared_folder(rs: Target) -> Verdict:
    assert rs.host is not None
    path = rs.site.storage_path
    if not path:
        return skipped("no storage.path in the site description")
    share_fs = judge.network_share(path, rs.facts.get("storage"),
                                   rs.params["network_fstypes"])
    if share_fs.outcome != PASSED:
        return share_fs
    share = rs.state.share()
    thost = rs.state.connections.get(rs.host)
    probe = share.write(rs.host, thost)
    if probe.writer == rs.host.name:
        return passed(f"{share_fs.message}; the probe file was written here for the other "
                      "hosts to read", share_fs.expected, share_fs.found)
    seen = share.read(thost)
    return worst([share_fs, judge.same_share(rs.host.name, probe.writer, probe.path, seen,
                                             probe.content)])
