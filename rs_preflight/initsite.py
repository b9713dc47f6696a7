"""``rs-preflight init``: start a site description from what an installation already has.

    rs-preflight init [--from-env DIR] [--inventory FILE] [-o FILE|-] [--force]

``--from-env DIR`` lists R-Service's own ``.env`` files found in DIR (``.env``, ``.env.web``,
``.env.job``, ``.env.realtime``) under ``env_files:`` and names the site after their
``ITRP_DOMAIN``; ``--inventory FILE`` takes the hosts from an Ansible inventory; without one,
the site starts with this machine as its deploy host and commented examples of the others.
Every key is commented. Paths are written relative to the new file's folder (that is how the
site resolves them). The file written is validated at once: exit 0 valid, 4 when it is not
(the problems are listed: usually a line of a .env file) or on a usage error.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from rs_preflight.cliutil import USAGE_ERROR, UsageParser, subcommand_parser
from rs_preflight.spec.catalogue import Catalogue
from rs_preflight.spec.envfile import FILE_ROLES, parse_env_file
from rs_preflight.spec.errors import SiteError
from rs_preflight.spec.schema import SCHEMA_FILE
from rs_preflight.spec.sitefind import DEFAULT_NAMES

HEADER = """\
# yaml-language-server: $schema={schema}
# (editors: write that file once with `rs-preflight schema > {schema}`)
# The rs-preflight site description of {name}, started by `rs-preflight init` on {date}
# from {sources}.
# Every key: `rs-preflight schema`, README "The site description".
# Check the site: rs-preflight --site {file}
"""
HOSTS_EXAMPLE = """\
hosts:                      # every host and its roles (app, job, realtime, search, db, lb, deploy)
  # app1: {{address: 192.0.2.11, roles: [app]}}
  # job1: {{address: 192.0.2.21, roles: [job, search]}}
  # rt1:  {{address: 192.0.2.31, roles: [realtime]}}
  # db1:  {{address: 192.0.2.41, roles: [db], ssh: false}}   # checked over the network only
  {here}: {{connection: local, roles: [deploy]}}   # this machine, where rs-preflight runs
"""
REST = """\
ssh:                        # how hosts are reached (also ~/.ssh/config: HostName, User, Port,
  host_key_policy: strict   # IdentityFile, ProxyJump); strict | accept-new | insecure
  # user: admin
  # identity_file: ~/.ssh/id_ed25519
  # known_hosts: ~/.ssh/known_hosts
  # config: ~/.ssh/config   # an ssh_config file of its own
  # jump_host: admin@bastion.example.com
# load_balancer: {addresses: [192.0.2.10]}   # the addresses the site's names resolve to
# dns: {resolvers: [192.0.2.53]}              # names are resolved here, never by this machine
# tls: {ca_bundle: corp-ca.pem, warn_days: 30}
# time: {max_skew_ms: 500}
# storage: {path: /mnt/rs-share}              # the shared folder of the app and job hosts
# waivers:
#   - {requirement: RS-OS-02, hosts: [job1], reason: "agent required by policy",
#      expires: 2027-03-31, by: secops}
"""


def _q(value: str) -> str:
    """A YAML scalar that reads back as the same string (JSON strings are valid YAML)."""
    return json.dumps(value)


def _rel(path: Path, folder: Path) -> str:
    """Relative to the site's folder when inside it (a folder moved as a whole still works),
    else absolute."""
    path, folder = path.resolve(), folder.resolve()
    return str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path)


def env_files_in(folder: Path) -> list[Path]:
    """R-Service's own settings files in ``folder``, in the guide's order."""
    return [folder / name for name in FILE_ROLES if (folder / name).is_file()]


def _domain(files: Sequence[Path]) -> str | None:
    for path in files:
        values, _ = parse_env_file(path)
        if "ITRP_DOMAIN" in values and values["ITRP_DOMAIN"].value:
            return values["ITRP_DOMAIN"].value
    return None


def render_site(out_folder: Path, out_name: str, env_dir: Path | None,
                inventory: Path | None, here: str, today: dt.date) -> str:
    """The commented site file (pure but for reading the .env files for ITRP_DOMAIN)."""
    files = env_files_in(env_dir) if env_dir else []
    name = _domain(files) or (env_dir.resolve().name if env_dir else here)
    sources = " and ".join(s for s in (
        f"the .env files in {env_dir}" if env_dir else "",
        f"the inventory {inventory}" if inventory else "") if s) or "nothing (a skeleton)"
    out = [HEADER.format(schema=SCHEMA_FILE, name=name, date=today.isoformat(),
                         sources=sources, file=out_name)]
    out.append(f"name: {_q(name)}\n")
    out.append("profile: small              # pilot | small | medium | large (sizing, guide §8)\n")
    out.append("phase: pre                  # pre: before installation | post: installed\n")
    if files:
        out.append("env_files:                  # .env: every role; .env.web: app; .env.job: "
                   "job; .env.realtime: realtime\n")
        out += [f"  - {_q(_rel(f, out_folder))}\n" for f in files]
    elif env_dir:
        out.append(f"# env_files: []            # no .env files were found in {env_dir}\n")
    if inventory:
        out.append(f"inventory: {_q(_rel(inventory, out_folder))}   # groups named like roles "
                   "become roles (needs rs-preflight[ansible])\n")
        out.append("# hosts:                    # more hosts, or overrides of the inventory's\n")
    else:
        out.append(HOSTS_EXAMPLE.format(here=here))
    out.append(REST)
    return "".join(out)


def _parser() -> UsageParser:
    parser = subcommand_parser(
        "init", "Write a commented site description from an installation's .env files "
        "and/or an Ansible inventory. The roles come from --rs-catalogue's.",
        epilog="exit codes: 0 written and valid, 4 usage error, or written but not valid "
               "(the problems are listed)")
    parser.add_argument("--from-env", type=Path, metavar="DIR",
                        help="folder with R-Service's .env, .env.web, .env.job, .env.realtime")
    parser.add_argument("--inventory", type=Path, metavar="FILE",
                        help="an Ansible inventory (INI or YAML): its hosts and groups")
    parser.add_argument("-o", "--output", default=DEFAULT_NAMES[0], metavar="FILE",
                        help=f"where to write (default ./{DEFAULT_NAMES[0]}, where a run finds "
                             "it; - prints it)")
    parser.add_argument("--force", action="store_true", help="overwrite an existing file")
    return parser


def main(argv: Sequence[str]) -> int:
    from rs_preflight.spec.site import load_site

    parser = _parser()
    args = parser.parse_args(argv)
    for given, kind in ((args.from_env, "--from-env"), (args.inventory, "--inventory")):
        if given is not None and not given.exists():
            print(f"rs-preflight init: {kind} {given}: not found", file=sys.stderr)
            return USAGE_ERROR
    if args.from_env is not None and not args.from_env.is_dir():
        print(f"rs-preflight init: --from-env {args.from_env}: not a folder", file=sys.stderr)
        return USAGE_ERROR
    here = (os.uname().nodename.split(".")[0] or "deploy").lower()
    if args.output == "-":
        print(render_site(Path.cwd(), "FILE", args.from_env, args.inventory, here,
                          dt.date.today()), end="")
        return 0
    out = Path(args.output)
    if out.exists() and not args.force:
        print(f"rs-preflight init: {out} exists (--force overwrites it)", file=sys.stderr)
        return USAGE_ERROR
    text = render_site(out.resolve().parent, str(out), args.from_env, args.inventory, here,
                       dt.date.today())
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text, encoding="utf-8")
    try:
        load_site(out, catalogue=_catalogue(args.rs_catalogue))
    except SiteError as exc:
        print(f"rs-preflight init: wrote {out}, but it is not valid yet:\n{exc}",
              file=sys.stderr)
        return USAGE_ERROR
    print(f"rs-preflight init: wrote {out}; check the site with: rs-preflight --site {out}")
    return 0


def _catalogue(paths: list[Path] | None) -> Catalogue:
    from rs_preflight.commands import catalogue_from
    return catalogue_from(paths)
