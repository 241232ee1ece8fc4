"""MinCount against a plain sorted list, through random adds, removes and compactions."""

from __future__ import annotations

import random

from monitor.domain.stream.mincount import MinCount


def test_matches_a_sorted_list() -> None:
    rng = random.Random(9)
    m = MinCount()
    ref: list[int] = []
    for _ in range(20000):
        if ref and rng.random() < 0.5:
            v = rng.choice(ref)
            ref.remove(v)
            m.remove(v)
        else:
            v = rng.randint(0, 300)
            ref.append(v)
            m.add(v)
        assert m.size == len(ref)
        assert m.min() == (min(ref) if ref else None)
    assert m.stored <= 2 * len(ref) + 65  # compaction keeps removed entries bounded
