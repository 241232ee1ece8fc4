"""Which input partition owns an interaction: Kafka's default partitioner on its id.

A record keyed by something other than its ``interaction_id`` (or not keyed) may sit in a
partition that does not hold its interaction's state; stage one forwards it to this partition.
"""

from __future__ import annotations

_SEED = 0x9747B28C
_M = 0x5BD1E995
_MASK = 0xFFFFFFFF


def murmur2(data: bytes) -> int:
    """32-bit MurmurHash2 as Kafka's Java client computes it (``Utils.murmur2``), signed."""
    length = len(data)
    h = (_SEED ^ length) & _MASK
    tail = length & ~3
    for i in range(0, tail, 4):
        k = int.from_bytes(data[i:i + 4], "little")
        k = (k * _M) & _MASK
        k ^= k >> 24
        k = (k * _M) & _MASK
        h = ((h * _M) & _MASK) ^ k
    rest = length & 3
    if rest:
        if rest == 3:
            h ^= data[tail + 2] << 16
        if rest >= 2:
            h ^= data[tail + 1] << 8
        h ^= data[tail]
        h = (h * _M) & _MASK
    h ^= h >> 13
    h = (h * _M) & _MASK
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h


def partition_of_key(key: bytes, partitions: int) -> int:
    """The partition a default Kafka producer chooses for ``key``."""
    return (murmur2(key) & 0x7FFFFFFF) % partitions


def partition_for(interaction_id: str, partitions: int) -> int:
    """The partition a default Kafka producer would choose for the key ``interaction_id``."""
    return partition_of_key(interaction_id.encode(), partitions)
