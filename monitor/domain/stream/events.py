"""Input events and their rules (SPEC section 1): what makes a decoded record an ``Event``.

A record either becomes an ``Event`` or a ``Rejection`` carrying one dead-letter reason of
SPEC section 3. The bytes are decoded in ``monitor.contract.input``; this module sees Python
objects only. The wall clock comes in as ``now_ms``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from monitor.domain.stream import feedback
from monitor.domain.stream.feedback import FEEDBACK, Feedback
from monitor.domain.stream.queues import ChannelQueues, Queue
from monitor.domain.stream.timefmt import MAX_TS_MS, MIN_TS_MS, parse_rfc3339_ms

OPENED: Final = "opened"
RESPONDED: Final = "responded"
ABANDONED: Final = "abandoned"
RESOLVED: Final = "resolved"
FAILED: Final = "failed"
REOPENED: Final = "reopened"
TRANSFERRED: Final = "transferred"
EVENT_TYPES: Final = (OPENED, RESPONDED, ABANDONED, RESOLVED, FAILED, REOPENED, FEEDBACK,
                      TRANSFERRED)
#: Tie-break for equal event times so the applied order never depends on arrival order. A
#: transfer at the same millisecond as an answer comes first: the answer is the new queue's.
TYPE_RANK: Final = {OPENED: 0, TRANSFERRED: 1, RESPONDED: 2, ABANDONED: 3, RESOLVED: 4, FAILED: 4,
                    REOPENED: 5, FEEDBACK: 6}
#: The event types whose ``queue`` counts (SPEC 9); on any other type it is ignored.
QUEUED_TYPES: Final = frozenset((OPENED, TRANSFERRED))
MAX_QUEUE_CHARS: Final = 64

REASONS: Final = (
    "malformed_json", "not_an_object", "missing_field", "bad_type", "bad_value", "unknown_type",
    "unknown_channel", "bad_timestamp", "too_large", "invalid_transition", "orphan",
)
REQUIRED: Final = ("event_id", "interaction_id", "channel", "type", "ts")
MAX_ID_CHARS: Final = 128


class Event(msgspec.Struct, frozen=True, gc=False):
    """A validated event. A msgspec struct: built in C, it is the cheapest record to create
    (a NamedTuple's ``__new__`` is Python code and cost the hot path 7%)."""

    event_id: str
    interaction_id: str
    channel: str
    type: str
    ts_ms: int
    #: the survey of a ``feedback`` event (SPEC 7.1); None for the lifecycle types
    feedback: Feedback | None = None
    #: the queue an ``opened`` opens in or a ``transferred`` moves to (SPEC 9); None otherwise
    queue: Queue | None = None
    #: the event named a queue the config does not declare (measured under ``other``)
    unlisted: bool = False

    @property
    def order_key(self) -> tuple[int, int, str]:
        """Total order used to apply an interaction's events: time, lifecycle rank, id."""
        return (self.ts_ms, TYPE_RANK[self.type], self.event_id)


@dataclass(frozen=True, slots=True)
class Rejection:
    reason: str
    detail: str


def validate(
    obj: dict[str, Any], queues: Mapping[str, ChannelQueues], now_ms: int,
    max_future_skew_ms: int, max_event_age_ms: int,
) -> Event | Rejection:
    """Every rule of a decoded JSON object, in order, so that the first failing one names the
    reason (the general path: ``monitor.contract.input`` tries a faster decoder first).

    ``max_event_age_ms`` bounds event time from below: stage two emits every window from the
    first one that saw an event, so one stray timestamp from 1970 would make a fresh deployment
    emit 29 million windows per channel."""
    rejection = _shape(obj) or _values(obj, queues)
    if rejection is not None:
        return rejection
    survey: Feedback | None = None
    if obj["type"] == FEEDBACK:
        checked = feedback.validate(obj.get("feedback"))
        if isinstance(checked, str):
            return Rejection("bad_value", checked)
        survey = checked
    ts = obj["ts"]
    ts_ms = event_time_ms(ts)
    if ts_ms is None:
        return Rejection("bad_timestamp", f"ts {str(ts)[:64]!r} is not RFC 3339 with offset or epoch ms")
    if ts_ms > now_ms + max_future_skew_ms:
        ahead_s = (ts_ms - now_ms) / 1000
        return Rejection("bad_timestamp", f"ts is {ahead_s:.0f} s ahead of the clock")
    if ts_ms < now_ms - max_event_age_ms:
        behind_s = (now_ms - ts_ms) / 1000
        return Rejection("bad_timestamp", f"ts is {behind_s:.0f} s behind the clock, more than "
                         f"max_event_age_s ({max_event_age_ms // 1000})")
    channel, etype = obj["channel"], obj["type"]
    if etype in QUEUED_TYPES:
        queue, unlisted = queues[channel].named(obj.get("queue"))
        return Event(obj["event_id"], obj["interaction_id"], channel, etype, ts_ms, None, queue,
                     unlisted)
    return Event(obj["event_id"], obj["interaction_id"], channel, etype, ts_ms, survey)


def event_time_ms(ts: str | int) -> int | None:
    """Epoch ms of ``ts`` (RFC 3339 with offset, or integer epoch ms in range); None if invalid."""
    if isinstance(ts, int):
        return ts if MIN_TS_MS <= ts <= MAX_TS_MS else None
    return parse_rfc3339_ms(ts)


def _shape(obj: dict[str, Any]) -> Rejection | None:
    """Required fields present and of their JSON types."""
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
    if obj["type"] in QUEUED_TYPES:
        queue = obj.get("queue")
        if queue is None and obj["type"] == TRANSFERRED:
            return Rejection("missing_field", "queue is missing (a transferred event names its "
                             "new queue)")
        if queue is not None and not isinstance(queue, str):
            return Rejection("bad_type", "queue must be a string")
    return None


def _values(obj: dict[str, Any], queues: Mapping[str, ChannelQueues]) -> Rejection | None:
    """Ids, type and channel within what is allowed (the shape is already checked)."""
    for name in ("event_id", "interaction_id"):
        if not 1 <= len(obj[name]) <= MAX_ID_CHARS:
            return Rejection("bad_value", f"{name} must be 1..{MAX_ID_CHARS} characters")
    etype: str = obj["type"]
    if etype not in TYPE_RANK:
        return Rejection("unknown_type", f"type {etype[:64]!r} is not one of {', '.join(EVENT_TYPES)}")
    channel: str = obj["channel"]
    if channel not in queues:
        return Rejection("unknown_channel", f"channel {channel[:64]!r} is not configured")
    queue = obj.get("queue")
    if etype in QUEUED_TYPES and queue is not None and not 1 <= len(queue) <= MAX_QUEUE_CHARS:
        return Rejection("bad_value", f"queue must be 1..{MAX_QUEUE_CHARS} characters")
    return None


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A record that cannot be used, with its reason and where it came from (SPEC section 3)."""

    reason: str
    detail: str
    topic: str
    partition: int
    offset: int
    key: bytes | None
    raw: bytes | None
    received_at_ms: int
