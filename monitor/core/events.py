"""Input events: parsing and validation of ``sqm.interactions.v1`` records (SPEC section 1).

A record either becomes an ``Event`` or a ``Rejection`` carrying one dead-letter reason of
SPEC section 3. Pure: no Kafka imports; the wall clock comes in as ``now_ms``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Annotated, Any, Final, Literal

import msgspec
import orjson

from monitor.core.timefmt import MAX_TS_MS, MIN_TS_MS, parse_rfc3339_ms

OPENED: Final = "opened"
RESPONDED: Final = "responded"
ABANDONED: Final = "abandoned"
RESOLVED: Final = "resolved"
FAILED: Final = "failed"
REOPENED: Final = "reopened"
EVENT_TYPES: Final = (OPENED, RESPONDED, ABANDONED, RESOLVED, FAILED, REOPENED)
#: Tie-break for equal event times so the applied order never depends on arrival order.
TYPE_RANK: Final = {OPENED: 0, RESPONDED: 1, ABANDONED: 2, RESOLVED: 3, FAILED: 3, REOPENED: 4}

REASONS: Final = (
    "malformed_json", "not_an_object", "missing_field", "bad_type", "bad_value", "unknown_type",
    "unknown_channel", "bad_timestamp", "too_large", "invalid_transition", "orphan",
)
REQUIRED: Final = ("event_id", "interaction_id", "channel", "type", "ts")
MAX_ID_CHARS: Final = 128
RAW_KEEP_BYTES: Final = 4096


class Event(msgspec.Struct, frozen=True, gc=False):
    """A validated event. A msgspec struct: built in C, it is the cheapest record to create
    (a NamedTuple's ``__new__`` is Python code and cost the hot path 7%)."""

    event_id: str
    interaction_id: str
    channel: str
    type: str
    ts_ms: int

    @property
    def order_key(self) -> tuple[int, int, str]:
        """Total order used to apply an interaction's events: time, lifecycle rank, id."""
        return (self.ts_ms, TYPE_RANK[self.type], self.event_id)


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    detail: str


def raw_text(raw: bytes | None) -> str:
    """The original bytes as text for a dead letter, cut to 4 KiB."""
    if raw is None:
        return ""
    return raw[:RAW_KEEP_BYTES].decode("utf-8", errors="replace")


def parse_event(
    raw: bytes | None,
    channels: Collection[str],
    now_ms: int,
    max_future_skew_ms: int,
    max_bytes: int,
) -> Event | Rejection:
    """Validate one record value; the first failing rule decides the reason."""
    return Parser(channels, max_future_skew_ms, max_bytes)(raw, now_ms)


class Parser:
    """``parse_event`` with its configuration bound, for the hot path: one call per record."""

    __slots__ = ("_channels", "_decode", "_max_bytes", "_skew_ms")

    def __init__(self, channels: Collection[str], max_future_skew_ms: int, max_bytes: int) -> None:
        self._channels = channels
        self._decode = _decoder(channels).decode
        self._skew_ms = max_future_skew_ms
        self._max_bytes = max_bytes

    def __call__(self, raw: bytes | None, now_ms: int) -> Event | Rejection:
        # fastest path: msgspec validates shape, types, id lengths, type and channel in C;
        # anything it refuses, or a timestamp that is invalid or too far ahead, takes the
        # general path, which names the reason
        if raw is not None and len(raw) <= self._max_bytes:
            try:
                rec = self._decode(raw)
            except Exception:  # the general path classifies every failure
                pass
            else:
                ts = rec.ts
                if type(ts) is str:
                    ts_ms = parse_rfc3339_ms(ts)
                elif MIN_TS_MS <= ts <= MAX_TS_MS:
                    ts_ms = ts
                else:
                    ts_ms = None
                if ts_ms is not None and ts_ms <= now_ms + self._skew_ms:
                    return Event(rec.event_id, rec.interaction_id, rec.channel, rec.type, ts_ms)
        return _general(raw, self._channels, now_ms, self._skew_ms, self._max_bytes)


def _general(
    raw: bytes | None, channels: Collection[str], now_ms: int, max_future_skew_ms: int,
    max_bytes: int,
) -> Event | Rejection:
    """Every rule in order (orjson and Python): the path that names a rejection's reason."""
    if raw is None:
        return Rejection("malformed_json", "record has no value (null)")
    if len(raw) > max_bytes:
        return Rejection("too_large", f"{len(raw)} bytes, limit {max_bytes}")
    try:
        obj = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        return Rejection("malformed_json", str(exc)[:200])
    if type(obj) is not dict:
        return Rejection("not_an_object", f"JSON {type(obj).__name__}, expected an object")
    return _slow_checks(obj, channels, now_ms, max_future_skew_ms)


_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
_decoders: dict[Collection[str], msgspec.json.Decoder[Any]] = {}


def _decoder(channels: Collection[str]) -> msgspec.json.Decoder[Any]:
    """A decoder that accepts exactly the valid events of these channels (cached per set)."""
    dec = _decoders.get(channels)
    if dec is None:
        record = msgspec.defstruct("EventRecord", [
            ("event_id", _Id), ("interaction_id", _Id),
            ("channel", Literal[tuple(channels)]),
            ("type", Literal[EVENT_TYPES]),
            ("ts", str | int), ("attrs", dict[str, Any] | None, None),
        ], gc=False)
        if len(_decoders) > 16:
            _decoders.clear()
        dec = _decoders[channels] = msgspec.json.Decoder(record)
    return dec


def _slow_checks(
    obj: dict[str, Any], channels: Collection[str], now_ms: int, max_future_skew_ms: int
) -> Event | Rejection:
    """Every rule in order, so that the first failing one names the reason."""
    for name in REQUIRED:
        if name not in obj or obj[name] is None:
            return Rejection("missing_field", f"{name} is missing")
    for name in ("event_id", "interaction_id", "channel", "type"):
        if not isinstance(obj[name], str):
            return Rejection("bad_type", f"{name} must be a string")
    ts = obj["ts"]
    if isinstance(ts, bool) or not isinstance(ts, str | int):
        return Rejection("bad_type", "ts must be an RFC 3339 string or integer epoch milliseconds")
    if "attrs" in obj and obj["attrs"] is not None and not isinstance(obj["attrs"], dict):
        return Rejection("bad_type", "attrs must be an object")
    for name in ("event_id", "interaction_id"):
        if not 1 <= len(obj[name]) <= MAX_ID_CHARS:
            return Rejection("bad_value", f"{name} must be 1..{MAX_ID_CHARS} characters")
    etype: str = obj["type"]
    if etype not in TYPE_RANK:
        return Rejection("unknown_type", f"type {etype[:64]!r} is not one of {', '.join(EVENT_TYPES)}")
    channel: str = obj["channel"]
    if channel not in channels:
        return Rejection("unknown_channel", f"channel {channel[:64]!r} is not configured")
    if isinstance(ts, int):
        ts_ms: int | None = ts if MIN_TS_MS <= ts <= MAX_TS_MS else None
    else:
        ts_ms = parse_rfc3339_ms(ts)
    if ts_ms is None:
        return Rejection("bad_timestamp", f"ts {str(ts)[:64]!r} is not RFC 3339 with offset or epoch ms")
    if ts_ms > now_ms + max_future_skew_ms:
        ahead_s = (ts_ms - now_ms) / 1000
        return Rejection("bad_timestamp", f"ts is {ahead_s:.0f} s ahead of the clock")
    return Event(obj["event_id"], obj["interaction_id"], channel, etype, ts_ms)
