"""Shared harness of the unit tests of the stream stages: stage one feeding stage two, time and
record helpers (also used by the alert, exporter and report tests).

Every expectation it builds is hand-written from the SPEC; nothing here calls the code under
test to compute an expected value.
"""
from __future__ import annotations

import json
import math
import re
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.config import Config, domain_params, window_rules
from monitor.contract import alerts, deadletter, indicators, partials, queues
from monitor.domain.stream.events import DeadLetter
from monitor.domain.stream.indicators import Indicators
from monitor.domain.stream.sketch import EMPTY_SUMMARY
from monitor.stages.aggregate.aggregator import Aggregator
from monitor.stages.interactions.outputs import BatchResult
from monitor.stages.interactions.processor import PartitionProcessor
from monitor.state import windows

# --- pipeline harness (stage one -> stage two), independent time and record helpers ---------

CHANNELS = ("phone", "chat", "email", "web", "app", "store", "social")
TOPIC = "sqm.interactions.v1"
#: The defaults, but for ``max_event_age_s``: the events here span 8 days and are parsed at one
#: wall clock (``WALL``) 30 days after the first.
PARAMS = domain_params(Config(max_event_age_s=60 * 86_400))
RULES = window_rules(Config())
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
        "feedback_responses": 0, "csat_responses": 0, "csat_mean": None,
        "csat_satisfied_ratio": None, "nps_responses": 0, "nps": None, "complaints": 0,
        "complaint_rate": None,
        "servqual": {d: {"responses": 0, "expected_mean": None, "perceived_mean": None, "gap": None}
                     for d in ("reliability", "responsiveness", "assurance", "empathy", "tangibles")},
    }
    unknown = set(fields) - set(rec)
    assert not unknown, unknown
    rec.update(fields)
    if "complaint_rate" not in fields and rec["opened"]:
        rec["complaint_rate"] = rec["complaints"] / rec["opened"]  # SPEC 7.1: per opened contact
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
    d: dict[str, Any] = json.loads(value)
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


def final_window(channel: str, start_ms: int, **values: object) -> Indicators:
    """A final window's indicators (one minute from ``start_ms``): zeros and nulls, overridden
    by ``values``."""
    fields: dict[str, object] = dict(
        channel=channel, window_start_ms=start_ms, window_end_ms=start_ms + WINDOW_MS,
        opened=0, answered=0, answered_within_target=0, abandoned=0, short_abandoned=0,
        service_level=None, abandonment_rate=None, first_response=EMPTY_SUMMARY, resolved=0,
        failed=0, resolution_rate=None, resolved_within_target=0, on_time_resolution_rate=None,
        resolution=EMPTY_SUMMARY, reopened=0, reopen_rate=None, backlog_waiting=0,
        backlog_open=0, oldest_wait_ms=None)
    fields.update(values)
    return Indicators(**fields)  # type: ignore[arg-type]


def deadletter_json(d: DeadLetter, partition: int) -> dict[str, Any]:
    """A dead letter as the worker writes it, checked field by field."""
    return check_deadletter(deadletter.encode(d), partition)


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
        self.agg = Aggregator(PARAMS, partition=0, partitions=1, sources=partitions, rules=RULES)
        self.next_offset = [0] * partitions
        self.records: list[tuple[str, dict[str, Any]]] = []
        self.alerts: list[dict[str, Any]] = []  # sqm.alerts.v1 values, as written
        #: sqm.queues.v1 values, as written, by (channel, queue)
        self.queue_records: list[tuple[tuple[str, str], dict[str, Any]]] = []
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
        self._forward(p, res, now)
        return res

    def advance(self, now: int, idle: bool, p: int = 0) -> BatchResult:
        res = self.procs[p].advance(now, idle)
        self._forward(p, res, now)
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
        fresh = Aggregator(PARAMS, partition=0, partitions=1, sources=self.n, rules=RULES)
        fresh.restore(*windows.restore(list(self.agg_changelog), PARAMS.queues))
        self.agg = fresh

    def _forward(self, p: int, res: BatchResult, now: int) -> None:
        """Stage one's outputs to stage two through the partials topic's encoding, as the
        worker sends them."""
        values = [partials.encode_partial(p, q, w, acc) for (q, w), acc in res.partials.items()]
        if res.mark is not None:
            values.append(partials.encode_mark(res.mark))
        out = self.agg.process([partials.decode(v, PARAMS.queues) for v in values], now)
        self.records.extend((r.channel, json.loads(indicators.encode(r))) for r in out.records)
        self.queue_records.extend(((r.channel, r.queue or ""), json.loads(queues.encode(r)))
                                  for r in out.queue_records)
        self.alerts.extend(json.loads(alerts.encode(t)) for t in out.alerts)
        for q, n in out.late.items():
            self.late[q.channel] += n
        self.agg_changelog.extend(windows.records(out.windows, out.state))
        self.changelog[p].extend(res.changelog)
        for (q, etype), n in res.events.items():
            self.events[(q.channel, etype)] += n
        self.rejected.update(res.rejected)
        for q, n in res.duplicate.items():
            self.duplicate[q.channel] += n
        for d in res.deadletters:
            self.deadletters.append((p, d.key, deadletter_json(d, p)))

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
