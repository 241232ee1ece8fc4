"""``sqm.deadletter.v1`` records (SPEC section 3) from the domain's ``DeadLetter``."""

from __future__ import annotations

import orjson

from monitor.contract.timefmt import format_utc_ms
from monitor.domain.stream.events import DeadLetter

SCHEMA = "sqm.deadletter.v1"
RAW_KEEP_BYTES = 4096


def raw_text(raw: bytes | None) -> str:
    """The original bytes as text for a dead letter, cut to 4 KiB."""
    if raw is None:
        return ""
    return raw[:RAW_KEEP_BYTES].decode("utf-8", errors="replace")


def key(d: DeadLetter) -> bytes | None:
    """The dead letter's key: the original key, cut to 4 KiB like ``raw``. A key near the
    broker's message size limit fits in the input record but not in the dead letter around it,
    and a dead letter the broker refuses would stop the worker at the same record on every
    restart."""
    return None if d.key is None else d.key[:RAW_KEEP_BYTES]


def encode(d: DeadLetter) -> bytes:
    return orjson.dumps({
        "schema": SCHEMA,
        "reason": d.reason,
        "detail": d.detail,
        "source": {"topic": d.topic, "partition": d.partition, "offset": d.offset},
        "raw": raw_text(d.raw),
        "received_at": format_utc_ms(d.received_at_ms),
    })
