"""Parsing and validation of ``sqm.interactions.v1`` records (SPEC sections 1 and 3).

Expected epoch milliseconds are computed with ``datetime`` here, independently of the code under test.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime

import orjson
import pytest

from monitor.config import Config, domain_params
from monitor.contract import deadletter
from monitor.contract.input import Parser
from monitor.domain.stream.events import Event, Rejection
from monitor.domain.stream.queues import ChannelQueues, Queue
from monitor.stages.interactions.processor import PartitionProcessor

CHANNELS = ("phone", "chat", "email", "web", "app", "store", "social")
T0 = int(datetime(2026, 11, 21, 10, 0, 0, tzinfo=UTC).timestamp()) * 1000
NOW = T0 + 3_600_000  # wall clock one hour after T0
SKEW_MS = 300_000
MAX_BYTES = 65536
AGE_MS = 7 * 86_400_000  # max_event_age_s, the default
TOPIC = "sqm.interactions.v1"
DEADLETTER_KEYS = {"schema", "reason", "detail", "source", "raw", "received_at"}

BASE: dict[str, object] = {
    "event_id": "e-1",
    "interaction_id": "i-1",
    "channel": "phone",
    "type": "opened",
    "ts": "2026-11-21T10:00:00Z",
}


def doc(**changes: object) -> dict[str, object]:
    """BASE with fields replaced; a value of ``...`` removes the field."""
    d = dict(BASE)
    for k, v in changes.items():
        if v is ...:
            d.pop(k, None)
        else:
            d[k] = v
    return d


def enc(d: object) -> bytes:
    return json.dumps(d).encode()


def parse(raw: bytes | None, now_ms: int = NOW) -> Event | Rejection:
    return Parser(CHANNELS, SKEW_MS, MAX_BYTES, AGE_MS)(raw, now_ms)


def reason(raw: bytes | None, now_ms: int = NOW) -> str:
    r = parse(raw, now_ms)
    assert isinstance(r, Rejection), f"expected a rejection, got {r!r}"
    assert r.detail, "a rejection carries a detail"
    return r.reason


# --- accepted events ------------------------------------------------------------------------


def test_valid_event_fields() -> None:
    r = parse(enc(doc(attrs={"queue": "billing", "agent": "a7"})))
    assert isinstance(r, Event) and r.queue is not None
    assert (r.queue.channel, r.queue.name) == ("phone", "main")  # attrs.queue is not the queue
    assert r == Event("e-1", "i-1", "phone", "opened", T0, None, r.queue)


@pytest.mark.parametrize("etype", ["opened", "responded", "abandoned", "resolved", "failed", "reopened"])
def test_every_event_type_accepted(etype: str) -> None:
    r = parse(enc(doc(type=etype)))
    assert isinstance(r, Event)
    assert r.type == etype


@pytest.mark.parametrize("channel", CHANNELS)
def test_every_default_channel_accepted(channel: str) -> None:
    r = parse(enc(doc(channel=channel)))
    assert isinstance(r, Event)
    assert r.channel == channel


def test_ids_of_1_and_128_chars_accepted() -> None:
    r = parse(enc(doc(event_id="x", interaction_id="y" * 128)))
    assert isinstance(r, Event)
    assert r.event_id == "x"
    assert r.interaction_id == "y" * 128


@pytest.mark.parametrize(
    "ts",
    [
        "2026-11-21T10:00:00Z",
        "2026-11-21T10:00:00+00:00",
        "2026-11-21T10:00:00-00:00",
        "2026-11-21T10:00:00.000Z",
        "2026-11-21T11:00:00+01:00",
        "2026-11-21T05:30:00-04:30",
        "2026-11-22T01:00:00+15:00",
        "2026-11-21t10:00:00z",
        T0,
    ],
)
def test_rfc3339_offsets_and_epoch_ms_give_the_same_instant(ts: object) -> None:
    r = parse(enc(doc(ts=ts)))
    assert isinstance(r, Event), r
    assert r.ts_ms == T0


@pytest.mark.parametrize(
    ("ts", "offset_ms"),
    [
        ("2026-11-21T10:00:00.5Z", 500),
        ("2026-11-21T10:00:00.123Z", 123),
        ("2026-11-21T10:00:00.123456789Z", 123),  # floored to the millisecond
        ("2026-11-21T12:00:01.250+02:00", 1250),
        ("2026-11-21T09:59:59.999Z", -1),
        (T0 + 1, 1),
    ],
)
def test_fractional_seconds(ts: object, offset_ms: int) -> None:
    r = parse(enc(doc(ts=ts)))
    assert isinstance(r, Event), r
    assert r.ts_ms == T0 + offset_ms


def test_ts_exactly_at_the_future_skew_limit_is_accepted() -> None:
    now = T0 - SKEW_MS
    r = parse(enc(doc(ts=T0)), now_ms=now)
    assert isinstance(r, Event)
    assert r.ts_ms == T0


def test_past_timestamps_are_accepted_up_to_max_event_age() -> None:
    now = T0 + AGE_MS
    for ts in (T0, "2026-11-21T10:00:00Z", "2026-11-21T11:00:00+01:00"):
        r = parse(enc(doc(ts=ts)), now_ms=now)
        assert isinstance(r, Event), (ts, r)
        assert r.ts_ms == T0


def test_timestamps_older_than_max_event_age_are_bad() -> None:
    now = T0 + AGE_MS + 1
    for ts in (T0, "2026-11-21T10:00:00Z", "1970-01-01T00:00:00Z", 0):
        r = parse(enc(doc(ts=ts)), now_ms=now)
        assert isinstance(r, Rejection) and r.reason == "bad_timestamp", (ts, r)
    r = parse(enc(doc(ts=T0)), now_ms=now)
    assert r == Rejection("bad_timestamp", "ts is 604800 s behind the clock, more than "
                          "max_event_age_s (604800)")


# --- rejections -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        b"",
        b"{",
        b"not json",
        b'{"event_id": "e-1",}',
        enc(BASE) + b" trailing",
        # invalid UTF-8 inside an otherwise well-formed object
        b'{"event_id": "\xff\xfe", "interaction_id": "i-1", "channel": "phone", "type": "opened",'
        b' "ts": "2026-11-21T10:00:00Z"}',
        b"\xc3\x28",
        None,
    ],
    ids=["empty", "truncated", "text", "trailing-comma", "trailing-garbage", "invalid-utf8-in-object",
         "invalid-utf8", "null-value"],
)
def test_malformed_json(raw: bytes | None) -> None:
    assert reason(raw) == "malformed_json"


_BASE_NO_BRACE = enc(BASE)[:-1]


@pytest.mark.parametrize(
    "attrs",
    [b'{"note": "\xff"}', b'{"deep": {"list": [1, "\xc3\x28"]}}', b'{"x": 1e999}', b'{"x": NaN}',
     b'{"x": "\\ud800"}'],
    ids=["invalid-utf8", "invalid-utf8-nested", "number-out-of-range", "nan", "lone-surrogate"],
)
def test_malformed_inside_attrs(attrs: bytes) -> None:
    """What the decoder of the fast path skips over must still be valid JSON."""
    assert reason(_BASE_NO_BRACE + b', "attrs": ' + attrs + b"}") == "malformed_json"


@pytest.mark.parametrize(
    ("extra", "expected"),
    [
        (b', "attrs": {"a": 1, "a": 2, "n": [null, true, 1.5, {"k": "\\u00e9"}]}', "accepted"),
        (b', "attrs": null', "accepted"),
        (b', "unknown_field": {"any": ["thing"]}', "accepted"),
        (b', "event_id": "e-2"', "accepted"),  # a repeated key: the last one counts
        (b', "attrs": []', "bad_type"),
        (b', "ts": true', "bad_type"),
        (b', "ts": 1.7e12', "bad_type"),
        (b', "ts": 123456789012345678901234567890', "bad_type"),
        (b', "ts": -1', "bad_timestamp"),
    ],
)
def test_edge_records(extra: bytes, expected: str) -> None:
    r = parse(_BASE_NO_BRACE + extra + b"}")
    if expected == "accepted":
        assert isinstance(r, Event), r
        assert r.event_id == ("e-2" if b'"event_id"' in extra else "e-1")
    else:
        assert isinstance(r, Rejection) and r.reason == expected, r


@pytest.mark.parametrize("raw", [b"[]", b"[1, 2]", b'"text"', b"42", b"true"])
def test_not_an_object(raw: bytes) -> None:
    assert reason(raw) == "not_an_object"


@pytest.mark.parametrize("field", ["event_id", "interaction_id", "channel", "type", "ts"])
def test_missing_field(field: str) -> None:
    assert reason(enc(doc(**{field: ...}))) == "missing_field"


def test_missing_field_empty_object() -> None:
    assert reason(b"{}") == "missing_field"


@pytest.mark.parametrize(
    "changes",
    [
        {"ts": float(T0)},
        {"ts": 1.5},
        {"ts": True},
        {"ts": False},
        {"ts": ["2026-11-21T10:00:00Z"]},
        {"ts": {"ms": T0}},
        {"event_id": 17},
        {"interaction_id": 17},
        {"channel": ["phone"]},
        {"type": 1},
        {"attrs": ["queue", "billing"]},
        {"attrs": "queue=billing"},
    ],
    ids=["ts-float-ms", "ts-float", "ts-true", "ts-false", "ts-list", "ts-object", "event_id-int",
         "interaction_id-int", "channel-list", "type-int", "attrs-list", "attrs-string"],
)
def test_bad_type(changes: dict[str, object]) -> None:
    assert reason(enc(doc(**changes))) == "bad_type"


@pytest.mark.parametrize(
    "changes",
    [
        {"event_id": ""},
        {"interaction_id": ""},
        {"event_id": "e" * 129},
        {"interaction_id": "i" * 129},
    ],
    ids=["empty-event_id", "empty-interaction_id", "event_id-129", "interaction_id-129"],
)
def test_bad_value(changes: dict[str, object]) -> None:
    assert reason(enc(doc(**changes))) == "bad_value"


@pytest.mark.parametrize("etype", ["Feedback", "OPENED", "closed", ""])
def test_unknown_type(etype: str) -> None:
    assert reason(enc(doc(type=etype))) == "unknown_type"


@pytest.mark.parametrize("channel", ["fax", "Phone", "", "phone "])
def test_unknown_channel(channel: str) -> None:
    assert reason(enc(doc(channel=channel))) == "unknown_channel"


@pytest.mark.parametrize(
    "ts",
    [
        "2026-11-21T10:00:00",  # no offset
        "2026-11-21 10:00:00",  # no offset
        "2026-11-21",  # date only
        "garbage",
        "",
        "2026-13-01T00:00:00Z",  # month 13
        "2026-11-21T25:00:00Z",  # hour 25
        "2026-02-30T10:00:00Z",  # no such day
        "2026-11-21T10:00:00+0100",  # offset without colon
        "1795255200000",  # epoch ms as a string
        -1,  # before 1970
    ],
)
def test_bad_timestamp(ts: object) -> None:
    assert reason(enc(doc(ts=ts))) == "bad_timestamp"


def test_bad_timestamp_too_far_in_the_future() -> None:
    now = T0 - SKEW_MS - 1  # T0 is 300.001 s ahead of the clock
    assert reason(enc(doc(ts=T0)), now_ms=now) == "bad_timestamp"
    assert reason(enc(doc(ts="2026-11-21T10:00:00Z")), now_ms=now) == "bad_timestamp"
    assert reason(enc(doc(ts="2026-11-21T11:00:00+01:00")), now_ms=now) == "bad_timestamp"


def test_too_large() -> None:
    big = enc(doc(attrs={"pad": "x" * MAX_BYTES}))
    assert len(big) > MAX_BYTES
    assert reason(big) == "too_large"


def test_exactly_max_bytes_is_not_too_large() -> None:
    d = doc(attrs={"pad": ""})
    pad = MAX_BYTES - len(enc(d))
    d = doc(attrs={"pad": "x" * pad})
    raw = enc(d)
    assert len(raw) == MAX_BYTES
    assert isinstance(parse(raw), Event)


# --- dead letters of rejected records ---------------------------------------------------------


def test_parse_dead_letters_through_the_partition_processor() -> None:
    params = domain_params(Config())
    proc = PartitionProcessor(params, TOPIC, 3)
    big = enc(doc(attrs={"pad": "y" * (MAX_BYTES + 10)}))
    bad_utf8 = b'{"event_id": "\xff", "interaction_id": "i-1", "channel": "phone", "type": "opened"}'
    cases: list[tuple[bytes | None, bytes, str]] = [
        (b"k0", b"{", "malformed_json"),
        (b"k1", bad_utf8, "malformed_json"),
        (None, b"[1]", "not_an_object"),
        (b"k3", enc(doc(ts=...)), "missing_field"),
        (b"k4", enc(doc(ts=1.5)), "bad_type"),
        (b"k5", enc(doc(event_id="")), "bad_value"),
        (b"k6", enc(doc(type="closed")), "unknown_type"),
        (b"k7", enc(doc(channel="fax")), "unknown_channel"),
        (b"k8", enc(doc(ts="2026-11-21T10:00:00")), "bad_timestamp"),
        (b"k9", enc(doc(ts=NOW + SKEW_MS + 1)), "bad_timestamp"),
        (b"k11", enc(doc(type="feedback")), "bad_value"),  # a survey without its feedback object
        (b"k10", big, "too_large"),
    ]
    records = [(100 + i, key, value) for i, (key, value, _) in enumerate(cases)]
    res = proc.process(records, NOW)
    assert res.consumed == len(cases)
    assert sum(res.events.values()) == 0
    assert res.partials == {}
    assert len(res.deadletters) == len(cases)
    expected_counts: dict[str, int] = {}
    for _, _, why in cases:
        expected_counts[why] = expected_counts.get(why, 0) + 1
    assert dict(res.rejected) == expected_counts
    received_at = datetime.fromtimestamp(NOW / 1000, UTC).strftime("%Y-%m-%dT%H:%M:%S") + ".000Z"
    for (key, value, why), (i, dl) in zip(cases, enumerate(res.deadletters), strict=True):
        d = orjson.loads(deadletter.encode(dl))
        dl_key = dl.key
        assert set(d) == DEADLETTER_KEYS
        assert d["schema"] == "sqm.deadletter.v1"
        assert d["reason"] == why
        assert isinstance(d["detail"], str)
        assert d["detail"]
        assert d["source"] == {"topic": TOPIC, "partition": 3, "offset": 100 + i}
        assert d["raw"] == value[:4096].decode("utf-8", errors="replace")
        assert d["received_at"] == received_at
        assert re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z", d["received_at"])
        assert dl_key == key
    # raw is cut to 4 KiB
    too_large = orjson.loads(deadletter.encode(res.deadletters[-1]))
    assert len(too_large["raw"].encode()) == 4096


def test_null_record_value_is_dead_lettered() -> None:
    params = domain_params(Config())
    proc = PartitionProcessor(params, TOPIC, 0)
    res = proc.process([(7, b"key", None)], NOW)
    assert len(res.deadletters) == 1
    d = orjson.loads(deadletter.encode(res.deadletters[0]))
    assert res.deadletters[0].key == b"key"
    assert d["reason"] == "malformed_json"
    assert d["raw"] == ""
    assert d["source"] == {"topic": TOPIC, "partition": 0, "offset": 7}


# --- queues (SPEC 9) --------------------------------------------------------------------------

QUEUES = {"chat": ChannelQueues.of(Queue("chat", "main", 0, 0, 0),
                                   [Queue("chat", q, 0, 0, 0) for q in ("main", "billing")]),
          "phone": ChannelQueues.of(Queue("phone", "main", 0, 0, 0), [])}


def parse_q(d: dict[str, object], extra: bool = False) -> Event | Rejection:
    """Through the fast path, or (``extra``: an unknown field) the general path."""
    raw = enc({**d, "x": 1} if extra else d)
    return Parser(QUEUES, SKEW_MS, MAX_BYTES, AGE_MS)(raw, NOW)


@pytest.mark.parametrize("extra", [False, True])
@pytest.mark.parametrize(("channel", "etype", "queue", "want", "unlisted"), [
    ("chat", "opened", None, "main", False),
    ("chat", "opened", "billing", "billing", False),
    ("chat", "opened", "nowhere", "other", True),
    ("chat", "opened", "other", "other", True),
    ("chat", "transferred", "billing", "billing", False),
    ("chat", "transferred", "x" * 64, "other", True),
    ("phone", "opened", "main", "main", False),
    ("phone", "opened", "billing", "main", True),  # no declared queues: the only one
    ("chat", "responded", "billing", None, False),  # ignored on other types
])
def test_the_queue_of_an_event(channel: str, etype: str, queue: str | None, want: str | None,
                               unlisted: bool, extra: bool) -> None:
    d = doc(channel=channel, type=etype, queue=... if queue is None else queue)
    r = parse_q(d, extra)
    assert isinstance(r, Event), r
    assert (None if r.queue is None else (r.queue.channel, r.queue.name)) == (
        None if want is None else (channel, want))
    assert r.unlisted is unlisted


@pytest.mark.parametrize("extra", [False, True])
@pytest.mark.parametrize(("changes", "why"), [
    ({"type": "transferred"}, "missing_field"),
    ({"type": "transferred", "queue": None}, "missing_field"),
    ({"type": "transferred", "queue": 7}, "bad_type"),
    ({"type": "opened", "queue": ["billing"]}, "bad_type"),
    ({"type": "opened", "queue": ""}, "bad_value"),
    ({"type": "transferred", "queue": "x" * 65}, "bad_value"),
    # a stray survey on a transfer without its queue is not a survey
    ({"type": "transferred", "feedback": {"csat": 5}}, "missing_field"),
])
def test_bad_queues(changes: dict[str, object], why: str, extra: bool) -> None:
    r = parse_q(doc(channel="chat", **changes), extra)
    assert isinstance(r, Rejection) and r.reason == why, r


@pytest.mark.parametrize("queue", [7, None, "", "x" * 65, {"a": 1}])
def test_a_queue_on_another_type_is_ignored_whatever_it_is(queue: object) -> None:
    r = parse_q(doc(channel="chat", type="resolved", queue=queue))
    assert isinstance(r, Event) and r.queue is None
