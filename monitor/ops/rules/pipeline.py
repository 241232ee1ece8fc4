"""Pipeline-health alerts: the monitor watching itself (worker down, event time falling behind,
bad input, consumers falling behind). Thresholds from ``[rules]``."""

from __future__ import annotations

from typing import Any

from monitor.config import Config
from monitor.ops.rules.names import anchor

DEADLETTER = "sqm:deadletter:ratio_rate5m"


def pipeline_rules(cfg: Config) -> list[dict[str, Any]]:
    r = cfg.rules
    url = r.runbook_url
    up = f'up{{job="{r.job}"}}'
    return [
        {
            "record": DEADLETTER,
            "expr": ("sum(rate(sqm_events_rejected_total[5m]))\n/\n"
                     "sum(rate(sqm_records_consumed_total[5m]))\n"),
        },
        _alert(url, "SqmWorkerDown", f"{up} == 0 or absent({up})\n", "1m", "critical",
               "a worker is down or no worker is scraped",
               f"Prometheus cannot scrape {{{{ $labels.instance }}}} of job {r.job}, or no "
               "target of the job exists. The partitions of a dead worker move to the others "
               "after the consumer session times out; if none is left, no window is final and "
               "no threshold alert is evaluated."),
        _alert(url, "SqmWatermarkLagHigh", f"sqm_watermark_lag_seconds > {r.watermark_lag_s:g}\n",
               "5m", "warning",
               "final windows trail the wall clock by {{ $value | humanizeDuration }}",
               f"The event-time watermark of {{{{ $labels.instance }}}} is more than "
               f"{r.watermark_lag_s:g} s behind the wall clock: window records and threshold "
               "alerts come late. Expected while history is replayed; otherwise a source "
               "partition has stopped or the worker cannot keep up."),
        _alert(url, "SqmDeadLetterRateHigh", f"{DEADLETTER} > {r.deadletter_ratio:g}\n", "10m",
               "warning", "{{ $value | humanizePercentage }} of the input is dead-lettered",
               f"More than {r.deadletter_ratio * 100:g}% of the consumed records went to "
               "sqm.deadletter.v1 over 5 minutes (sqm_events_rejected_total by reason tells "
               "why). A producer may have changed its format or its channel names."),
        _alert(url, "SqmConsumerLagHigh",
               f"sum by (stage) (sqm_consumer_lag_records) > {r.consumer_lag_records}\n", "10m",
               "warning", "stage {{ $labels.stage }} is {{ $value }} records behind its input",
               f"The workers' consumers of stage {{{{ $labels.stage }}}} are more than "
               f"{r.consumer_lag_records} records behind the end of their input topic for 10 "
               "minutes. Start more workers (up to the partition count) or look for a slow "
               "or stuck one."),
    ]


def _alert(url: str, name: str, expr: str, for_: str, severity: str, summary: str,
           description: str) -> dict[str, Any]:
    return {
        "alert": name,
        "expr": expr,
        "for": for_,
        "labels": {"severity": severity},
        "annotations": {"summary": summary, "description": description,
                        "runbook_url": f"{url}#{anchor(name)}"},
    }
