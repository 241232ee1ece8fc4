"""Hostile records (``garbage_ratio``): malformed bytes the worker must dead-letter.

One kind of damage per record (ten kinds, between them every reason a record can earn when it
is parsed, ``malformed_json`` to ``bad_timestamp`` of SPEC section 3), never blank and never
multi-line, so a JSON-lines file of them stays one record per line.
"""

from __future__ import annotations

import random
from typing import Any, Final

import orjson

from monitor.domain.stream.events import OPENED
from monitor.sim.records import format_ts

_GARBAGE_TEXT: Final = (b"hello kafka", b"<event type='opened'/>", b"opened,phone,2026-11-21",
                        b"{{not json}}", b"\x00\x01\x02\x03")
_NON_OBJECTS: Final = (b"[1,2,3]", b'"opened"', b"42", b"null", b"true", b"3.14")
_BAD_TS: Final = ("yesterday", "2026-13-45T25:61:00Z", "2026-11-21T10:00:00",
                  "21/11/2026 10:00:00", "", "1763719200")


def garbage(rng: random.Random, tag: str, n: int, ts_ms: int, channel: str) -> bytes:
    """One malformed record, as the worker must dead-letter it (never blank, never multi-line)."""
    base: dict[str, Any] = {
        "event_id": f"g-{tag}-{n}",
        "interaction_id": f"gi-{tag}-{n}",
        "channel": channel,
        "type": OPENED,
        "ts": format_ts(ts_ms),
        "attrs": {"queue": "general", "segment": "consumer"},
    }
    kind = rng.randrange(10)
    if kind < 3:
        return _not_an_object(rng, kind, base)
    _spoil_one_field(rng, kind, base, ts_ms)
    return orjson.dumps(base)


def _not_an_object(rng: random.Random, kind: int, base: dict[str, Any]) -> bytes:
    """Kinds 0-2: bytes that never become an event object (cut-off or non-JSON text, or JSON
    of another shape), the records rejected before any field is looked at."""
    if kind == 0:  # malformed JSON: a cut-off object
        raw = orjson.dumps(base)
        return raw[: rng.randrange(2, len(raw) - 1)]
    if kind == 1:  # malformed JSON: not UTF-8 / not JSON at all
        return rng.choice((b'{"event_id": "\xff\xfe", "type": "opened"}', *_GARBAGE_TEXT))
    # JSON, but not an object
    return rng.choice((*_NON_OBJECTS, orjson.dumps([base])))


def _spoil_one_field(rng: random.Random, kind: int, base: dict[str, Any], ts_ms: int) -> None:
    """Kinds 3-9: an otherwise valid event with exactly one field spoiled in place, so each
    field-level reject reason is exercised on its own."""
    if kind == 3:  # a required field missing (or null)
        name = rng.choice(("event_id", "interaction_id", "channel", "type", "ts"))
        if rng.random() < 0.8:
            del base[name]
        else:
            base[name] = None
    elif kind == 4:  # a field of the wrong type
        name, value = rng.choice((
            ("event_id", 12345), ("interaction_id", ["i-1"]), ("channel", 7), ("type", True),
            ("ts", True), ("ts", 1.5e12), ("ts", {"ms": ts_ms}), ("attrs", "queue=billing"),
        ))
        base[name] = value
    elif kind == 5:  # a bad value
        base[rng.choice(("event_id", "interaction_id"))] = rng.choice(("", "x" * 200))
    elif kind == 6:
        base["type"] = rng.choice(("escalated", "handed_off", "closed", "feedback!"))
    elif kind == 7:
        base["channel"] = rng.choice(("fax", "carrier-pigeon", "telex"))
    elif kind == 8:  # a bad timestamp
        base["ts"] = rng.choice((*_BAD_TS, -1, ts_ms + 86_400_000, format_ts(ts_ms + 86_400_000)))
    else:  # a bad timestamp of the integer kind or a mangled offset
        base["ts"] = rng.choice((10**16, format_ts(ts_ms)[:-1] + "+25:00"))
