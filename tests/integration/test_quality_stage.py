"""End to end on the real broker: the real ``sqm worker`` feeding the real ``sqm quality``,
against the independent reference of ``tests/reference_quality.py``.

A seeded scenario of three channels over four periods (period_s 300, window_s 60): the first
period begins mid-way, email has no surveys in the second period and nothing at all in the last,
interactions span periods. It is produced in two parts; "tick" events in every input partition
move the worker's watermark (partitions never count as idle here), so the worker finalises the
first two periods, then the last two. For each weighting method, every ``sqm.quality.v1`` record
is compared field by field with the reference, and so are the ``quality_index`` alerts. Between
the parts, the worker's records of the still open period are produced again, as a worker does
after a crash: they must not count twice. In the entropy run the quality stage is SIGKILLed once
it has published the first period (restarted after the second part) and again once it has
published the second: every record read, duplicates included, must equal the expected one for
its key, every expected record must be there, and no alert transition may be repeated.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from pathlib import Path
from typing import Any

import orjson
import pytest
from aiokafka import AIOKafkaProducer
from harness import (
    QualityProcess,
    WorkerProcess,
    poll,
    produce,
    read_json,
    read_topic,
    reset_topics,
    ticks,
)
from kafka_broker import free_port
from reference_quality import (
    DIMENSIONS,
    Method,
    expected_alerts,
    expected_records,
    period_data,
)

from monitor.contract import alerts as alerts_wire
from monitor.domain.alerts import Transition
from monitor.metrics.watch import Samples
from monitor.quality import sink

CHANNELS = ("phone", "chat", "email")
WINDOW_MS = 60_000
PERIOD_MS = 300_000
INPUT_PARTITIONS = 4
EXPERT = {"service_level": 3.0, "abandonment_rate": 1.0, "resolution_rate": 2.0,
          "on_time_resolution_rate": 1.0, "reopen_rate": 1.0, "csat_mean": 2.0, "nps": 1.0,
          "servqual_gap": 2.0}
AHP_NAMES = ("service_level", "csat_mean", "nps", "resolution_rate")
AHP_UPPER = ((1.0, 3.0, 5.0, 2.0), (1 / 3, 1.0, 2.0, 0.5), (0.2, 0.5, 1.0, 1 / 3),
             (0.5, 2.0, 3.0, 1.0))
AHP_TOML = '[[1, 3, 5, 2], ["1/3", 1, 2, "1/2"], ["1/5", "1/2", 1, "1/3"], ["1/2", 2, 3, 1]]'
Event = dict[str, Any]


# --- the scenario ------------------------------------------------------------------------------


class Scenario:
    """Periods P0..P3 from ``t0``; no scenario event in P1's fourth window (the watermark after
    part one is there) nor from P4 on."""

    def __init__(self, t0: int, seed: int) -> None:
        self.t0 = t0
        self.periods = [t0 + i * PERIOD_MS for i in range(4)]
        #: part one ends here: P1's first three windows are final after it, P1 stays open
        self.split = self.periods[1] + 3 * WINDOW_MS
        self.rng = random.Random(seed)
        self.events: list[Event] = []
        self.n = 0
        for ch in CHANNELS:
            for _ in range(30):
                self.events += self._interaction(ch)
            for p in range(4):
                if ch == "email" and p in (1, 3):
                    continue  # email: no surveys in P1, nothing at all in P3
                for _ in range(self.rng.randint(3, 9)):
                    self.events.append(self._survey(ch, p))

    def _id(self, prefix: str) -> str:
        self.n += 1
        return f"{prefix}{self.n}"

    def allowed(self, ch: str, t: int) -> bool:
        p0, _p1, _p2, p3 = self.periods
        end = p3 + PERIOD_MS
        if t < p0 + 2 * WINDOW_MS or t >= end or self.split <= t < self.split + WINDOW_MS:
            return False
        return not (ch == "email" and t >= p3)

    def _interaction(self, ch: str) -> list[Event]:
        rng = self.rng
        while True:
            o = rng.randrange(self.t0 + 2 * WINDOW_MS, self.t0 + 4 * PERIOD_MS)
            times = [(o, "opened")]
            kind = rng.choice(["answered", "answered", "answered", "abandoned", "waiting"])
            if kind == "answered":
                r = o + rng.choice([3, 12, 18, 25, 40, 75, 110]) * 1000 + rng.randrange(1000)
                times.append((r, "responded"))
                c = r + rng.choice([20, 60, 150, 300, 500, 700]) * 1000 + rng.randrange(1000)
                closing = "resolved" if rng.random() < 0.8 else "failed"
                times.append((c, closing))
                if closing == "resolved" and rng.random() < 0.25:
                    times += [(c + 15_000, "reopened"), (c + 40_000, "resolved")]
            elif kind == "abandoned":
                times.append((o + rng.choice([2, 4, 9, 30, 80]) * 1000 + rng.randrange(900),
                              "abandoned"))
            if all(self.allowed(ch, t) for t, _ in times):
                break
        iid = self._id(f"{ch}-i")
        return [{"event_id": f"{iid}-{k}", "interaction_id": iid, "channel": ch, "type": typ,
                 "ts": t} for k, (t, typ) in enumerate(times)]

    def _survey(self, ch: str, p: int) -> Event:
        rng = self.rng
        while True:
            t = rng.randrange(self.periods[p], self.periods[p] + PERIOD_MS)
            if self.allowed(ch, t):
                break
        fb: dict[str, Any] = {}
        if rng.random() < 0.8:
            fb["csat"] = rng.randint(1, 5)
        if rng.random() < 0.7:
            fb["nps"] = rng.randint(0, 10)
        if rng.random() < 0.3:
            fb["complaint"] = rng.random() < 0.5
        if rng.random() < 0.6 or not fb:
            dims = rng.sample(DIMENSIONS, rng.randint(1, len(DIMENSIONS)))
            fb["servqual"] = {d: {"expected": rng.randint(3, 7), "perceived": rng.randint(1, 7)}
                              for d in dims}
        sid = self._id(f"{ch}-s")
        return {"event_id": sid, "interaction_id": sid, "channel": ch, "type": "feedback",
                "ts": t, "feedback": fb}

    def parts(self) -> tuple[list[Event], list[Event]]:
        events = sorted(self.events, key=lambda e: (e["ts"], e["event_id"]))
        one = ([e for e in events if e["ts"] < self.split]
               + ticks("tick1", self.split + 30_000, INPUT_PARTITIONS))
        two = ([e for e in events if e["ts"] >= self.split]
               + ticks("tick2", self.periods[3] + PERIOD_MS + 30_000, INPUT_PARTITIONS))
        return one, two


# --- processes -----------------------------------------------------------------------------------


def write_config(path: Path, bootstrap: str, group: str, method: str, warning: float,
                 critical: float) -> Path:
    weights = "\n".join(f"{k} = {v}" for k, v in EXPERT.items())
    path.write_text(f"""
broker_url = "kafka://{bootstrap}"
group_id = "{group}"
idle_timeout_s = 3600
[channels.phone]
[channels.chat]
[channels.email]
[quality]
period_s = 300
method = "{method}"
[quality.weights]
{weights}
[quality.ahp]
scores = {list(AHP_NAMES)!r}
matrix = {AHP_TOML}
[[alerts]]
indicator = "quality_index"
op = "<"
warning = {warning!r}
critical = {critical!r}
for_windows = 1
clear_windows = 1
""".replace("'", '"'))
    return path


# --- comparison ----------------------------------------------------------------------------------


def same(expected: Any, got: Any) -> bool:
    if isinstance(expected, dict):
        return (isinstance(got, dict) and set(expected) == set(got)
                and all(same(v, got[k]) for k, v in expected.items()))
    if isinstance(expected, float) and not isinstance(got, bool) and isinstance(got, int | float):
        return got == pytest.approx(expected, rel=1e-9, abs=1e-12)
    return bool(expected == got) and type(expected) is type(got)


def record_key(r: dict[str, Any]) -> tuple[str, str, str]:
    return (r["kind"], r.get("channel", "*"), r["period_start"])


def quality_records(bootstrap: str) -> list[tuple[bytes | None, dict[str, Any]]]:
    return [(k, orjson.loads(v)) for k, v in read_topic(bootstrap, "sqm.quality.v1")]


def thresholds(records: dict[tuple[str, str, str], dict[str, Any]]) -> tuple[float, float]:
    """A warning and a critical threshold between the reference's index values, so the run
    fires, escalates or resolves something."""
    values = sorted({r["quality_index"] for r in records.values()
                     if r["kind"] == "channel" and r["quality_index"] is not None})
    assert len(values) >= 4
    mid = len(values) // 2
    q = len(values) // 4
    return (values[mid] + values[mid - 1]) / 2, (values[q] + values[q - 1]) / 2


METHODS = {
    "expert": Method("expert", expert=EXPERT),
    "ahp": Method("ahp", ahp_names=AHP_NAMES, ahp_upper=AHP_UPPER),
    "entropy": Method("entropy", entropy_periods=24),
}


Expected = dict[tuple[str, str, str], dict[str, Any]]
Records = list[tuple[bytes | None, dict[str, Any]]]


def expectations(sc: Scenario, method: str) -> tuple[Expected, list[dict[str, Any]], float, float]:
    """The reference's records, and thresholds with the alert transitions they give."""
    one, two = sc.parts()
    data = period_data(one + two, CHANNELS, PERIOD_MS, sc.periods[3] + PERIOD_MS - WINDOW_MS)
    expected = expected_records(data, CHANNELS, sc.periods, PERIOD_MS, METHODS[method])
    p1, p3 = _iso([sc.periods[1], sc.periods[3]])
    assert expected[("channel", "email", p1)]["scores"]["csat_mean"] is None  # no surveys
    assert expected[("channel", "email", p3)]["quality_index"] is None  # no volume
    assert expected[("channel", "phone", p3)]["quality_index"] is not None
    warning, critical = thresholds(expected)
    want_alerts = expected_alerts(expected, CHANNELS, sc.periods, PERIOD_MS, warning, critical)
    assert want_alerts, "the scenario should raise quality_index alerts"
    return expected, want_alerts, warning, critical


def wait_for(bootstrap: str, keys: set[tuple[str, str, str]], processes: list[Any],
             deadline_s: float) -> Records:
    """Poll ``sqm.quality.v1`` until it holds every one of ``keys``; the processes must live."""
    def check() -> Records | None:
        for p in processes:
            assert p.alive(), f"{type(p).__name__} died:\n{p.log_tail()}"
        recs = quality_records(bootstrap)
        return recs if keys <= {record_key(r) for _k, r in recs} else None

    try:
        return poll(check, deadline_s, f"{len(keys)} quality records", every_s=0.1)
    except AssertionError as exc:  # say which records and what the processes were doing
        missing = sorted(keys - {record_key(r) for _k, r in quality_records(bootstrap)})
        logs = "\n".join(f"--- {type(p).__name__}:\n{p.log_tail()}" for p in processes)
        raise AssertionError(f"{exc}; missing {missing[:6]}\n{logs}") from None


def assert_records(expected: Expected, recs: Records) -> None:
    problems = []
    for key, rec in recs:
        k = record_key(rec)
        if k not in expected:
            problems.append(f"unexpected record {k}")
        elif key != (b"*" if k[0] == "consistency" else k[1].encode()):
            problems.append(f"{k}: key {key!r}")
        elif not same(expected[k], rec):
            problems.append(f"{k}:\n  expected {expected[k]}\n  got      {rec}")
    assert not problems, "\n".join(problems[:10])


def assert_alerts(bootstrap: str, want: list[dict[str, Any]]) -> None:
    """Every transition once, crash or not: a restart neither repeats nor loses one."""
    alerts = [a for a in read_json(bootstrap, "sqm.alerts.v1") if a["indicator"] == "quality_index"]
    got = [{k: a[k] for k in want[0]} for a in alerts]
    assert len(got) == len(want), (got, want)
    for g, w in zip(sorted(got, key=_alert_order), sorted(want, key=_alert_order), strict=True):
        assert same(w, g), (w, g)


def assert_gauges(quality: QualityProcess, expected: Expected, last: int,
                  want_alerts: list[dict[str, Any]]) -> None:
    samples = poll(lambda: _final_gauges(quality, last), 30, "the latest period's gauges")
    for ch in CHANNELS:
        want = expected[("channel", ch, _iso([last])[0])]["quality_index"]
        got = samples.get(("sqm_quality_index", (("channel", ch),)))
        assert (got is None) if want is None else got == pytest.approx(want, rel=1e-9)
        latest = [a for a in want_alerts if a["channel"] == ch][-1:]
        firing = latest[0]["severity"] if latest and latest[0]["state"] == "firing" else None
        for severity in ("warning", "critical"):
            labels = (("channel", ch), ("indicator", "quality_index"), ("queue", ""),
                      ("severity", severity))
            assert samples[("sqm_alert_active", labels)] == int(severity == firing), labels
    assert samples[("sqm_quality_records_rejected_total", (("reason", "malformed_json"),))] == 0


@pytest.mark.parametrize("method", ["expert", "ahp", "entropy"])
def test_quality_stage_against_the_reference(kafka_bootstrap: str, tmp_path: Path,
                                             method: str) -> None:
    bootstrap = kafka_bootstrap
    reset_topics(bootstrap)
    now = int(time.time() * 1000)
    sc = Scenario(now - now % PERIOD_MS - 7 * PERIOD_MS, seed=7)
    one, two = sc.parts()
    expected, want_alerts, warning, critical = expectations(sc, method)
    cfg = write_config(tmp_path / "sqm.toml", bootstrap, f"itq-{uuid.uuid4().hex[:8]}", method,
                       warning, critical)
    worker = WorkerProcess(cfg, free_port(), tmp_path / "worker.log")
    port = free_port()
    quality = QualityProcess(cfg, port, tmp_path / "quality.log")
    kill = method == "entropy"
    try:
        produce(bootstrap, [(e["interaction_id"].encode(), orjson.dumps(e)) for e in one])
        first = {k for k in expected if k[2] == _iso(sc.periods[:1])[0]}
        wait_for(bootstrap, first, [worker, quality], 90)
        reemit_open_windows(bootstrap, sc)
        if kill:  # mid-run: the first period published, the second one open
            quality.kill()
        produce(bootstrap, [(e["interaction_id"].encode(), orjson.dumps(e)) for e in two])
        if kill:
            quality = QualityProcess(cfg, port, tmp_path / "quality.log")
            # and again as soon as the second period is out, the last ones maybe not yet
            second = {k for k in expected if k[2] == _iso(sc.periods[1:2])[0]}
            # a restart waits out the killed member's session (10 s) and restores the tables
            wait_for(bootstrap, second, [worker, quality], 150)
            quality.kill()
            quality = QualityProcess(cfg, port, tmp_path / "quality.log")
        recs = wait_for(bootstrap, set(expected), [worker, quality], 150)
        assert_records(expected, recs)
        if not kill:
            assert len(recs) == len(expected), "a record was published twice without a crash"
        assert_alerts(bootstrap, want_alerts)
        assert_gauges(quality, expected, sc.periods[3], want_alerts)
    finally:
        rc = quality.stop()
        worker.stop()
    assert rc == 0, quality.log_tail()


def reemit_open_windows(bootstrap: str, sc: Scenario) -> None:
    """Produce again, keyed by channel, the worker's records of the windows of P1 that are final
    so far, as a worker does after a crash: P1 is still open, so its windows are read twice."""
    p1 = _iso([sc.periods[1]])[0]
    split = _iso([sc.split])[0]

    def final() -> list[tuple[bytes | None, bytes]] | None:
        copies = [(k, v) for k, v in read_topic(bootstrap, "sqm.indicators.v1")
                  if p1 <= orjson.loads(v)["window_start"] < split]
        assert len(copies) <= 3 * len(CHANNELS)
        return copies if len(copies) == 3 * len(CHANNELS) else None

    copies = poll(final, 60, "the worker's records of P1's first three windows")
    asyncio.run(_produce_to(bootstrap, "sqm.indicators.v1", copies))


async def _produce_to(bootstrap: str, topic: str, items: list[tuple[bytes | None, bytes]]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True)
    await producer.start()
    try:
        for key, value in items:
            await producer.send(topic, value, key=key)
        await producer.flush()
    finally:
        await producer.stop()


def _iso(periods: list[int]) -> list[str]:
    return [time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(p / 1000)) for p in periods]


def _alert_order(a: dict[str, Any]) -> tuple[str, str]:
    return (a["channel"], a["window_start"])


def _final_gauges(quality: QualityProcess, last: int) -> Samples | None:
    s = quality.try_metrics()
    end = None if s is None else s.get(("sqm_quality_period_end_timestamp_seconds", ()))
    return s if s is not None and end == (last + PERIOD_MS) / 1000 else None


def test_published_alert_transitions_are_found_on_the_topic(kafka_bootstrap: str) -> None:
    """The check before re-publishing a transition whose state was saved before a crash."""
    reset_topics(kafka_bootstrap)
    t0 = 1_796_196_000_000
    sent = Transition("phone", "quality_index", "warning", "firing", 61.5, 70.0, "<", t0,
                      t0 + PERIOD_MS, t0)
    other = Transition("phone", "quality_index", "warning", "resolved", 75.0, 70.0, "<",
                       t0 + PERIOD_MS, t0 + 2 * PERIOD_MS, t0)
    asyncio.run(_produce_to(kafka_bootstrap, "sqm.alerts.v1",
                            [(alerts_wire.key(sent), alerts_wire.encode(sent)), (None, b"junk")]))
    found = asyncio.run(sink.published(kafka_bootstrap, [sent, other]))
    assert found == {sink.ident(sent)}
