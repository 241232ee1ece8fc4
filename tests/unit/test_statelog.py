"""The batch log + snapshot changelog gives back exactly what was written, with or without
Kafka's compaction (latest record per key, tombstones dropped) in between.

The "processor" here is a toy: a dict that each batch updates with its entries (``[key, value]``,
``value`` None deleting). Restoring means: the snapshot's dict, then the logged batches re-applied.
"""

from __future__ import annotations

import random
from typing import Any

import pytest

from monitor.state import statelog
from monitor.state.statelog import StateLog


def compact(records: list[tuple[bytes, bytes | None]]) -> list[tuple[bytes, bytes | None]]:
    """What a compacted topic keeps: the last record per key, minus deletions."""
    last: dict[bytes, bytes | None] = {}
    for k, v in records:
        last.pop(k, None)
        last[k] = v
    return [(k, v) for k, v in last.items() if v is not None]


def apply(state: dict[str, Any], entries: list[list[Any]]) -> None:
    for key, value in entries:
        if value is None:
            state.pop(key, None)
        else:
            state[key] = value


def rebuild(records: list[tuple[bytes, bytes | None]]) -> tuple[dict[str, Any], list[Any] | None, StateLog]:
    """The toy processor restored: snapshot, then the batches after it; and the last head seen."""
    log = StateLog()
    states, meta, batches = log.restore(records)
    head = None if meta is None else meta["head"]
    for batch_head, entries in batches:
        apply(states, entries)
        head = batch_head
    return states, head, log


@pytest.mark.parametrize("seed", range(6))
def test_restore_equals_reference(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statelog, "CHUNK_BYTES", 300)  # forces multi-record batches
    monkeypatch.setattr(statelog, "CHUNK_ENTRIES", 5)
    monkeypatch.setattr(statelog, "MIN_SNAPSHOT_BYTES", 2000)
    rng = random.Random(seed)
    log = StateLog()
    truth: dict[str, Any] = {}
    written: list[tuple[bytes, bytes | None]] = []
    snapshots = 0
    multi_record_batches = 0
    for batch in range(300):
        entries: list[list[Any]] = []
        for _ in range(rng.randint(0, 12)):
            key = f"i{rng.randint(0, 60)}"
            value = None if key in truth and rng.random() < 0.3 else [batch, "x" * rng.randint(0, 40)]
            entries.append([key, value])
        apply(truth, entries)
        head = [batch, rng.random() < 0.5, rng.randint(0, 10**12)]
        records = log.write(head, entries)
        multi_record_batches += len(records) > 1
        if log.wants_snapshot():
            snapshots += 1
            records += log.snapshot(list(truth.items()), {"head": head})
        written += records
        if batch % 37 == 0:  # restore from the raw log and from a compacted one, mid-stream
            for kept in (written, compact(written)):
                states, got_head, _ = rebuild(kept)
                assert states == truth
                assert got_head == head
    assert snapshots >= 3 and multi_record_batches >= 10
    # compaction really shrinks the log to about the size of the state
    kept = compact(written)
    assert len(kept) < len(written) / 3
    states, _, restored = rebuild(kept)
    assert states == truth
    # a restored log continues the sequence: new deltas come after the old ones
    more = restored.write(["after"], [["new", [1]]])
    states, got_head, _ = rebuild(compact(kept + more))
    assert states == {**truth, "new": [1]} and got_head == ["after"]


def test_a_batch_without_its_head_is_an_error() -> None:
    log = StateLog()
    records = log.write([1], [["a", 1]])
    key, value = records[0]
    assert value is not None
    headless = value.replace(b'{"b":[1]', b'{"b":null')
    with pytest.raises(ValueError, match="without its head"):
        StateLog().restore([(key, headless)])


def test_a_delta_of_the_earlier_format_is_named() -> None:
    old = (b"d:0000000000000001", b'{"m":{"max_ts":1},"e":[["i1",["phone",1,0,0,0,[],[],[]]]]}')
    with pytest.raises(ValueError, match="earlier release"):
        StateLog().restore([old])
