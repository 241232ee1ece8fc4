"""Decoding ``sqm.interactions.v1`` record values into events (the rules are in the domain).

The hot path: msgspec decodes a record straight into a typed struct and checks shape, field
types, id lengths, the event type, the channel and a survey's ranges in C. Anything it refuses
(or a timestamp that is invalid, too far ahead or too old) takes the general path: orjson, then
every rule of ``monitor.domain.stream.events.validate`` in order, which names the dead-letter reason.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Annotated, Any, Literal

import msgspec
import orjson

from monitor.domain.stream.events import (
    EVENT_TYPES,
    MAX_ID_CHARS,
    MAX_QUEUE_CHARS,
    OPENED,
    QUEUED_TYPES,
    Event,
    Rejection,
    validate,
)
from monitor.domain.stream.feedback import FEEDBACK, Feedback, complete
from monitor.domain.stream.queues import ChannelQueues, single_queues
from monitor.domain.stream.timefmt import MAX_TS_MS, MIN_TS_MS, parse_rfc3339_ms


class Parser:
    """Validates one record value; the first failing rule decides the reason. Configured once,
    called once per record (the hot path)."""

    __slots__ = ("_age_ms", "_decode", "_max_bytes", "_queues", "_skew_ms")

    def __init__(self, queues: Mapping[str, ChannelQueues] | Collection[str],
                 max_future_skew_ms: int, max_bytes: int, max_event_age_ms: int) -> None:
        """``queues``: each channel's queues (a plain collection of channels: one queue each)."""
        if not isinstance(queues, Mapping):
            queues = single_queues(queues)
        self._queues = queues
        self._decode = _decoder(tuple(queues)).decode
        self._skew_ms = max_future_skew_ms
        self._max_bytes = max_bytes
        self._age_ms = max_event_age_ms

    def __call__(self, raw: bytes | None, now_ms: int) -> Event | Rejection:
        # fastest path: msgspec validates shape, types, id lengths, type and channel in C;
        # anything it refuses, or a timestamp that is invalid, too far ahead or too old, takes
        # the general path, which names the reason
        if raw is not None and len(raw) <= self._max_bytes:
            try:
                rec = self._decode(raw)
            except Exception:  # the general path classifies every failure
                pass
            else:
                ts = rec.ts  # ``event_time_ms`` inlined: a call per record costs about 1%
                if type(ts) is str:
                    ts_ms = parse_rfc3339_ms(ts)
                elif MIN_TS_MS <= ts <= MAX_TS_MS:
                    ts_ms = ts
                else:
                    ts_ms = None
                if ts_ms is not None and now_ms - self._age_ms <= ts_ms <= now_ms + self._skew_ms:
                    etype = rec.type
                    if etype in QUEUED_TYPES:
                        event = self._queued(rec, etype, ts_ms)
                    elif etype != FEEDBACK:  # a stray ``feedback`` field is ignored, like attrs
                        return Event(rec.event_id, rec.interaction_id, rec.channel, etype, ts_ms)
                    else:
                        event = _surveyed(rec, ts_ms)
                    if event is not None:
                        return event
        return _general(raw, self._queues, now_ms, self._skew_ms, self._max_bytes, self._age_ms)

    def _queued(self, rec: Any, etype: str, ts_ms: int) -> Event | None:
        """An ``opened`` or ``transferred`` with its ``Queue`` (SPEC 9); None: the general path
        names what is wrong (a transfer without a queue, a name of the wrong length)."""
        name = rec.queue
        if name is None:
            if etype != OPENED:
                return None
        elif not 0 < len(name) <= MAX_QUEUE_CHARS:
            return None
        q, unlisted = self._queues[rec.channel].named(name)
        return Event(rec.event_id, rec.interaction_id, rec.channel, etype, ts_ms, None, q, unlisted)


def _surveyed(rec: Any, ts_ms: int) -> Event | None:
    """A ``feedback`` event with its survey; None: the general path names what is wrong."""
    fb = rec.feedback
    if fb is None or not complete(fb):
        return None
    return Event(rec.event_id, rec.interaction_id, rec.channel, rec.type, ts_ms, fb)


def _general(
    raw: bytes | None, queues: Mapping[str, ChannelQueues], now_ms: int, max_future_skew_ms: int,
    max_bytes: int, max_event_age_ms: int,
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
    return validate(obj, queues, now_ms, max_future_skew_ms, max_event_age_ms)


_Id = Annotated[str, msgspec.Meta(min_length=1, max_length=MAX_ID_CHARS)]
_decoders: dict[tuple[str, ...], msgspec.json.Decoder[Any]] = {}


def _decoder(channels: tuple[str, ...]) -> msgspec.json.Decoder[Any]:
    """A decoder that accepts exactly the valid events of these channels (cached per set).

    Unknown fields are refused here, so they take the general path: msgspec skips an unknown
    field's value without decoding it, and would accept invalid UTF-8 or a number like 1e309
    there, which the general path (and SPEC section 1: UTF-8 JSON) refuses."""
    dec = _decoders.get(channels)
    if dec is None:
        record = msgspec.defstruct("EventRecord", [
            ("event_id", _Id), ("interaction_id", _Id),
            ("channel", Literal[tuple(channels)]),
            ("type", Literal[EVENT_TYPES]),
            ("ts", str | int), ("attrs", dict[str, Any] | None, None),
            ("feedback", Feedback | None, None),
            # any string: on the types whose queue does not count, a queue is ignored
            ("queue", str | None, None),
        ], gc=False, forbid_unknown_fields=True)
        if len(_decoders) > 16:
            _decoders.clear()
        dec = _decoders[channels] = msgspec.json.Decoder(record)
    return dec
