"""The parameters the quality stage runs with: integer milliseconds, looked up once, no parsing.

Built from the configuration by ``quality_params`` in ``monitor.config.params``; the domain never
reads the configuration itself. Names follow one rule: ``*_ms`` is a length (``period_ms``,
``window_ms``), a point in time is ``*_start_ms`` / ``*_end_ms``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class QualityParams:
    #: the configured channels, in config order (the order of the records of a period)
    channels: tuple[str, ...]
    #: the length of an indicator window (``window_s``)
    window_ms: int
    #: the length of a quality period (``quality.period_s``), a whole number of windows
    period_ms: int
    #: the entropy method's look-back, in periods (this one included)
    entropy_periods: int
    #: ``expert``, ``ahp`` or ``entropy``
    method: str
    #: the expert or AHP weights by score; None for entropy, whose weights follow the data
    static_weights: dict[str, float] | None
