"""The description of every key of the site schema (editors show them on hover and completion).

Kept apart from the schema's structure (``schema.py``) and attached by path: ``ssh.user``,
``hosts.*.roles`` (any host), ``waivers[].expires`` (any waiver). ``tests/test_schema.py``
fails when a key has no description, so a new key cannot ship without one.
"""

from __future__ import annotations

from typing import Any

DESCRIPTIONS: dict[str, str] = {
    "": "An R-Service site for rs-preflight: its hosts and roles, R-Service's own .env files, "
        "and what the checks need to reach the rest (load balancer, DNS, TLS, time, storage).",
    "name": "The site's name, shown in every report.",
    "profile": "The sizing profile of the admin guide (§8): pilot, small, medium or large. "
               "Decides CPU, memory, disk and host-count requirements. Default small.",
    "phase": "pre: before installation (ports must be free, active probes allowed); post: an "
             "installed system (read-only). --phase on the command line wins. Default pre.",
    "domain": "The site's DNS domain: the hosts' fqdn and the floating addresses' names "
              "should be under it (a name outside is a warning). For R-Service it is "
              "ITRP_DOMAIN (short for settings: {ITRP_DOMAIN: ...}; a .env file may set it).",
    "env_files": "R-Service's own settings files. .env is read by every role, .env.web by app, "
                 ".env.job by job, .env.realtime by realtime; paths relative to this file.",
    "env_files[]": "A .env file: a path (roles from its name), or {path, roles}.",
    "env_files[].path": "The .env file, relative to this site file.",
    "env_files[].roles": "The roles whose hosts read this file.",
    "settings": "R-Service variables set here; they override the .env files. Secrets only by "
                "reference: NAME_env (an environment variable) or NAME_file (a file).",
    "settings.*": "The value of one R-Service variable (NAME_env / NAME_file: where a secret "
                  "is read from).",
    "inventory": "An Ansible inventory (INI or YAML) to read hosts from: groups named like "
                 "roles become roles; ansible_host/port/user, ansible_ssh_private_key_file and "
                 "-J in ansible_ssh_common_args are used. Needs rs-preflight[ansible].",
    "ssh": "How hosts are reached over SSH. What is not set here comes from ~/.ssh/config "
           "(or ssh.config), then the defaults.",
    "ssh.user": "Login user for every host (a host's own user: wins). Default: ssh_config's "
                "User, else the current user.",
    "ssh.port": "SSH port for every host. Default: ssh_config's Port, else 22.",
    "ssh.identity_file": "Private key file (relative to this file or ~). Default: "
                         "ssh_config's IdentityFile, else the SSH agent and ~/.ssh keys.",
    "ssh.known_hosts": "known_hosts file host keys are verified against. Default: "
                       "ssh_config's UserKnownHostsFile, else ~/.ssh/known_hosts.",
    "ssh.jump_host": "Jump host(s) for every host: [user@]host[:port], comma-separated for "
                     "several hops (an ssh_config alias works). Default: ssh_config's "
                     "ProxyJump.",
    "ssh.config": "An ssh_config file to read (HostName, User, Port, IdentityFile, ProxyJump, "
                  "UserKnownHostsFile). Default: ~/.ssh/config if it exists.",
    "ssh.sudo": "Run the remote fact commands through sudo (non-interactive). Default false.",
    "ssh.connect_timeout": "Seconds to connect and log in; an unreachable host costs this "
                           "once. Default 5.",
    "ssh.command_timeout": "Seconds any remote command may run before it is ended. Default 30.",
    "ssh.host_key_policy": "strict (default): unknown or changed host keys are refused; "
                           "accept-new: unknown keys are trusted, changed ones never; "
                           "insecure: anything (both warn loudly).",
    "ssh.password_env": "Environment variable holding the SSH password (never written here).",
    "ssh.password_file": "File holding the SSH password (never written here).",
    "hosts": "The site's hosts by name. A name without address: is looked up as an "
             "ssh_config alias, else used as the address.",
    "hosts.*": "One host: its roles and how it is reached.",
    "hosts.*.address": "IP address or name to connect to (default: the host's name).",
    "hosts.*.roles": "What runs on the host: roles of the catalogue (app, job, realtime, "
                     "search, db, lb, deploy).",
    "hosts.*.ssh": "false: the host is checked over the network only (no login).",
    "hosts.*.connection": "How facts are gathered: ssh (default), local (this machine), docker "
                          "(a container), ansible (Ansible's connection).",
    "hosts.*.port": "SSH port of this host (wins over ssh.port and ssh_config).",
    "hosts.*.user": "Login user on this host (wins over ssh.user and ssh_config).",
    "hosts.*.container": "The container to check (connection: docker; default the host name).",
    "hosts.*.identity_file": "Private key for this host (wins over ssh.identity_file).",
    "hosts.*.jump_host": "Jump host(s) for this host: [user@]host[:port][,...]; none: direct.",
    "hosts.*.fqdn": "The host's own DNS name (e.g. couch1.db.example.com): it should resolve "
                    "to the host's address and back. Two hosts with one name are an error; a "
                    "name outside the site's domain a warning.",
    "floating_addresses": "Addresses that move between the hosts of a pair (a \"shared\" or "
                          "virtual IP: keepalived, pacemaker), by a label of your choice.",
    "floating_addresses.*": "One floating address: the address, the hosts that may hold it, "
                            "and its DNS name.",
    "floating_addresses.*.address": "The floating IP address (IPv4 or IPv6). It must be none "
                                    "of the hosts' own addresses.",
    "floating_addresses.*.hosts": "The hosts that share it (at least two, usually a pair); "
                                  "exactly one of them should hold it at a time.",
    "floating_addresses.*.name": "The DNS name that points at the floating address (e.g. "
                                 "pbx.example.com).",
    "hosts.*.names": "DNS names this host serves (virtual hosts, reverse-proxy routes such as "
                     "Traefik's Host rules, a web panel's name): each should resolve to the "
                     "host's address and serve a certificate valid for it; HTTP requests to "
                     "the host carry the first one as Host and SNI.",
    "load_balancer": "The load balancer in front of the app and realtime hosts.",
    "load_balancer.addresses": "The load balancer's addresses: every R-Service name must "
                               "resolve to these; TLS and headers are probed here.",
    "load_balancer.backend_port": "One port the load balancer forwards to on every app and "
                                  "realtime host, protocol found out (older sites; "
                                  "load_balancer.backends says it per role).",
    "load_balancer.backends": "Per role, the port and protocol the load balancer uses toward "
                              "the backends. Not said: app 443 or 80, realtime 443, and the "
                              "protocol are found out (network matrix, App. 2).",
    "load_balancer.backends.app": "How the load balancer reaches the app hosts (R-Service's "
                                  "nginx): 443 with TLS, or 80 with TLS ended at the LB.",
    "load_balancer.backends.realtime": "How the load balancer reaches the realtime hosts "
                                       "(faye): port and protocol.",
    "load_balancer.backends.app.port": "The app hosts' port the load balancer forwards to.",
    "load_balancer.backends.app.tls": "true: HTTPS to the app hosts; false: plain HTTP; null: "
                                      "found out. Left out: true on 443, false elsewhere.",
    "load_balancer.backends.realtime.port": "The realtime hosts' port the load balancer "
                                            "forwards to.",
    "load_balancer.backends.realtime.tls": "true: HTTPS to the realtime hosts; false: plain "
                                           "HTTP; null: found out. Left out: true on 443, "
                                           "false elsewhere.",
    "dns": "Name service: names are resolved here, never with this machine's resolver.",
    "dns.resolvers": "The site's DNS resolvers (addresses).",
    "dns.timeout": "Seconds per DNS query. Default 3.",
    "tls": "Certificate checks.",
    "tls.ca_bundle": "PEM file of the CA(s) the site's certificates chain to (relative to this "
                     "file). Default: the system store.",
    "tls.warn_days": "A certificate expiring within this many days is a warning. Default 30.",
    "tls.port": "HTTPS port of the load balancer. Default 443.",
    "time": "Clock checks.",
    "time.max_skew_ms": "Largest clock difference allowed between hosts and this machine, "
                        "in milliseconds. Default 500.",
    "storage": "The shared folder of the app and job hosts.",
    "storage.path": "Where the network filesystem is mounted on every app and job host.",
    "waivers": "Accepted failures: each names a requirement, optionally hosts, why, until when "
               "and by whom. An expired waiver waives nothing and says so.",
    "waivers[]": "One waiver.",
    "waivers[].requirement": "The requirement ID waived (see rs-preflight requirements).",
    "waivers[].hosts": "The hosts it covers (default: every host).",
    "waivers[].reason": "Why the failure is accepted (shown in every report).",
    "waivers[].expires": "The last day the waiver applies (YYYY-MM-DD).",
    "waivers[].by": "Who accepted it.",
}


def _child(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def describe(schema: dict[str, Any], path: str = "") -> dict[str, Any]:
    """Add ``description`` to ``schema`` and every subschema that has one in DESCRIPTIONS."""
    if path in DESCRIPTIONS and "description" not in schema:
        schema["description"] = DESCRIPTIONS[path]
    for key, sub in schema.get("properties", {}).items():
        describe(sub, _child(path, key))
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        describe(extra, _child(path, "*"))
    items = schema.get("items")
    if isinstance(items, dict):
        describe(items, f"{path}[]")
    for sub in schema.get("oneOf", []) + schema.get("anyOf", []):
        if isinstance(sub, dict) and sub.get("type") == "object":
            for key, prop in sub.get("properties", {}).items():
                describe(prop, f"{path}.{key}")
    return schema
