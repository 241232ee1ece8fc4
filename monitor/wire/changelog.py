"""Reading a compacted changelog back: the latest value per key, as compaction keeps it."""

from __future__ import annotations

from collections.abc import Iterable


def last_values(items: Iterable[tuple[bytes, bytes | None]]) -> dict[bytes, bytes | None]:
    """Each key's last record value, as compaction would keep it (None: deleted)."""
    last: dict[bytes, bytes | None] = {}
    for k, v in items:
        last[k] = v
    return last
