"""The random draws the lifecycle and survey models share (lognormal times, counts, ms).

Each takes its ``random.Random`` explicitly: which generator a draw comes from decides which
stream it disturbs, and the model keeps several streams apart on purpose.
"""

from __future__ import annotations

import math
import random


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return rng.lognormvariate(math.log(max(median, 1e-6)), sigma)


def capped(rng: random.Random, median: float, cap: float, sigma: float) -> float:
    """A wait: lognormal, drawn again when beyond ``cap``. Agents take the oldest contact first,
    so a queue's waits have a bound; independent lognormal tails would make the oldest wait of a
    busy channel an extreme value and page for a healthy queue."""
    for _ in range(64):
        x = lognormal(rng, median, sigma)
        if x <= cap:
            return x
    return cap


def poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def ms(seconds: float) -> int:
    """Seconds as a whole, positive number of milliseconds (an event never shares its
    predecessor's time)."""
    return max(1, round(seconds * 1000))
