"""RFC 3339 parsing into integer epoch milliseconds (the domain's only time unit)."""

from __future__ import annotations

import re
from datetime import date, datetime

# Strict RFC 3339 date-time: full date, 'T' (or 't'/' '), time with optional fraction, mandatory offset.
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(?:\.(\d{1,9}))?(?:[Zz]|[+-]\d{2}:\d{2})$"
)
# Epoch ms accepted as integers: 1970-01-01 .. 9999-12-31.
MIN_TS_MS = 0
MAX_TS_MS = 253402300799999


_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY_MS = 86_400_000
_day_cache: dict[str, int] = {}
_DIGITS = frozenset("0123456789")


def _day_ms(ymd: str) -> int | None:
    """Epoch ms of midnight UTC of ``YYYY-MM-DD`` (cached: events share few dates)."""
    ms = _day_cache.get(ymd)
    if ms is None:
        if ymd[4] != "-" or ymd[7] != "-" or not set(ymd[:4] + ymd[5:7] + ymd[8:]) <= _DIGITS:
            return None
        try:
            ordinal = date(int(ymd[:4]), int(ymd[5:7]), int(ymd[8:])).toordinal()
        except ValueError:
            return None
        if len(_day_cache) > 4096:
            _day_cache.clear()
        ms = _day_cache[ymd] = (ordinal - _EPOCH_ORDINAL) * _DAY_MS
    return ms


_second_cache: dict[str, int] = {}


def _second_ms(prefix: str) -> int | None:
    """Epoch ms of ``YYYY-MM-DDTHH:MM:SS`` (UTC), cached: a batch's events share few seconds."""
    ms = _second_cache.get(prefix)
    if ms is None:
        if prefix[10] != "T" or prefix[13] != ":" or prefix[16] != ":":
            return None
        clock = prefix[11:13] + prefix[14:16] + prefix[17:19]
        if not set(clock) <= _DIGITS:
            return None
        hh, mm, ss = int(prefix[11:13]), int(prefix[14:16]), int(prefix[17:19])
        if hh > 23 or mm > 59 or ss > 59:
            return None  # leap seconds and oddities take the general path
        day = _day_ms(prefix[:10])
        if day is None:
            return None
        if len(_second_cache) > 65536:
            _second_cache.clear()
        ms = _second_cache[prefix] = day + ((hh * 60 + mm) * 60 + ss) * 1000
    return ms


def _fast_utc_ms(text: str) -> int | None:
    """``YYYY-MM-DDTHH:MM:SS[.mmm]Z``, the form most producers write; None for anything else."""
    n = len(text)
    if n == 24:
        if text[23] != "Z" or text[19] != ".":
            return None
        frac = text[20:23]
        if not (frac.isascii() and frac.isdigit()):
            return None
        base = _second_ms(text[:19])
        return None if base is None else base + int(frac)
    if n == 20 and text[19] == "Z":
        return _second_ms(text[:19])
    return None


def parse_rfc3339_ms(text: str) -> int | None:
    """Epoch ms of an RFC 3339 string with offset, floored to the millisecond; None if invalid
    or outside 1970-01-01 .. 9999-12-31 UTC (the range integer epoch ms may take, so that both
    forms accept the same instants)."""
    fast = _fast_utc_ms(text)
    if fast is not None:
        return fast if fast >= MIN_TS_MS else None
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
    out = int(dt.timestamp()) * 1000 + int(ms)
    return out if MIN_TS_MS <= out <= MAX_TS_MS else None
