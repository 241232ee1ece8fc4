"""The one mechanism of durable state: a compacted changelog partition per stage partition.

Every stage writes its state as ``ChangelogRecord``s (key, value; None deletes the key) in the
transaction of the outputs they belong to, and reads it back from the ``Live`` records, each
key's latest value, as compaction keeps it: stage one through ``statelog``, stage two through
``windows``; the quality stage's Faust tables use the key codecs of ``periods``. The worker adds
``OFFSET_KEY`` to every stage's changelog and takes it out before the stage restores.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

#: One changelog record: a key and its value, None deleting the key (a tombstone).
ChangelogRecord = tuple[bytes, bytes | None]
#: A changelog partition as compaction keeps it: each live key's latest value.
Live = Mapping[bytes, bytes]


class Compacted:
    """The live keys of a changelog, kept while it is read.

    Compaction runs only on closed segments, so a changelog holds every delta and snapshot
    written since its active segment opened, most of them superseded or deleted since.
    Keeping only each key's latest value while reading holds memory to the state being
    restored; a list of every record read first made each restarted worker start larger
    than the one before it."""

    def __init__(self) -> None:
        self.live: dict[bytes, bytes] = {}
        self.read = 0  # records read, superseded and deleted ones included

    def add(self, key: bytes, value: bytes | None) -> None:
        self.read += 1
        if value is None:  # a tombstone: the key is gone
            self.live.pop(key, None)
        else:
            self.live[key] = value


#: Key of the record that says where the task's source partition resumes: the offset after the
#: last batch, written with every batch that read records, in the batch's transaction.
OFFSET_KEY = b"o:"


def encode_offset(next_offset: int) -> bytes:
    return b"%d" % next_offset


def take_offset(live: dict[bytes, bytes]) -> int | None:
    """Remove the resume offset from a restored changelog's live records; None when there is
    none (a new partition, or a changelog written before it was recorded)."""
    raw = live.pop(OFFSET_KEY, None)
    return None if raw is None else int(raw)


def last_values(items: Iterable[ChangelogRecord]) -> dict[bytes, bytes]:
    """Each live key's last record value, as compaction would keep it (deleted keys absent)."""
    kept = Compacted()
    for k, v in items:
        kept.add(k, v)
    return kept.live
