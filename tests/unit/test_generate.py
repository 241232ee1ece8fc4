"""The synthetic traffic model (pure: no Kafka)."""

from __future__ import annotations

import functools
import json
import math
from collections import Counter, defaultdict
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
import reference
from jsonschema import Draft202012Validator

from monitor.config import ChannelConfig, Config
from monitor.sim.model import (
    STEADY,
    Item,
    Scenario,
    Slowdown,
    TrafficModel,
    encode,
    history,
    key_of,
    parse_scenario,
)

CFG = Config()
CHANNELS = CFG.channels
NAMES = CFG.channel_names
START = 1_763_719_200_000  # 2025-11-21T10:00:00Z
TYPES = {"opened", "responded", "abandoned", "resolved", "failed", "reopened", "feedback"}
CLOSINGS = {"resolved", "failed"}
INPUT_SCHEMA = (Path(__file__).resolve().parents[2] / "monitor" / "topics" / "schemas"
                / "sqm.interactions.v1.schema.json")
DIMENSIONS = ("reliability", "responsiveness", "assurance", "empathy", "tangibles")
#: The survey response rates of the model's docstring table, restated here on purpose.
SURVEY_P = {"phone": 0.12, "chat": 0.25, "email": 0.10, "web": 0.08, "app": 0.08, "store": 0.15,
            "social": 0.05, "kiosk": 0.10}  # kiosk: a channel outside the table, the "other" row
SURVEY_LAG_MAX_MS = 900_000  # a survey answer comes at most 15 minutes after the closing
REOPEN_AFTER_MAX_MS = 900_000  # and a reopen at most 15 minutes after it


@functools.cache
def run(
    scenario: str = "steady",
    seed: int = 7,
    rate: float = 200.0,
    duration_s: float = 600.0,
    step_ms: int = 1000,
    duplicate_ratio: float = 0.0,
    disorder_ms: int = 0,
    garbage_ratio: float = 0.0,
) -> tuple[Item, ...]:
    return tuple(history(
        CHANNELS, scenario, seed, rate, START, duration_s, step_ms=step_ms,
        duplicate_ratio=duplicate_ratio, disorder_ms=disorder_ms, garbage_ratio=garbage_ratio,
    ))


def events(items: Sequence[Item]) -> list[dict[str, Any]]:
    return [i for i in items if isinstance(i, dict)]


def ts_ms(event: dict[str, Any]) -> int:
    ts = event["ts"]
    if isinstance(ts, int) and not isinstance(ts, bool):
        return ts
    assert isinstance(ts, str)
    dt = datetime.fromisoformat(ts)
    assert dt.tzinfo is not None
    return round(dt.timestamp() * 1000)


def reject_reason(raw: bytes, now_ms: int) -> str | None:  # noqa: C901 - one rule after another
    """An independent, minimal reading of SPEC section 1: None when the record is valid. One
    function in the spec's order on purpose, to be read side by side with it."""
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError:
        return "malformed_json"
    if not isinstance(obj, dict):
        return "not_an_object"
    for name in ("event_id", "interaction_id", "channel", "type", "ts"):
        if obj.get(name) is None:
            return "missing_field"
    if not all(isinstance(obj[n], str) for n in ("event_id", "interaction_id", "channel", "type")):
        return "bad_type"
    ts = obj["ts"]
    if isinstance(ts, bool) or not isinstance(ts, str | int):
        return "bad_type"
    if obj.get("attrs") is not None and not isinstance(obj["attrs"], dict):
        return "bad_type"
    if not all(1 <= len(obj[n]) <= 128 for n in ("event_id", "interaction_id")):
        return "bad_value"
    if obj["type"] not in TYPES:
        return "unknown_type"
    if obj["channel"] not in NAMES:
        return "unknown_channel"
    if isinstance(ts, int):
        if not 0 <= ts <= 253402300799999:
            return "bad_timestamp"
        value = ts
    else:
        if len(ts) < 20 or ts[10] != "T":
            return "bad_timestamp"
        try:
            dt = datetime.fromisoformat(ts)
        except ValueError:
            return "bad_timestamp"
        if dt.tzinfo is None:
            return "bad_timestamp"
        value = round(dt.timestamp() * 1000)
    if value > now_ms + 300_000:
        return "bad_timestamp"
    return None


def service_level(evs: Sequence[dict[str, Any]], channel: ChannelConfig,
                  lo_ms: float, hi_ms: float) -> float:
    """answered within target / (answered + abandoned beyond short_abandon_s), by the time of
    the event that completes each measurement."""
    opened: dict[str, int] = {}
    answered: set[str] = set()
    within = total = 0
    for e in sorted((e for e in evs if e["channel"] == channel.name), key=ts_ms):
        iid, t = e["interaction_id"], ts_ms(e)
        if e["type"] == "opened":
            opened[iid] = t
            continue
        if iid not in opened:
            continue
        first = e["type"] == "responded" and iid not in answered
        if first:
            answered.add(iid)  # later responses are not first responses, whatever the window
        if not lo_ms <= t < hi_ms:
            continue
        wait_s = (t - opened[iid]) / 1000
        if first:
            total += 1
            within += wait_s <= channel.first_response_target_s
        elif e["type"] == "abandoned" and wait_s > channel.short_abandon_s:
            total += 1
    assert total > 50, f"too few contacts on {channel.name} to measure"
    return within / total


# --- tests ---------------------------------------------------------------------------------


def test_same_seed_same_events_different_seed_different_events() -> None:
    a = run(seed=11, rate=50.0, duration_s=120.0)
    b = tuple(history(CHANNELS, "steady", 11, 50.0, START, 120.0))
    c = run(seed=12, rate=50.0, duration_s=120.0)
    assert a == b
    assert [encode(i) for i in a] == [encode(i) for i in b]
    assert a != c


def test_output_does_not_depend_on_the_step_size() -> None:
    kwargs: dict[str, Any] = {"seed": 3, "rate": 80.0, "duration_s": 300.0,
                              "duplicate_ratio": 0.05, "garbage_ratio": 0.05, "disorder_ms": 3000}
    assert run(step_ms=1000, **kwargs) == run(step_ms=137, **kwargs) == run(step_ms=60_000, **kwargs)


def test_events_until_returns_only_due_events_once() -> None:
    model = TrafficModel(CHANNELS, STEADY, 5, 100.0, start_ms=START, duration_s=120.0)
    seen: set[str] = set()
    for now in range(START + 500, START + 120_000, 500):
        batch = model.events_until(now)
        times = [ts_ms(e) for e in events(batch)]
        assert all(t <= now for t in times)
        assert times == sorted(times)
        ids = [e["event_id"] for e in events(batch)]
        assert not seen & set(ids)
        seen.update(ids)
    assert model.events_until(START + 119_500) == []
    assert len(seen) == model.stats.events > 0


def test_event_format_follows_the_spec() -> None:
    evs = events(run())
    assert len({e["event_id"] for e in evs}) == len(evs)
    epoch = 0
    for e in evs:
        survey = ["feedback"] if e["type"] == "feedback" else []
        assert list(e) == ["event_id", "interaction_id", "channel", "type", "ts", *survey, "attrs"]
        assert e["channel"] in NAMES and e["type"] in TYPES
        assert e["event_id"].startswith("e-7-") and e["interaction_id"].startswith("i-7-")
        assert {"queue", "segment"} <= set(e["attrs"])
        if isinstance(e["ts"], int):
            epoch += 1
        else:
            assert e["ts"].endswith("Z") and len(e["ts"]) == 24  # 2026-11-21T10:00:00.123Z
        assert START <= ts_ms(e) <= START + 600_000
        assert reject_reason(encode(e), START + 600_000) is None
        assert key_of(e) == e["interaction_id"].encode()
    assert 0.17 < epoch / len(evs) < 0.23
    assert set(Counter(e["channel"] for e in evs)) == set(NAMES)


def test_lifecycles_are_valid_in_event_time() -> None:
    by_interaction: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in events(run()):
        by_interaction[e["interaction_id"]].append(e)
    seen_types: Counter[str] = Counter()
    self_service = 0
    for iid, evs in by_interaction.items():
        times = [ts_ms(e) for e in evs]
        assert times == sorted(times) and len(set(times)) == len(times), iid
        types = [e["type"] for e in evs]
        seen_types.update(types)
        assert types[0] == "opened" and types.count("opened") == 1, types
        assert types.count("abandoned") <= 1, types
        if "abandoned" in types:
            assert "responded" not in types, types  # an abandon replaces the first response
        last_closing: str | None = None
        if types[-1] == "feedback":  # a survey answer follows the final closing (tested below)
            types.pop()
        for t in types[1:]:
            if t == "reopened":
                assert last_closing == "resolved", types
                last_closing = None
            elif t in CLOSINGS:
                assert last_closing is None, types  # closed at most once per opening
                last_closing = t
            else:
                assert last_closing is None, types  # nothing but a reopen after a closing
        if types[1:2] in (["resolved"], ["failed"]):
            self_service += 1
        assert len({e["channel"] for e in evs}) == 1
    assert {"opened", "responded", "abandoned", "resolved", "failed", "reopened"} <= set(seen_types)
    assert seen_types["responded"] > seen_types["opened"] * 0.7  # follow-ups included
    assert self_service > 0


def test_event_count_matches_rate_times_duration() -> None:
    n = len(run(rate=200.0, duration_s=600.0))
    assert 0.85 * 120_000 <= n <= 1.15 * 120_000


def test_record_count_includes_duplicates_and_garbage() -> None:
    n = len(run(rate=100.0, duration_s=300.0, duplicate_ratio=0.1, garbage_ratio=0.1))
    assert 0.85 * 30_000 <= n <= 1.15 * 30_000


@pytest.mark.parametrize("name", ["phone", "chat"])
def test_steady_service_level_is_realistic(name: str) -> None:
    sl = service_level(events(run()), CFG.channel(name), START, START + 600_000)
    assert 0.85 <= sl <= 0.97  # above the shipped 0.8 warning with room to spare


def test_degrade_phone_steps_down_its_service_level_and_recovers() -> None:
    evs = events(run(scenario="degrade:phone"))  # 600 s: degraded from 150 s to 450 s
    phone = CFG.channel("phone")
    assert service_level(evs, phone, START, START + 150_000) >= 0.8
    assert service_level(evs, phone, START + 160_000, START + 450_000) < 0.6
    assert service_level(evs, phone, START + 540_000, START + 600_001) >= 0.8
    chat = CFG.channel("chat")  # the other channels stay as they were
    assert abs(service_level(evs, chat, START, START + 150_000)
               - service_level(evs, chat, START + 160_000, START + 450_000)) < 0.1


def test_slowdown_stretches_the_queue_time_inside_the_degraded_span() -> None:
    slow = Slowdown(from_ms=1_000, until_ms=5_000, factor=4.0, abandon_factor=2.0)
    assert slow.wait_ms(0, 500) == 500  # answered before the onset
    assert slow.wait_ms(0, 1_500) == 1_000 + 4 * 500  # 1 s healthy, the rest 4x slower
    assert slow.wait_ms(2_000, 500) == 2_000  # wholly inside
    assert slow.wait_ms(4_000, 500) == 1_000 + 250  # 1 s inside is 250 ms of work
    assert slow.wait_ms(0, 3_000) == 1_000 + 4_000 + 1_000  # through, then healthy again
    assert slow.wait_ms(6_000, 500) == 500  # after the recovery


def test_degrade_raises_phone_abandonment() -> None:
    steady = Counter(e["type"] for e in events(run()) if e["channel"] == "phone")
    degraded = Counter(e["type"] for e in events(run(scenario="degrade:phone"))
                       if e["channel"] == "phone")
    assert degraded["abandoned"] / degraded["opened"] > 1.2 * steady["abandoned"] / steady["opened"]


def test_garbage_items_are_bytes_and_rejected() -> None:
    items = run(rate=100.0, duration_s=300.0, garbage_ratio=0.2)
    junk = [i for i in items if isinstance(i, bytes)]
    evs = events(items)
    assert 0.15 * len(evs) < len(junk) < 0.25 * len(evs)
    reasons: Counter[str] = Counter()
    for raw in junk:
        assert raw.strip() and b"\n" not in raw and encode(raw) == raw
        reason = reject_reason(raw, START + 300_000)
        assert reason is not None, raw
        reasons[reason] += 1
    assert set(reasons) == {"malformed_json", "not_an_object", "missing_field", "bad_type",
                            "bad_value", "unknown_type", "unknown_channel", "bad_timestamp"}
    # Garbage never reuses the ids of real events or contacts.
    real_ids = {e["event_id"] for e in evs} | {e["interaction_id"] for e in evs}
    for raw in junk:
        try:
            obj = orjson.loads(raw)
        except orjson.JSONDecodeError:
            continue
        iid = obj.get("interaction_id") if isinstance(obj, dict) else None
        if isinstance(obj, dict):
            assert obj.get("event_id") not in real_ids or not isinstance(obj["event_id"], str)
            assert not isinstance(iid, str) or iid not in real_ids
        assert key_of(raw) == (iid.encode() if isinstance(iid, str) else None)


def test_duplicates_repeat_an_earlier_event_exactly() -> None:
    items = events(run(rate=100.0, duration_s=300.0, duplicate_ratio=0.1))
    seen: dict[str, dict[str, Any]] = {}
    dups = 0
    for e in items:
        if e["event_id"] in seen:
            assert e == seen[e["event_id"]]
            assert encode(e) == encode(seen[e["event_id"]])
            dups += 1
        else:
            seen[e["event_id"]] = e
    assert 0.07 * len(seen) < dups < 0.13 * len(seen)


def test_disorder_delays_emission_but_not_event_time() -> None:
    plain = events(run(rate=100.0, duration_s=300.0))
    shuffled = events(run(rate=100.0, duration_s=300.0, disorder_ms=5000))
    assert sorted(plain, key=lambda e: e["event_id"]) == sorted(
        shuffled, key=lambda e: e["event_id"])
    assert [e["event_id"] for e in plain] != [e["event_id"] for e in shuffled]
    newest = 0
    out_of_order = 0
    for e in shuffled:
        t = ts_ms(e)
        assert t >= newest - 5000
        out_of_order += t < newest
        newest = max(newest, t)
    assert out_of_order > 0


def test_parse_scenario() -> None:
    assert parse_scenario("steady", NAMES) == STEADY
    assert parse_scenario(" degrade:phone ", NAMES) == Scenario("degrade", "phone")
    with pytest.raises(ValueError, match="unknown channel 'nope'"):
        parse_scenario("degrade:nope", NAMES)
    with pytest.raises(ValueError, match="name the channel"):
        parse_scenario("degrade", NAMES)
    with pytest.raises(ValueError, match="unknown scenario"):
        parse_scenario("surge", NAMES)
    custom = [ChannelConfig("voice", 30, 900, 5), ChannelConfig("kiosk", 120, 600, 5)]
    assert parse_scenario("degrade:kiosk", [c.name for c in custom]).degrade == "kiosk"
    with pytest.raises(ValueError):
        parse_scenario("degrade:phone", [c.name for c in custom])


def test_custom_channels_get_a_default_profile() -> None:
    custom = [ChannelConfig("voice", 30, 900, 5), ChannelConfig("kiosk", 120, 600, 5)]
    evs = events(list(history(custom, "degrade:voice", 1, 20.0, START, 300.0)))
    assert {e["channel"] for e in evs} == {"voice", "kiosk"}


def test_model_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="rate"):
        TrafficModel(CHANNELS, STEADY, 1, 0.0)
    with pytest.raises(ValueError, match="duplicate_ratio"):
        TrafficModel(CHANNELS, STEADY, 1, 10.0, duplicate_ratio=1.5)
    with pytest.raises(ValueError, match="not configured"):
        TrafficModel(CHANNELS[:2], Scenario("degrade", "email"), 1, 10.0)


@pytest.mark.parametrize("seed", [3, 11])
def test_shipped_alert_defaults_stay_quiet_on_steady_traffic(seed: int) -> None:
    evs = events(run(seed=seed, rate=100.0, duration_s=1200.0))
    assert reference.alerts(reference.compute(evs).records) == []


def test_degraded_channel_pages_within_three_windows_and_only_it() -> None:
    evs = events(run(scenario="degrade:chat", seed=5, rate=100.0, duration_s=1200.0))
    got = reference.alerts(reference.compute(evs).records)
    assert {a["channel"] for a in got} == {"chat"}
    onset_ms = START + 300_000  # a quarter of the run
    page = next(a for a in got if a["indicator"] == "service_level"
                and a["severity"] == "critical" and a["state"] == "firing")
    assert ts_ms({"ts": page["window_end"]}) <= onset_ms + 3 * 60_000
    resolved = [a for a in got if a["indicator"] == "service_level" and a["state"] == "resolved"]
    assert resolved and ts_ms({"ts": resolved[-1]["window_end"]}) > START + 900_000


# --- surveys (SPEC 7.1) --------------------------------------------------------------------


@functools.cache
def input_validator() -> Draft202012Validator:
    schema = json.loads(INPUT_SCHEMA.read_text(encoding="utf-8"))
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def schema_errors(value: object) -> list[str]:
    return [e.message for e in input_validator().iter_errors(value)]


def by_contact(evs: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Each contact's events in event-time order (ties keep the emitted order)."""
    out: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for e in evs:
        out[e["interaction_id"]].append(e)
    for contact in out.values():
        contact.sort(key=ts_ms)
    return out


def survey_figures(surveys: Sequence[dict[str, Any]]) -> tuple[float, float, float]:
    """(CSAT mean, NPS = % promoters (9-10) - % detractors (0-6), mean SERVQUAL gap
    perceived - expected over every rated dimension) of ``feedback`` objects."""
    csat = [f["csat"] for f in surveys]
    nps = [f["nps"] for f in surveys if "nps" in f]
    gaps = [d["perceived"] - d["expected"] for f in surveys for d in f.get("servqual", {}).values()]
    assert len(csat) >= 100 and len(nps) >= 60 and len(gaps) >= 60, "too few answers to measure"
    promoters = sum(1 for x in nps if x >= 9)
    detractors = sum(1 for x in nps if x <= 6)
    return (sum(csat) / len(csat), 100.0 * (promoters - detractors) / len(nps),
            sum(gaps) / len(gaps))


def test_feedback_events_are_schema_valid_and_follow_their_closing() -> None:
    evs = events(run(scenario="degrade:chat", seed=5, rate=40.0, duration_s=3600.0))
    surveys = [e for e in evs if e["type"] == "feedback"]
    assert len(surveys) > 1000
    assert {e["channel"] for e in surveys} >= {"phone", "chat", "web", "app", "store"}
    for e in surveys:
        assert schema_errors(e) == [], e
        assert e["event_id"].startswith("e-5-") and "agent" not in e["attrs"]
    # The other events of the run validate too (the schema gained a type, it lost none).
    assert [e for e in evs[::25] if schema_errors(e)] == []
    assert len({e["event_id"] for e in evs}) == len(evs)
    for iid, contact in by_contact(evs).items():
        types = [e["type"] for e in contact]
        if "feedback" not in types:
            continue
        assert types.count("feedback") == 1 and types[-1] == "feedback", (iid, types)
        closing, answer = contact[-2], contact[-1]
        assert closing["type"] in CLOSINGS, (iid, types)  # the final closing: no reopen after it
        assert types[0] == "opened", (iid, types)
        assert {e["channel"] for e in contact} == {contact[0]["channel"]}
        assert 0 < ts_ms(answer) - ts_ms(closing) <= SURVEY_LAG_MAX_MS


def test_survey_answers_have_the_documented_shape() -> None:
    surveys = [e["feedback"] for e in events(run(scenario="degrade:chat", seed=5, rate=40.0,
                                                 duration_s=3600.0)) if e["type"] == "feedback"]
    n = len(surveys)
    assert all("csat" in f for f in surveys)
    assert 0.66 < sum("nps" in f for f in surveys) / n < 0.74
    assert 0.36 < sum("servqual" in f for f in surveys) / n < 0.44
    complaints = sum(f.get("complaint") is True for f in surveys)
    assert 0.02 < complaints / n < 0.15  # a small share, more on the degraded channel
    without = n - complaints
    assert 0.45 < sum(f.get("complaint") is False for f in surveys) / without < 0.55
    rated = Counter(len(f["servqual"]) for f in surveys if "servqual" in f)
    assert set(rated) == {2, 3, 4, 5}
    for f in surveys:
        for dim in f.get("servqual", {}):
            assert dim in DIMENSIONS
        assert list(f.get("servqual", {})) == [d for d in DIMENSIONS if d in f.get("servqual", {})]
    expected = [d["expected"] for f in surveys for d in f.get("servqual", {}).values()]
    assert 5.0 < sum(expected) / len(expected) < 6.0


def test_same_seed_same_surveys() -> None:
    def surveys(seed: int) -> list[dict[str, Any]]:
        return [e for e in events(list(history(CHANNELS, "degrade:phone", seed, 10.0, START,
                                               1800.0))) if e["type"] == "feedback"]

    first = surveys(21)
    assert len(first) > 50
    assert first == surveys(21)
    assert first != surveys(22)


SHORT_RUN_S = 7200.0
SHORT_RUN_RATE = 60.0


@functools.cache
def short_targets_run() -> tuple[Item, ...]:
    """Two hours of steady traffic with short targets (and a channel outside the table), so that
    every channel, email and social included, closes thousands of contacts inside the run."""
    short = [ChannelConfig(c.name, min(c.first_response_target_s, 60),
                           min(c.resolution_target_s, 600), c.short_abandon_s) for c in CHANNELS]
    channels = [*short, ChannelConfig("kiosk", 60, 600, 5)]
    return tuple(history(channels, "steady", 17, SHORT_RUN_RATE, START, SHORT_RUN_S))


def test_surveys_count_toward_the_rate() -> None:
    """The calibration counts the answers: without them these runs come out ~4 % above."""
    for items, expected in ((short_targets_run(), SHORT_RUN_RATE * SHORT_RUN_S),
                            (run(scenario="degrade:chat", seed=5, rate=40.0, duration_s=3600.0),
                             40.0 * 3600.0)):
        assert sum(1 for e in events(items) if e["type"] == "feedback") > 0.02 * len(items)
        assert 0.98 * expected <= len(items) <= 1.02 * expected


def test_survey_response_rate_per_channel() -> None:
    """Every closed contact answers with its channel's probability. A closing counts when its
    reopen and its answer would both fall inside the run."""
    evs = events(short_targets_run())
    last_counted = START + SHORT_RUN_S * 1000 - SURVEY_LAG_MAX_MS - REOPEN_AFTER_MAX_MS
    closed: Counter[str] = Counter()
    answered: Counter[str] = Counter()
    for contact in by_contact(evs).values():
        lifecycle = [e for e in contact if e["type"] != "feedback"]
        if lifecycle[-1]["type"] not in CLOSINGS or ts_ms(lifecycle[-1]) > last_counted:
            continue
        closed[contact[0]["channel"]] += 1
        answered[contact[0]["channel"]] += contact[-1]["type"] == "feedback"
    assert set(closed) == set(SURVEY_P)
    for channel, p in SURVEY_P.items():
        n = closed[channel]
        assert n >= 1500, channel
        tolerance = 4 * math.sqrt(p * (1 - p) / n)  # four standard errors of a seeded draw
        assert abs(answered[channel] / n - p) <= tolerance, (channel, answered[channel], n)


def test_degraded_channel_surveys_fall_while_healthy_ones_hold() -> None:
    """``degrade:chat`` over an hour: degraded from 15 to 45 minutes. A chat contact closes
    ~15 minutes after it opened, so the answers are grouped by when their contact opened (was
    served): healthy first quarter against degraded middle half."""
    evs = events(run(scenario="degrade:chat", seed=5, rate=40.0, duration_s=3600.0))
    opened = {e["interaction_id"]: ts_ms(e) for e in evs if e["type"] == "opened"}
    quarter = 900_000

    def answers(channel: str, lo: int, hi: int) -> list[dict[str, Any]]:
        return [e["feedback"] for e in evs if e["type"] == "feedback" and e["channel"] == channel
                and START + lo <= opened[e["interaction_id"]] < START + hi]

    csat_ok, nps_ok, gap_ok = survey_figures(answers("chat", 0, quarter))
    csat_bad, nps_bad, gap_bad = survey_figures(answers("chat", quarter, 3 * quarter))
    assert csat_ok >= 4.0 and nps_ok >= 20 and gap_ok > -0.5
    assert csat_bad <= csat_ok - 0.8
    assert nps_bad <= nps_ok - 50
    assert gap_bad < -1.0
    for channel in ("phone", "web", "app", "store"):  # the healthy channels, whole run
        csat, nps, gap = survey_figures(answers(channel, 0, 4 * quarter))
        assert csat >= 4.0 and nps >= 20 and -0.5 < gap <= 0.1, channel
    # What a dashboard shows, by the answers' own time: chat answers given in the second half of
    # the degraded span (mostly, not only, from contacts served while degraded) are low too.
    late = [e["feedback"] for e in evs if e["type"] == "feedback" and e["channel"] == "chat"
            and START + 2 * quarter <= ts_ms(e) < START + 3 * quarter]
    csat_late, nps_late, gap_late = survey_figures(late)
    assert csat_late <= csat_ok - 0.5 and nps_late <= nps_ok - 30 and gap_late < -0.75


FEEDBACK_EVENT: dict[str, Any] = {
    "event_id": "e-f", "interaction_id": "i-f", "channel": "chat", "type": "feedback",
    "ts": "2026-12-02T10:00:00.123Z",
    "feedback": {"csat": 4, "nps": 9, "complaint": False,
                 "servqual": {"reliability": {"expected": 6, "perceived": 5},
                              "empathy": {"expected": 5, "perceived": 6}}},
    "attrs": {"queue": "orders"},
}


def with_feedback(**changes: Any) -> dict[str, Any]:
    """FEEDBACK_EVENT with its ``feedback`` object changed (``...`` drops a key)."""
    fb = {**FEEDBACK_EVENT["feedback"], **changes}
    return {**FEEDBACK_EVENT, "feedback": {k: v for k, v in fb.items() if v is not ...}}


@pytest.mark.parametrize("event", [
    FEEDBACK_EVENT,
    {**FEEDBACK_EVENT, "feedback": {"csat": 1}},
    {**FEEDBACK_EVENT, "feedback": {"nps": 0}},
    {**FEEDBACK_EVENT, "feedback": {"complaint": True}},
    {**FEEDBACK_EVENT, "feedback": {"servqual": {"tangibles": {"expected": 7, "perceived": 1}}}},
    {**FEEDBACK_EVENT, "ts": 1_795_251_618_000},
    {**FEEDBACK_EVENT, "type": "opened", "feedback": "not read on other types"},
], ids=["full", "csat-only", "nps-only", "complaint-only", "servqual-only", "epoch-ms", "stray"])
def test_schema_accepts_good_feedback(event: dict[str, Any]) -> None:
    assert schema_errors(event) == []


@pytest.mark.parametrize("event", [
    with_feedback(csat=6),
    with_feedback(csat=0),
    with_feedback(csat=4.5),
    with_feedback(csat="4"),
    with_feedback(nps=-1),
    with_feedback(nps=11),
    with_feedback(nps=True),
    with_feedback(complaint="yes"),
    with_feedback(comment="great"),
    with_feedback(servqual={"speed": {"expected": 5, "perceived": 5}}),
    with_feedback(servqual={"empathy": {"expected": 0, "perceived": 5}}),
    with_feedback(servqual={"empathy": {"expected": 5, "perceived": 8}}),
    with_feedback(servqual={"empathy": {"expected": 5}}),
    with_feedback(servqual={"empathy": {"expected": 5, "perceived": 5, "weight": 1}}),
    with_feedback(servqual={}),
    {**FEEDBACK_EVENT, "feedback": {}},
    {**FEEDBACK_EVENT, "feedback": None},
    {k: v for k, v in FEEDBACK_EVENT.items() if k != "feedback"},
], ids=["csat-6", "csat-0", "csat-float", "csat-string", "nps-minus-1", "nps-11", "nps-bool",
        "complaint-string", "unknown-key", "unknown-dimension", "expected-0", "perceived-8",
        "perceived-missing", "dimension-extra-key", "servqual-empty", "feedback-empty",
        "feedback-null", "feedback-missing"])
def test_schema_refuses_bad_feedback(event: dict[str, Any]) -> None:
    assert schema_errors(event) != []
