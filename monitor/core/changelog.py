"""Reading a compacted changelog back: the latest value per key, deleted keys left out."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import Any

import orjson


def last_values(items: Iterable[tuple[bytes, bytes | None]]) -> dict[bytes, bytes | None]:
    """Each key's last record value, as compaction would keep it (None: deleted)."""
    last: dict[bytes, bytes | None] = {}
    for k, v in items:
        last[k] = v
    return last


def latest(items: Iterable[tuple[bytes, bytes | None]]) -> Iterator[tuple[bytes, Any]]:
    """``(key, parsed JSON)`` of each key's last record, skipping keys whose last record is None."""
    for k, v in last_values(items).items():
        if v is not None:
            yield k, orjson.loads(v)
