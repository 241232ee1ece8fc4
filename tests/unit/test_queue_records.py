"""Queues (SPEC 9) through both stages, against the independent reference (``tests/reference.py``).

A random stream over channels with and without declared queues (queue names declared,
undeclared and absent; transfers while waiting, while open, after the closing and to another
channel; surveys; duplicates and disorder within the grace) runs through two input partitions
and the aggregator. Every ``sqm.queues.v1`` record and every channel record on
``sqm.indicators.v1`` must equal the reference's, and the channel record must be the roll-up of
its queues. A queue breaching while its channel stays healthy fires the queue's alert only.
"""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest
from reference import Queues, compute, diff_record, iso, ts_ms

from monitor.config import domain_params, window_rules
from monitor.config.loader import from_mapping
from monitor.contract import alerts, indicators, partials, queues
from monitor.domain.stream.queues import Queue
from monitor.stages.aggregate.aggregator import Aggregator
from monitor.stages.interactions.outputs import BatchResult
from monitor.stages.interactions.processor import PartitionProcessor
from monitor.state import windows
from monitor.state.statelog import decode_batch, interaction_from_json

T0 = 1_795_000_020_000  # 2026-11-18T09:07:00Z
WINDOW_MS = 60_000
RAW = {
    "window_s": 60, "grace_s": 10,
    "channels": {
        "phone": {"default_queue": "general", "queues": {
            "general": {}, "billing": {"first_response_target_s": 10}, "tech": {}}},
        "chat": {"queues": {"sales": {"first_response_target_s": 30,
                                      "resolution_target_s": 600}}},
        "email": {},
    },
}
CFG = from_mapping(RAW)
PARAMS = domain_params(CFG)
REF_QUEUES = {
    "phone": Queues(("general", "billing", "tech"), "general", {"billing": (10, 600)}),
    "chat": Queues(("main", "sales"), "main", {"sales": (30, 600)}),
}
CHANNELS = ("phone", "chat", "email")
NAMES = ("general", "billing", "tech", "sales", "main", "other", "elsewhere")


class Run:
    """Two input partitions feeding one aggregator, through the partials topic's encoding."""

    def __init__(self, rules: dict[tuple[str, str], Any] | None = None) -> None:
        self.procs = [PartitionProcessor(PARAMS, "in", p) for p in range(2)]
        self.agg = Aggregator(PARAMS, 0, 1, 2, window_rules(CFG) if rules is None else rules)
        self.records: list[dict[str, Any]] = []
        self.queue_records: list[dict[str, Any]] = []
        self.alerts: list[dict[str, Any]] = []
        self.unlisted: dict[str, int] = {}
        self.offsets = [0, 0]

    def send(self, p: int, values: list[bytes], now: int, idle: bool = False) -> None:
        batch = [(self.offsets[p] + i, None, v) for i, v in enumerate(values)]
        self.offsets[p] += len(values)
        self.take(p, self.procs[p].process(batch, now, idle), now)

    def take(self, p: int, res: BatchResult, now: int) -> None:
        for ch, n in res.unlisted.items():
            self.unlisted[ch] = self.unlisted.get(ch, 0) + n
        values = [partials.encode_partial(p, q, w, acc) for (q, w), acc in res.partials.items()]
        if res.mark is not None:
            values.append(partials.encode_mark(res.mark))
        out = self.agg.process([partials.decode(v, PARAMS.queues) for v in values], now)
        self.records += [json.loads(indicators.encode(r)) for r in out.records]
        self.queue_records += [json.loads(queues.encode(r)) for r in out.queue_records]
        self.alerts += [json.loads(alerts.encode(t)) for t in out.alerts]

    def flush(self, now: int) -> None:
        for p in range(2):
            self.take(p, self.procs[p].advance(now, True), now)


def stream(seed: int) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    events: list[dict[str, Any]] = []
    for i in range(400):
        iid, ch = f"I{i}", rng.choice(CHANNELS)
        t = T0 + rng.randint(0, 600_000)
        seq: list[tuple[str, int, dict[str, Any]]] = [("opened", 0, {})]
        if rng.random() < 0.8:
            seq[0][2]["queue"] = rng.choice(NAMES)
        answer = rng.randint(1000, 90_000)
        seq.append((rng.choice(["responded"] * 4 + ["abandoned"]), answer, {}))
        if rng.random() < 0.7:
            seq.append((rng.choice(["resolved", "resolved", "failed"]),
                        answer + rng.randint(1000, 400_000), {}))
        if rng.random() < 0.4:  # waiting, open or after the closing (invalid)
            seq.append(("transferred", rng.randint(1, 500_000), {"queue": rng.choice(NAMES)}))
        if rng.random() < 0.03:  # to another channel: invalid
            seq.append(("transferred", rng.randint(1, 5000),
                        {"queue": "billing", "channel": "phone" if ch != "phone" else "chat"}))
        if rng.random() < 0.2:
            seq.append(("feedback", 700_000 + rng.randint(0, 100_000),
                        {"feedback": {"csat": rng.randint(1, 5)}}))
        for n, (etype, dt, extra) in enumerate(seq):
            e = {"event_id": f"{iid}-{n}", "interaction_id": iid, "channel": ch, "type": etype,
                 "ts": t + dt}
            e.update(extra)
            events.append(e)
    return events


def run_stream(events: list[dict[str, Any]], seed: int) -> Run:
    rng = random.Random(seed)
    order = sorted(events, key=lambda e: e["ts"] + rng.randint(-4000, 4000))  # disorder < grace
    run = Run()
    now = T0
    batch: list[list[bytes]] = [[], []]
    for e in order:
        p = int(e["interaction_id"][1:]) % 2
        batch[p].append(orjson.dumps(e))
        if rng.random() < 0.05:
            batch[p].append(orjson.dumps(e))  # a duplicate
        if len(batch[p]) >= 20:
            now = max(now, e["ts"] + 1)
            run.send(p, batch[p], now)
            batch[p] = []
    for p in range(2):
        run.send(p, batch[p], now)
    run.flush(max(e["ts"] for e in events) + 10 * WINDOW_MS)
    return run


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_queue_and_channel_records_equal_the_reference(seed: int) -> None:
    events = stream(seed)
    run = run_stream(events, seed)
    last = max(r["window_start"] for r in run.records)  # the reference covers the same windows
    ref = compute(events, last_window_ms=ts_ms(last), channels=CHANNELS, queues=REF_QUEUES)
    got = {(r["channel"], r["window_start"]): r for r in run.records if r["window_start"] <= last}
    want = {(c, iso(w)): r for (c, w), r in ref.records.items() if iso(w) <= last}
    assert set(got) == set(want)
    problems = [f"{k}: {d}" for k in sorted(want) for d in diff_record(want[k], got[k])]
    gotq = {(r["channel"], r["queue"], r["window_start"]): r for r in run.queue_records
            if r["window_start"] <= last}
    wantq = {(c, q, iso(w)): r for (c, q, w), r in ref.queue_records.items() if iso(w) <= last}
    assert sorted(gotq) == sorted(wantq)
    assert len(gotq) == len([r for r in run.queue_records if r["window_start"] <= last])
    problems += [f"{k}: {d}" for k in sorted(wantq) for d in diff_record(wantq[k], gotq[k])]
    assert not problems, "\n".join(problems[:30])
    assert run.unlisted == ref.unlisted
    # the scenario exercises what it should
    assert {q for (_c, q, _w) in gotq} >= {"general", "billing", "tech", "other", "main", "sales"}
    assert ref.invalid > 0 and sum(ref.unlisted.values()) > 0


def test_the_channel_record_is_the_roll_up_of_its_queues() -> None:
    """Counts sum, ratios come from the sums, the quantiles from the union of the values."""
    events = stream(7)
    run = run_stream(events, 7)
    for rec in run.records:
        qrecs = [q for q in run.queue_records
                 if (q["channel"], q["window_start"]) == (rec["channel"], rec["window_start"])]
        for name in ("opened", "answered", "answered_within_target", "abandoned", "resolved",
                     "failed", "backlog_waiting", "backlog_open", "feedback_responses"):
            assert rec[name] == sum(q[name] for q in qrecs), (rec["channel"], name)
        n = rec["answered"] + rec["abandoned"]
        assert rec["service_level"] == (rec["answered_within_target"] / n if n else None)
        maxes = [q["first_response_s"]["max"] for q in qrecs if q["first_response_s"]["max"]]
        assert rec["first_response_s"]["max"] == (max(maxes) if maxes else None)


def window_events(k: int, ch: str, queue: str, good: int, bad: int) -> list[bytes]:
    """``good`` answers within chat's sales target (30 s) and ``bad`` ones 45 s late, in
    window ``k`` of ``queue``."""
    out: list[bytes] = []
    w = T0 - T0 % WINDOW_MS + k * WINDOW_MS
    for i in range(good + bad):
        iid = f"{queue}-{k}-{i}"
        wait = 5_000 if i < good else 45_000
        out.append(orjson.dumps({"event_id": f"{iid}-o", "interaction_id": iid, "channel": ch,
                                 "type": "opened", "ts": w + 1000, "queue": queue}))
        out.append(orjson.dumps({"event_id": f"{iid}-r", "interaction_id": iid, "channel": ch,
                                 "type": "responded", "ts": w + 1000 + wait}))
    return out


def test_a_breaching_queue_fires_its_alert_and_not_its_channels() -> None:
    cfg = from_mapping({**RAW, "alerts": [
        {"indicator": "service_level", "op": "<", "warning": 0.8, "critical": 0.6},
        {"indicator": "service_level", "op": "<", "warning": 0.8, "critical": 0.6,
         "channels": ["chat"], "queues": ["*"]},
    ]})
    run = Run(window_rules(cfg))
    for k in range(4):  # sales: 4 of 20 in target (0.2); main: 40 of 40: chat 44/60 = 0.73...
        run.send(0, window_events(k, "chat", "sales", 4, 16) + window_events(k, "chat", "main",
                                                                               40, 0),
                 T0 + (k + 1) * WINDOW_MS)
    run.flush(T0 + 8 * WINDOW_MS)
    sales = [r["service_level"] for r in run.queue_records if r["queue"] == "sales"][:4]
    chat = [r["service_level"] for r in run.records if r["channel"] == "chat"][:4]
    assert sales == [0.2] * 4 and chat == [44 / 60] * 4
    fired = [(a.get("queue"), a["channel"], a["severity"], a["state"]) for a in run.alerts
             if a["state"] == "firing"]
    # chat at 0.73 is below 0.8 too: the channel warns, the queue is critical; both are theirs
    assert fired == [("sales", "chat", "critical", "firing"), (None, "chat", "warning", "firing")]
    [queue_alert] = [a for a in run.alerts if a.get("queue") == "sales"]
    assert queue_alert["alert_id"].startswith("chat/sales/service_level/")
    active = run.agg.active_alerts()
    assert active[("chat", "sales", "service_level", "critical")] == 1
    assert active[("chat", "main", "service_level", "critical")] == 0
    assert active[("chat", "", "service_level", "warning")] == 1


def test_a_queue_alert_alone_while_the_channel_is_healthy() -> None:
    cfg = from_mapping({**RAW, "alerts": [
        {"indicator": "service_level", "op": "<", "warning": 0.8, "critical": 0.6},
        {"indicator": "service_level", "op": "<", "warning": 0.8, "critical": 0.6,
         "channels": ["chat"], "queues": ["sales"]},
    ]})
    run = Run(window_rules(cfg))
    for k in range(4):  # sales 4/10 = 0.4; chat (4 + 90) / 100 = 0.94: healthy
        run.send(0, window_events(k, "chat", "sales", 4, 6) + window_events(k, "chat", "main",
                                                                              90, 0),
                 T0 + (k + 1) * WINDOW_MS)
    run.flush(T0 + 8 * WINDOW_MS)
    assert [r["service_level"] for r in run.records if r["channel"] == "chat"][:4] == [0.94] * 4
    assert [(a["channel"], a.get("queue"), a["severity"]) for a in run.alerts
            if a["state"] == "firing"] == [("chat", "sales", "critical")]


def test_a_restored_aggregator_continues_every_queue() -> None:
    """Stage two's changelog keeps the open windows per queue, the started queues, the latest
    records and the queue alerts: a restart in the middle gives the same records."""
    events = stream(5)
    whole = run_stream(events, 5)
    rng = random.Random(5)
    order = sorted(events, key=lambda e: e["ts"] + rng.randint(-4000, 4000))
    run = Run()
    log: list[tuple[bytes, bytes | None]] = []
    now = T0
    for n, e in enumerate(order):
        p = int(e["interaction_id"][1:]) % 2
        now = max(now, e["ts"] + 1)
        res = run.procs[p].process([(n, None, orjson.dumps(e))], now, False)
        values = [partials.encode_partial(p, q, w, acc) for (q, w), acc in res.partials.items()]
        if res.mark is not None:
            values.append(partials.encode_mark(res.mark))
        out = run.agg.process([partials.decode(v, PARAMS.queues) for v in values], now)
        run.records += [json.loads(indicators.encode(r)) for r in out.records]
        run.queue_records += [json.loads(queues.encode(r)) for r in out.queue_records]
        log += windows.records(out.windows, out.state)
        if n == len(order) // 2:
            fresh = Aggregator(PARAMS, 0, 1, 2, window_rules(CFG))
            fresh.restore(*windows.restore(list(log), PARAMS.queues))
            run.agg = fresh
    run.flush(max(e["ts"] for e in events) + 10 * WINDOW_MS)
    last = min(max(r["window_start"] for r in whole.records),
               max(r["window_start"] for r in run.records))

    def upto(rs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return sorted((r for r in rs if r["window_start"] <= last),
                      key=lambda r: (r["channel"], r.get("queue", ""), r["window_start"]))

    assert upto(run.queue_records) == upto(whole.queue_records)
    assert upto(run.records) == upto(whole.records)


def test_queue_objects_are_shared() -> None:
    """One ``Queue`` per configured queue: the hot path compares them by identity."""
    phone = PARAMS.queues["phone"]
    assert [q.name for q in phone.queues] == ["general", "billing", "tech", "other"]
    assert phone.resolve("billing") is phone.queues[1]
    assert phone.resolve("nope") is phone.other
    assert phone.resolve(None) is phone.default and phone.default.name == "general"
    billing: Queue = phone.queues[1]
    assert (billing.first_response_target_ms, billing.resolution_target_ms) == (10_000, 600_000)
    email = PARAMS.queues["email"]
    assert [q.name for q in email.queues] == ["main"] and email.other is None
    assert email.resolve("anything") is email.default


def test_stage_twos_changelog_of_the_release_before_queues_restores_into_default_queues() -> None:
    """An upgrade needs no fresh deployment: open windows keyed ``a:<channel>:<window>`` go to
    the channel's default queue, alert states keyed (channel, indicator) are channel alerts."""
    acc = {"n": [3, 2, 1, 0, 0, 0, 0, 0, 0], "fr": [2, 9000, 5000, [[100, 1], [120, 1]]],
           "rs": [0, 0, 0, []], "m": 5, "sn": [1, 2, 1_795_000_000_000, 1]}
    meta = {"src_wm": [[0, 1_795_000_060_000]], "src_first": [[0, 1_795_000_000_000]],
            "src_idle": [[0, False]], "next_w": 1_795_000_020_000, "latest": {},
            "alerts": [["phone", "service_level", ["warning", 1_794_999_960_000, 2, 0, 0, 2,
                                                   None]]]}
    state, accs = windows.restore([
        (b"a:phone:1795000020000", orjson.dumps(acc)), (b"m:", orjson.dumps(meta))],
        PARAMS.queues)
    [(queue, w)] = list(accs)
    assert (queue, w) == (PARAMS.queues["phone"].default, 1_795_000_020_000)
    assert accs[(queue, w)].counts[:3] == [3, 2, 1]
    assert state is not None
    assert list(state.alerts) == [("phone", "", "service_level")]
    assert state.alerts[("phone", "", "service_level")].severity == "warning"
    assert state.started == frozenset()


def test_stage_ones_state_of_the_release_before_queues_restores_into_default_queues() -> None:
    """A snapshot entry without a queue (8 fields) is in its channel's default queue; a logged
    opened without a queue (6 fields) opens there."""
    s, buffered = interaction_from_json("I1", ["phone", 1_795_000_000_000, 0, 0, 0, ["e1"], [],
                                               []], PARAMS.queues)
    assert s.queue is PARAMS.queues["phone"].default and buffered == []
    batch = decode_batch([1_795_000_100_000, False, 1_795_000_000_000],
                         [[1_795_000_000_000, 0, "e1", "I2", "opened", "chat"]], PARAMS.queues)
    [logged] = batch.accepted
    assert logged.queue is PARAMS.queues["chat"].default
