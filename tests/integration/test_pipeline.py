"""End to end on the real broker: the real ``sqm worker`` against the independent reference.

Each test replays a seeded scenario (generated history with duplicates, disorder within the
grace, garbage, an orphan, an impossible transition, queues declared and not, and transfers)
into fresh topics and compares every ``sqm.indicators.v1`` and ``sqm.queues.v1`` record field by
field with ``tests/reference.py``, and the ``/metrics`` counters with the reference's totals.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import tomllib
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest
from harness import WorkerProcess, poll, produce, read_json, reset_topics, write_config
from kafka_broker import free_port
from reference import Outcome, Queues, alerts, compute, diff_record, iso, ts_ms

from monitor.config import Config
from monitor.config.loader import from_mapping
from monitor.contract.topics import TOPIC_ALERTS, TOPIC_DEADLETTER, TOPIC_INDICATORS, TOPIC_QUEUES
from monitor.metrics.watch import Samples
from monitor.sim.model import history

WINDOW_MS = 60_000
#: SPEC 9: phone and chat declare queues (chat's default, main, implicitly), the others do not
QUEUES_TOML = """
[channels.phone]
default_queue = "general"
[channels.phone.queues.general]
[channels.phone.queues.billing]
first_response_target_s = 10
[channels.chat.queues.sales]
first_response_target_s = 30
[channels.email]
[channels.web]
[channels.app]
[channels.store]
[channels.social]
"""
CHANNELS = from_mapping(tomllib.loads(QUEUES_TOML)).channels
REF_QUEUES = {"phone": Queues(("general", "billing"), "general", {"billing": (10, 600)}),
              "chat": Queues(("main", "sales"), "main", {"sales": (30, 1800)})}

# Records that must be dead-lettered, with the reason each must get.
GARBAGE: list[tuple[bytes, str]] = [
    (b'{"event_id": "g1", "interaction_id": ', "malformed_json"),
    (b"\xff\xfe not utf-8", "malformed_json"),
    (b"[1, 2, 3]", "not_an_object"),
    (b'{"event_id": "g2", "channel": "phone", "type": "opened", "ts": 1}', "missing_field"),
    (b'{"event_id": 7, "interaction_id": "g", "channel": "phone", "type": "opened", "ts": 1}',
     "bad_type"),
    (b'{"event_id": "", "interaction_id": "g", "channel": "phone", "type": "opened", "ts": 1}',
     "bad_value"),
    (b'{"event_id": "g3", "interaction_id": "g", "channel": "phone", "type": "closed", "ts": 1}',
     "unknown_type"),
    (b'{"event_id": "g4", "interaction_id": "g", "channel": "fax", "type": "opened", "ts": 1}',
     "unknown_channel"),
    (b'{"event_id": "g5", "interaction_id": "g", "channel": "phone", "type": "opened", '
     b'"ts": "yesterday"}', "bad_timestamp"),
    (b'{"event_id": "g6", "interaction_id": "g", "channel": "phone", "type": "opened", '
     b'"ts": "2026-01-01T00:00:00"}', "bad_timestamp"),
]


def scenario(start_ms: int, duration_s: int, rate: float, seed: int) -> tuple[
        list[tuple[bytes | None, bytes]], list[dict[str, Any]], Counter[str]]:
    """Items to produce, the valid events among them, and the dead-letter reasons expected."""
    items = list(history(CHANNELS, "degrade:chat", seed, rate, start_ms, duration_s,
                         duplicate_ratio=0.02, disorder_ms=4000))
    events = [i for i in items if isinstance(i, dict)]
    assert len(events) == len(items)
    # an orphan (never opened) and an impossible transition (abandoned after a response)
    t0 = start_ms + 30_000
    extra: list[dict[str, Any]] = [
        {"event_id": "x-orphan", "interaction_id": "x-never-opened", "channel": "phone",
         "type": "responded", "ts": t0},
        {"event_id": "x-o", "interaction_id": "x-bad", "channel": "web", "type": "opened", "ts": t0},
        {"event_id": "x-r", "interaction_id": "x-bad", "channel": "web", "type": "responded",
         "ts": t0 + 1000},
        {"event_id": "x-a", "interaction_id": "x-bad", "channel": "web", "type": "abandoned",
         "ts": t0 + 2000},
    ]
    # transfers (SPEC 9): waiting, to an undeclared queue (other), and while open; each goes
    # out in its time's place (a record minutes ahead would move the watermark past the grace)
    timed: list[dict[str, Any]] = [
        {"event_id": "x-t1o", "interaction_id": "x-t1", "channel": "chat", "type": "opened",
         "ts": t0, "queue": "sales"},
        {"event_id": "x-t1t", "interaction_id": "x-t1", "channel": "chat", "type": "transferred",
         "ts": t0 + 5000, "queue": "main"},
        {"event_id": "x-t1r", "interaction_id": "x-t1", "channel": "chat", "type": "responded",
         "ts": t0 + 40_000},
        {"event_id": "x-t2o", "interaction_id": "x-t2", "channel": "phone", "type": "opened",
         "ts": t0, "queue": "billing"},
        {"event_id": "x-t2t", "interaction_id": "x-t2", "channel": "phone", "type": "transferred",
         "ts": t0 + 3000, "queue": "nowhere"},
        {"event_id": "x-t2r", "interaction_id": "x-t2", "channel": "phone", "type": "responded",
         "ts": t0 + 15_000},
        {"event_id": "x-t2u", "interaction_id": "x-t2", "channel": "phone", "type": "transferred",
         "ts": t0 + 20_000, "queue": "general"},
        {"event_id": "x-t2s", "interaction_id": "x-t2", "channel": "phone", "type": "resolved",
         "ts": t0 + 90_000},
    ]
    timed.sort(key=lambda x: int(x["ts"]))
    out: list[tuple[bytes | None, bytes]] = []
    garbage = iter(GARBAGE)
    step = max(1, len(events) // (len(GARBAGE) + 1))
    valid: list[dict[str, Any]] = []
    for n, e in enumerate(events):
        if n == 50:
            out.extend((x["interaction_id"].encode(), orjson.dumps(x)) for x in extra)
            valid += [x for x in extra if x["interaction_id"] != "x-never-opened"]
        while timed and timed[0]["ts"] <= ts_ms(e["ts"]):
            x = timed.pop(0)
            out.append((x["interaction_id"].encode(), orjson.dumps(x)))
            valid.append(x)
        if n % step == step - 1:
            g = next(garbage, None)
            if g is not None:
                out.append((b"garbage", g[0]))
        out.append((e["interaction_id"].encode(), orjson.dumps(e)))
        valid.append(e)
    assert not timed, "the scenario ends before its transfers"
    reasons = Counter(r for _b, r in GARBAGE) + Counter({"invalid_transition": 1, "orphan": 1})
    return out, valid, reasons


def indicator_map(records: list[dict[str, Any]]) -> dict[tuple[str, str], list[dict[str, Any]]]:
    out: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in records:
        out.setdefault((r["channel"], r["window_start"]), []).append(r)
    return out


def wait_for_windows(bootstrap: str, expected: dict[tuple[str, int], dict[str, Any]],
                     deadline_s: float, workers: list[WorkerProcess]) -> dict[tuple[str, str],
                                                                               list[dict[str, Any]]]:
    keys = {(ch, exp["window_start"]) for (ch, _w), exp in expected.items()}

    def done() -> dict[tuple[str, str], list[dict[str, Any]]] | None:
        for w in workers:
            assert w.alive(), f"worker died:\n{w.log_tail()}"
        got = indicator_map(read_json(bootstrap, TOPIC_INDICATORS))
        return got if keys <= set(got) else None

    return poll(done, deadline_s, "every expected window record")


def wait_for_queue_windows(bootstrap: str, ref: Outcome, deadline_s: float,
                           workers: list[WorkerProcess]) -> dict[tuple[str, str, str],
                                                                 list[dict[str, Any]]]:
    keys = {(ch, q, iso(w)) for (ch, q, w) in ref.queue_records}

    def done() -> dict[tuple[str, str, str], list[dict[str, Any]]] | None:
        for w in workers:
            assert w.alive(), f"worker died:\n{w.log_tail()}"
        got: dict[tuple[str, str, str], list[dict[str, Any]]] = {}
        for r in read_json(bootstrap, TOPIC_QUEUES):
            got.setdefault((r["channel"], r["queue"], r["window_start"]), []).append(r)
        return got if keys <= set(got) else None

    return poll(done, deadline_s, "every expected queue record")


def assert_queue_records(ref: Outcome, got: dict[tuple[str, str, str], list[dict[str, Any]]]
                         ) -> None:
    """Every queue record of the reference, once and equal; no queue record the reference
    does not have within its windows (a queue starts at its first window with an event)."""
    last = iso(max(w for (_c, _q, w) in ref.queue_records))
    want = {(ch, q, iso(w)): rec for (ch, q, w), rec in ref.queue_records.items()}
    extra = sorted(k for k in got if k[2] <= last and k not in want)
    assert not extra, extra[:10]
    problems = [f"{k}: {len(got[k])} records" for k in want if len(got[k]) != 1]
    problems += [f"{k}: {d}" for k, rec in sorted(want.items()) for d in diff_record(rec, got[k][0])]
    assert not problems, "\n".join(problems[:40])


def assert_records(expected: dict[tuple[str, int], dict[str, Any]],
                   got: dict[tuple[str, str], list[dict[str, Any]]]) -> None:
    problems: list[str] = []
    for (ch, _w), exp in sorted(expected.items()):
        recs = got[(ch, exp["window_start"])]
        if any(r != recs[0] for r in recs):
            problems.append(f"{ch} {exp['window_start']}: {len(recs)} different records")
        for d in diff_record(exp, recs[0]):
            problems.append(f"{ch} {exp['window_start']}: {d}")
    assert not problems, "\n".join(problems[:40])


ALERT_FIELDS = ("alert_id", "channel", "indicator", "severity", "state", "value", "threshold",
                "op", "window_start", "window_end", "since")


def assert_alerts(bootstrap: str, ref: Outcome) -> None:
    """``sqm.alerts.v1`` holds exactly the transitions the reference derives from the expected
    records, each once, for the windows the reference covers (the worker goes on finalising
    empty windows after the scenario: ``no_data`` may fire there)."""
    last = max(exp["window_start"] for exp in ref.records.values())
    got = [a for a in read_json(bootstrap, TOPIC_ALERTS) if a["window_start"] <= last]
    assert all(a["schema"] == "sqm.alerts.v1" and a["summary"] for a in got)
    want = alerts(ref.records)
    assert want, "the scenario should raise alerts"

    def key(a: dict[str, Any]) -> tuple[str, str, str]:
        return (a["channel"], a["indicator"], a["window_start"])

    got_rows = sorted(({k: a[k] for k in ALERT_FIELDS} for a in got), key=key)
    want_rows = sorted(want, key=key)
    for a in got_rows + want_rows:
        a["value"] = round(a["value"], 9)
    assert got_rows == want_rows


def counter_sum(samples: list[Samples], name: str, **labels: str) -> float:
    want = tuple(sorted(labels.items()))
    total = 0.0
    for s in samples:
        for (n, lab), v in s.items():
            if n == name and all(item in lab for item in want):
                total += v
    return total


@pytest.fixture
def cluster(kafka_bootstrap: str, tmp_path: Path) -> tuple[str, Path]:
    reset_topics(kafka_bootstrap)
    cfg = write_config(tmp_path / "sqm.toml", kafka_bootstrap, f"it-{uuid.uuid4().hex[:8]}",
                       idle_timeout_s=2, orphan_timeout_s=600)
    return kafka_bootstrap, with_queues(cfg)


def with_queues(cfg: Path) -> Path:
    """The scenario's queues added to a test's config (the reference computes with them)."""
    with cfg.open("a") as f:
        f.write(QUEUES_TOML)
    return cfg


def _span(now_ms: int) -> tuple[int, int]:
    start = now_ms - now_ms % WINDOW_MS - 40 * WINDOW_MS
    return start, 20 * 60


def _expected(valid: list[dict[str, Any]], start: int, duration_s: int) -> Outcome:
    last = start + duration_s * 1000 + 2 * WINDOW_MS
    return compute(valid, last_window_ms=last - last % WINDOW_MS, queues=REF_QUEUES)


def test_replay_gives_exact_records_and_metrics(cluster: tuple[str, Path], tmp_path: Path) -> None:
    bootstrap, cfg = cluster
    start, duration = _span(int(time.time() * 1000))
    items, valid, reasons = scenario(start, duration, rate=5.0, seed=11)
    assert len(items) > 5000
    ref = _expected(valid, start, duration)
    assert ref.invalid == 1

    worker = WorkerProcess(cfg, free_port(), tmp_path / "worker.log")
    try:
        poll(lambda: (worker.try_metrics() or {}).get(
            ("sqm_assigned_partitions", (("stage", "interactions"),))) == 4, 60, "the worker to start")
        # the user's path: a JSON-lines file replayed with `sqm replay`
        lines = tmp_path / "scenario.jsonl"
        lines.write_bytes(b"".join(value + b"\n" for _key, value in items))
        replay = subprocess.run(
            [sys.executable, "-m", "monitor.cli", "--config", str(cfg), "replay", str(lines)],
            capture_output=True, text=True, timeout=120, check=False)
        assert replay.returncode == 0, replay.stdout + replay.stderr
        got = wait_for_windows(bootstrap, ref.records, 180, [worker])
        assert_records(ref.records, got)
        assert all(len(v) == 1 for v in got.values()), "a window was emitted twice"
        assert_queue_records(ref, wait_for_queue_windows(bootstrap, ref, 60, [worker]))
        assert {q for (_c, q, _w) in ref.queue_records} >= {"general", "billing", "other",
                                                           "main", "sales"}
        assert_alerts(bootstrap, ref)

        # all consumed: no stage lags (transaction markers included)
        poll(lambda: all((worker.try_metrics() or {}).get(
            ("sqm_consumer_lag_records", (("stage", stage),))) == 0
            for stage in ("interactions", "aggregate")), 30, "the consumer lag to reach 0")
        deadletters = read_json(bootstrap, TOPIC_DEADLETTER)
        assert Counter(d["reason"] for d in deadletters) == reasons
        for d in deadletters:
            assert d["source"]["topic"] == "sqm.interactions.v1" and d["raw"]

        def counters_settled() -> Samples | None:
            m = worker.try_metrics()
            if m is None:
                return None
            total = sum(v for (n, _l), v in m.items() if n == "sqm_events_rejected_total")
            return m if total == sum(reasons.values()) else None

        m = poll(counters_settled, 60, "rejected counters to include the orphan")
        for ch in Config().channel_names:  # sum by (channel): each queue once, no roll-up series
            for name in ("opened", "answered", "answered_within_target", "abandoned",
                         "short_abandoned", "resolved", "resolved_within_target", "failed",
                         "reopened"):
                assert counter_sum([m], f"sqm_{name}_total", channel=ch) == \
                    ref.measured[ch][name], (name, ch)
            assert counter_sum([m], "sqm_events_duplicate_total", channel=ch) == \
                ref.duplicates.get(ch, 0)
            assert counter_sum([m], "sqm_events_late_total", channel=ch) == 0
            n_answered = ref.measured[ch]["answered"]
            assert counter_sum([m], "sqm_first_response_seconds_count", channel=ch) == n_answered
            assert m[("sqm_events_unlisted_queue_total", (("channel", ch),))] == \
                ref.unlisted.get(ch, 0)
        for (ch, typ), n in ref.accepted.items():
            assert counter_sum([m], "sqm_events_total", channel=ch, type=typ) == n
        # per queue, the counters are the queue records' sums
        for (ch, q) in {(c, q) for (c, q, _w) in ref.queue_records}:
            assert counter_sum([m], "sqm_opened_total", channel=ch, queue=q) == sum(
                r["opened"] for (c2, q2, _w), r in ref.queue_records.items() if (c2, q2) == (ch, q))
        for reason, n in reasons.items():
            assert m[("sqm_events_rejected_total", (("reason", reason),))] == n
        # every consumed record is accounted for; a forwarded (re-keyed) record is consumed twice
        consumed = m[("sqm_records_consumed_total", ())]
        rekeyed = m[("sqm_events_rekeyed_total", ())]  # replay keys by interaction_id: none
        accounted = (sum(ref.accepted.values()) + sum(ref.duplicates.values())
                     + sum(reasons.values()) + m[("sqm_events_held", ())] + rekeyed)
        assert consumed == len(items) + rekeyed == accounted
        # every interaction of the scenario is kept (closed ones for reopen_window_s, 7 days); the
        # orphan's state went with its dead letter
        assert m[("sqm_state_interactions", ())] == len({e["interaction_id"] for e in valid})
        # window gauges show the latest final window; it is empty (after the scenario), so the
        # ratio gauges are absent rather than 0, and the window end matches the topic
        phone = [r for r in read_json(bootstrap, TOPIC_INDICATORS) if r["channel"] == "phone"]
        metrics_now = worker.metrics()
        roll_up = (("channel", "phone"), ("queue", ""))  # SPEC 9: the channel's own series
        latest_end = metrics_now[("sqm_window_end_timestamp_seconds", roll_up)]
        newest = max(phone, key=lambda r: r["window_end"])
        assert latest_end >= ts_ms(newest["window_end"]) / 1000 - 60
        assert ("sqm_service_level_ratio", roll_up) not in metrics_now
        assert newest["service_level"] is None and newest["opened"] == 0
    finally:
        assert worker.stop() == 0, worker.log_tail()


def test_sigkill_midway_then_restart_gives_the_same_records(
        cluster: tuple[str, Path], tmp_path: Path) -> None:
    bootstrap, cfg = cluster
    start, duration = _span(int(time.time() * 1000))
    items, valid, _reasons = scenario(start, duration, rate=12.0, seed=23)
    ref = _expected(valid, start, duration)
    port = free_port()
    worker = WorkerProcess(cfg, port, tmp_path / "worker1.log")
    producer = threading.Thread(target=produce, args=(bootstrap, items, 1500.0))
    producer.start()
    try:
        poll(lambda: len(read_json(bootstrap, TOPIC_INDICATORS)) >= 14, 120,
             "the first windows before the kill")
        worker.kill()
        emitted_before = len(read_json(bootstrap, TOPIC_INDICATORS))
        assert emitted_before < len(ref.records), "the kill came too late to test anything"
        worker = WorkerProcess(cfg, port, tmp_path / "worker2.log")
        producer.join()
        got = wait_for_windows(bootstrap, ref.records, 240, [worker])
        assert_records(ref.records, got)
        assert_queue_records(ref, wait_for_queue_windows(bootstrap, ref, 60, [worker]))
        assert_alerts(bootstrap, ref)  # no second firing after the kill, no resolution lost
        # the restarted worker accounts for what it consumed and for what it restored (events the
        # killed one had consumed and held in its reorder buffer at its last commit)
        m = worker.metrics()
        used = sum(counter_sum([m], n) for n in (
            "sqm_events_total", "sqm_events_duplicate_total", "sqm_events_rejected_total",
            "sqm_events_held", "sqm_events_rekeyed_total", "sqm_events_handed_over_total"))
        restored = m[("sqm_events_restored_total", ())]
        assert m[("sqm_records_consumed_total", ())] + restored == used, (restored, used)
    finally:
        producer.join()
        worker.stop()


def test_two_workers_give_the_same_records_as_one(cluster: tuple[str, Path], tmp_path: Path) -> None:
    bootstrap, cfg = cluster
    start, duration = _span(int(time.time() * 1000))
    items, valid, reasons = scenario(start, duration, rate=5.0, seed=37)
    ref = _expected(valid, start, duration)
    workers = [WorkerProcess(cfg, free_port(), tmp_path / f"worker{i}.log") for i in range(2)]
    try:
        for w in workers:
            poll(w.try_metrics, 60, "worker metrics endpoint")

        def owned() -> list[float] | None:
            counts = []
            for w in workers:
                m = w.try_metrics() or {}
                counts.append(m.get(("sqm_assigned_partitions", (("stage", "interactions"),)), 0))
            return counts if sum(counts) == 4 and all(counts) else None

        # both members own input partitions before any data arrives
        poll(owned, 90, "the group to split the input partitions between both workers")
        produce(bootstrap, items)
        got = wait_for_windows(bootstrap, ref.records, 180, workers)
        assert_records(ref.records, got)
        assert_queue_records(ref, wait_for_queue_windows(bootstrap, ref, 60, workers))
        samples = [w.metrics() for w in workers]
        for ch in Config().channel_names:
            assert counter_sum(samples, "sqm_opened_total", channel=ch) == ref.measured[ch]["opened"]
            assert counter_sum(samples, "sqm_resolved_total", channel=ch) == \
                ref.measured[ch]["resolved"]
        consumed = [counter_sum([s], "sqm_records_consumed_total") for s in samples]
        assert sum(consumed) == len(items)
        assert all(c > 0 for c in consumed), f"one worker did all the work: {consumed}"
        rejected = counter_sum(samples, "sqm_events_rejected_total")
        assert rejected == sum(reasons.values())
    finally:
        for w in workers:
            w.stop()


def test_live_traffic_with_foreign_keys_is_exact(kafka_bootstrap: str, tmp_path: Path) -> None:
    """Records keyed by a customer id or not keyed at all land in partitions that do not own
    their interaction; the worker forwards them (in its transaction) to the owner. With live
    traffic the detour is far inside the grace, so every record is still exact."""
    reset_topics(kafka_bootstrap)
    window_s = 5
    cfg = write_config(tmp_path / "sqm.toml", kafka_bootstrap, f"it-{uuid.uuid4().hex[:8]}",
                       window_s=window_s, grace_s=3, idle_timeout_s=1)
    worker = WorkerProcess(cfg, free_port(), tmp_path / "worker.log")
    try:
        poll(lambda: (worker.try_metrics() or {}).get(
            ("sqm_assigned_partitions", (("stage", "interactions"),))) == 4, 60, "the worker to start")
        start = int(time.time() * 1000)
        items = list(history(Config().channels, "steady", 53, 40.0, start, 15))
        events = [i for i in items if isinstance(i, dict)]
        # event time is the wall clock: send each record when it is due, keyed badly a third of
        # the time (a customer id, or no key at all)
        sent: list[tuple[bytes | None, bytes]] = []
        for n, e in enumerate(events):
            key: bytes | None = e["interaction_id"].encode()
            if n % 3 == 1:
                key = b"customer-" + str(n % 5).encode()
            elif n % 3 == 2:
                key = None
            sent.append((key, orjson.dumps(e)))
        due = [ts_ms(e["ts"]) for e in events]
        batch: list[tuple[bytes | None, bytes]] = []
        for (key, value), t in zip(sent, due, strict=True):
            wait_s = (t - time.time() * 1000) / 1000
            if wait_s > 0.05 and batch:
                produce(kafka_bootstrap, batch)
                batch = []
            if wait_s > 0:
                time.sleep(wait_s)  # pacing the producer at event time, not synchronising a test
            batch.append((key, value))
        if batch:
            produce(kafka_bootstrap, batch)
        ref = compute(events, window_s=window_s)
        got = wait_for_windows(kafka_bootstrap, ref.records, 90, [worker])
        assert_records(ref.records, got)
        m = worker.metrics()
        assert m[("sqm_events_rekeyed_total", ())] > len(events) // 3
        assert sum(v for (n, _l), v in m.items() if n == "sqm_events_late_total") == 0
    finally:
        worker.stop()
