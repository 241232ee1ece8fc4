"""The interaction state machine, observed through the whole pipeline (stage one and stage two).

Every expectation is computed by hand from the SPEC (default config: window 60 s, grace 10 s, phone
targets 20 s / 600 s, short abandon 5 s); quantile references come from a sorted list.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config import Config
from monitor.core.aggregate import Aggregator, mark_value, partial_value
from monitor.core.params import Params
from monitor.core.partition import BatchResult, PartitionProcessor

# --- pipeline harness (stage one -> stage two), independent time and record helpers ---------

CHANNELS = ("phone", "chat", "email", "web", "app", "store", "social")
TOPIC = "sqm.interactions.v1"
PARAMS = Params.from_config(Config())
WINDOW_MS = 60_000
GRACE_MS = 10_000
DAY_MS = 86_400_000
REASONS = {
    "malformed_json", "not_an_object", "missing_field", "bad_type", "bad_value", "unknown_type",
    "unknown_channel", "bad_timestamp", "too_large", "invalid_transition", "orphan",
}
NULLS: dict[str, float | None] = {"p50": None, "p90": None, "p99": None, "mean": None, "max": None}


def at(hms: str, day: int = 0) -> int:
    """Epoch ms of 2026-11-21 ``hms`` UTC (+ ``day`` days)."""
    dt = datetime.fromisoformat(f"2026-11-21T{hms}+00:00") + timedelta(days=day)
    return int(dt.timestamp()) * 1000 + dt.microsecond // 1000


WALL = at("10:00:00", day=30)  # wall clock for parsing: after every event time used here


def iso_s(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(ms: int) -> str:
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}Z"


def ev(eid: str, iid: str, etype: str, ts_ms: int, channel: str = "phone", int_ts: bool = False) -> bytes:
    ts: int | str = ts_ms if int_ts else iso_ms(ts_ms)
    return json.dumps(
        {"event_id": eid, "interaction_id": iid, "channel": channel, "type": etype, "ts": ts,
         "attrs": {"queue": "q1"}}
    ).encode()


def summ(*values_ms: int) -> dict[str, float | None]:
    """Reference ``{p50, p90, p99, mean, max}`` in seconds (nearest rank on the sorted values)."""
    if not values_ms:
        return dict(NULLS)
    s = sorted(values_ms)
    n = len(s)

    def q(p: float) -> float:
        return s[math.ceil(p * n) - 1] / 1000

    return {"p50": q(0.5), "p90": q(0.9), "p99": q(0.99), "mean": sum(s) / n / 1000, "max": s[-1] / 1000}


def expected(channel: str, w_ms: int, **fields: Any) -> dict[str, Any]:
    rec: dict[str, Any] = {
        "schema": "sqm.indicators.v1", "channel": channel,
        "window_start": iso_s(w_ms), "window_end": iso_s(w_ms + WINDOW_MS),
        "opened": 0, "answered": 0, "answered_within_target": 0, "abandoned": 0, "short_abandoned": 0,
        "service_level": None, "abandonment_rate": None, "first_response_s": dict(NULLS),
        "resolved": 0, "failed": 0, "resolution_rate": None, "resolved_within_target": 0,
        "on_time_resolution_rate": None, "resolution_s": dict(NULLS), "reopened": 0, "reopen_rate": None,
        "backlog_waiting": 0, "backlog_open": 0, "oldest_wait_s": 0,
    }
    unknown = set(fields) - set(rec)
    assert not unknown, unknown
    rec.update(fields)
    return rec


def assert_record(actual: dict[str, Any], exp: dict[str, Any]) -> None:
    where = f"{exp['channel']} {exp['window_start']}"
    assert set(actual) == set(exp), where
    for k, v in exp.items():
        a = actual[k]
        if k in ("first_response_s", "resolution_s"):
            assert set(a) == set(v), f"{where} {k}"
            for name, want in v.items():
                got = a[name]
                if want is None:
                    assert got is None, f"{where} {k}.{name}: {got} != None"
                elif name in ("p50", "p90", "p99"):
                    assert got == pytest.approx(want, rel=0.01), f"{where} {k}.{name}: {got} vs {want}"
                else:
                    assert got == pytest.approx(want, abs=1e-6), f"{where} {k}.{name}: {got} vs {want}"
        elif v is None:
            assert a is None, f"{where} {k}: {a!r} != None"
        else:
            assert a == v, f"{where} {k}: {a!r} != {v!r}"
            assert a is not None


def check_deadletter(value: bytes, partition: int) -> dict[str, Any]:
    d = json.loads(value)
    assert set(d) == {"schema", "reason", "detail", "source", "raw", "received_at"}
    assert d["schema"] == "sqm.deadletter.v1"
    assert d["reason"] in REASONS
    assert isinstance(d["detail"], str)
    assert d["detail"]
    assert set(d["source"]) == {"topic", "partition", "offset"}
    assert d["source"]["topic"] == TOPIC
    assert d["source"]["partition"] == partition
    assert isinstance(d["source"]["offset"], int)
    assert isinstance(d["raw"], str)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", d["received_at"])
    return d


def key_of(value: bytes) -> bytes | None:
    try:
        return str(json.loads(value)["interaction_id"]).encode()
    except (ValueError, KeyError, TypeError):
        return None


class Pipeline:
    """N input partitions (stage one) feeding one aggregator that owns every channel (stage two)."""

    def __init__(self, partitions: int = 1) -> None:
        self.n = partitions
        self.procs = [PartitionProcessor(PARAMS, TOPIC, p) for p in range(partitions)]
        self.agg = Aggregator(PARAMS, partition=0, partitions=1, sources=partitions)
        self.next_offset = [0] * partitions
        self.records: list[tuple[str, dict[str, Any]]] = []
        self.late: Counter[str] = Counter()
        self.deadletters: list[tuple[int, bytes | None, dict[str, Any]]] = []
        self.events: Counter[tuple[str, str]] = Counter()
        self.rejected: Counter[str] = Counter()
        self.duplicate: Counter[str] = Counter()
        self.changelog: list[list[tuple[bytes, bytes | None]]] = [[] for _ in range(partitions)]
        self.agg_changelog: list[tuple[bytes, bytes | None]] = []
        self.offset_of: dict[bytes, int] = {}

    def send(self, *values: bytes, p: int = 0, now: int = WALL) -> BatchResult:
        batch: list[tuple[int, bytes | None, bytes | None]] = []
        for v in values:
            off = self.next_offset[p]
            self.next_offset[p] += 1
            self.offset_of[v] = off
            batch.append((off, key_of(v), v))
        res = self.procs[p].process(batch, now, idle=False)
        self._forward(p, res)
        return res

    def advance(self, now: int, idle: bool, p: int = 0) -> BatchResult:
        res = self.procs[p].advance(now, idle)
        self._forward(p, res)
        return res

    def flush_through(self, w_last: int) -> None:
        """Idle every partition at a wall clock that finalises the window starting at ``w_last``."""
        now = w_last + WINDOW_MS + 2 * GRACE_MS + 1
        for p in range(self.n):
            self.advance(now, idle=True, p=p)

    def restart_partition(self, p: int) -> None:
        fresh = PartitionProcessor(PARAMS, TOPIC, p)
        fresh.restore(list(self.changelog[p]))
        self.procs[p] = fresh

    def restart_aggregator(self) -> None:
        fresh = Aggregator(PARAMS, partition=0, partitions=1, sources=self.n)
        fresh.restore(list(self.agg_changelog))
        self.agg = fresh

    def _forward(self, p: int, res: BatchResult) -> None:
        values = [partial_value(p, ch, w, acc) for (ch, w), acc in res.partials.items()]
        if res.mark is not None:
            values.append(mark_value(p, *res.mark))
        out = self.agg.process(values)
        self.records.extend(out.records)
        self.late.update(out.late)
        self.agg_changelog.extend(out.changelog)
        self.changelog[p].extend(res.changelog)
        self.events.update(res.events)
        self.rejected.update(res.rejected)
        self.duplicate.update(res.duplicate)
        for key, value in res.deadletters:
            self.deadletters.append((p, key, check_deadletter(value, p)))

    # --- looking at the output -------------------------------------------------------------

    def record(self, channel: str, w_ms: int) -> dict[str, Any]:
        found = [r for c, r in self.records if c == channel and r["window_start"] == iso_s(w_ms)]
        assert len(found) == 1, f"{len(found)} records for {channel} {iso_s(w_ms)}"
        return found[0]

    def assert_records(self, windows: list[int], exp: dict[tuple[str, int], dict[str, Any]]) -> None:
        """Exactly one record per channel per window in ``windows``, each equal to its expectation
        (``exp`` overrides per (channel, window); everything else must be an empty window)."""
        got = [(c, r["window_start"]) for c, r in self.records]
        want = [(c, iso_s(w)) for w in windows for c in CHANNELS]
        assert sorted(got) == sorted(want)
        assert len(set(got)) == len(got), "a (channel, window) was emitted twice"
        for ch, w in exp:
            assert w in windows and ch in CHANNELS
        for w in windows:
            for ch in CHANNELS:
                assert_record(self.record(ch, w), expected(ch, w, **exp.get((ch, w), {})))

    def reasons(self) -> list[str]:
        return [d["reason"] for _, _, d in self.deadletters]


W00, W01, W02 = at("10:00:00"), at("10:01:00"), at("10:02:00")


# --- responsiveness --------------------------------------------------------------------------


def test_first_response_exactly_at_target_and_one_ms_over() -> None:
    pipe = Pipeline()
    pipe.send(ev("x1", "X", "opened", at("10:00:00"), int_ts=True))
    pipe.send(ev("x2", "X", "responded", at("10:00:20"), int_ts=True))  # wait 20 000 ms
    pipe.send(ev("y1", "Y", "opened", at("10:01:10")))
    pipe.send(ev("y2", "Y", "responded", at("10:01:30.001")))  # wait 20 001 ms
    pipe.flush_through(W01)
    pipe.assert_records([W00, W01], {
        ("phone", W00): dict(opened=1, answered=1, answered_within_target=1, service_level=1.0,
                             abandonment_rate=0.0, first_response_s=summ(20_000), backlog_open=1),
        ("phone", W01): dict(opened=1, answered=1, answered_within_target=0, service_level=0.0,
                             abandonment_rate=0.0, first_response_s=summ(20_001), backlog_open=2),
    })
    assert pipe.deadletters == []
    assert pipe.late == Counter()


def test_short_abandon_boundary() -> None:
    pipe = Pipeline()
    pipe.send(ev("a1", "A", "opened", at("10:00:00")))
    pipe.send(ev("a2", "A", "abandoned", at("10:00:05")))  # wait exactly 5 s: short
    pipe.send(ev("b1", "B", "opened", at("10:00:10")))
    pipe.send(ev("b2", "B", "abandoned", at("10:00:15.001")))  # 5.001 s: abandoned
    pipe.send(ev("c1", "C", "opened", at("10:00:20")))
    pipe.send(ev("c2", "C", "responded", at("10:00:30")))  # 10 s, within 20 s
    pipe.send(ev("d1", "D", "opened", at("10:00:00"), channel="email"))
    pipe.send(ev("d2", "D", "abandoned", at("10:00:02"), channel="email"))  # only a short abandon
    pipe.flush_through(W00)
    pipe.assert_records([W00], {
        # abandoned contacts are not closed (closings are resolved/failed): still in backlog_open
        ("phone", W00): dict(opened=3, answered=1, answered_within_target=1, abandoned=1,
                             short_abandoned=1, service_level=0.5, abandonment_rate=0.5,
                             first_response_s=summ(10_000), backlog_open=3),
        # short abandons are excluded from both ratios: denominator 0 -> null
        ("email", W00): dict(opened=1, short_abandoned=1, backlog_open=1),
    })
    assert pipe.deadletters == []


# --- reliability -----------------------------------------------------------------------------


def test_resolved_and_failed_without_any_response() -> None:
    pipe = Pipeline()
    pipe.send(ev("s1", "S", "opened", at("10:00:00")))
    pipe.send(ev("f1", "F", "opened", at("10:00:10")))
    pipe.send(ev("s2", "S", "resolved", at("10:00:30")))  # self-service, 30 s
    pipe.send(ev("f2", "F", "failed", at("10:00:40")))
    pipe.flush_through(W00)
    pipe.assert_records([W00], {
        ("phone", W00): dict(opened=2, resolved=1, failed=1, resolution_rate=0.5,
                             resolved_within_target=1, on_time_resolution_rate=1.0,
                             resolution_s=summ(30_000), reopen_rate=0.0),
    })
    assert pipe.deadletters == []


def test_resolution_target_boundary_and_backlog_while_open() -> None:
    pipe = Pipeline()
    pipe.send(ev("p1", "P1", "opened", at("10:00:00")))
    pipe.send(ev("q1", "P2", "opened", at("10:00:00.500")))
    pipe.send(ev("p2", "P1", "resolved", at("10:10:00")))  # exactly 600 s: within target
    pipe.send(ev("q2", "P2", "resolved", at("10:10:00.501")))  # 600.001 s: not within
    w10 = at("10:10:00")
    pipe.flush_through(w10)
    windows = [W00 + k * WINDOW_MS for k in range(11)]
    exp: dict[tuple[str, int], dict[str, Any]] = {
        ("phone", W00): dict(opened=2, backlog_waiting=2, backlog_open=2, oldest_wait_s=60.0),
    }
    for k in range(1, 10):
        exp[("phone", windows[k])] = dict(backlog_waiting=2, backlog_open=2, oldest_wait_s=60.0 * (k + 1))
    exp[("phone", w10)] = dict(resolved=2, resolved_within_target=1, resolution_rate=1.0,
                               on_time_resolution_rate=0.5, resolution_s=summ(600_000, 600_001),
                               reopen_rate=0.0)
    pipe.assert_records(windows, exp)


def test_reopen_within_the_window_then_resolved_again() -> None:
    pipe = Pipeline()
    for value in (
        ev("r1", "R", "opened", at("10:00:00")),
        ev("r2", "R", "responded", at("10:00:05")),
        ev("r3", "R", "resolved", at("10:00:10")),  # 10 s
        ev("r4", "R", "reopened", at("10:00:20")),
        ev("q1", "Q", "opened", at("10:00:30")),
        ev("r5", "R", "resolved", at("10:00:40")),  # 40 s after opened
        ev("q2", "Q", "resolved", at("10:00:50")),  # 20 s
        ev("q3", "Q", "reopened", at("10:01:20")),
        ev("q4", "Q", "failed", at("10:01:40")),
    ):
        pipe.send(value)
    pipe.flush_through(W01)
    pipe.assert_records([W00, W01], {
        ("phone", W00): dict(opened=2, answered=1, answered_within_target=1, service_level=1.0,
                             abandonment_rate=0.0, first_response_s=summ(5_000), resolved=3,
                             resolution_rate=1.0, resolved_within_target=3, on_time_resolution_rate=1.0,
                             resolution_s=summ(10_000, 40_000, 20_000), reopened=1, reopen_rate=1 / 3),
        # reopened with no resolution in the window: reopen_rate null; closed again by failed
        ("phone", W01): dict(reopened=1, failed=1, resolution_rate=0.0),
    })
    assert pipe.events[("phone", "reopened")] == 2
    assert pipe.deadletters == []


def test_reopen_after_the_reopen_window_is_an_invalid_transition() -> None:
    pipe = Pipeline()
    pipe.send(ev("u1", "U", "opened", at("10:00:00")))
    pipe.send(ev("u2", "U", "responded", at("10:00:03")))
    pipe.send(ev("u3", "U", "resolved", at("10:00:10")))
    pipe.send(ev("v1", "V", "opened", at("10:00:05")))
    pipe.send(ev("v2", "V", "resolved", at("10:00:20")))
    pipe.flush_through(W00)
    u_reopen = ev("u4", "U", "reopened", at("10:00:10", day=7))  # exactly 7 days: allowed
    v_reopen = ev("v3", "V", "reopened", at("10:00:20.001", day=7))  # 7 days + 1 ms: too late
    pipe.send(u_reopen, v_reopen)
    w7 = at("10:00:00", day=7)
    pipe.flush_through(w7)
    assert pipe.reasons() == ["invalid_transition"]
    p, key, d = pipe.deadletters[0]
    assert (p, key) == (0, b"V")
    assert d["source"]["offset"] == pipe.offset_of[v_reopen]
    assert d["raw"] == v_reopen.decode()
    assert pipe.events[("phone", "reopened")] == 1
    assert_record(pipe.record("phone", w7), expected("phone", w7, reopened=1, backlog_open=1))
    assert pipe.late == Counter()


def test_later_responses_are_not_first_responses() -> None:
    pipe = Pipeline()
    for value in (
        ev("a1", "A", "opened", at("10:00:00")),
        ev("a2", "A", "responded", at("10:00:10")),
        ev("a3", "A", "responded", at("10:00:30")),
        ev("a4", "A", "resolved", at("10:00:40")),
        ev("a5", "A", "responded", at("10:00:50")),
    ):
        pipe.send(value)
    pipe.flush_through(W00)
    pipe.assert_records([W00], {
        ("phone", W00): dict(opened=1, answered=1, answered_within_target=1, service_level=1.0,
                             abandonment_rate=0.0, first_response_s=summ(10_000), resolved=1,
                             resolved_within_target=1, resolution_rate=1.0, on_time_resolution_rate=1.0,
                             resolution_s=summ(40_000), reopen_rate=0.0),
    })
    assert pipe.events[("phone", "responded")] == 3
    assert pipe.deadletters == []


def test_invalid_transitions_are_dead_lettered() -> None:
    pipe = Pipeline()
    bad = {
        "abandoned after responded": ev("i1c", "I1", "abandoned", at("10:00:08")),
        "resolved twice": ev("i2c", "I2", "resolved", at("10:00:20")),
        "responded after abandoned": ev("i3c", "I3", "responded", at("10:00:35")),
        "second opened": ev("i4b", "I4", "opened", at("10:00:45")),
        "reopened while open": ev("i5b", "I5", "reopened", at("10:00:55")),
    }
    stream = [
        ev("i1a", "I1", "opened", at("10:00:00")),
        ev("i1b", "I1", "responded", at("10:00:05")),
        bad["abandoned after responded"],
        ev("i2a", "I2", "opened", at("10:00:10")),
        ev("i2b", "I2", "resolved", at("10:00:15")),
        bad["resolved twice"],
        ev("i3a", "I3", "opened", at("10:00:20")),
        ev("i3b", "I3", "abandoned", at("10:00:30")),
        bad["responded after abandoned"],
        ev("i4a", "I4", "opened", at("10:00:40")),
        bad["second opened"],
        ev("i5a", "I5", "opened", at("10:00:50")),
        bad["reopened while open"],
    ]
    for value in stream:
        pipe.send(value)
    pipe.flush_through(W00)
    assert pipe.reasons() == ["invalid_transition"] * len(bad)
    by_offset = {d["source"]["offset"]: (key, d) for _, key, d in pipe.deadletters}
    for value in bad.values():
        key, d = by_offset[pipe.offset_of[value]]
        assert d["raw"] == value.decode()
        assert key == json.loads(value)["interaction_id"].encode()
    pipe.assert_records([W00], {
        ("phone", W00): dict(opened=5, answered=1, answered_within_target=1, abandoned=1,
                             service_level=0.5, abandonment_rate=0.5, first_response_s=summ(5_000),
                             resolved=1, resolved_within_target=1, resolution_rate=1.0,
                             on_time_resolution_rate=1.0, resolution_s=summ(5_000), reopen_rate=0.0,
                             backlog_waiting=2, backlog_open=4, oldest_wait_s=20.0),
    })
    assert sum(pipe.events.values()) == len(stream) - len(bad)


# --- held events, duplicates, backlog ----------------------------------------------------------


def test_orphan_is_dead_lettered_after_the_orphan_timeout() -> None:
    pipe = Pipeline()
    orphan = ev("x2", "X", "responded", at("10:00:00"))
    pipe.send(orphan)
    pipe.send(ev("y1", "Y", "opened", at("10:00:05")))
    pipe.send(ev("z1", "Z", "opened", at("10:58:20")))  # 3500 s of watermark later: still held
    assert pipe.deadletters == []
    pipe.send(ev("w1", "W", "opened", at("11:00:11")))  # 3611 s later: past 3600 s + grace
    assert pipe.reasons() == ["orphan"]
    p, key, d = pipe.deadletters[0]
    assert (p, key) == (0, b"X")
    assert d["source"] == {"topic": TOPIC, "partition": 0, "offset": pipe.offset_of[orphan]}
    assert d["raw"] == orphan.decode()
    assert pipe.events[("phone", "responded")] == 0
    assert all(r["answered"] == 0 for _, r in pipe.records)
    # accounting, once everything is applied: 4 consumed = 3 accepted + 1 dead-lettered
    pipe.flush_through(at("11:00:00"))
    assert sum(pipe.events.values()) == 3
    assert len(pipe.deadletters) == 1


def test_held_events_are_applied_when_a_late_opened_arrives() -> None:
    pipe = Pipeline()
    pipe.send(ev("y1", "Y", "opened", at("10:00:00")))
    pipe.send(ev("x2", "X", "responded", at("10:00:30")))  # no opened yet: held
    pipe.send(ev("z1", "Z", "opened", at("10:02:00")))  # window 10:00 becomes final
    before = pipe.record("phone", W00)
    assert_record(before, expected("phone", W00, opened=1, backlog_waiting=1, backlog_open=1,
                                   oldest_wait_s=60.0))
    pipe.send(ev("x1", "X", "opened", at("10:00:10")))  # late: window 10:00 is final
    assert pipe.late == Counter({"phone": 2})  # its opened and its answer (20 s wait)
    pipe.flush_through(W01)
    assert pipe.deadletters == []
    assert pipe.events[("phone", "responded")] == 1
    assert pipe.events[("phone", "opened")] == 3
    pipe.assert_records([W00, W01], {
        ("phone", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=60.0),
        # X is open (answered) and Y still waits; Z opened at 10:02:00, after this window
        ("phone", W01): dict(backlog_waiting=1, backlog_open=2, oldest_wait_s=120.0),
    })


def test_duplicates_count_once() -> None:
    pipe = Pipeline()
    a1 = ev("a1", "A", "opened", at("10:00:00"))
    a2 = ev("a2", "A", "responded", at("10:00:10"))
    res = pipe.send(a1, a1)
    assert res.duplicate == Counter({"phone": 1})
    pipe.send(a2)
    pipe.send(ev("b1", "B", "opened", at("10:00:30")))  # A's events are now applied
    res = pipe.send(a1, a2)
    assert res.duplicate == Counter({"phone": 2})
    pipe.flush_through(W00)
    assert pipe.duplicate == Counter({"phone": 3})
    assert pipe.events == Counter({("phone", "opened"): 2, ("phone", "responded"): 1})
    pipe.assert_records([W00], {
        ("phone", W00): dict(opened=2, answered=1, answered_within_target=1, service_level=1.0,
                             abandonment_rate=0.0, first_response_s=summ(10_000),
                             backlog_waiting=1, backlog_open=2, oldest_wait_s=30.0),
    })
    assert pipe.deadletters == []


def test_backlog_snapshots_at_window_ends() -> None:
    pipe = Pipeline()
    pipe.send(ev("p1", "P", "opened", at("10:00:05")))
    pipe.send(ev("p2", "P", "responded", at("10:02:30")))  # 145 s: over the 20 s target
    pipe.flush_through(W02)
    pipe.assert_records([W00, W01, W02], {
        ("phone", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=55.0),
        ("phone", W01): dict(backlog_waiting=1, backlog_open=1, oldest_wait_s=115.0),
        ("phone", W02): dict(answered=1, answered_within_target=0, service_level=0.0,
                             abandonment_rate=0.0, first_response_s=summ(145_000), backlog_open=1),
    })


def test_backlog_per_channel_and_oldest_of_several() -> None:
    pipe = Pipeline()
    pipe.send(ev("a1", "A", "opened", at("10:00:10"), channel="chat"))
    pipe.send(ev("b1", "B", "opened", at("10:00:20"), channel="chat"))
    pipe.send(ev("c1", "C", "opened", at("10:00:40"), channel="web"))
    pipe.send(ev("a2", "A", "responded", at("10:00:50"), channel="chat"))  # 40 s, within 60 s
    pipe.send(ev("b2", "B", "resolved", at("10:01:30"), channel="chat"))  # self-service, 70 s
    pipe.flush_through(W01)
    pipe.assert_records([W00, W01], {
        ("chat", W00): dict(opened=2, answered=1, answered_within_target=1, service_level=1.0,
                            abandonment_rate=0.0, first_response_s=summ(40_000),
                            backlog_waiting=1, backlog_open=2, oldest_wait_s=40.0),
        ("web", W00): dict(opened=1, backlog_waiting=1, backlog_open=1, oldest_wait_s=20.0),
        ("chat", W01): dict(resolved=1, resolved_within_target=1, resolution_rate=1.0,
                            on_time_resolution_rate=1.0, resolution_s=summ(70_000), reopen_rate=0.0,
                            backlog_open=1),
        ("web", W01): dict(backlog_waiting=1, backlog_open=1, oldest_wait_s=80.0),
    })
