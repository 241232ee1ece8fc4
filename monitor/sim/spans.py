"""A whole generated span at once: ``history`` (files, backfill, tests) and ``span``.

The model itself is stepped by the caller (``sqm generate`` paces it with the wall clock); these
step it through event time as fast as it goes, with the same records as any other stepping.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

from monitor.config import ChannelConfig
from monitor.sim.records import Item
from monitor.sim.scenario import Scenario, parse_scenario
from monitor.sim.traffic import TrafficModel


def history(
    channels: Sequence[ChannelConfig],
    scenario: Scenario | str,
    seed: int,
    rate: float,
    start_ms: int,
    duration_s: float,
    *,
    step_ms: int = 1000,
    duplicate_ratio: float = 0.0,
    disorder_ms: int = 0,
    garbage_ratio: float = 0.0,
    epoch_ms_ratio: float = 0.2,
    id_tag: str | None = None,
) -> Iterator[Item]:
    """All items of ``[start_ms, start_ms + duration_s]`` at once (files, backfill, tests)."""
    if isinstance(scenario, str):
        scenario = parse_scenario(scenario, channels)
    model = TrafficModel(
        channels, scenario, seed, rate, start_ms=start_ms, duration_s=duration_s,
        duplicate_ratio=duplicate_ratio, disorder_ms=disorder_ms, garbage_ratio=garbage_ratio,
        epoch_ms_ratio=epoch_ms_ratio, id_tag=id_tag,
    )
    yield from span(model, step_ms=step_ms)


def span(model: TrafficModel, *, step_ms: int = 1000) -> Iterator[Item]:
    """Step ``model`` from its start to its end, then drain what ``disorder_ms`` held back."""
    if model.start_ms is None or model.end_ms is None:
        raise ValueError("span() needs a model with start_ms")
    end = model.end_ms
    t = model.start_ms
    while t < end:
        t = min(t + step_ms, end)
        yield from model.events_until(t)
    yield from model.drain(end)
