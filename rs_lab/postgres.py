"""PostgreSQL 15, 17 or 18 in a lab namespace, optionally with a streaming replica as the reader.

Binaries: Debian's 15 in ``/usr/lib/postgresql/15/bin``; 17 and 18 from the npm registry in
``$RS_LAB_PG_ROOT/<major>/bin`` (default ``/opt/rs-lab/pg``), installed by
``scripts/setup-postgres``. initdb and postgres refuse to run as root, so every server command
runs through ``setpriv --reuid=postgres`` (it execs: the PID we hold is the server's).

>>> pki = Pki.create(work / "pki")
>>> with PgServer(PgSpec(version=18, replica=True), work / "pg18", pki,
...               index=lease.block(2)[0]) as pg:                 # the reader takes index + 1
...     psycopg.connect(pg.conninfo("writer"))            # verify-full against the lab root
...     psycopg.connect(pg.reader.conninfo("writer"))     # pg_is_in_recovery() is true

Roles (scram-sha-256): ``postgres`` (superuser), ``writer`` (CREATEDB), ``plain`` (LOGIN only,
no CREATE anywhere), ``owner`` (no CREATEDB, owns ``spec.database``: may create in it), and
``replicator`` (REPLICATION). Every server listens on its lab IPv4 and IPv6 addresses only.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from psycopg.conninfo import make_conninfo

from rs_lab.netns import LabError, Namespace, create_fresh, end_pids, sh, wait_port
from rs_lab.pki import Issued, Pki
from rs_lab.service import Addressed, LabService, where
from rs_lab.workdir import make_traversable

PG_ROOT = Path(os.environ.get("RS_LAB_PG_ROOT", "/opt/rs-lab/pg"))
RUN_AS = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"]


def bindir(major: int) -> Path:
    """Where the binaries of PostgreSQL ``major`` live on this machine."""
    if major == 15:
        return Path("/usr/lib/postgresql/15/bin")
    return PG_ROOT / str(major) / "bin"


@dataclass(frozen=True)
class Role:
    name: str
    password: str


@dataclass(frozen=True)
class PgSpec:
    """What one lab PostgreSQL looks like; each toggle breaks or varies one thing."""

    version: int = 18
    tls: bool = True             # ssl=on with a lab certificate for the server's name and IPs
    tls_only: bool = False       # pg_hba: hostssl only (plain-text connections are rejected)
    self_signed: bool = False    # the certificate is self-signed (verify-ca/verify-full fail)
    replica: bool = False        # start a streaming replica as the reader, in its own namespace
    reader_primary: bool = False  # the "reader" is an independent primary (not in recovery)
    short: str = "pg"            # namespace short name and first label of the server's name
    domain: str = "rs.lab"
    database: str = "rservice"
    port: int = 5432
    superuser: Role = Role("postgres", "lab-postgres-pw")
    writer: Role = Role("rs_writer", "lab-writer-pw")
    plain: Role = Role("rs_plain", "lab-plain-pw")
    owner: Role = Role("rs_owner", "lab-owner-pw")
    replicator: Role = Role("rs_replicator", "lab-replicator-pw")

    @property
    def name(self) -> str:
        return f"{self.short}.{self.domain}"

    @property
    def reader_name(self) -> str:
        return f"{self.short}-reader.{self.domain}"


class PgInstance(Addressed):
    """One postgres process (primary or replica) in one namespace (``ipv4``, ``ipv6``)."""

    def __init__(self, spec: PgSpec, name: str, ns: Namespace, folder: Path, pki: Pki) -> None:
        self.spec, self.name, self.ns, self.folder, self.pki = spec, name, ns, folder, pki
        self.datadir = folder / "data"
        self.cert: Issued | None = None
        self.pid: int | None = None

    @property
    def port(self) -> int:
        return self.spec.port

    @property
    def root_path(self) -> Path:
        """The CA file that verifies this server (the lab root, or the self-signed leaf)."""
        if self.spec.self_signed and self.cert:
            return self.cert.cert_path
        return self.pki.root_path

    def role(self, which: str) -> Role:
        """``superuser``, ``writer``, ``plain``, ``owner`` or ``replicator``."""
        role: Role = getattr(self.spec, which)
        return role

    def conninfo(self, which: str = "writer", *, sslmode: str | None = None,
                 dbname: str | None = None, sslrootcert: Path | None = None) -> str:
        """A libpq conninfo for role ``which``: hostaddr = lab IP, host = lab name (no DNS)."""
        role = self.role(which)
        mode = sslmode or ("verify-full" if self.spec.tls else "disable")
        # Only for verify-*: with a root file present, libpq makes "require" act as verify-ca.
        root = {"sslrootcert": str(sslrootcert or self.pki.root_path)} if mode.startswith(
            "verify") else {}
        return make_conninfo(hostaddr=self.ipv4, host=self.name, port=self.port,
                             user=role.name, password=role.password, sslmode=mode,
                             dbname=dbname or self.spec.database, connect_timeout=5, **root)

    def admin(self) -> psycopg.Connection[tuple[object, ...]]:
        """An autocommit superuser connection (TLS not required) for setup and teardown."""
        return psycopg.connect(self.conninfo("superuser", sslmode="prefer", dbname="postgres"),
                               autocommit=True)

    # -- setup --------------------------------------------------------------------------------
    def prepare_folder(self) -> None:
        make_traversable(self.folder.parent)
        self.folder.mkdir(parents=True, exist_ok=True)
        shutil.chown(self.folder, "postgres", "postgres")
        self.folder.chmod(0o700)

    def initdb(self) -> None:
        pwfile = self.folder / "pwfile"
        pwfile.write_text(self.spec.superuser.password + "\n")
        shutil.chown(pwfile, "postgres", "postgres")
        _as_postgres([str(bindir(self.spec.version) / "initdb"), "-D", str(self.datadir),
                      "-U", self.spec.superuser.name, f"--pwfile={pwfile}",
                      "--auth=scram-sha-256", "-E", "UTF8", "--locale=C", "--no-sync"])
        pwfile.unlink()

    def configure(self) -> None:
        """Write postgresql.conf, pg_hba.conf and the TLS files (overwrites copied ones)."""
        lines = [f"listen_addresses = '{self.ipv4},{self.ipv6}'",
                 f"port = {self.port}", "unix_socket_directories = ''",
                 "password_encryption = 'scram-sha-256'", "max_connections = 40",
                 "shared_buffers = 16MB", "fsync = off", "synchronous_commit = off",
                 "full_page_writes = off", "wal_level = replica", "max_wal_senders = 5",
                 "hot_standby = on", "logging_collector = off", "log_line_prefix = '%m [%p] '",
                 "dynamic_shared_memory_type = posix", "max_replication_slots = 5"]
        if self.spec.tls:
            self.cert = self._issue()
            tls = self.folder / "tls"
            tls.mkdir(exist_ok=True)
            for src in (self.cert.chain_path, self.cert.key_path):
                shutil.copy(src, tls / src.name)
                shutil.chown(tls / src.name, "postgres", "postgres")
                (tls / src.name).chmod(0o600)
            shutil.chown(tls, "postgres", "postgres")
            lines += ["ssl = on", f"ssl_cert_file = '{tls / self.cert.chain_path.name}'",
                      f"ssl_key_file = '{tls / self.cert.key_path.name}'",
                      "ssl_min_protocol_version = 'TLSv1.2'"]
        else:
            lines.append("ssl = off")
        _write_owned(self.datadir / "postgresql.conf", "\n".join(lines) + "\n")
        _write_owned(self.datadir / "pg_hba.conf", self._hba())

    def _issue(self) -> Issued:
        names = [self.name, self.ipv4, self.ipv6]
        return self.pki.issue(f"pg-{self.ns.short}", names, self_signed=self.spec.self_signed)

    def _hba(self) -> str:
        kind = "hostssl" if self.spec.tls and self.spec.tls_only else "host"
        rep = self.spec.replicator.name
        rules = [f"{kind} replication {rep} 0.0.0.0/0 scram-sha-256",
                 f"{kind} replication {rep} ::/0 scram-sha-256",
                 f"{kind} all all 0.0.0.0/0 scram-sha-256",
                 f"{kind} all all ::/0 scram-sha-256"]
        return "\n".join(rules) + "\n"

    def start(self, timeout: float = 30.0) -> None:
        log = self.folder.parent / f"{self.ns.short}-postgres.log"
        argv = [*RUN_AS, str(bindir(self.spec.version) / "postgres"), "-D", str(self.datadir)]
        # HOME: libpq in the walreceiver reads ~/.postgresql/ and root's is not readable
        proc = self.ns.popen(argv, log=log, env={"HOME": str(self.folder)})
        self.pid = proc.pid
        wait_port(self.ns, self.ipv4, self.port, timeout=timeout)
        deadline = time.monotonic() + timeout
        while True:  # the port opens before the server accepts logins ("starting up")
            try:
                with self.admin():
                    return
            except psycopg.OperationalError as exc:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise LabError(f"postgres {self.name} did not start: {exc}; see {log}") from exc
                time.sleep(0.05)

    def create_roles(self) -> None:
        """The writer, plain, owner and replicator roles, and the database."""
        s = self.spec
        with self.admin() as conn:
            for role, extra in ((s.writer, "CREATEDB"), (s.plain, ""), (s.owner, ""),
                                (s.replicator, "REPLICATION")):
                conn.execute(sql.SQL("CREATE ROLE {} LOGIN {} PASSWORD {}").format(
                    sql.Identifier(role.name), sql.SQL(extra), sql.Literal(role.password)))
            conn.execute(sql.SQL("CREATE DATABASE {} OWNER {}").format(
                sql.Identifier(s.database), sql.Identifier(s.owner.name)))
            # No CREATE for PUBLIC on the database (it never had it) nor on schema public (15+).

    def stop(self) -> None:
        """Fast shutdown (SIGINT: roll back sessions, no waiting for clients), then KILL."""
        if self.pid is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGINT)
            end_pids([self.pid], grace=5.0)
            self.pid = None


class PgServer(LabService):
    """The writer (a primary) and, with ``spec.replica``/``reader_primary``, a reader.

    Namespaces: ``ns`` (borrowed) or a new one ``spec.short`` at ``index`` for the writer;
    ``<short>-r`` at ``reader_index`` (default ``index + 1``) for the reader. ``ipv4``,
    ``ipv6``, ``name``, ``port`` and ``conninfo`` are the writer's.
    """

    short = "pg"

    def __init__(self, spec: PgSpec, workdir: Path, pki: Pki, *, ns: Namespace | None = None,
                 index: int | None = None, reader_index: int | None = None) -> None:
        super().__init__(where(ns, index, "PgServer"), workdir, ns_short=spec.short)
        self.spec, self.pki = spec, pki
        self.writer = PgInstance(spec, spec.name, self.ns, workdir / "writer", pki)
        self.reader: PgInstance | None = None
        self._reader_index = reader_index or self.ns.index + 1
        self._reader_ns_up = False

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def port(self) -> int:
        return self.spec.port

    def conninfo(self, which: str = "writer", *, sslmode: str | None = None,
                 dbname: str | None = None, sslrootcert: Path | None = None) -> str:
        return self.writer.conninfo(which, sslmode=sslmode, dbname=dbname,
                                    sslrootcert=sslrootcert)

    def _start(self) -> None:
        self._start_writer()
        if self.spec.replica or self.spec.reader_primary:
            self._start_reader()

    def _stop(self) -> None:
        """Both servers by PID (fast shutdown), the reader's namespace with it."""
        if self.reader:
            self.reader.stop()
            if self._reader_ns_up:
                self.reader.ns.destroy()
                self._reader_ns_up = False
        self.writer.stop()

    def pids(self) -> list[int]:
        return [i.pid for i in (self.writer, self.reader) if i is not None and i.pid]

    def owned_namespaces(self) -> list[Namespace]:
        return super().owned_namespaces() + ([self.reader.ns] if self._reader_ns_up and
                                             self.reader else [])

    def _start_writer(self) -> None:
        w = self.writer
        w.prepare_folder()
        w.initdb()
        w.configure()
        w.start()
        w.create_roles()

    def _start_reader(self) -> None:
        rns = create_fresh(Namespace(f"{self.spec.short}-r", self._reader_index))
        self.reader = r = PgInstance(self.spec, self.spec.reader_name, rns,
                                     self.workdir / "reader", self.pki)
        self._reader_ns_up = True
        r.prepare_folder()
        if self.spec.reader_primary:
            r.initdb()
        else:
            self._base_backup(r)
        r.configure()
        r.start()
        if self.spec.reader_primary:
            r.create_roles()

    def _base_backup(self, r: PgInstance) -> None:
        """Seed the replica's data folder from the writer and point it at the writer.

        ``pg_basebackup -R`` where this major ships it (Debian's 15). The npm builds of 17/18
        ship only initdb/pg_ctl/postgres, and pg_basebackup refuses newer servers, so for them
        we do what it does: a slot, pg_backup_start, a file copy, pg_backup_stop's label.
        """
        w = self.writer
        with w.admin() as conn:
            conn.execute("SELECT pg_create_physical_replication_slot('rs_reader', true)")
        rep = self.spec.replicator
        primary = make_conninfo(hostaddr=w.ipv4, host=w.name, port=w.port, user=rep.name,
                                password=rep.password, sslmode="prefer",
                                application_name="rs_reader")
        tool = bindir(self.spec.version) / "pg_basebackup"
        if tool.exists():
            _as_postgres([str(tool), "-d", primary, "-D", str(r.datadir), "-R", "-X", "stream",
                          "-S", "rs_reader", "-c", "fast", "--no-sync"], timeout=120)
            return
        with w.admin() as conn:
            conn.execute("SELECT pg_backup_start('rs-lab reader', true)")
            shutil.copytree(w.datadir, r.datadir, symlinks=True, ignore=_backup_ignore)
            label, spcmap = conn.execute(
                "SELECT labelfile, spcmapfile FROM pg_backup_stop(false)").fetchone() or ("", "")
        _write_owned(r.datadir / "backup_label", str(label))
        if spcmap:
            _write_owned(r.datadir / "tablespace_map", str(spcmap))
        _write_owned(r.datadir / "standby.signal", "")
        with open(r.datadir / "postgresql.auto.conf", "a") as auto:
            esc = primary.replace("'", "''")
            auto.write(f"primary_conninfo = '{esc}'\nprimary_slot_name = 'rs_reader'\n")
        sh(["chown", "-R", "postgres:postgres", str(r.datadir)])


def _as_postgres(argv: list[str], timeout: float = 60) -> None:
    env = {**os.environ, "HOME": "/nonexistent"}  # not root's ~/.postgresql (unreadable)
    proc = subprocess.run([*RUN_AS, *argv], capture_output=True, text=True, timeout=timeout,
                          env=env)
    if proc.returncode != 0:
        raise LabError(f"{argv[0]} exited {proc.returncode}: {proc.stderr.strip()[-2000:]}")


def _write_owned(path: Path, text: str) -> None:
    path.write_text(text)
    shutil.chown(path, "postgres", "postgres")
    path.chmod(0o600)


def _backup_ignore(folder: str, names: list[str]) -> set[str]:
    """What pg_basebackup leaves out (protocol docs, "Base backup"): pid, opts, WAL, slots."""
    skip = {"postmaster.pid", "postmaster.opts", "backup_label", "tablespace_map"}
    if os.path.basename(folder) in ("pg_wal", "pg_replslot", "pg_stat_tmp"):
        return {n for n in names if n != "archive_status"}
    return skip & set(names)
