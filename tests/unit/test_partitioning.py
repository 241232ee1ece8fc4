"""murmur2 agrees with Kafka's published test vectors and with aiokafka's partitioner."""

from __future__ import annotations

import random

import pytest
from aiokafka.partitioner import DefaultPartitioner

from monitor.contract.partitioner import murmur2, partition_for

# org.apache.kafka.common.utils.UtilsTest#testMurmur2
KAFKA_VECTORS = {
    b"21": -973932308,
    b"foobar": -790332482,
    b"a-little-bit-long-string": -985981536,
    b"a-little-bit-longer-string": -1486304829,
    b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971,
    b"abc": 479470107,
}


@pytest.mark.parametrize(("data", "expected"), KAFKA_VECTORS.items())
def test_kafka_vectors(data: bytes, expected: int) -> None:
    assert murmur2(data) == expected


def test_same_partition_as_a_default_producer() -> None:
    rng = random.Random(5)
    partitioner = DefaultPartitioner()
    for _ in range(2000):
        iid = "".join(rng.choice("abcdefghij-0123456789é") for _ in range(rng.randint(1, 40)))
        n = rng.choice([1, 3, 4, 12])
        assert partition_for(iid, n) == partitioner(iid.encode(), list(range(n)), list(range(n)))
