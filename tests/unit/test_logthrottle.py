"""The Kafka client's repeated log lines are throttled per message template; ours never are."""

from __future__ import annotations

import logging

from monitor.runtime.logthrottle import Throttle


def _record(name: str, msg: str, *args: object) -> logging.LogRecord:
    return logging.LogRecord(name, logging.ERROR, __file__, 1, msg, args, None)


def test_one_line_per_template_every_interval_with_the_count_held_back() -> None:
    now = [100.0]
    throttle = Throttle(every_s=10.0, clock=lambda: now[0])
    sender = "aiokafka.producer.sender"
    passed = []
    for t in (100.0, 100.5, 101.0, 109.9, 110.0, 111.0, 125.0):
        now[0] = t
        rec = _record(sender, "Got error produce response on %s, retrying", f"tp-{t}")
        if throttle.filter(rec):
            passed.append((t, rec.getMessage()))
    assert passed == [
        (100.0, "Got error produce response on tp-100.0, retrying"),
        (110.0, "Got error produce response on tp-110.0, retrying "
                "[3 more like this in the last 10 s]"),
        (125.0, "Got error produce response on tp-125.0, retrying "
                "[1 more like this in the last 15 s]"),
    ]


def test_other_templates_and_our_own_loggers_pass() -> None:
    throttle = Throttle(every_s=10.0, clock=lambda: 0.0)
    assert throttle.filter(_record("aiokafka.conn", "Unable to connect to %s", "h"))
    assert throttle.filter(_record("aiokafka.conn", "Connection closed"))  # another template
    assert not throttle.filter(_record("aiokafka.conn", "Unable to connect to %s", "h2"))
    for _ in range(5):
        assert throttle.filter(_record("sqm.worker", "worker stopped: %s", "x"))


def test_a_traceback_becomes_one_line_of_causes() -> None:
    try:
        try:
            raise ConnectionError("Connection at 127.0.0.1:9092 closed")
        except ConnectionError as inner:
            raise RuntimeError("Unexpected error during batch delivery") from inner
    except RuntimeError as exc:
        rec = logging.LogRecord("aiokafka.producer.sender", logging.ERROR, __file__, 1,
                                "Unexpected error in sender routine", (), (type(exc), exc, None))
    assert Throttle(clock=lambda: 0.0).filter(rec)
    assert rec.exc_info is None
    assert rec.getMessage() == (
        "Unexpected error in sender routine (RuntimeError: Unexpected error during batch "
        "delivery <- ConnectionError: Connection at 127.0.0.1:9092 closed)")
    assert "Traceback" not in logging.Formatter().format(rec)
