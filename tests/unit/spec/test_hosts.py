"""How other systems name a site host (a replication URL's host, a RabbitMQ node's host part):
by its name, address, fqdn or names, normalised, and the first label of a DNS name."""

from __future__ import annotations

from rs_preflight.spec.hosts import Host, host_called, spellings

COUCH2 = Host("couch2", "FD75:9FAC:A7B1:0092:006C:0:0:0902", ("db",),
              fqdn="couch2.db.rcsnet.ru.", names=("replica.rcsnet.ru",))
OTHER = Host("kazoo1", "192.0.2.81", ("app",))


def test_every_spelling_of_a_host_names_it() -> None:
    for word in ("couch2", "COUCH2", "couch2.db.rcsnet.ru", "fd75:9fac:a7b1:92:6c::902",
                 "[fd75:9fac:a7b1:92:6c::902]", "replica", "replica.rcsnet.ru."):
        assert host_called(word, [OTHER, COUCH2]) is COUCH2, word
    assert host_called("192.0.2.81", [OTHER, COUCH2]) is OTHER


def test_a_word_naming_no_host_names_none_and_addresses_are_not_cut() -> None:
    assert host_called("couch3", [OTHER, COUCH2]) is None
    assert host_called("localhost", [OTHER, COUCH2]) is None
    assert "192" not in spellings(OTHER) and "192.0.2.81" in spellings(OTHER)
