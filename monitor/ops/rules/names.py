"""Names and PromQL pieces shared by the rule builders (SPEC 5.3: ``sqm:<what>:<operation>``
for recording rules, ``Sqm<UpperCamel>`` for alerts)."""

from __future__ import annotations

from collections.abc import Sequence

#: Every ratio of SPEC section 2 as counters: (good, total), each a sum of ``sqm_<name>_total``.
#: The keys are the stems of the ``sqm_<stem>_ratio`` gauges of SPEC section 4.
RATIOS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "service_level": (("answered_within_target",), ("answered", "abandoned")),
    "abandonment": (("abandoned",), ("answered", "abandoned")),
    "resolution": (("resolved",), ("resolved", "failed")),
    "on_time_resolution": (("resolved_within_target",), ("resolved",)),
    "reopen": (("reopened",), ("resolved",)),
}
#: The windows the dashboards show every ratio over.
DASHBOARD_WINDOWS = ("5m", "1h")
#: SLO indicator (SPEC 5.2) -> its ratio
SLO_RATIO = {"service_level": "service_level", "on_time_resolution": "on_time_resolution",
             "resolution": "resolution"}
#: How long a threshold alert holds its last state through a scrape gap (a worker restarting).
HOLD = "10m"
#: The Prometheus job that scrapes the quality stage (``sqm quality``, ``[quality] metrics_port``),
#: as in deploy/prometheus/prometheus.yml and deploy/compose/prometheus.yml.
QUALITY_JOB = "sqm-quality"


def ratio_record(ratio: str, window: str) -> str:
    return f"sqm:{ratio}:ratio_rate{window}"


def counter(name: str) -> str:
    return f"sqm_{name}_total"


def selector(**matchers: str | Sequence[str] | None) -> str:
    """``{a="x", channel=~"p|q"}``: a string matches exactly, a sequence as alternatives."""
    parts: list[str] = []
    for label, value in matchers.items():
        if value is None:
            continue
        if isinstance(value, str):
            parts.append(f'{label}="{value}"')
        else:
            parts.append(f'{label}=~"{"|".join(value)}"')
    return "{" + ", ".join(parts) + "}" if parts else ""


def summed(function: str, counters: Sequence[str], window: str, sel: str = "") -> str:
    """``sum by (channel) (rate(a[5m]) + rate(b[5m]))``: per worker first, then per channel."""
    inner = " + ".join(f"{function}({counter(c)}{sel}[{window}])" for c in counters)
    return f"sum by (channel) ({inner})"


def alert_name(indicator: str, op: str) -> str:
    """``service_level``/``<`` -> ``SqmServiceLevelLow``; ``no_data`` -> ``SqmNoData``."""
    stem = indicator.removesuffix("_s")
    camel = "".join(part[:1].upper() + part[1:] for part in stem.split("_"))
    if indicator == "no_data":
        return f"Sqm{camel}"
    return f"Sqm{camel}{'Low' if op == '<' else 'High'}"


def anchor(alert: str) -> str:
    """The runbook section of an alert (a Markdown heading's anchor: the name in lower case)."""
    return alert.lower()
