"""Recording rules of the customer-feedback indicators (SPEC 7): CSAT, NPS, complaints and the
SERVQUAL gap, per channel (the gap per channel and dimension), from the workers' survey counters,
summed over the workers and the queues (SPEC 9) like every ratio.

Ranges. Surveys are about a tenth of the contacts and each answers only some questions (NPS,
SERVQUAL), so over 5 minutes most channels have a handful of answers or none: a mean of three
answers says nothing. ``FEEDBACK_WINDOWS``: 1 h, the quality index's default period and what the
SERVQUAL dashboard shows (a channel with 100 contacts an hour gives about 10 answers), and 1 d,
the daily view for reports and for quiet channels. A range without answers gives NaN (0/0), as
the contact ratios do on an idle channel, so no comparison is true on it.

Every rule is a ratio of increases over the same range (``rate`` on both sides: the range's
length cancels), so it is exactly the period's sums divided, never a mean of means:

- ``sqm:feedback:increase<w>``: surveys counted (the sample size behind the others);
- ``sqm:csat:mean_rate<w>``: CSAT sum / CSAT answers (1..5);
- ``sqm:csat_satisfied:ratio_rate<w>``: answers of 4 or 5 / CSAT answers;
- ``sqm:nps:score_rate<w>``: 100 x (promoters - detractors) / NPS answers (-100..100);
- ``sqm:complaints:ratio_rate<w>``: complaints / contacts opened (SPEC 7.1's complaint_rate);
- ``sqm:servqual_gap:mean_rate<w>``: (perceived points - expected points) / answers, per
  channel and dimension: perceived mean - expected mean, SERVQUAL's gap 5 (-6..6).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

#: The ranges of every feedback rule (see the module docstring).
FEEDBACK_WINDOWS = ("1h", "1d")
BY_CHANNEL = ("channel",)
BY_DIMENSION = ("channel", "dimension")


def _sum(function: str, metric: str, window: str, by: Sequence[str] = BY_CHANNEL) -> str:
    return f"sum by ({', '.join(by)}) ({function}({metric}[{window}]))"


def _ratio(num: str, den: str, window: str, by: Sequence[str] = BY_CHANNEL) -> str:
    return f"{_sum('rate', num, window, by)}\n/\n{_sum('rate', den, window, by)}\n"


def _nps(w: str) -> str:
    return (f"100 * (\n  {_sum('rate', 'sqm_nps_promoters_total', w)}\n  -\n"
            f"  {_sum('rate', 'sqm_nps_detractors_total', w)}\n)\n"
            f"/\n{_sum('rate', 'sqm_nps_score_count', w)}\n")


def _gap(w: str) -> str:
    by = BY_DIMENSION
    return (f"(\n  {_sum('rate', 'sqm_servqual_perceived_points_total', w, by)}\n  -\n"
            f"  {_sum('rate', 'sqm_servqual_expected_points_total', w, by)}\n)\n"
            f"/\n{_sum('rate', 'sqm_servqual_responses_total', w, by)}\n")


def feedback_record(what: str, operation: str, window: str) -> str:
    """``sqm:<what>:<operation><window>``, e.g. ``sqm:csat:mean_rate1h``."""
    return f"sqm:{what}:{operation}{window}"


#: (what, operation, expression of a window), in the order of the rule file
RECORDS: tuple[tuple[str, str, Callable[[str], str]], ...] = (
    ("feedback", "increase", lambda w: _sum("increase", "sqm_feedback_total", w) + "\n"),
    ("csat", "mean_rate", lambda w: _ratio("sqm_csat_score_sum", "sqm_csat_score_count", w)),
    ("csat_satisfied", "ratio_rate",
     lambda w: _ratio("sqm_csat_satisfied_total", "sqm_csat_score_count", w)),
    ("nps", "score_rate", _nps),
    ("complaints", "ratio_rate", lambda w: _ratio("sqm_complaints_total", "sqm_opened_total", w)),
    ("servqual_gap", "mean_rate", _gap),
)


def feedback_rules(windows: Sequence[str] = FEEDBACK_WINDOWS) -> list[dict[str, Any]]:
    """Every feedback record over every window, in the order of ``RECORDS``."""
    return [{"record": feedback_record(what, op, w), "expr": expr(w)}
            for what, op, expr in RECORDS for w in windows]
