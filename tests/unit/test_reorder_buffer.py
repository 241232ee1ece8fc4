"""The reorder buffer against a plain list: what goes in comes out once, exactly below each frontier."""

from __future__ import annotations

import random
from typing import NamedTuple

import pytest

from monitor.domain.stream.reorder import ReorderBuffer


class Item(NamedTuple):
    """An entry as the buffer needs it: ordered, event time first."""

    ts_ms: int
    id: str


@pytest.mark.parametrize("seed", range(6))
def test_takes_exactly_what_is_below_the_frontier(seed: int) -> None:
    rng = random.Random(seed)
    buf = ReorderBuffer()
    reference: list[Item] = []
    uid = 0
    frontier = 0
    for _ in range(400):
        if rng.random() < 0.6:
            # a batch: mostly ahead of the frontier, some ties, sizes from 1 to 3,000 so
            # that runs of very different sizes merge
            n = rng.choice([1, 2, 5, 40, 300, 3000])
            items = []
            for _ in range(n):
                uid += 1
                items.append(Item(frontier + rng.randint(0, 2_000), f"e{uid:07d}"))
            reference += items
            buf.add(list(items))
        else:
            frontier += rng.choice([0, 1, 10, 200, 1_500])
            got = buf.take_before(frontier)
            want = sorted(x for x in reference if x[0] < frontier)
            reference = [x for x in reference if x[0] >= frontier]
            assert sorted(got) == want
            assert len(got) == len(want)  # nothing twice
        assert len(buf) == len(reference)
    assert sorted(buf) == sorted(reference)
    assert sorted(buf.take_before(frontier + 10_000)) == sorted(reference)
    assert len(buf) == 0 and list(buf) == []


def test_the_frontier_is_exclusive_and_ties_stay_together() -> None:
    buf = ReorderBuffer()
    buf.add([Item(5, "b"), Item(4, "a"), Item(5, "a"), Item(6, "a")])
    assert buf.take_before(5) == [Item(4, "a")]
    assert sorted(buf.take_before(6)) == [Item(5, "a"), Item(5, "b")]
    assert buf.take_before(6) == []
    assert list(buf) == [Item(6, "a")]


def test_runs_stay_few_and_a_long_buffer_is_compacted() -> None:
    """Many small batches (live traffic) must not leave one run per batch behind, and a run that
    is mostly taken must not keep its taken prefix alive."""
    buf = ReorderBuffer()
    for i in range(10_000):
        buf.add([Item(i, "x")])
    assert len(buf.run_sizes()) <= 15  # log2(10,000) + 1
    taken = 0
    for f in range(0, 10_001, 7):
        taken += len(buf.take_before(f))
    assert taken == 10_000 - len(buf)
    assert sum(live for _stored, live in buf.run_sizes()) == len(buf)
    assert all(stored <= 2 * 1024 + 2 * live for stored, live in buf.run_sizes())
