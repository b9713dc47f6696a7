"""The RabbitMQ cluster judge (seeds/001's database pair), both ways: one cluster of both
hosts with every node running; a stopped node, two clusters, no API answering."""

from __future__ import annotations

from rs_preflight.gather.probes.records import RabbitView
from rs_preflight.judge.rabbitmq import cluster
from rs_preflight.spec.hosts import Host

HOSTS = [Host("couch1", "10.0.0.1", ("db",), fqdn="couch1.db.rcsnet.ru"),
         Host("couch2", "10.0.0.2", ("db",), fqdn="couch2.db.rcsnet.ru")]


def view(answering: str, *nodes: tuple[str, bool], name: str = "rabbit@couch1") -> RabbitView:
    return RabbitView(f"{answering}:15672", answering, name, tuple(nodes))


def test_one_cluster_with_both_nodes_running_passes_by_any_spelling() -> None:
    for one, two in (("rabbit@couch1", "rabbit@couch2"),            # short names
                     ("rabbit@couch1.db.rcsnet.ru", "rabbit@COUCH2.db.rcsnet.ru"),
                     ("rabbit@10.0.0.1", "rabbit@10.0.0.2")):         # the lab's long names
        both = ((one, True), (two, True))
        got = cluster(HOSTS, {"couch1": view(one, *both), "couch2": view(two, *both)})
        assert got.outcome == "passed", got.message
        assert got.found == f"cluster rabbit@couch1: {one} running, {two} running"
        assert got.expected == "one cluster of couch1, couch2, every node running"


def test_a_stopped_node_fails_naming_it_even_when_its_own_api_is_silent() -> None:
    nodes = (("rabbit@couch1", True), ("rabbit@couch2", False))
    got = cluster(HOSTS, {"couch1": view("rabbit@couch1", *nodes),
                          "couch2": "RabbitMQ management API at 10.0.0.2:15672: ConnectionError"})
    assert got.outcome == "failed"
    assert got.message == ("RabbitMQ node rabbit@couch2 (couch2) is not running, as couch1's "
                           "management API says (no answer from couch2: RabbitMQ management "
                           "API at 10.0.0.2:15672: ConnectionError)")
    assert got.found == "cluster rabbit@couch1: rabbit@couch1 running, rabbit@couch2 not running"


def test_two_standalone_nodes_are_not_one_cluster() -> None:
    got = cluster(HOSTS, {
        "couch1": view("rabbit@couch1", ("rabbit@couch1", True), name="rabbit@couch1"),
        "couch2": view("rabbit@couch2", ("rabbit@couch2", True), name="rabbit@couch2")})
    assert got.outcome == "failed"
    assert got.message == (
        "RabbitMQ not one cluster: couch2 not in the cluster couch1 belongs to (cluster_name "
        "rabbit@couch1; nodes rabbit@couch1); couch1 not in the cluster couch2 belongs to "
        "(cluster_name rabbit@couch2; nodes rabbit@couch2)")


def test_nodes_named_for_no_site_host_are_shown_as_they_are() -> None:
    nodes = (("rabbit@localhost", True),)
    got = cluster(HOSTS[:1], {"couch1": view("rabbit@localhost", *nodes)})
    assert got.outcome == "failed"
    assert "couch1 not in the cluster couch1 belongs to (cluster_name rabbit@couch1; nodes " \
        "rabbit@localhost)" in got.message


def test_no_management_api_answering_is_an_error_with_each_reason() -> None:
    got = cluster(HOSTS, {"couch1": "refused", "couch2": "HTTP 401 (the login …)"})
    assert got.outcome == "error"
    assert got.message == ("no RabbitMQ management API answered (couch1: refused; couch2: "
                           "HTTP 401 (the login …))")
