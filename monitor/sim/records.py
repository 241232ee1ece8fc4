"""What the generator hands out and how it goes on the wire: items, timestamps, values, keys.

Kept apart from the model so ``sqm replay``, the bench and the tests can encode and key records
exactly as ``sqm generate`` does without pulling in the traffic model.
"""

from __future__ import annotations

import functools
import time
from typing import Any

import orjson

#: An emitted item: an event object, or raw garbage bytes (``garbage_ratio``).
Item = dict[str, Any] | bytes


def format_ts(ts_ms: int) -> str:
    """``2026-11-21T10:00:00.123Z`` (RFC 3339, UTC, milliseconds)."""
    sec, milli = divmod(ts_ms, 1000)
    return f"{_second_prefix(sec)}.{milli:03d}Z"


@functools.lru_cache(maxsize=4096)
def _second_prefix(sec: int) -> str:
    t = time.gmtime(sec)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    )


def encode(item: Item) -> bytes:
    """One record value / JSON line (without the newline): garbage bytes go out unchanged."""
    return item if isinstance(item, bytes) else orjson.dumps(item)


def key_of(item: Item) -> bytes | None:
    """The record key: the ``interaction_id`` of an object that has a string one, else none.

    Raw bytes (garbage, replayed lines) follow the same rule once parsed, so a file written by
    ``sqm generate --out`` and replayed gives the same records as generating live.
    """
    if isinstance(item, bytes):
        try:
            parsed = orjson.loads(item)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(parsed, dict):
            return None
        item = parsed
    iid = item.get("interaction_id")
    return iid.encode() if isinstance(iid, str) else None
