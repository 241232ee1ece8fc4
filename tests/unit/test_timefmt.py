"""The fast UTC path and the general RFC 3339 path agree with datetime on random instants."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.domain.stream.timefmt import parse_rfc3339_ms


def test_random_instants_in_every_form() -> None:
    rng = random.Random(3)
    for _ in range(5000):
        ms = rng.randint(0, 253402300799999 - 86_400_000)
        dt = datetime.fromtimestamp(ms // 1000, UTC)
        base = dt.strftime("%Y-%m-%dT%H:%M:%S")
        assert parse_rfc3339_ms(f"{base}.{ms % 1000:03d}Z") == ms
        assert parse_rfc3339_ms(f"{base}Z") == ms - ms % 1000
        local = dt.astimezone(timezone(timedelta(hours=5, minutes=30)))
        text = local.strftime("%Y-%m-%dT%H:%M:%S") + f".{ms % 1000:03d}+05:30"
        assert parse_rfc3339_ms(text) == ms


@pytest.mark.parametrize("text", [
    "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-01T24:00:00Z",
    "2026-01-01T00:60:00Z", "2026-01-01T00:00:00.12xZ", "2026-01-01X00:00:00Z",
    "20a6-01-01T00:00:00Z", "2026-01-01T00:00:00.1\u00b23Z", "2026-01-01T00:00:00",
    "2026-01-01", "", "2026-01-01T00:00:00.000+2:00",
    # outside 1970 .. 9999 UTC, the range of integer epoch ms
    "1969-12-31T23:59:59.999Z", "1969-12-31T23:59:59Z", "1970-01-01T00:59:59+01:00",
    "0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59-00:01",
])
def test_invalid_forms(text: str) -> None:
    assert parse_rfc3339_ms(text) is None


def test_the_ends_of_the_range() -> None:
    assert parse_rfc3339_ms("1970-01-01T00:00:00Z") == 0
    assert parse_rfc3339_ms("1970-01-01T01:00:00+01:00") == 0
    assert parse_rfc3339_ms("9999-12-31T23:59:59.999Z") == 253402300799999
    assert parse_rfc3339_ms("9999-12-31T23:59:59.999+00:00") == 253402300799999
