"""The fault suite: the lab site broken while it runs, the way real sites break, and what a whole
rs-preflight run says about it.

Each fault must end as ``error`` (could not check, with the cause) on exactly the checks behind
it, within a stated bound, with every other result the same as the healthy baseline's. Faults are
applied to a running site and undone in ``finally`` — nftables tables in a namespace, a silent
listener, SIGSTOP, a file — so one site (a slot of its own) serves them all; the clock fault needs
a site started with libfaketime (another slot). Wall times are printed (``-s``); the README's
"Reliability" table lists them; the assertions on time are generous safety bounds, not speed
tests (speed is measured in ``benchmarks/``).

Lab rules hold: traffic only to the lab's own addresses, processes ended by PID, every fault undone.
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from rs_lab.indices import Lease
from rs_lab.netns import GATEWAY4, GATEWAY6, Namespace, ns_pids
from rs_lab.preflight import Run, run_preflight
from rs_lab.scenario import LabSite, Scenario, site_in_slot
from rs_lab.workdir import remove, service_root

pytestmark = pytest.mark.lab

if os.geteuid() != 0 or shutil.which("nft") is None:  # pragma: no cover
    pytest.skip("needs root and the lab's packages (scripts/setup)", allow_module_level=True)

SAFETY_S = 240      # no fault may make a run hang: generous, the machine may be shared
DNS_BOUND_S = 60    # the issue's bound for a whole run against a resolver that drops queries
TABLE = "rsfault"
Key = tuple[str, str | None]


@dataclass(frozen=True)
class Timed:
    run: Run
    seconds: float

    @property
    def outcomes(self) -> dict[Key, str]:
        return {k: r["outcome"] for k, r in self.run.records.items()}


def timed_run(site: LabSite, folder: Path) -> Timed:
    t = time.monotonic()
    run = run_preflight(site.site_file, cwd=folder, timeout=SAFETY_S + 60)
    return Timed(run, time.monotonic() - t)


# -- the site and its healthy baseline -----------------------------------------------------------

@pytest.fixture(scope="module")
def fault_site(lab_lease: Lease) -> Iterator[LabSite]:
    root = service_root("faults")
    try:
        with site_in_slot(Scenario.small(wait_ntp=True), root / "site", lab_lease) as site:
            yield site
    finally:
        remove(root)


@pytest.fixture(scope="module")
def baseline(fault_site: LabSite, tmp_path_factory: pytest.TempPathFactory) -> Timed:
    got = timed_run(fault_site, tmp_path_factory.mktemp("baseline"))
    print(f"\nbaseline run: {got.seconds:.1f} s")
    bad = {k: v for k, v in got.outcomes.items() if v not in ("passed", "skipped")}
    assert bad == {}, [got.run.records[k]["message"] for k in bad]
    return got


# -- applying faults ------------------------------------------------------------------------------

@contextlib.contextmanager
def nft_input(ns: Namespace, *rules: str) -> Iterator[None]:
    """nftables rules on the input hook of ``ns`` (one table of our own), removed afterwards."""
    body = "".join(f"    {r}\n" for r in rules)
    ns.run(["nft", "-f", "-"], input=f"table inet {TABLE} {{\n  chain input {{\n    type filter "
                                     f"hook input priority 0; policy accept;\n{body}  }}\n}}\n")
    try:
        yield
    finally:
        ns.run(["nft", "delete", "table", "inet", TABLE], check=False)


def from_runner(ports: str) -> list[str]:
    """Rules dropping ``ports`` (nft set syntax) for the runner's addresses only."""
    return [f"ip saddr {GATEWAY4} tcp dport {ports} drop",
            f"ip6 saddr {GATEWAY6} tcp dport {ports} drop"]


SILENT = ("import socket\n"
          "s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
          "s.bind(('0.0.0.0', 2222)); s.listen(64); held = []\n"
          "while True: held.append(s.accept()[0])\n")


@contextlib.contextmanager
def silent_sshd(ns: Namespace) -> Iterator[None]:
    """Port 22 answers TCP and then says nothing: a listener that accepts and stays silent,
    with port 22 redirected to it (sshd keeps running untouched)."""
    proc = ns.popen([sys.executable, "-c", SILENT])
    try:
        deadline = time.monotonic() + 10
        while ":2222" not in ns.run(["ss", "-Htln"]).stdout:
            assert time.monotonic() < deadline and proc.poll() is None, "listener did not start"
            time.sleep(0.1)
        ns.run(["nft", "-f", "-"], input="table ip rsfault_nat {\n  chain pre {\n    type nat "
               "hook prerouting priority dstnat; policy accept;\n    tcp dport 22 redirect to "
               ":2222\n  }\n}\n")
        yield
    finally:
        ns.run(["nft", "delete", "table", "ip", "rsfault_nat"], check=False)
        proc.terminate()
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(timeout=5)
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=5)
        with contextlib.suppress(ValueError):
            ns.procs.remove(proc)


def pid_of(ns: Namespace, comm: str) -> int:
    for pid in ns_pids(ns.name):
        with contextlib.suppress(OSError):
            if Path(f"/proc/{pid}/comm").read_text().strip() == comm:
                return pid
    raise AssertionError(f"no {comm} in {ns.name}")


@contextlib.contextmanager
def frozen(pid: int) -> Iterator[None]:
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


@contextlib.contextmanager
def inflated_os_release(site: LabSite, name: str, megabytes: int = 10) -> Iterator[None]:
    """``/etc/os-release`` of host ``name`` grown to ``megabytes`` MB (its real lines first)."""
    host = site.host(name)
    original = host.run(["cat", "/etc/os-release"], check=True).stdout
    pad = ("import sys\nline = 'X_RS_PAD=' + 'a' * 90 + '\\n'\n"
           f"sys.stdout.write(line * ({megabytes} * 10000))\n")
    host.run(f"python3 -c {_q(pad)} >> /etc/os-release", check=True)
    try:
        yield
    finally:
        host.run(["sh", "-c", "cat > /etc/os-release"], input=original, check=True)


def _q(text: str) -> str:
    import shlex
    return shlex.quote(text)


# -- judging a faulted run against the baseline ---------------------------------------------------

def host_keys(base: Timed, host: str) -> set[Key]:
    return {k for k, v in base.outcomes.items() if k[1] == host and v != "skipped"}


def assert_only(base: Timed, got: Timed, affected: set[Key], cause: str | Callable[[Key], str]
                ) -> None:
    """``affected`` are errors whose message says ``cause`` (a regex, or one per key); every
    other record has its baseline outcome (a baseline skip on a host that could not be
    reached may turn into that host's error)."""
    assert set(got.outcomes) == set(base.outcomes)
    records = got.run.records
    for key in sorted(affected, key=str):
        rec = records[key]
        pattern = cause(key) if callable(cause) else cause
        assert rec["outcome"] == "error", (key, rec["outcome"], rec["message"])
        assert re.search(pattern, rec["message"]), (key, pattern, rec["message"])
    changed = {k for k in base.outcomes if base.outcomes[k] != got.outcomes[k]}
    hosts = {k[1] for k in affected if k[1] is not None}
    tolerated = {k for k in changed if base.outcomes[k] == "skipped" and k[1] in hosts
                 and got.outcomes[k] == "error"}
    unexpected = {k: (base.outcomes[k], got.outcomes[k], records[k]["message"][:200])
                  for k in changed - affected - tolerated}
    assert unexpected == {}


def report(label: str, got: Timed, affected: set[Key]) -> None:
    slowest = max((got.run.records[k]["duration_s"] for k in affected), default=0.0)
    print(f"\n{label}: whole run {got.seconds:.1f} s, {len(affected)} errors, "
          f"slowest affected check {slowest:.1f} s")


# -- host faults: SSH -----------------------------------------------------------------------------

def test_sshd_dropping_syns_costs_one_connect_timeout(fault_site: LabSite, baseline: Timed,
                                                      tmp_path: Path) -> None:
    with nft_input(fault_site.host("job2").ns, "tcp dport 22 drop"):
        got = timed_run(fault_site, tmp_path)
    affected = host_keys(baseline, "job2")
    report("sshd drops SYNs (job2)", got, affected)
    assert_only(baseline, got, affected, r"SSH connect to \S+:22 timed out after 3s")
    assert got.seconds < SAFETY_S


def test_sshd_refusing(fault_site: LabSite, baseline: Timed, tmp_path: Path) -> None:
    with nft_input(fault_site.host("rt1").ns, "tcp dport 22 reject with tcp reset"):
        got = timed_run(fault_site, tmp_path)
    # the pre-phase LB checks start their header echo on every app and realtime host
    lb = {(r, None) for r in ("RS-LB-01", "RS-LB-02", "RS-LB-03", "RS-LB-05", "RS-LB-06")
          if baseline.outcomes.get((r, None)) == "passed"}
    affected = host_keys(baseline, "rt1") | lb
    report("sshd refuses (rt1)", got, affected)
    assert_only(baseline, got, affected, r"SSH connect to \S+:22 refused")
    assert got.seconds < SAFETY_S


def test_sshd_that_never_sends_a_banner(fault_site: LabSite, baseline: Timed,
                                        tmp_path: Path) -> None:
    with silent_sshd(fault_site.host("deploy1").ns):
        got = timed_run(fault_site, tmp_path)
    affected = host_keys(baseline, "deploy1")
    report("port 22 accepts and stays silent (deploy1)", got, affected)
    assert_only(baseline, got, affected, r"no SSH handshake within 3s")
    assert got.seconds < SAFETY_S


# -- the site's resolver --------------------------------------------------------------------------

DNS_RUNNER = ("RS-DNS-01", "RS-DNS-02", "RS-DNS-03", "RS-DNS-04", "RS-MAIL-02", "RS-MAIL-03",
              "RS-MAIL-05", "RS-MAIL-06", "RS-PG-01", "RS-PG-02", "RS-PG-03", "RS-PG-04",
              "RS-SEARCH-01", "RS-SEARCH-02", "RS-SEARCH-03")


def test_dead_resolver_is_one_error_found_once_fast(fault_site: LabSite, baseline: Timed,
                                                    tmp_path: Path) -> None:
    assert fault_site.dns is not None
    with nft_input(fault_site.dns.ns, "udp dport 53 drop", "tcp dport 53 drop"):
        got = timed_run(fault_site, tmp_path)
    by_name = {k for k, v in baseline.outcomes.items()
               if k[0] == "RS-PORT-01" and v == "passed"
               and ".rs.lab" in baseline.run.records[k]["message"]}
    affected: set[Key] = {(r, None) for r in DNS_RUNNER if baseline.outcomes[(r, None)] == "passed"}
    affected |= {("RS-ENV-05", None)} | by_name
    assert len(by_name) == 4  # app1, app2, job1, job2 open flows to db1/smtp/imap/job1 by name
    resolver = fault_site.dns_address

    def cause(key: Key) -> str:
        if key[0] == "RS-PORT-01":
            return r"did not resolve on \w+ \(its resolver did not answer within 3 s\)"
        if key[0] == "RS-ENV-05":
            return r"cannot tell whether the hosts named in the settings resolve"
        return rf"the site's DNS resolvers {re.escape(resolver)} do not answer"

    report("site resolver drops queries", got, affected)
    assert_only(baseline, got, affected, cause)
    # found once: one health probe, then every DNS-dependent check errs at once
    durations = sorted((got.run.records[k]["duration_s"] for k in affected), reverse=True)
    assert durations[1] < 3, durations
    assert got.seconds < max(DNS_BOUND_S, baseline.seconds + 30), got.seconds


# -- service ports dropped for the runner only ----------------------------------------------------

RUNNER_DROPS = {
    "smtp": ("mail", "{ 25, 465, 587 }", ("RS-MAIL-05", "RS-MAIL-06"), r"SMTP .* timed out"),
    "imap": ("mail", "{ 143, 993 }", ("RS-MAIL-02", "RS-MAIL-03", "RS-MAIL-06"),
             r"IMAP .* timed out"),
    "postgresql": ("pg", "5432", ("RS-PG-01", "RS-PG-02", "RS-PG-03", "RS-PG-04"),
                   r"PostgreSQL .*:5432: connection timeout expired \(from the runner\)"),
    "opensearch": ("job1", "9200", ("RS-SEARCH-01", "RS-SEARCH-02", "RS-SEARCH-03"),
                   r"job1\.rs\.lab:9200 .*ConnectTimeout"),
}


def _service_namespaces(site: LabSite, where: str) -> list[Namespace]:
    if where == "mail":
        return [site.mail_ns]
    if where == "pg":
        assert site.pg is not None and site.pg.reader is not None
        return [site.host("db1").ns, site.pg.reader.ns]
    return [site.host(where).ns]


@pytest.mark.parametrize("service", list(RUNNER_DROPS))
def test_service_port_dropped_for_the_runner_only(fault_site: LabSite, baseline: Timed,
                                                  tmp_path: Path, service: str) -> None:
    where, ports, requirements, cause = RUNNER_DROPS[service]
    with contextlib.ExitStack() as stack:
        for ns in _service_namespaces(fault_site, where):
            stack.enter_context(nft_input(ns, *from_runner(ports)))
        got = timed_run(fault_site, tmp_path)
    affected: set[Key] = {(r, None) for r in requirements}
    report(f"{service} dropped for the runner", got, affected)
    # the hosts' own flows (RS-PORT-01) still reach the service: only the runner is cut off
    assert_only(baseline, got, affected, cause)
    assert got.seconds < SAFETY_S


# -- Docker, a huge fact, the clock ---------------------------------------------------------------

def test_frozen_dockerd(fault_site: LabSite, baseline: Timed, tmp_path: Path) -> None:
    with frozen(pid_of(fault_site.host("app2").ns, "dockerd")):
        got = timed_run(fault_site, tmp_path)
    affected: set[Key] = {("RS-DOCKER-01", "app2")}
    report("dockerd stopped (SIGSTOP) on app2", got, affected)
    # daemon.json (RS-DOCKER-03) is a file and `docker compose version` (RS-DOCKER-02) asks no
    # daemon: both still judged; the daemon's questions time out once
    assert_only(baseline, got, affected, r"timed out after \d+s on the host")
    assert got.seconds < SAFETY_S


def test_fact_printing_ten_megabytes(fault_site: LabSite, baseline: Timed,
                                     tmp_path: Path) -> None:
    with inflated_os_release(fault_site, "job2"):
        got = timed_run(fault_site, tmp_path)
    rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    affected: set[Key] = {("RS-OS-01", "job2")}
    report("/etc/os-release of 10 MB on job2", got, affected)
    print(f"largest child process so far: {rss_mb:.0f} MB")
    assert_only(baseline, got, affected, r"could not read os_release on job2: its output "
                                         r"exceeds 4 MiB \(cut on the host")
    assert rss_mb < 1024
    assert (got.run.folder / "rs-preflight-report" / "results.json").stat().st_size < 2 << 20
    assert got.seconds < SAFETY_S


def test_clock_an_hour_off_fails_with_the_offset(lab_site: Callable[[Scenario], LabSite],
                                                 baseline: Timed, tmp_path: Path) -> None:
    site = lab_site(Scenario.small(wait_ntp=True).with_overlay("clock-hour-off"))
    got = timed_run(site, tmp_path)
    rec = got.run.records[("RS-TIME-03", "app2")]
    print(f"\nclock an hour ahead on app2: whole run {got.seconds:.1f} s: {rec['message']}")
    assert rec["outcome"] == "failed", rec["message"]
    assert re.search(r"clock is 3600\d{3} ms ahead of the runner", rec["message"]), rec["message"]
    changed = {k: (v, got.outcomes[k]) for k, v in baseline.outcomes.items()
               if got.outcomes[k] != v}
    assert set(changed) == {("RS-TIME-03", "app2")}, changed
    assert got.seconds < SAFETY_S
