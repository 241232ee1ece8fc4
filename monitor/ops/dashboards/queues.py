"""The overview's drill-down below the channel (SPEC 9): one table row per (channel, queue) of
``$channel`` and ``$queue`` with the latest window's figures and the alerts firing on it, and the
same figures over time, one series per queue named ``channel/queue`` (the alert key's form)
and coloured by the thresholds of that queue's own ``[[alerts]]`` (``queues = [...]``)."""

from __future__ import annotations

from typing import Any

from grafana_foundation_sdk.builders import common, table, timeseries
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from monitor.config import Config, window_rules
from monitor.domain.alerts import Rule
from monitor.ops.dashboards.panels import CRIT, DATASOURCE, OK, per_channel, query, thresholds
from monitor.ops.dashboards.series import BY_QUEUE, QUEUES, Measure

LEGEND = "{{channel}}/{{queue}}"
#: Firing alerts per queue: indicators with a severity at 1, counted once however many workers
#: export them; ``or`` a 0 for every configured queue (the counters have all of them), so a
#: queue without any window yet still has its row.
FIRING = (f"count by (channel, queue) (max by (channel, queue, indicator) "
          f"(sqm_alert_active{{{QUEUES}}} == 1)) "
          f"or 0 * sum by (channel, queue) (sqm_opened_total{{{QUEUES}}})")
FIRING_TITLE = "Firing alerts"


def queue_rules_by_indicator(cfg: Config) -> dict[str, dict[str, Rule]]:
    """Indicator -> ``channel/queue`` -> the queue alert rule the stream evaluates on it."""
    out: dict[str, dict[str, Rule]] = {}
    for (ch, q), rules in window_rules(cfg).items():
        if q:
            for r in rules:
                out.setdefault(r.indicator, {})[f"{ch}/{q}"] = r
    return out


def _ref(i: int) -> str:
    return chr(ord("A") + i)


def _column(ref: str, name: str, unit: str) -> tuple[dm.MatcherConfig, list[dm.DynamicConfigValue]]:
    """The merged column of query ``ref`` (Grafana names it ``Value #<ref>``), titled."""
    matcher = dm.MatcherConfig(id_val="byNames",
                               options={"mode": "include", "names": [f"Value #{ref}"]})
    return matcher, [dm.DynamicConfigValue(id_val="displayName", value=name),
                     dm.DynamicConfigValue(id_val="unit", value=unit)]


def _firing_colour(ref: str) -> tuple[dm.MatcherConfig, list[dm.DynamicConfigValue]]:
    matcher, props = _column(ref, FIRING_TITLE, "short")
    steps = dm.ThresholdsConfig(mode=dm.ThresholdsMode.ABSOLUTE,
                                steps=[dm.Threshold(value=None, color=OK),
                                       dm.Threshold(value=1, color=CRIT)])
    return matcher, [*props, dm.DynamicConfigValue(id_val="thresholds", value=steps),
                     dm.DynamicConfigValue(id_val="custom.cellOptions",
                                           value={"type": "color-background"})]


def queue_table() -> table.Panel:
    """One row per (channel, queue): the instant queries merged on their labels."""
    exprs = [m.queue_expr() for m in BY_QUEUE] + [FIRING]
    order: dict[str, Any] = {"channel": 0, "queue": 1}
    order |= {f"Value #{_ref(i)}": i + 2 for i in range(len(exprs))}
    p = (table.Panel().title("Queues (latest final window)").datasource(DATASOURCE).height(8)
         .span(24).thresholds(thresholds(None))
         .with_transformation(dm.DataTransformerConfig(id_val="merge", options={}))
         .with_transformation(dm.DataTransformerConfig(
             id_val="organize", options={"excludeByName": {"Time": True},
                                         "indexByName": order}))
         .sort_by([common.TableSortByFieldState().display_name(FIRING_TITLE).desc(True)])
         .description("One row per queue of the chosen channels and queues: the latest final "
                      "window's service level, abandonment and first-response p90, the waiting "
                      "backlog and oldest wait now, and how many indicators alert on the queue "
                      "(queue alerts only; the channel's own are in the alerts table), the "
                      "queues alerting first. Empty: no final window of the queue yet, or none "
                      "with contacts to rate. 'other' holds the queues the config does not "
                      "declare."))
    for i, expr in enumerate(exprs):
        p = p.with_target(query(expr, ref=_ref(i), instant=True, table=True))
    for i, m in enumerate(BY_QUEUE):
        p = p.with_override(*_column(_ref(i), m.title, m.unit))
    return p.with_override(*_firing_colour(_ref(len(BY_QUEUE))))


def queue_series(m: Measure, rules: dict[str, Rule], span: int) -> timeseries.Panel:
    p = (timeseries.Panel().title(f"{m.title} by queue").unit(m.unit).datasource(DATASOURCE)
         .height(7).span(span).with_target(query(m.queue_expr(), LEGEND))
         .thresholds(thresholds(None))
         .thresholds_style(common.GraphThresholdsStyleConfig()
                           .mode(cm.GraphThresholdsStyleMode.DASHED))
         .description(f"Each queue's {'value now' if m.summable else 'final windows'}, one "
                      f"series per channel/queue; dashed lines: the thresholds of the queue "
                      f"alerts on {m.indicator} (none: no line)."))
    return per_channel(p, rules)


def queue_panels(cfg: Config) -> list[table.Panel | timeseries.Panel]:
    """The table, then the series: the window's figures three abreast, the backlog's two."""
    rules = queue_rules_by_indicator(cfg)
    return [queue_table(), *(queue_series(m, rules.get(m.indicator, {}), span)
                             for m, span in zip(BY_QUEUE, (8, 8, 8, 12, 12), strict=True))]
