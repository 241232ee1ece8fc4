"""RFC 3339 parsing and formatting in integer epoch milliseconds (the core's only time unit)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

# Strict RFC 3339 date-time: full date, 'T' (or 't'/' '), time with optional fraction, mandatory offset.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.(\d{1,9}))?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
# Epoch ms accepted as integers: 1970-01-01 .. 9999-12-31.
MIN_TS_MS = 0
MAX_TS_MS = 253402300799999


def parse_rfc3339_ms(text: str) -> int | None:
    """Epoch ms of an RFC 3339 string with offset, floored to the millisecond; None if invalid."""
    m = _RFC3339.match(text)
    if m is None:
        return None
    frac = m.group(1)
    base = text[: m.start(1) - 1] + text[m.end(1):] if frac is not None else text
    base = base.replace("t", "T").replace(" ", "T", 1).replace("z", "Z").replace("Z", "+00:00")
    try:
        dt = datetime.fromisoformat(base)
    except ValueError:
        return None
    if dt.tzinfo is None:
        return None
    ms = (frac or "").ljust(3, "0")[:3]
    return int(dt.timestamp()) * 1000 + int(ms)


def format_utc_s(ts_ms: int) -> str:
    """``2026-11-21T10:00:00Z`` (window bounds are whole seconds)."""
    return datetime.fromtimestamp(ts_ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_utc_ms(ts_ms: int) -> str:
    """``2026-11-21T10:00:00.123Z``."""
    dt = datetime.fromtimestamp(ts_ms // 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ts_ms % 1000:03d}Z"
