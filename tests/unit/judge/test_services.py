"""Judges of data services (seeds/003's table, seeds/004's components), both ways."""

from __future__ import annotations

from rs_preflight.judge.services import answered, extensions_available, not_answered

RANGE = {"min": "3.10", "below": "5"}


def test_a_service_answering_within_the_range_passes() -> None:
    got = answered("amqp", "mq1:5672", "3.10.8", "RabbitMQ answered Connection.Start", RANGE)
    assert got.outcome == "passed" and got.message == "mq1:5672: AMQP (RabbitMQ) 3.10.8"


def test_a_version_outside_the_range_fails_with_both() -> None:
    got = answered("amqp", "mq1:5672", "3.9.29", "RabbitMQ answered", RANGE)
    assert got.outcome == "failed"
    assert got.expected == "AMQP (RabbitMQ) answering at mq1:5672, version >= 3.10, < 5"
    assert got.found == "RabbitMQ answered, version 3.9.29"


def test_an_unsaid_version_cannot_be_judged() -> None:
    assert answered("mongodb", "db:27017", None, "MongoDB answered hello", RANGE).outcome == \
        "error"
    assert answered("ssdb", "127.0.0.1:4410", None, "SSDB answered PING").outcome == "passed"


def test_no_answer_is_the_failure_the_documents_alert_on() -> None:
    got = not_answered("ssdb", "127.0.0.1:4420 on ak1", "Connection refused")
    assert got.outcome == "failed"
    assert got.message == "SSDB does not answer at 127.0.0.1:4420 on ak1: Connection refused"


def test_extensions() -> None:
    assert extensions_available({"pgcrypto": "1.3"}, "db:5432").outcome == "passed"
    got = extensions_available({"plv8": None, "pgcrypto": "1.3"}, "db:5432")
    assert got.outcome == "failed" and "cannot create plv8" in got.message
    assert got.found == "available: pgcrypto 1.3"
