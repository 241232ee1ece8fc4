"""The quality stage's formats: ``sqm.indicators.v1`` records back to exact integer sums, the
refused records, ``sqm.quality.v1`` records against their JSON Schema, and the exporter."""

from __future__ import annotations

import json
import random
from typing import Any

import orjson
import pytest
from jsonschema import Draft202012Validator
from msgspec import UNSET
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from test_topics import changed

from monitor.contract import indicators as indicators_wire
from monitor.contract import quality as wire
from monitor.contract.indicators import BadRecord
from monitor.contract.topics import TOPIC_QUALITY, load_definitions, schema_path
from monitor.domain.quality.index import DIMENSIONS, SCORES, Sums
from monitor.domain.stream import feedback as fb
from monitor.domain.stream.indicators import Indicators, surveys
from monitor.domain.stream.sketch import EMPTY_SUMMARY
from monitor.quality import combine
from monitor.quality.app import Snapshot
from monitor.quality.exporter import QualityCollector
from monitor.state.periods import Closure, PeriodResult

W = 60_000
T0 = 1_796_196_000_000
CHANNELS = frozenset({"phone", "chat"})


def window(f: list[int], opened: int = 7, channel: str = "phone") -> Indicators:
    """A window whose surveys sum to ``f`` (``monitor.domain.stream.feedback`` layout)."""
    return Indicators(
        channel=channel, window_start_ms=T0, window_end_ms=T0 + W, opened=opened, answered=5,
        answered_within_target=4, abandoned=1, short_abandoned=2, service_level=4 / 6,
        abandonment_rate=1 / 6, first_response=EMPTY_SUMMARY, resolved=3, failed=1,
        resolution_rate=0.75, resolved_within_target=2, on_time_resolution_rate=2 / 3,
        resolution=EMPTY_SUMMARY, reopened=1, reopen_rate=1 / 3, backlog_waiting=0,
        backlog_open=0, oldest_wait_ms=None, **surveys(f, opened))


def random_surveys(rng: random.Random, n: int) -> list[int]:
    f = [0] * fb.SIZE
    for _ in range(n):
        servqual = {d: fb.Rating(rng.randint(1, 7), rng.randint(1, 7))
                    for d in DIMENSIONS if rng.random() < 0.5}
        fb.add(f, fb.Feedback(
            csat=rng.randint(1, 5) if rng.random() < 0.8 else UNSET,
            nps=rng.randint(0, 10) if rng.random() < 0.8 else UNSET,
            complaint=rng.random() < 0.3,
            servqual=fb.Servqual(**servqual) if servqual else UNSET))
    return f


def expected_sums(f: list[int], opened: int = 7) -> Sums:
    return Sums(
        opened=opened, answered=5, answered_within_target=4, abandoned=1, resolved=3,
        resolved_within_target=2, failed=1, reopened=1, feedback_responses=f[fb.RESPONSES],
        csat_responses=f[fb.CSAT_N], csat_sum=f[fb.CSAT_SUM], nps_responses=f[fb.NPS_N],
        nps_net=f[fb.NPS_PROMOTERS] - f[fb.NPS_DETRACTORS], complaints=f[fb.COMPLAINTS],
        servqual_responses=[f[fb.SQ + 3 * k] for k in range(len(DIMENSIONS))],
        servqual_expected_sum=[f[fb.SQ + 3 * k + 1] for k in range(len(DIMENSIONS))],
        servqual_perceived_sum=[f[fb.SQ + 3 * k + 2] for k in range(len(DIMENSIONS))])


@pytest.mark.parametrize("n", [0, 1, 2, 3, 7, 13, 100, 997, 10_007])
def test_sums_come_back_exactly_from_the_means(n: int) -> None:
    """csat_sum, nps_net and the SERVQUAL sums are integers again, for awkward counts too."""
    rng = random.Random(n)
    for _ in range(30):
        f = random_surveys(rng, n)
        got = wire.decode_window(indicators_wire.encode(window(f)), CHANNELS, W)
        assert (got.channel, got.window_start_ms, got.window_end_ms) == ("phone", T0, T0 + W)
        assert got.sums == expected_sums(f)


def test_nps_net_is_promoters_minus_detractors() -> None:
    f = [0] * fb.SIZE
    for score in (10, 9, 9, 0, 6, 7, 8):
        fb.add(f, fb.Feedback(nps=score))
    got = wire.decode_window(indicators_wire.encode(window(f)), CHANNELS, W).sums
    assert (got.nps_responses, got.nps_net) == (7, 3 - 2)


def record(**changes: Any) -> bytes:
    d = indicators_wire.record(window(random_surveys(random.Random(1), 5)))
    for k, v in changes.items():
        if v is ...:
            del d[k]
        else:
            d[k] = v
    return orjson.dumps(d)


@pytest.mark.parametrize(("raw", "reason"), [
    (b"not json", "malformed_json"),
    (None, "malformed_json"),
    (b"[1, 2]", "not_an_object"),
    (record(csat_mean=...), "missing_field"),
    (record(servqual=...), "missing_field"),
    (record(channel="fax"), "unknown_channel"),
    (record(opened="7"), "bad_value"),
    (record(opened=-1), "bad_value"),
    (record(opened=True), "bad_value"),
    (record(schema="sqm.indicators.v0"), "bad_value"),
    (record(window_end="2026-12-02T07:02:00Z"), "bad_value"),
    (record(window_start="yesterday"), "bad_value"),
    (record(csat_responses=3, csat_mean=None), "bad_value"),
])
def test_bad_records_are_refused_with_a_reason(raw: bytes | None, reason: str) -> None:
    with pytest.raises(BadRecord) as err:
        wire.decode_window(raw, CHANNELS, W)
    assert err.value.reason == reason
    assert reason in wire.REASONS


def test_unknown_fields_are_ignored() -> None:
    d = orjson.loads(record())
    d["something_new"] = {"a": 1}
    assert wire.decode_window(orjson.dumps(d), CHANNELS, W).sums.opened == 7


# --- sqm.quality.v1 ------------------------------------------------------------------------------


def validator() -> Draft202012Validator:
    (defn,) = [d for d in load_definitions() if d.name == TOPIC_QUALITY]
    path = schema_path(defn)
    assert path is not None
    return Draft202012Validator(json.loads(path.read_text(encoding="utf-8")))


def errors(value: object) -> list[str]:
    return [e.message for e in validator().iter_errors(value)]


def result() -> PeriodResult:
    rng = random.Random(5)
    windows = {}
    for i in range(5):
        f = random_surveys(rng, 4)
        windows[T0 + i * W] = expected_sums(f)
    pending = combine.merge(combine.merge(None, Closure("phone", T0, windows)),
                            Closure("chat", T0, {T0: Sums()}))
    return combine.compute(("phone", "chat"), T0, T0 + 5 * W, pending, "entropy", None, [])


def test_records_of_a_period_validate() -> None:
    recs = combine.records(result())
    assert [k for k, _v in recs] == [b"phone", b"chat", wire.CONSISTENCY_KEY]
    for _k, v in recs:
        assert errors(orjson.loads(v)) == []
    phone, chat, cons = (orjson.loads(v) for _k, v in recs)
    assert list(phone) == ["schema", "kind", "period_start", "period_end", "channel",
                           "quality_index", "scores", "weights", "method", "servqual_gap"]
    assert (phone["period_start"], phone["period_end"]) == ("2026-12-02T07:20:00Z",
                                                            "2026-12-02T07:25:00Z")
    assert list(phone["scores"]) == list(SCORES) == list(phone["weights"])
    assert list(phone["servqual_gap"]) == list(DIMENSIONS)
    assert chat["quality_index"] is None and set(chat["scores"].values()) == {None}
    assert list(cons["scores"]) == [*SCORES, "quality_index"]
    assert cons["scores"]["quality_index"]["best_channel"] == "phone"


def test_schema_examples_validate() -> None:
    schema = validator().schema
    assert isinstance(schema, dict)
    for example in schema["examples"]:
        assert errors(example) == []


@pytest.mark.parametrize(("path", "value"), [
    ("kind", "summary"),
    ("quality_index", 100.5),
    ("quality_index", "high"),
    ("scores.nps", 1.5),
    ("scores.nps", ...),
    ("weights.nps", None),
    ("method", "average"),
    ("servqual_gap.empathy", -7),
    ("period_start", "2026-12-02T07:20:00+00:00"),
    ("channel", ...),
    ("extra", 1),
])
def test_invalid_channel_records(path: str, value: object) -> None:
    rec = orjson.loads(combine.records(result())[0][1])
    assert errors(changed(rec, path, value)) != []


def test_invalid_consistency_records() -> None:
    cons = orjson.loads(combine.records(result())[-1][1])
    bad = json.loads(json.dumps(cons))
    bad["scores"]["quality_index"]["stddev"] = -1
    assert errors(bad) != []
    bad = json.loads(json.dumps(cons))
    del bad["scores"]["nps"]
    assert errors(bad) != []
    bad = json.loads(json.dumps(cons))
    bad["channel"] = "phone"
    assert errors(bad) != []


# --- the exporter ------------------------------------------------------------------------------------


def test_gauges_of_the_latest_period() -> None:
    r = result()
    snap = Snapshot(r, {("phone", "quality_index", "warning"): 1}, {"bad_value": 2})
    registry = CollectorRegistry()
    registry.register(QualityCollector(("phone", "chat"), lambda: snap))
    text = generate_latest(registry).decode()
    phone = r.channels[0]
    assert f'sqm_quality_index{{channel="phone"}} {phone.quality_index!r}' in text
    assert 'sqm_quality_index{channel="chat"}' not in text  # no volume: absent, not 0
    assert text.count("sqm_quality_weight{") == len(SCORES)
    for dim, gap in phone.servqual_gap.items():
        assert (f'sqm_servqual_gap{{channel="phone",dimension="{dim}"}}' in text) == (gap is not None)
    assert 'sqm_channel_consistency_cv{score="quality_index"}' in text
    assert 'sqm_channel_consistency_cv{score="nps"}' in text
    assert ('sqm_alert_active{channel="phone",indicator="quality_index",queue="",'
            'severity="warning"} 1.0') in text
    assert 'sqm_quality_records_rejected_total{reason="bad_value"} 2.0' in text
    assert 'sqm_quality_records_rejected_total{reason="malformed_json"} 0.0' in text


def test_nothing_before_the_first_period() -> None:
    registry = CollectorRegistry()
    registry.register(QualityCollector(("phone",), Snapshot))
    names = {s.name for fam in text_string_to_metric_families(generate_latest(registry).decode())
             for s in fam.samples}
    assert names == {"sqm_quality_records_rejected_total"}


def test_metrics_port_precedence() -> None:
    from monitor.config import Config, ConfigError
    from monitor.quality.runner import metrics_port

    cfg = Config()
    assert metrics_port(cfg, None, {}) == 9311
    assert metrics_port(cfg, None, {"SQM_QUALITY_METRICS_PORT": "9400"}) == 9400
    assert metrics_port(cfg, 9500, {"SQM_QUALITY_METRICS_PORT": "9400"}) == 9500
    with pytest.raises(ConfigError, match="SQM_QUALITY_METRICS_PORT"):
        metrics_port(cfg, None, {"SQM_QUALITY_METRICS_PORT": "x"})
