"""Property-based tests of the input parser (``monitor.contract.input``) with Hypothesis.

Properties:
* any bytes (random, JSON of any shape, near-valid objects, cut or corrupted valid records)
  give either an ``Event`` or a ``Rejection`` whose reason is one of SPEC section 3's, with a
  detail, and never raise;
* the fast path (msgspec's typed decoder) and the general path (orjson and the rules in order)
  agree on every input: the parser's answer equals the general path's, event or reason and
  detail, so the fast path never accepts what the rules refuse;
* a valid event, however it is written (key order, whitespace, escapes, any RFC 3339 offset or
  fraction, epoch ms), decodes to its own fields; the expected epoch ms comes from ``datetime``
  here, independently of the code under test;
* a valid event with exactly one rule broken is rejected with that rule's reason.
"""

from __future__ import annotations

import json
import os
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import orjson
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from msgspec import UNSET

from monitor.contract.input import Parser, _general
from monitor.domain.stream.events import Event, Rejection
from monitor.domain.stream.queues import ChannelQueues, Queue

CHANNELS = ("phone", "chat", "email", "web", "app", "store", "social")
TYPES = ("opened", "responded", "abandoned", "resolved", "failed", "reopened", "feedback",
         "transferred")
DIMENSIONS = ("reliability", "responsiveness", "assurance", "empathy", "tangibles")
NOW = int(datetime(2026, 11, 21, 10, 0, tzinfo=UTC).timestamp()) * 1000
SKEW_MS = 300_000
AGE_MS = 7 * 86_400_000
MAX_BYTES = 16384  # above any generated valid event, so that only the size tests hit it
#: what the parser may answer (``invalid_transition`` and ``orphan`` come later, from state)
PARSER_REASONS = {"malformed_json", "not_an_object", "missing_field", "bad_type", "bad_value",
                  "unknown_type", "unknown_channel", "bad_timestamp", "too_large"}

#: chat declares two queues (and has ``main``, its default, and ``other``); the rest have one
DECLARED = {"chat": ("main", "billing", "tech")}
QUEUES = {ch: ChannelQueues.of(Queue(ch, "main", 0, 0, 0),
                               [Queue(ch, q, 0, 0, 0) for q in DECLARED.get(ch, ())])
          for ch in CHANNELS}
PARSE = Parser(QUEUES, SKEW_MS, MAX_BYTES, AGE_MS)
#: examples per property; ``SQM_HYPOTHESIS_EXAMPLES=5000`` for a deeper search than the suite's
EXAMPLES = int(os.environ.get("SQM_HYPOTHESIS_EXAMPLES", "150"))
SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow])


def general(raw: bytes | None) -> Event | Rejection:
    return _general(raw, QUEUES, NOW, SKEW_MS, MAX_BYTES, AGE_MS)


def check(raw: bytes | None) -> Event | Rejection:
    """The parser's answer, after the properties every input must have."""
    got = PARSE(raw, NOW)
    assert type(got) in (Event, Rejection), got
    if isinstance(got, Rejection):
        assert got.reason in PARSER_REASONS, got
        assert got.detail, got
    assert got == general(raw), "the fast path and the general path disagree"
    return got


# --- strategies -----------------------------------------------------------------------------

ids = st.text(st.characters(codec="utf-8"), min_size=1, max_size=128)  # no lone surrogates
in_range_ms = st.integers(NOW - AGE_MS, NOW + SKEW_MS)
json_scalars = (st.none() | st.booleans() | st.integers() | st.text(max_size=20)
                | st.floats(allow_nan=False, allow_infinity=False))
json_values = st.recursive(json_scalars, lambda c: st.lists(c, max_size=4)
                           | st.dictionaries(st.text(max_size=8), c, max_size=4), max_leaves=12)


@st.composite
def rfc3339(draw: st.DrawFn, ms: int) -> str:
    """``ms`` written as RFC 3339 with a random offset, separator, fraction and case."""
    minutes = draw(st.integers(-23 * 60 - 59, 23 * 60 + 59))
    instant = datetime(1970, 1, 1, tzinfo=UTC) + timedelta(milliseconds=ms)
    local = instant.astimezone(timezone(timedelta(minutes=minutes)))
    # fewer than 3 digits only for a whole second; digits past the millisecond are floored
    digits = draw(st.integers(0 if ms % 1000 == 0 else 3, 9))
    extra = draw(st.text("0123456789", min_size=max(0, digits - 3), max_size=max(0, digits - 3)))
    frac = f"{ms % 1000:03d}{extra}"[:digits]
    sep = draw(st.sampled_from("Tt "))
    text = local.strftime("%Y-%m-%d") + sep + local.strftime("%H:%M:%S")
    if frac:
        text += "." + frac
    if minutes == 0 and draw(st.booleans()):
        return text + draw(st.sampled_from("Zz"))
    sign = "+" if minutes >= 0 else "-"
    return text + f"{sign}{abs(minutes) // 60:02d}:{abs(minutes) % 60:02d}"


@st.composite
def surveys(draw: st.DrawFn) -> dict[str, Any]:
    """A valid survey: at least one of its four answers, every one in range."""
    fb: dict[str, Any] = {}
    if draw(st.booleans()):
        fb["csat"] = draw(st.integers(1, 5))
    if draw(st.booleans()):
        fb["nps"] = draw(st.integers(0, 10))
    if draw(st.booleans()):
        fb["complaint"] = draw(st.booleans())
    dims = draw(st.lists(st.sampled_from(DIMENSIONS), unique=True, max_size=5))
    if dims or not fb:
        dims = dims or [draw(st.sampled_from(DIMENSIONS))]
        fb["servqual"] = {d: {"expected": draw(st.integers(1, 7)), "perceived": draw(st.integers(1, 7))}
                          for d in dims}
    return fb


queue_names = (st.sampled_from(["main", "billing", "tech", "other", "x" * 64])
               | st.text(st.characters(codec="utf-8"), min_size=1, max_size=64))


@st.composite
def valid_events(draw: st.DrawFn) -> tuple[dict[str, Any], int]:
    """A valid event as a JSON object, and its event time in epoch ms."""
    ms = draw(in_range_ms)
    d: dict[str, Any] = {
        "event_id": draw(ids), "interaction_id": draw(ids), "channel": draw(st.sampled_from(CHANNELS)),
        "type": draw(st.sampled_from(TYPES)),
    }
    if draw(st.booleans()):
        d["ts"] = ms
    else:
        d["ts"] = draw(rfc3339(ms))
    if draw(st.booleans()):
        d["attrs"] = draw(st.none() | st.dictionaries(st.text(max_size=8), json_values, max_size=3))
    if d["type"] == "feedback":
        d["feedback"] = draw(surveys())
    if d["type"] == "transferred" or draw(st.booleans()):
        if d["type"] in ("opened", "transferred"):  # a name: declared, ``other`` or anything
            d["queue"] = draw(queue_names)
        else:  # ignored, whatever it is (within what every JSON encoder writes)
            d["queue"] = draw(st.none() | st.booleans() | st.integers(-2**63, 2**63 - 1)
                              | st.lists(st.integers(0, 9), max_size=3) | queue_names)
    items = draw(st.permutations(list(d.items())))
    return dict(items), ms


def dumps(d: Any, ascii_only: bool = False) -> bytes:
    return json.dumps(d, ensure_ascii=ascii_only).encode()


# --- any input ------------------------------------------------------------------------------


@SETTINGS
@given(st.binary(max_size=200))
@example(b"")
@example(b"\xff\xfe not utf-8")
@example(b"\xef\xbb\xbf{}")
@example(b"[" * 16_000)  # nesting deeper than either decoder goes
@example(b'{"a":' * 3_000)
@example(b'{"ts": 1e309}')
@example(b'{"ts": 100000000000000000000000}')  # 10**23, beyond 64 bits
def test_any_bytes_give_an_event_or_a_reason(raw: bytes) -> None:
    check(raw)


def test_null_and_oversized_records() -> None:
    assert check(None) == Rejection("malformed_json", "record has no value (null)")
    over = MAX_BYTES + 1
    assert check(b" " * over) == Rejection("too_large", f"{over} bytes, limit {MAX_BYTES}")


@SETTINGS
@given(json_values)
def test_any_json_gives_an_event_or_a_reason(value: Any) -> None:
    got = check(dumps(value))
    if not isinstance(value, dict):
        assert isinstance(got, Rejection) and got.reason == "not_an_object", got


near_valid_values = (json_values | st.sampled_from(CHANNELS) | st.sampled_from(TYPES) | in_range_ms
                     | queue_names | st.text(min_size=65, max_size=70)
                     | in_range_ms.flatmap(rfc3339) | surveys() | st.integers(-2**80, 2**80))


@SETTINGS
@given(st.dictionaries(st.sampled_from(["event_id", "interaction_id", "channel", "type", "ts",
                                        "attrs", "feedback", "queue", "x"]), near_valid_values))
def test_near_valid_objects_give_an_event_or_a_reason(d: dict[str, Any]) -> None:
    check(dumps(d))


@SETTINGS
@given(valid_events(), st.data())
def test_cut_or_corrupted_records_give_an_event_or_a_reason(
        ev: tuple[dict[str, Any], int], data: st.DataObject) -> None:
    raw = dumps(ev[0])
    cut = data.draw(st.integers(0, len(raw) - 1))
    got = check(raw[:cut])
    assert isinstance(got, Rejection) and got.reason == "malformed_json", got
    at = data.draw(st.integers(0, len(raw) - 1))
    junk = data.draw(st.binary(min_size=1, max_size=4))
    check(raw[:at] + junk + raw[at + 1:])


# --- valid events ---------------------------------------------------------------------------


@SETTINGS
@given(valid_events(), st.booleans())
def test_valid_events_decode_to_their_own_fields(ev: tuple[dict[str, Any], int], ascii_only: bool) -> None:
    d, ms = ev
    got = check(dumps(d, ascii_only))
    assert isinstance(got, Event), got
    assert (got.event_id, got.interaction_id, got.channel, got.type, got.ts_ms) == (
        d["event_id"], d["interaction_id"], d["channel"], d["type"], ms)
    # SPEC 9, by hand: the queue of an opened or transferred; undeclared ones are ``other``
    # where the channel declares queues, else its only queue; never on other types
    if d["type"] not in ("opened", "transferred"):
        assert (got.queue, got.unlisted) == (None, False)
        return
    declared = DECLARED.get(d["channel"], ())
    name = d.get("queue")
    want = "main" if name is None else name if name in declared else "other" if declared else "main"
    assert got.queue is not None
    assert (got.queue.channel, got.queue.name) == (d["channel"], want)
    listed = declared or ("main",)  # a channel without declared queues has its default
    assert got.unlisted == (name is not None and name not in listed)
    if d["type"] != "feedback":
        assert got.feedback is None
        return
    fb, sq = d["feedback"], d["feedback"].get("servqual", {})
    assert got.feedback is not None
    assert got.feedback.csat == fb.get("csat", UNSET)
    assert got.feedback.nps == fb.get("nps", UNSET)
    assert got.feedback.complaint == fb.get("complaint", UNSET)
    for dim in DIMENSIONS:
        rating = UNSET if got.feedback.servqual is UNSET else getattr(got.feedback.servqual, dim)
        want = sq.get(dim)
        assert (rating is UNSET) == (want is None)
        if want is not None:
            assert rating is not UNSET
            assert (rating.expected, rating.perceived) == (want["expected"], want["perceived"])


# --- one rule broken ------------------------------------------------------------------------

finite = st.floats(allow_nan=False, allow_infinity=False)
not_a_string = st.integers() | finite | st.booleans() | st.lists(st.integers(), max_size=2)


@st.composite
def out_of_range_ts(draw: st.DrawFn) -> int | str:
    """An event time older than ``max_event_age`` or further ahead than the skew allows (before
    1970 and after 9999 included), as epoch ms or, where it can be written, RFC 3339. Within 64
    bits: a JSON integer beyond them reads as a float, a ``bad_type`` (another rule)."""
    ms = draw(st.integers(-(2**63), NOW - AGE_MS - 1) | st.integers(NOW + SKEW_MS + 1, 2**63 - 1))
    writable = 86_400_000 <= ms <= 253402300799999 - 86_400_000  # any offset stays in 1..9999
    return draw(rfc3339(ms)) if writable and draw(st.booleans()) else ms


DELETE = object()
required = st.sampled_from(["event_id", "interaction_id", "channel", "type", "ts"])
ids_too_long = st.text(st.characters(codec="utf-8"), min_size=129, max_size=200)
bad_surveys: st.SearchStrategy[Any] = (st.none() | st.just({}) | st.just({"servqual": {}})
               | st.fixed_dictionaries({"csat": st.integers().filter(lambda n: not 1 <= n <= 5)})
               | st.fixed_dictionaries({"nps": finite})
               | st.fixed_dictionaries({"complaint": st.integers()})
               | st.fixed_dictionaries({"empathy": st.integers(1, 7)}))
#: (reason, changes to a valid event that break exactly one rule)
BROKEN_RULES: list[tuple[str, st.SearchStrategy[dict[str, Any]]]] = [
    ("missing_field", required.map(lambda f: {f: DELETE})),
    ("missing_field", required.map(lambda f: {f: None})),
    ("bad_type", st.builds(lambda f, v: {f: v}, st.sampled_from(["event_id", "interaction_id",
                                                                 "channel", "type"]), not_a_string)),
    ("bad_type", (finite | st.booleans() | st.lists(st.integers(), max_size=2)
                  | st.dictionaries(st.text(max_size=3), st.integers(), max_size=2)).map(
        lambda v: {"ts": v})),
    ("bad_type", (not_a_string | st.text(max_size=5)).map(lambda v: {"attrs": v})),
    ("bad_value", st.builds(lambda f, v: {f: v}, st.sampled_from(["event_id", "interaction_id"]),
                            st.just("") | ids_too_long)),
    ("unknown_type", st.text(max_size=20).filter(lambda t: t not in TYPES).map(lambda t: {"type": t})),
    ("unknown_channel", st.text(max_size=20).filter(lambda t: t not in CHANNELS).map(
        lambda c: {"channel": c})),
    ("bad_timestamp", out_of_range_ts().map(lambda t: {"ts": t})),
    ("bad_timestamp", st.text(max_size=30).filter(lambda t: not t[:4].isdigit()).map(
        lambda t: {"ts": t})),
    ("bad_value", bad_surveys.map(lambda fb: {"type": "feedback", "feedback": fb})),
]


@st.composite
def broken(draw: st.DrawFn) -> tuple[dict[str, Any], str]:
    """A valid event with one rule broken, and the reason that rule gives."""
    d, _ms = draw(valid_events())
    reason, changes = draw(st.sampled_from(BROKEN_RULES))
    for name, value in draw(changes).items():
        if value is DELETE:
            del d[name]
        else:
            d[name] = value
    return d, reason


@SETTINGS
@given(broken())
def test_one_broken_rule_names_its_reason(case: tuple[dict[str, Any], str]) -> None:
    d, want = case
    got = check(dumps(d))
    assert isinstance(got, Rejection) and got.reason == want, (d, got)


@SETTINGS
@given(valid_events(), st.integers(1, 100))
def test_a_record_over_max_event_bytes_is_too_large(ev: tuple[dict[str, Any], int], over: int) -> None:
    d = ev[0]
    d["attrs"] = {"pad": ""}
    d["attrs"]["pad"] = "x" * (MAX_BYTES - len(orjson.dumps(d)) + over)
    got = check(orjson.dumps(d))
    assert isinstance(got, Rejection) and got.reason == "too_large", got
