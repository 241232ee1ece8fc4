"""Stage one restored from its changelog continues exactly as if it had never stopped.

The changelog logs each batch's inputs and is re-run on restore (``statelog``), so this checks
the determinism that relies on: a messy random stream (disorder beyond the grace, duplicates,
garbage, orphans, invalid transitions, reopen and orphan expiry, idle advances, queues declared
and not, transfers while waiting, open and closed) is run once
without a stop and once restarted from the changelog after random batches, with snapshots
forced often; every output and the final state must be identical.
"""

from __future__ import annotations

import random
from typing import Any

import orjson
import pytest

from monitor.config import domain_params
from monitor.config.loader import from_mapping
from monitor.contract.partials import acc_to_json
from monitor.domain.stream.events import DeadLetter
from monitor.domain.stream.queues import Queue
from monitor.domain.stream.watermark import Mark
from monitor.stages.interactions.outputs import BatchResult
from monitor.stages.interactions.processor import PartitionProcessor
from monitor.state import statelog

T0 = 1_795_000_000_000
PARAMS = domain_params(from_mapping({
    "reopen_window_s": 300, "orphan_timeout_s": 120,
    "channels": {"phone": {}, "chat": {"queues": {"billing": {"first_response_target_s": 30},
                                                  "tech": {}}}, "email": {}}}))
QUEUE_NAMES = ("billing", "tech", "main", "other", "nope")
Batch = tuple[str, int, bool, list[tuple[int, bytes | None, bytes | None]]]
#: What one batch put out, in comparable form (see ``outputs``).
Outputs = tuple[
    list[tuple[tuple[str, str, int], bytes]], list[DeadLetter], Mark | None,
    list[tuple[tuple[str, str, str], int]], list[tuple[str, int]],
    list[tuple[tuple[str, str], int]], dict[tuple[str, str], list[int]],
    dict[tuple[str, str], list[int]], list[tuple[str, int]],
]


def lifecycle(rng: random.Random) -> list[tuple[str, int]]:
    """One interaction's ``(type, ms after opened)``: some never answered, closed or opened."""
    seq = [("opened", 0)]
    if rng.random() < 0.7:
        seq.append(("responded", rng.randint(1000, 60_000)))
    elif rng.random() < 0.5:
        seq.append(("abandoned", rng.randint(1000, 60_000)))
    if rng.random() < 0.8:
        seq.append((rng.choice(["resolved", "resolved", "failed"]), rng.randint(60_000, 200_000)))
        if rng.random() < 0.3:
            seq.append(("reopened", rng.randint(200_000, 500_000)))  # some beyond the window
    if rng.random() < 0.3:  # a transfer: waiting, open, or (invalid) after the closing
        seq.append(("transferred", rng.randint(500, 300_000)))
    if rng.random() < 0.1:
        seq = seq[1:]  # an orphan: never opened
    return seq


def stream(seed: int) -> list[Batch]:
    """Batches of ``(kind, now_ms, idle, records)``; kind is ``process`` or ``advance``."""
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for i in range(60):
        iid, ch = f"I{i}", rng.choice(["phone", "chat", "email"])
        t = T0 + rng.randint(0, 900_000)
        for n, (etype, dt) in enumerate(lifecycle(rng)):
            e: dict[str, Any] = {"event_id": f"{iid}-{n}", "interaction_id": iid, "channel": ch,
                                 "type": etype, "ts": t + dt}
            if rng.random() < 0.1:
                e["attrs"] = {"note": "x" * rng.randint(0, 3000)}
            if etype == "transferred" or (etype == "opened" and rng.random() < 0.7):
                e["queue"] = rng.choice(QUEUE_NAMES)
            events.append(e)
    events.sort(key=lambda e: e["ts"] + rng.randint(-15_000, 15_000))  # disorder, some > grace
    records: list[tuple[bytes | None, bytes | None]] = []
    for e in events:
        raw = orjson.dumps(e)
        records.append((e["interaction_id"].encode(), raw))
        if rng.random() < 0.05:
            records.append((e["interaction_id"].encode(), raw))  # a duplicate
        if rng.random() < 0.03:
            records.append((None, rng.choice([b"{", b"[]", b'{"type": "opened"}', None])))
    batches: list[Batch] = []
    offset, now = 0, T0 + 1_000_000
    while offset < len(records):
        n = rng.randint(1, 30)
        now += rng.randint(0, 20_000)
        batch = [(offset + j, k, v) for j, (k, v) in enumerate(records[offset:offset + n])]
        batches.append(("process", now, False, batch))
        offset += n
        if rng.random() < 0.15:
            now += rng.randint(0, 400_000)
            batches.append(("advance", now, True, []))
    batches.append(("advance", now + 2_000_000, True, []))
    return batches


def outputs(r: BatchResult) -> Outputs:
    def name(q: Queue) -> tuple[str, str]:
        return q.channel, q.name

    return (
        sorted(((*name(q), w), orjson.dumps(acc_to_json(acc))) for (q, w), acc in r.partials.items()),
        r.deadletters, r.mark, sorted(((*name(q), t), n) for (q, t), n in r.events.items()),
        sorted(r.rejected.items()), sorted((name(q), n) for q, n in r.duplicate.items()),
        {name(q): v for q, v in r.first_response_ms.items()},
        {name(q): v for q, v in r.resolution_ms.items()}, sorted(r.unlisted.items()),
    )


def state(proc: PartitionProcessor) -> tuple[object, ...]:
    """The processor's whole state, only ever compared for equality."""
    return (
        sorted((iid, orjson.dumps(statelog.interaction_to_json(s)), s.unapplied)
               for iid, s in proc.states.items()),
        proc.max_ts, proc.first_ts, proc.backlog.next_w, proc.pending,
        sorted((r.ts_ms, r.rank, r.event_id, r.interaction_id) for r in proc.buffer),
        +proc.backlog.open, +proc.backlog.waiting,
        {q: proc.backlog.oldest_waiting_ts(q) for q in proc.backlog.queues},
    )


def run(batches: list[Batch], restarts: set[int]) -> tuple[list[Outputs], tuple[object, ...], int]:
    proc = PartitionProcessor(PARAMS, "in", 0)
    changelog: list[tuple[bytes, bytes | None]] = []
    out: list[Outputs] = []
    for i, (kind, now, idle, records) in enumerate(batches):
        if i in restarts:
            proc = PartitionProcessor(PARAMS, "in", 0)
            proc.restore(changelog)
            proc.last_mark = None  # marks are not state: a restarted worker sends its mark again
        r = proc.process(records, now, idle) if kind == "process" else proc.advance(now, idle)
        changelog += r.changelog
        r.mark = None
        out.append(outputs(r))
    snapshots = sum(k == statelog.POINTER_KEY for k, _ in changelog)
    return out, state(proc), snapshots


@pytest.mark.parametrize("seed", range(8))
def test_restarts_change_nothing(seed: int, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(statelog, "MIN_SNAPSHOT_BYTES", 3000)
    monkeypatch.setattr(statelog, "CHUNK_ENTRIES", 7)
    batches = stream(seed)
    rng = random.Random(seed)
    want_out, want_state, snapshots = run(batches, set())
    assert snapshots >= 2, "the stream should force snapshots"
    assert any(o[1] for o in want_out), "the stream should produce dead letters"
    restarts = {i for i in range(1, len(batches)) if rng.random() < 0.3}
    got_out, got_state, _ = run(batches, restarts)
    for i, (got, want) in enumerate(zip(got_out, want_out, strict=True)):
        assert got == want, f"batch {i} differs (restarts at {sorted(restarts)})"
    assert got_state == want_state


def test_a_batch_entry_of_an_earlier_format_stops_the_restore_with_a_message() -> None:
    """A five-field entry (an earlier release's batch log) must not surface as an unpacking
    error inside the rebalance listener."""
    old = orjson.dumps({"b": [T0, False, T0], "e": [[T0, 0, "e1", "i1", "opened"]]})
    with pytest.raises(ValueError, match="earlier release"):
        PartitionProcessor(PARAMS, "in", 0).restore([(b"d:1", old)])
