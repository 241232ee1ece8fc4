"""``[rules]`` of the configuration: what ``sqm rules`` needs beyond the alerts and SLOs.

Pipeline-health thresholds, the scrape job of the workers and where the runbook lives. Absent
keys take the defaults below; a bad one stops start-up with a message naming the key.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from monitor.config import check
from monitor.config.errors import ConfigError

DEFAULT_RUNBOOK_URL = "https://github.com/sqm-monitor/sqm-monitor/blob/main/docs/runbook.md"


@dataclass(frozen=True, slots=True)
class RulesConfig:
    #: The Prometheus job that scrapes the workers (``up{job=...}`` for SqmWorkerDown).
    job: str = "sqm-worker"
    #: The runbook; each alert links to its section (``#<alertname in lower case>``).
    runbook_url: str = DEFAULT_RUNBOOK_URL
    #: SqmWatermarkLagHigh: final windows trail the wall clock by more than this.
    watermark_lag_s: float = 300.0
    #: SqmDeadLetterRateHigh: share of consumed records dead-lettered over 5 minutes.
    deadletter_ratio: float = 0.01
    #: SqmConsumerLagHigh: records behind the end of a stage's input topic.
    consumer_lag_records: int = 100_000



def parse_rules(raw: Any) -> RulesConfig:
    """The ``[rules]`` table (None: the defaults)."""
    if raw is None:
        return RulesConfig()
    raw = check.table("rules", raw, RulesConfig.__dataclass_fields__, header=True)
    out = RulesConfig()
    job = check.non_empty("rules.job", raw.get("job", out.job))
    url = raw.get("runbook_url", out.runbook_url)
    if not isinstance(url, str) or not url.startswith(("http://", "https://")):
        raise ConfigError(f"rules.runbook_url: expected an http(s) URL, got {url!r}")
    lag = _number("rules.watermark_lag_s", raw.get("watermark_lag_s", out.watermark_lag_s))
    ratio = _number("rules.deadletter_ratio", raw.get("deadletter_ratio", out.deadletter_ratio))
    if ratio >= 1:
        raise ConfigError(f"rules.deadletter_ratio: expected less than 1, got {ratio!r}")
    records = check.integer("rules.consumer_lag_records",
                            raw.get("consumer_lag_records", out.consumer_lag_records), 1)
    return RulesConfig(job, url, float(lag), float(ratio), records)


def _number(key: str, value: Any) -> float:
    """A number greater than 0."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        raise ConfigError(f"{key}: expected a number greater than 0, got {value!r}")
    return float(value)
