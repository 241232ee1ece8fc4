"""``sqm.queues.v1`` records (SPEC 9): one per queue per window, the fields of the channel's
record (``monitor.contract.indicators``) plus ``queue``, keyed ``channel/queue``."""

from __future__ import annotations

from typing import Any

import orjson

from monitor.contract import indicators
from monitor.domain.stream.indicators import Indicators

SCHEMA = "sqm.queues.v1"


def record(ind: Indicators) -> dict[str, Any]:
    """The JSON object of one queue's record: ``queue`` follows ``channel``."""
    assert ind.queue is not None, "a queue record has its queue"
    rec = indicators.record(ind)
    out: dict[str, Any] = {"schema": SCHEMA, "channel": rec.pop("channel"), "queue": ind.queue}
    del rec["schema"]
    out.update(rec)
    return out


def encode(ind: Indicators) -> bytes:
    return orjson.dumps(record(ind))


def key(ind: Indicators) -> bytes:
    """``channel/queue``: a queue's records stay in order on one partition."""
    return f"{ind.channel}/{ind.queue}".encode()


def decode(obj: object, window_ms: int | None = None) -> Indicators:
    """One record read off the topic (parsed JSON), every field checked as in
    ``indicators.decode``; raises ``indicators.BadRecord``."""
    return indicators.decode(obj, window_ms, SCHEMA)
