"""Recording rules of every indicator ratio over the windows the dashboards and SLOs need."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from monitor.ops.rules.names import RATIOS, ratio_record, summed


def ratio_rule(ratio: str, window: str) -> dict[str, Any]:
    """``sqm:<ratio>:ratio_rate<w>``: good over total, summed over the workers and the queues
    per channel (one series per channel, no ``queue`` label). NaN while the window has no total
    (0/0), so no alert compares true on an idle channel."""
    good, total = RATIOS[ratio]
    return {
        "record": ratio_record(ratio, window),
        "expr": f"{summed('rate', good, window)}\n/\n{summed('rate', total, window)}\n",
    }


def ratio_rules(windows: Mapping[str, Iterable[str]]) -> list[dict[str, Any]]:
    """Ratio -> windows, in the order of ``RATIOS`` and then of each ratio's windows."""
    return [ratio_rule(r, w) for r in RATIOS for w in windows.get(r, ())]
