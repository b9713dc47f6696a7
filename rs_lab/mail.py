"""Postfix 3.7 + Dovecot 2.3 in one lab namespace: the site's SMTP and IMAP server.

Our own instances with config under the work folder (``postfix -c``, ``dovecot -c``); the
system ones never start. Postfix's virtual(8) delivers into the Maildirs Dovecot serves, so
a mail sent to ``rs+tenant@<domain>`` over SMTP is in the IMAP INBOX of ``rs@<domain>``
with its headers (``To``) untouched.

>>> pki = Pki.create(work / "pki")
>>> with MailServer(MailSpec(), work / "mail", pki, index=lease.take()) as mail:
...     imaplib.IMAP4_SSL(mail.ipv4, 993, ssl_context=ctx)     # server_hostname=mail.name
...     mail.inbound.address, mail.inbound.password             # rs@rs.lab, its password

Ports (lab IPv4 and IPv6 only): IMAP 143 (STARTTLS) and 993 (TLS); SMTP 25 (STARTTLS
optional), 587 (STARTTLS required, then AUTH), 465 (implicit TLS, AUTH). AUTH is offered only
under TLS (``smtpd_tls_auth_only``), mechanisms PLAIN, LOGIN, CRAM-MD5 (Dovecot SASL over
the namespace's loopback). Nothing is relayed: only the lab domains are accepted.
"""

from __future__ import annotations

import contextlib
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from rs_lab.netns import LabError, Namespace, end_pids, wait_port
from rs_lab.pki import Issued, Pki
from rs_lab.service import LabService, where
from rs_lab.workdir import make_traversable

VMAIL_USER = "mail"   # Debian's uid/gid 8 owns the Maildirs (virtual(8) and Dovecot)
SASL_PORT = 12345     # Dovecot auth for Postfix, on the namespace's 127.0.0.1
IMAP_PORTS = (143, 993)
SMTP_PORTS = (25, 587, 465)


@dataclass(frozen=True)
class Account:
    """A virtual mailbox user; ``address`` is also the IMAP and SMTP AUTH login."""

    local: str
    password: str
    domain: str = ""

    @property
    def address(self) -> str:
        return f"{self.local}@{self.domain}"


@dataclass(frozen=True)
class MailSpec:
    """The mail server; each toggle breaks one thing (the requirement it fails in brackets)."""

    domain: str = "rs.lab"
    short: str = "mail"
    inbound_local: str = "rs"        # CLACKS_USERNAME's mailbox: rs@<domain>
    inbound_password: str = "lab-inbound-pw"
    sender_local: str = "noreply"    # the SMTP submission user: noreply@<domain>
    sender_password: str = "lab-sender-pw"
    archive_name: str = "ARCHIVE"
    catch_all: bool = False          # ``@mail.<domain>`` delivers to the inbound mailbox
    archive_folder: bool = True      # False: no ARCHIVE folder [RS-MAIL-03]
    subaddressing: bool = True       # False: no ``recipient_delimiter`` [RS-MAIL-06]
    smtp_auth: bool = True           # False: no AUTH on any port [RS-MAIL-05]
    wrong_password: bool = False     # the server's passwords differ from the ones above [02, 05]
    self_signed: bool = False        # both servers use a self-signed certificate [02, 05]
    inbox_messages: int = 0          # seed INBOX with this many messages [RS-MAIL-04]

    @property
    def name(self) -> str:
        """The server's lab name (what certificates and SNI carry)."""
        return f"{self.short}.{self.domain}"

    @property
    def mail_domain(self) -> str:
        """The catch-all inbound domain (``ITRP_INBOUND_CATCH_ALL``)."""
        return f"mail.{self.domain}"


class MailServer(LabService):
    """Postfix and Dovecot in namespace ``ns`` (borrowed) or in a namespace of their own at
    ``index``, named ``ns_short`` (default ``spec.short``)."""

    short = "mail"

    def __init__(self, spec: MailSpec, workdir: Path, pki: Pki, *, ns: Namespace | None = None,
                 index: int | None = None, ns_short: str | None = None) -> None:
        super().__init__(where(ns, index, "MailServer"), workdir,
                         ns_short=ns_short or spec.short)
        self.spec, self.pki = spec, pki
        self.inbound = Account(spec.inbound_local, spec.inbound_password, spec.domain)
        self.sender = Account(spec.sender_local, spec.sender_password, spec.domain)
        self.cert: Issued | None = None
        self.postfix_dir = workdir / "postfix"
        self.dovecot_dir = workdir / "dovecot"
        self.vmail = workdir / "vmail"
        self._run_dir: Path | None = None

    # -- what clients need ------------------------------------------------------------------
    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def root_path(self) -> Path:
        """The CA file that verifies this server (the lab root, or the self-signed leaf)."""
        if self.spec.self_signed and self.cert:
            return self.cert.cert_path
        return self.pki.root_path

    def maildir(self, account: Account | None = None) -> Path:
        acc = account or self.inbound
        return self.vmail / acc.domain / acc.local / "Maildir"

    # -- life cycle --------------------------------------------------------------------------
    def _start(self) -> None:
        make_traversable(self.workdir)
        self.cert = self.pki.issue(
            f"mail-{self.ns.short}",
            [self.name, f"smtp.{self.spec.domain}", f"imap.{self.spec.domain}",
             self.ipv4, self.ipv6], self_signed=self.spec.self_signed)
        self._mailboxes()
        self._start_dovecot()
        self._start_postfix()

    def _stop(self) -> None:
        """Postfix's master (its PID file) too: ``start-fg`` may have handed over to it."""
        pids = self.pids()
        master = self.workdir / "spool" / "pid" / "master.pid"
        if master.exists():
            with contextlib.suppress(ValueError, IndexError):
                pids.append(int(master.read_text().split()[0]))
        end_pids(pids, grace=5.0)
        if self._run_dir and self._run_dir != self.dovecot_dir / "run":
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None

    # -- mailboxes ---------------------------------------------------------------------------
    def _mailboxes(self) -> None:
        folders = [""] + ([f".{self.spec.archive_name}"] if self.spec.archive_folder else [])
        for acc in (self.inbound, self.sender):
            for folder in folders:
                for sub in ("cur", "new", "tmp"):
                    (self.maildir(acc) / folder / sub).mkdir(parents=True, exist_ok=True)
        for n in range(self.spec.inbox_messages):
            self._seed(n)
        shutil.chown(self.vmail, VMAIL_USER, VMAIL_USER)
        subprocess.run(["chown", "-R", f"{VMAIL_USER}:{VMAIL_USER}", str(self.vmail)],
                       check=True)

    def _seed(self, n: int) -> None:
        msg = EmailMessage()
        msg["From"] = f"seed@{self.spec.domain}"
        msg["To"] = self.inbound.address
        msg["Subject"] = f"seeded message {n}"
        msg["Message-ID"] = make_msgid("seed", self.spec.domain)
        msg.set_content(f"Seeded by the lab ({n}).\n")
        path = self.maildir() / "cur" / f"{int(time.time())}.S{n}.{self.spec.short}:2,S"
        path.write_bytes(msg.as_bytes())

    # -- Dovecot -----------------------------------------------------------------------------
    def _start_dovecot(self) -> None:
        d = self.dovecot_dir
        d.mkdir(exist_ok=True)
        # Dovecot's UNIX sockets live in base_dir; keep its path short (sun_path is 108 bytes).
        run = d / "run"
        if len(str(run)) > 60:
            run = Path(tempfile.mkdtemp(prefix=f"{self.ns.name}-dc-"))
        run.mkdir(exist_ok=True)
        make_traversable(run)
        self._run_dir = run
        (d / "state").mkdir(exist_ok=True)
        (d / "users").write_text("".join(
            f"{a.address}:{{PLAIN}}{_stored(self.spec, a.password)}::::::\n"
            for a in (self.inbound, self.sender)))
        (d / "dovecot.conf").write_text(self._dovecot_conf(run))
        proc = self.popen(["dovecot", "-F", "-c", str(d / "dovecot.conf")], "dovecot.stdout")
        for port in IMAP_PORTS:
            self._wait(proc, port, "dovecot", self.workdir / "dovecot.log")
        # SASL for Postfix listens on the namespace's loopback: wait for it from inside.
        self._wait_inside(proc, SASL_PORT, "dovecot auth")

    def _dovecot_conf(self, run: Path) -> str:
        d = self.dovecot_dir
        assert self.cert is not None
        # Dovecot's parser wants a newline after every "{".
        return f"""\
base_dir = {run}
state_dir = {d / "state"}
instance_name = {self.ns.name}
protocols = imap
listen = {self.ipv4}, {self.ipv6}
log_path = {self.workdir / "dovecot.log"}
ssl = yes
ssl_cert = <{self.cert.chain_path}
ssl_key = <{self.cert.key_path}
ssl_min_protocol = TLSv1.2
disable_plaintext_auth = yes
auth_mechanisms = plain login cram-md5
# No extra 2 s per failed login. Dovecot's per-IP auth penalty (anvil: 2, 4, 8... s after
# repeated failures from one address) stays: smtplib's login() tries every mechanism.
auth_failure_delay = 0
auth_verbose = yes
first_valid_uid = 8
first_valid_gid = 8
mail_location = maildir:~/Maildir
mail_privileged_group =
namespace inbox {{
  inbox = yes
  separator = /
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%Lu {d / "users"}
}}
userdb {{
  driver = static
  args = uid={VMAIL_USER} gid={VMAIL_USER} home={self.vmail}/%Ld/%Ln
}}
service imap-login {{
  inet_listener imap {{
    port = 143
  }}
  inet_listener imaps {{
    port = 993
    ssl = yes
  }}
}}
service auth {{
  inet_listener {{
    address = 127.0.0.1
    port = {SASL_PORT}
  }}
}}
service stats {{
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
"""

    # -- Postfix -----------------------------------------------------------------------------
    def _start_postfix(self) -> None:
        p = self.postfix_dir
        p.mkdir(exist_ok=True)
        data = self.workdir / "postfix-data"
        data.mkdir(exist_ok=True)
        shutil.chown(data, "postfix", "postfix")
        (self.workdir / "spool").mkdir(exist_ok=True)  # postfix-script fills in the queue tree
        (p / "main.cf").write_text(self._main_cf(data))
        (p / "master.cf").write_text(MASTER_CF)
        (p / "vmailbox").write_text(self._vmailbox())
        proc = self.popen(["postfix", "-c", str(p), "start-fg"], "postfix.stdout")
        for port in SMTP_PORTS:
            self._wait(proc, port, "postfix", self.workdir / "postfix.log", check=p)

    def _vmailbox(self) -> str:
        d = self.spec.domain
        lines = [f"{a.address} {d}/{a.local}/Maildir/" for a in (self.inbound, self.sender)]
        if self.spec.catch_all:
            lines.append(f"@{self.spec.mail_domain} {d}/{self.inbound.local}/Maildir/")
        return "\n".join(lines) + "\n"

    def _main_cf(self, data: Path) -> str:
        s = self.spec
        assert self.cert is not None
        domains = s.domain + (f", {s.mail_domain}" if s.catch_all else "")
        return f"""\
compatibility_level = 3.6
queue_directory = {self.workdir / "spool"}
data_directory = {data}
mail_owner = postfix
setgid_group = postdrop
maillog_file_prefixes = {self.workdir}
maillog_file = {self.workdir / "postfix.log"}
myhostname = {s.name}
mydomain = {s.domain}
myorigin = $mydomain
mydestination =
local_recipient_maps =
inet_interfaces = {self.ipv4}, {self.ipv6}, 127.0.0.1
inet_protocols = all
mynetworks = 127.0.0.0/8
relayhost =
default_transport = error:5.7.1 the lab relays nothing
relay_transport = error:5.7.1 the lab relays nothing
relay_domains =
biff = no
smtputf8_enable = no
recipient_delimiter = {"+" if s.subaddressing else ""}
virtual_mailbox_domains = {domains}
virtual_mailbox_maps = texthash:{self.postfix_dir / "vmailbox"}
virtual_mailbox_base = {self.vmail}
virtual_minimum_uid = 8
virtual_uid_maps = static:8
virtual_gid_maps = static:8
smtpd_tls_chain_files = {self.cert.key_path}, {self.cert.chain_path}
smtpd_tls_security_level = may
smtpd_tls_protocols = >=TLSv1.2
smtpd_tls_auth_only = yes
smtpd_sasl_type = dovecot
smtpd_sasl_path = inet:127.0.0.1:{SASL_PORT}
smtpd_sasl_auth_enable = {"yes" if s.smtp_auth else "no"}
smtpd_relay_restrictions = permit_mynetworks, permit_sasl_authenticated, reject_unauth_destination
smtpd_recipient_restrictions = reject_unlisted_recipient
"""

    # -- waiting -----------------------------------------------------------------------------
    def _wait(self, proc: subprocess.Popen[bytes], port: int, what: str, log: Path,
              check: Path | None = None) -> None:
        deadline = time.monotonic() + 30
        while True:  # short waits, so that a daemon that exited is reported at once
            try:
                return wait_port(self.ns, self.ipv4, port, timeout=0.5)
            except LabError as exc:
                if proc.poll() is None and time.monotonic() < deadline:
                    continue
                detail = _tail(log)
                if check is not None:  # postfix prints config errors only to a terminal
                    detail += self.ns.run(["script", "-qec", f"postfix -c {check} check",
                                           "/dev/null"], check=False).stdout
                raise LabError(f"{what} in {self.ns.name} did not open {port} "
                               f"(exit {proc.poll()}): {detail}") from exc

    def _wait_inside(self, proc: subprocess.Popen[bytes], port: int, what: str) -> None:
        probe = (f"import socket,time\nfor _ in range(400):\n try:\n  socket.create_connection("
                 f"('127.0.0.1',{port}),1).close();break\n except OSError: time.sleep(0.05)\n"
                 "else: raise SystemExit(1)\n")
        if self.ns.run(["python3", "-c", probe], check=False, timeout=30).returncode != 0:
            raise LabError(f"{what} in {self.ns.name} not on 127.0.0.1:{port} "
                           f"(exit {proc.poll()})")


def _stored(spec: MailSpec, password: str) -> str:
    """What the server really stores: the spec's password, or another one if broken."""
    return f"{password}-changed" if spec.wrong_password else password


def _tail(log: Path, lines: int = 20) -> str:
    try:
        return "\n".join(log.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {log})"


# Every service unchrooted ("chroot n": our queue is not a chroot jail).
MASTER_CF = """\
25        inet  n       -       n       -       -       smtpd
587       inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/submission
  -o smtpd_tls_security_level=encrypt
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
465       inet  n       -       n       -       -       smtpd
  -o syslog_name=postfix/smtps
  -o smtpd_tls_wrappermode=yes
  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject
pickup    unix  n       -       n       60      1       pickup
cleanup   unix  n       -       n       -       0       cleanup
qmgr      unix  n       -       n       300     1       qmgr
tlsmgr    unix  -       -       n       1000?   1       tlsmgr
rewrite   unix  -       -       n       -       -       trivial-rewrite
bounce    unix  -       -       n       -       0       bounce
defer     unix  -       -       n       -       0       bounce
trace     unix  -       -       n       -       0       bounce
verify    unix  -       -       n       -       1       verify
flush     unix  n       -       n       1000?   0       flush
proxymap  unix  -       -       n       -       -       proxymap
proxywrite unix -       -       n       -       1       proxymap
smtp      unix  -       -       n       -       -       smtp
relay     unix  -       -       n       -       -       smtp
showq     unix  n       -       n       -       -       showq
error     unix  -       -       n       -       -       error
retry     unix  -       -       n       -       -       error
discard   unix  -       -       n       -       -       discard
local     unix  -       n       n       -       -       local
virtual   unix  -       n       n       -       -       virtual
lmtp      unix  -       -       n       -       -       lmtp
anvil     unix  -       -       n       -       1       anvil
scache    unix  -       -       n       -       1       scache
postlog   unix-dgram n  -       n       -       1       postlogd
"""
