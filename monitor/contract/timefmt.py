"""RFC 3339 text of epoch milliseconds, as the output records carry time."""

from __future__ import annotations

from datetime import UTC, datetime


def format_utc_s(ts_ms: int) -> str:
    """``2026-11-21T10:00:00Z`` (window bounds are whole seconds)."""
    return datetime.fromtimestamp(ts_ms // 1000, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def format_utc_ms(ts_ms: int) -> str:
    """``2026-11-21T10:00:00.123Z``."""
    dt = datetime.fromtimestamp(ts_ms // 1000, UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S") + f".{ts_ms % 1000:03d}Z"
