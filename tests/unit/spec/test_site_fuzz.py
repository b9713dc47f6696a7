"""Property-based fuzzing (Hypothesis) of the site loader and the .env parser.

Whatever the input — random bytes, random YAML built from the schema's own keys with hostile
values, random .env lines — loading gives a ``Site`` or a ``SiteError`` with located problems
(what ``rs-preflight`` reports with exit code 4), within bounded time and memory: never another
exception. Deterministic (``derandomize``, no example database) and without Hypothesis'
per-example deadline, so CI neither flakes nor slows down; the bounds below are safety limits.
"""

from __future__ import annotations

import os
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rs_preflight.spec.catalogue import load_catalogue
from rs_preflight.spec.envfile import parse_env_file
from rs_preflight.spec.errors import SiteError
from rs_preflight.spec.schema import site_schema
from rs_preflight.spec.site import Site, load_site

CATALOGUE = load_catalogue()
SCHEMA = site_schema(CATALOGUE)
DUMPER = getattr(yaml, "CSafeDumper", yaml.SafeDumper)
FUZZ = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
SECONDS_PER_EXAMPLE = 5.0   # safety bound (a hang or a blow-up, not a speed claim)
PEAK_MB = 100               # memory one load may allocate at its peak (safety bound)

HOSTILE = ["'", '"', ";", "$(touch /tmp/rs-fuzz-pwned)", "`id`", "\\", "\n", "\x00", "é",
           "\u202e", "*", "&a", "!!python/object:os.system", "{", "[", "#", ": ", "- ", "%"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A folder with the files fuzzed paths may point at: good, empty, a FIFO, a directory."""
    folder = tmp_path_factory.mktemp("fuzz")
    (folder / "good.env").write_text("ITRP_DOMAIN=rs.example.com\nDB_PASSWORD=x1y2z3w4v5\n")
    (folder / "empty").write_text("")
    (folder / "bad-utf8").write_bytes(b"A=\xff\xfe\n")
    (folder / "subdir").mkdir()
    os.mkfifo(folder / "fifo")
    yield folder


def _paths(folder: Path) -> st.SearchStrategy[str]:
    return st.sampled_from([str(folder / n) for n in ("good.env", "empty", "bad-utf8",
                                                      "subdir", "fifo", "missing")]
                           + ["/dev/zero", "/dev/null", "relative.env", "~/nope", ""])


def _joined(pieces: list[str], max_size: int) -> st.SearchStrategy[str]:
    """Text made of whole pieces (a hostile fragment is one piece)."""
    return st.lists(st.sampled_from(pieces), max_size=max_size).map("".join)


def _scalars(folder: Path) -> st.SearchStrategy[Any]:
    text = _joined([*HOSTILE, "a", "1", ".", "-", ":", "@", " "], 12)
    return st.one_of(
        st.none(), st.booleans(), st.integers(), st.integers(-(10 ** 400), 10 ** 400),
        st.floats(), text, st.text(max_size=20), _paths(folder),
        st.sampled_from(["192.0.2.1", "fd00::1", "app1.example.com", "256.1.1.1", "-bad-",
                         "root@jump:22", "jump:0", "jump:99999", "[fd00::1]:2222", "a b",
                         "2027-03-31", "2027-02-30", "RS-OS-01", "app", "strict", "ssh"]))


def _from_schema(schema: dict[str, Any], folder: Path) -> st.SearchStrategy[Any]:
    """Values shaped like ``schema`` most of the time, anything some of the time."""
    options: list[st.SearchStrategy[Any]] = [_scalars(folder)]
    if "enum" in schema:
        options.append(st.sampled_from(schema["enum"]))
    props = schema.get("properties")
    if props:
        options.append(st.fixed_dictionaries(
            {}, optional={k: _from_schema(v, folder) for k, v in props.items()}))
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        keys = st.sampled_from(["app1", "db1", "ITRP_DOMAIN", "X_env", "A_file", "-x", "a b"])
        options.append(st.dictionaries(keys, _from_schema(extra, folder), max_size=3))
    if isinstance(schema.get("items"), dict):
        options.append(st.lists(_from_schema(schema["items"], folder), max_size=3))
    for alternative in schema.get("oneOf", ()):
        options.append(_from_schema(alternative, folder))
    return st.one_of(options)


def _load(path: Path) -> Site | SiteError:
    """Load ``path``: a Site or a SiteError with located problems, in bounded time and memory
    (tracemalloc's peak: Hypothesis' own one-time work must not count)."""
    tracemalloc.start()
    begun = time.monotonic()
    try:
        result: Site | SiteError = load_site(path, catalogue=CATALOGUE)
    except SiteError as exc:
        assert exc.problems, "a SiteError without problems"
        for problem in exc.problems:
            assert problem.file and problem.message and str(problem).startswith(problem.file)
        result = exc
    finally:
        elapsed = time.monotonic() - begun
        peak_mb = tracemalloc.get_traced_memory()[1] / 2**20
        tracemalloc.stop()
    assert elapsed < SECONDS_PER_EXAMPLE
    assert peak_mb < PEAK_MB, f"loading took {peak_mb:.0f} MB"
    return result


@settings(FUZZ, max_examples=60)  # each example draws a whole document
@given(data=st.data())
def test_site_built_from_the_schema_keys(data: st.DataObject, corpus: Path) -> None:
    doc = data.draw(_from_schema(SCHEMA, corpus))
    site = corpus / "site.yaml"
    site.write_text(yaml.dump(doc, Dumper=DUMPER, allow_unicode=True), encoding="utf-8")
    _load(site)


@FUZZ
@given(raw=st.binary(max_size=2048))
def test_site_from_random_bytes(raw: bytes, corpus: Path) -> None:
    site = corpus / "random.yaml"
    site.write_bytes(raw)
    assert isinstance(_load(site), SiteError)  # random bytes are never a site


YAMLISH = _joined([*HOSTILE, "name", "hosts", "roles", "app", "&x", "*x",
                                   "<<", "?", "!!int", "!!binary", "|", ">", "~", "2027-01-01",
                                   "  ", "\t", "[]", "{}", ",", "0x1F", ".inf", "a"], 60)


@FUZZ
@given(text=YAMLISH)
def test_site_from_yamlish_text(text: str, corpus: Path) -> None:
    site = corpus / "yamlish.yaml"
    site.write_text(text, encoding="utf-8")
    _load(site)


ENV_NAMES = st.sampled_from(["ITRP_DOMAIN", "DB_WRITER_PASSWORD", "export ITRP_SSL", "1BAD",
                             "", " X", "A-B", "ELASTICSEARCH_URLS", "CLACKS_MAILBOX"])
ENV_VALUES = _joined([*HOSTILE, "a", "=", " ", "'x'", '"x"', "\r", "${A}", "https://u:p@h/"],
                     12)
ENV_LINES = st.one_of(st.builds(lambda n, s, v: f"{n}{s}{v}", ENV_NAMES,
                                st.sampled_from(["=", " = ", ":", "", "=\"", "='"]), ENV_VALUES),
                      st.text(max_size=30))


@FUZZ
@given(lines=st.lists(ENV_LINES, max_size=12), newline=st.sampled_from(["\n", "\r\n", "\r"]),
       raw=st.one_of(st.none(), st.binary(max_size=200)))
def test_env_file_parser_and_site(lines: list[str], newline: str, raw: bytes | None,
                                  corpus: Path) -> None:
    env = corpus / ".env"
    if raw is None:
        env.write_text(newline.join(lines), encoding="utf-8", newline="")
    else:
        env.write_bytes(raw)
    values, problems = parse_env_file(env)
    assert all(p.file == str(env) and p.line >= 0 for p in problems)
    assert all(v.origin.startswith(f"{env}:") for v in values.values())
    site = corpus / "env-site.yaml"
    site.write_text("name: fuzz\nenv_files: [.env]\n"
                    "hosts: {app1: {address: 192.0.2.1, roles: [app], ssh: false}}\n")
    result = _load(site)
    if problems:
        assert isinstance(result, SiteError)
