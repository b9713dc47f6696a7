"""The JSON Schema of a site description (``rs-preflight schema`` prints it).

One schema serves validation (jsonschema) and editors (YAML language servers read it): every
key has a description (``schema_docs.py``). Dates are accepted as YAML dates: a plain YAML
loader (PyYAML) turns ``expires: 2027-03-31`` into a date, not a string, so ``expires`` accepts
any value that is not a number, boolean, null, list or mapping, and a string only in the
``date`` format.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from rs_preflight.spec.backends import BACKEND_ROLES
from rs_preflight.spec.catalogue import Catalogue
from rs_preflight.spec.schema_docs import describe

PHASES = ["pre", "post"]
PROFILES = ["pilot", "small", "medium", "large"]
CONNECTIONS = ["ssh", "local", "docker", "ansible"]
HOST_KEY_POLICIES = ["strict", "accept-new", "insecure"]
SCHEMA_ID = "https://rs-preflight.dev/schema/site-1.json"  # stable: -2 when it breaks
SCHEMA_FILE = "rs-preflight.schema.json"  # `rs-preflight schema > rs-preflight.schema.json`


def _obj(props: dict[str, Any], required: list[str] | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"type": "object", "properties": props, "additionalProperties": False}
    if required:
        out["required"] = required
    out.update(extra)
    return out


STR: dict[str, Any] = {"type": "string", "minLength": 1}
STR_LIST: dict[str, Any] = {"type": "array", "items": STR}
# finite and below a bound: ``.inf`` or 10**400 seconds would pass ``float()`` or break it
POS_NUM: dict[str, Any] = {"type": "number", "exclusiveMinimum": 0, "maximum": 1e9}
PORT: dict[str, Any] = {"type": "integer", "minimum": 1, "maximum": 65535}
NULLABLE_STR: dict[str, Any] = {"type": ["string", "null"]}
# A YAML date: a string in the date format (editors, our own loader) or whatever a plain YAML
# loader builds for 2027-03-31 (a date object: none of JSON's other types).
DATE: dict[str, Any] = {"format": "date",
                        "not": {"type": ["number", "boolean", "null", "array", "object"]}}


def site_schema(catalogue: Catalogue) -> dict[str, Any]:
    """The schema, with the catalogue's roles and requirement IDs as enumerations."""
    roles = {"type": "array", "items": {"enum": list(catalogue.roles)}, "minItems": 1}
    ssh = _obj({
        "user": STR, "port": PORT, "identity_file": NULLABLE_STR, "known_hosts": NULLABLE_STR,
        "jump_host": NULLABLE_STR, "config": NULLABLE_STR, "sudo": {"type": "boolean"},
        "connect_timeout": POS_NUM, "command_timeout": POS_NUM,
        "host_key_policy": {"enum": HOST_KEY_POLICIES},
        "password_env": STR, "password_file": STR,
    })
    host = _obj({
        "address": STR, "roles": roles,
        "ssh": {"type": "boolean"}, "connection": {"enum": CONNECTIONS},
        "port": PORT, "user": STR, "container": STR,
        "identity_file": STR, "jump_host": STR, "fqdn": STR,
        "names": {"type": "array", "items": STR, "uniqueItems": True},
    }, required=["roles"])
    # an address that moves between the hosts of its pair (keepalived, pacemaker: "shared IP")
    floating = _obj({"address": STR, "name": STR,
                     "hosts": {"type": "array", "items": STR, "minItems": 2,
                               "uniqueItems": True}}, required=["address", "hosts"])
    waiver = _obj({
        "requirement": {"enum": sorted(catalogue)},
        "hosts": STR_LIST, "reason": STR,
        "expires": DATE,
        "by": STR,
    }, required=["requirement", "reason", "expires"])
    # per role: the port and protocol the load balancer uses toward its backends
    backend = _obj({"port": PORT, "tls": {"type": ["boolean", "null"]}}, required=["port"])
    env_file = {"oneOf": [STR, _obj({"path": STR, "roles": roles}, required=["path"])]}
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "rs-preflight site description",
        **_obj({
            "name": STR,
            "profile": {"enum": list(catalogue.profiles) or PROFILES},
            "phase": {"enum": PHASES},
            "domain": STR,
            "env_files": {"type": "array", "items": env_file},
            "settings": {"type": "object", "additionalProperties": {
                "type": ["string", "number", "boolean"]},
                "propertyNames": {"pattern": "^[A-Z][A-Z0-9_]*(_env|_file)?$"}},
            "inventory": STR,
            "ssh": ssh,
            "hosts": {"type": "object", "additionalProperties": host,
                      "propertyNames": {"pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"}},
            "floating_addresses": {"type": "object", "additionalProperties": floating,
                                   "propertyNames": {"pattern": "^[A-Za-z0-9][A-Za-z0-9_.-]*$"}},
            "load_balancer": _obj({"addresses": STR_LIST, "backend_port": PORT,
                                   "backends": _obj({r: copy.deepcopy(backend)  # described apart
                                                      for r in BACKEND_ROLES})}),
            "dns": _obj({"resolvers": STR_LIST, "timeout": POS_NUM}),
            "tls": _obj({"ca_bundle": STR, "warn_days": {"type": "integer", "minimum": 0,
                                                      "maximum": 36500},
                         "port": PORT}),
            "time": _obj({"max_skew_ms": POS_NUM}),
            "storage": _obj({"path": STR}),
            "waivers": {"type": "array", "items": waiver},
        }, required=["name"]),
    }
    return describe(json.loads(json.dumps(schema)))  # a copy: the parts above are shared
