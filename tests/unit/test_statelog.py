"""The delta + snapshot changelog restores exactly the state a plain dict holds, with or
without Kafka's compaction (latest record per key, tombstones dropped) in between."""

from __future__ import annotations

import random

import pytest

from monitor.core import statelog
from monitor.core.statelog import StateLog


def compact(records: list[tuple[bytes, bytes | None]]) -> list[tuple[bytes, bytes | None]]:
    """What a compacted topic keeps: the last record per key, minus deletions."""
    last: dict[bytes, bytes | None] = {}
    for k, v in records:
        last.pop(k, None)
        last[k] = v
    return [(k, v) for k, v in last.items() if v is not None]


@pytest.mark.parametrize("seed", range(6))
def test_restore_equals_reference(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statelog, "CHUNK_BYTES", 300)
    monkeypatch.setattr(statelog, "MIN_SNAPSHOT_BYTES", 2000)
    rng = random.Random(seed)
    log = StateLog()
    truth: dict[str, list[object]] = {}
    written: list[tuple[bytes, bytes | None]] = []
    snapshots = 0
    for batch in range(300):
        changed: list[tuple[str, object]] = []
        for _ in range(rng.randint(0, 12)):
            iid = f"i{rng.randint(0, 60)}"
            if iid in truth and rng.random() < 0.3:
                del truth[iid]
                changed.append((iid, None))
            else:
                truth[iid] = [batch, rng.random(), "x" * rng.randint(0, 40)]
                changed.append((iid, truth[iid]))
        meta = {"batch": batch}
        want = log.wants_snapshot()
        snapshots += want
        written += log.write(changed, meta, list(truth.items()) if want else None)
        if batch % 37 == 0:  # restore from the raw log and from a compacted one, mid-stream
            for records in (written, compact(written)):
                states, got_meta = StateLog().restore(records)
                assert states == truth
                assert got_meta == meta or (not changed and not want)
    assert snapshots >= 3
    # compaction really shrinks the log to about the size of the state
    kept = compact(written)
    assert len(kept) < len(written) / 3
    restored = StateLog()
    states, _ = restored.restore(kept)
    assert states == truth
    # a restored log continues the sequence: new deltas come after the old ones
    more = restored.write([("new", [1])], {"batch": "after"})
    states, meta = StateLog().restore(compact(kept + more))
    assert states == {**truth, "new": [1]} and meta == {"batch": "after"}
