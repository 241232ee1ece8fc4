"""Names and PromQL pieces shared by the rule builders (SPEC 5.3: ``sqm:<what>:<operation>``
for recording rules, ``Sqm<UpperCamel>`` for alerts).

Queues (SPEC 9): the workers' counters carry ``queue``, so ``sum by (channel)`` is a channel and
``sum by (channel, queue)`` a queue. Series of a channel's roll-up (``sqm_alert_active`` of a
channel alert, the records of a per-channel SLO) have no ``queue`` label, so a selector of the
channel's series says ``queue=""`` and one of its queues' ``queue!=""``: neither ever matches
the other's."""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

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


class Not(NamedTuple):
    """``label!="value"`` in a ``selector``: ``Not("")`` is any series that has the label."""

    value: str


#: The label sets of a channel's series and of its queues' series.
BY_CHANNEL = ("channel",)
BY_QUEUE = ("channel", "queue")
#: ``queue`` matchers: a channel's roll-up (label absent) and any of its queues
CHANNEL_ONLY = ""
ANY_QUEUE = Not("")


def _alternative(value: str) -> str:
    """A literal inside ``=~"..."``: a queue name may hold ``.`` (any character in a regular
    expression), escaped for RE2 and then for the PromQL string."""
    return value.replace(".", "\\\\.")


def selector(**matchers: str | Not | Sequence[str] | None) -> str:
    """``{a="x", b!="", channel=~"p|q"}``: a string matches exactly, ``Not`` excludes, a
    sequence matches any of its values (as literals)."""
    parts: list[str] = []
    for label, value in matchers.items():
        if value is None:
            continue
        if isinstance(value, str):
            parts.append(f'{label}="{value}"')
        elif isinstance(value, Not):
            parts.append(f'{label}!="{value.value}"')
        else:
            parts.append(f'{label}=~"{"|".join(map(_alternative, value))}"')
    return "{" + ", ".join(parts) + "}" if parts else ""


def summed(function: str, counters: Sequence[str], window: str, sel: str = "",
           by: Sequence[str] = BY_CHANNEL) -> str:
    """``sum by (channel) (rate(a[5m]) + rate(b[5m]))``: per worker and queue first, then per
    channel (``by``: per channel and queue)."""
    inner = " + ".join(f"{function}({counter(c)}{sel}[{window}])" for c in counters)
    return f"sum by ({', '.join(by)}) ({inner})"


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
