"""The SLO dashboard: per SLO (a row) and channel (the series), the error budget left, the
burn rate over every window the burn-rate alerts use with their factors as lines, and the
indicator against its objective. Reads the recording rules of ``sqm rules``.

An SLO with ``by = ["queue"]`` (SPEC 9) is one SLO per queue: its series are the queues of
``$queue`` (named ``channel/queue``). Its records carry ``queue`` and a channel SLO's do not, under
the same names, so a channel SLO's selector says ``queue=""`` and a queue SLO's ``queue!=""``
(``per_queue``: the rules' own test of which an SLO is)."""

from __future__ import annotations

import itertools

from grafana_foundation_sdk.builders import common, dashboard, stat, timeseries
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from monitor.config import Config
from monitor.config.alerts import SloConfig
from monitor.ops.dashboards.panels import (
    CRIT,
    DATASOURCE,
    OK,
    WARN,
    absolute,
    channel_variable,
    datasource_variable,
    query,
    queue_variable,
)
from monitor.ops.rules.slo import BURN, budget, per_queue, windows

UID = "sqm-slos"


def _sel(slo: SloConfig) -> str:
    if per_queue(slo):
        return f'{{slo="{slo.name}", channel=~"$channel", queue=~"$queue", queue!=""}}'
    return f'{{slo="{slo.name}", channel=~"$channel", queue=""}}'


def _who(slo: SloConfig) -> str:
    """The legend of a series: the channel, or the queue's ``channel/queue``."""
    return "{{channel}}/{{queue}}" if per_queue(slo) else "{{channel}}"


def _budget(slo: SloConfig) -> stat.Panel:
    steps = [dm.Threshold(value=None, color=CRIT), dm.Threshold(value=0, color=WARN),
             dm.Threshold(value=0.25, color=OK)]
    return (stat.Panel().title("Error budget remaining").unit("percentunit")
            .datasource(DATASOURCE).height(6).span(6)
            .with_target(query(f"sqm:slo_error_budget:remaining_ratio{_sel(slo)}",
                               _who(slo), instant=True))
            .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
            .color_mode(cm.BigValueColorMode.BACKGROUND)
            .thresholds(absolute(steps))
            .description(f"Share of the {slo.period_days}-day error budget "
                         f"(1 - {slo.objective:g}) not yet spent; below 0: the SLO is missed."))


def _burn(slo: SloConfig) -> timeseries.Panel:
    factors = sorted({p.factor for _sev, pairs in BURN for p in pairs})
    steps = [dm.Threshold(value=None, color=OK)]
    steps += [dm.Threshold(value=f, color=CRIT if f >= 6 else WARN) for f in factors]
    p = (timeseries.Panel().title("Burn rate").unit("x").datasource(DATASOURCE).height(8)
         .span(12)
         .thresholds(absolute(steps))
         .thresholds_style(common.GraphThresholdsStyleConfig()
                           .mode(cm.GraphThresholdsStyleMode.DASHED))
         .description("Error ratio over each alert window divided by the budget (1x spends "
                      "the budget exactly over the period). Dashed: the alert factors "
                      f"({', '.join(f'{f:g}x' for f in factors)})."))
    for i, w in enumerate(windows()):
        p = p.with_target(query(f"sqm:slo_error:ratio_rate{w}{_sel(slo)} / {budget(slo):g}",
                                f"{_who(slo)} {w}", ref=chr(ord("A") + i)))
    return p


def _objective(slo: SloConfig) -> timeseries.Panel:
    steps = [dm.Threshold(value=None, color=CRIT), dm.Threshold(value=slo.objective, color=OK)]
    return (timeseries.Panel().title(f"{slo.indicator} against the objective")
            .unit("percentunit").datasource(DATASOURCE).height(6).span(6)
            .with_target(query(f"1 - sqm:slo_error:ratio_rate1h{_sel(slo)}", f"{_who(slo)} 1h"))
            .thresholds(absolute(steps))
            .thresholds_style(common.GraphThresholdsStyleConfig()
                              .mode(cm.GraphThresholdsStyleMode.LINE))
            .description(f"The SLO's indicator over the last hour; the line: the objective "
                         f"{slo.objective:g}."))


def slos(cfg: Config) -> dashboard.Dashboard:
    d = (dashboard.Dashboard("SLOs").uid(UID).tags(["sqm"]).refresh("1m")
         .time("now-7d", "now").timezone("browser")
         .with_variable(datasource_variable())
         .with_variable(channel_variable(cfg.channel_names))
         .with_variable(queue_variable()))
    ids = itertools.count(1)  # unique panel ids: several rows would all get id 0
    for slo in cfg.slos:
        scope = ", per queue" if per_queue(slo) else ""
        d = d.with_row(dashboard.Row(f"{slo.name}: {slo.objective:g} of {slo.indicator} over "
                                     f"{slo.period_days} days{scope}").id(next(ids)))
        d = d.with_panel(_budget(slo).id(next(ids))).with_panel(_objective(slo).id(next(ids)))
        d = d.with_panel(_burn(slo).id(next(ids)))
    return d
