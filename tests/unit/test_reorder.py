"""``reorder_s``: how long events wait to be applied in event-time order (default: the grace)."""

from __future__ import annotations

import orjson

from monitor.config import Config, domain_params
from monitor.stages.interactions.processor import PartitionProcessor

T0 = 1_795_000_000_000  # an arbitrary epoch ms, far before NOW
NOW = T0 + 3_600_000


def rec(offset: int, eid: str, etype: str, ts_ms: int) -> tuple[int, bytes, bytes]:
    e = {"event_id": eid, "interaction_id": "A", "channel": "phone", "type": etype, "ts": ts_ms}
    return (offset, b"A", orjson.dumps(e))


def run(reorder_s: int | None, records: list[tuple[int, bytes, bytes]]) -> dict[str, int]:
    """Answered count and accepted events right after the batch."""
    proc = PartitionProcessor(domain_params(Config(reorder_s=reorder_s)), "in", 0)
    r = proc.process(records, NOW)
    answered = sum(acc.counts[1] for acc in r.partials.values())
    return {"accepted": sum(r.events.values()), "answered": answered}


def test_default_waits_out_the_grace_and_sorts() -> None:
    # resolved overtakes responded (5 s apart, inside the 10 s grace); the newest event is at
    # T0+8 s, so nothing is 10 s behind the watermark yet: all three wait
    batch = [rec(0, "o", "opened", T0), rec(1, "c", "resolved", T0 + 8000),
             rec(2, "r", "responded", T0 + 3000)]
    assert run(None, batch) == {"accepted": 0, "answered": 0}
    # one later event moves the watermark 10 s past them: applied in time order, the response
    # counts as a first response
    assert run(None, [*batch, rec(3, "x", "failed", T0 + 30_000)]) == {"accepted": 3, "answered": 1}


def test_zero_applies_at_once_in_arrival_order() -> None:
    batch = [rec(0, "o", "opened", T0), rec(1, "c", "resolved", T0 + 8000)]
    assert run(0, batch) == {"accepted": 2, "answered": 0}
    # same batch, the late response arrives in a second batch: it comes after the closing, so it
    # is no first response (results now depend on arrival order, as documented)
    proc = PartitionProcessor(domain_params(Config(reorder_s=0)), "in", 0)
    proc.process(batch, NOW)
    r = proc.process([rec(2, "r", "responded", T0 + 3000)], NOW)
    assert sum(r.events.values()) == 1
    assert sum(acc.counts[1] for acc in r.partials.values()) == 0
