"""The service quality (SERVQUAL) dashboard: "how good is the service as customers feel it, per
channel and dimension, and are the channels equally good?" (SPEC section 7).

Two sources, said in each panel's description:

* the quality stage (``sqm quality``, Prometheus job ``QUALITY_JOB``): gauges of the latest
  final quality period (SPEC 7.4: ``sqm_quality_index``, ``sqm_quality_weight``,
  ``sqm_servqual_gap``, ``sqm_channel_consistency_cv``) and its ``up``. They change once a
  period (an hour by default) and are absent while the stage is not running;
* the workers' survey counters, through the feedback recording rules of ``sqm rules``
  (``monitor.ops.rules.feedback``, over the last hour): CSAT, NPS, complaints, survey volume and the
  gap over time. They move as answers arrive and need no quality stage.

Colours: the quality index, CSAT and NPS at exactly the ``[[alerts]]`` thresholds the quality
stage and the stream evaluate, per channel (as on the overview); the gap, which no alert
covers, at fixed steps (``GAP_STEPS``).

The gap grid is a table, not Grafana's heatmap panel: a heatmap puts time on its x axis and
buckets on y, so it cannot show channel x dimension. The instant query gives one row per
(channel, dimension); the "grouping to matrix" transformation turns it into a channel x
dimension matrix (rows: channels, columns: the five dimensions in SERVQUAL order), and the
cells' background takes the gap's colour: a heat map that reads at a glance and shows the
numbers. The gap over time is a status history (one row of coloured cells per channel and
dimension).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

from grafana_foundation_sdk.builders import (
    bargauge,
    common,
    dashboard,
    stat,
    statushistory,
    table,
    timeseries,
)
from grafana_foundation_sdk.models import common as cm
from grafana_foundation_sdk.models import dashboard as dm

from monitor.config import Config
from monitor.domain.alerts import Rule
from monitor.domain.stream.feedback import DIMENSIONS
from monitor.ops.dashboards.overview import rules_by_indicator
from monitor.ops.dashboards.panels import (
    CRIT,
    DATASOURCE,
    OK,
    WARN,
    absolute,
    channel_variable,
    datasource_variable,
    per_channel,
    query,
    thresholds,
)
from monitor.ops.rules.names import QUALITY_JOB

UID = "sqm-servqual"
CHANNEL = '{channel=~"$channel"}'
#: The gap (perceived - expected on a 1..7 scale, so -6..6): red below -1 (customers rate the
#: service a whole point under what they expect), orange from -1, green from -0.5 (within half
#: a point: answers are whole points, and a healthy channel sits at about -0.3..0).
GAP_STEPS = [dm.Threshold(value=None, color=CRIT), dm.Threshold(value=-1.0, color=WARN),
             dm.Threshold(value=-0.5, color=OK)]
#: The field "grouping to matrix" names after the row and column fields (``row\\column``).
MATRIX_CORNER = "channel\\dimension"
INDEX = f"max by (channel) (sqm_quality_index{CHANNEL})"
Panel = stat.Panel | timeseries.Panel | bargauge.Panel | table.Panel | statushistory.Panel


def _stat(title: str, expr: str, unit: str, span: int, description: str) -> stat.Panel:
    return (stat.Panel().title(title).unit(unit).datasource(DATASOURCE).height(5).span(span)
            .with_target(query(expr, "{{channel}}", instant=True))
            .color_mode(cm.BigValueColorMode.BACKGROUND).graph_mode(cm.BigValueGraphMode.NONE)
            .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
            .thresholds(thresholds(None)).description(description))


def _series(title: str, expr: str, unit: str, span: int, description: str,
            legend: str = "{{channel}}") -> timeseries.Panel:
    return (timeseries.Panel().title(title).unit(unit).datasource(DATASOURCE).height(8)
            .span(span).with_target(query(expr, legend)).thresholds(thresholds(None))
            .thresholds_style(common.GraphThresholdsStyleConfig()
                              .mode(cm.GraphThresholdsStyleMode.DASHED))
            .description(description))


def _colour(indicator: str) -> str:
    return f"Colour: the [[alerts]] thresholds of {indicator} for the channel (none: blue)."


def _quality_index(rules: dict[str, Rule], period_s: int) -> list[Panel]:
    latest = (_stat("Quality index", INDEX, "none", 18,
                    f"The quality index (0-100) of the latest final {period_s} s period, from "
                    f"the quality stage: 100 x the weighted scores of service level, abandonment, "
                    f"resolution, on-time resolution, reopens, CSAT, NPS and the SERVQUAL gap. "
                    f"{_colour('quality_index')}")
              .decimals(1).min(0).max(100))
    trend = (_series("Quality index trend", INDEX, "none", 16,
                     "The quality index of each final period; dashed lines: the quality_index "
                     "alert thresholds (the quality stage alerts on each final period).")
             .decimals(1).min(0).max(100))
    return [per_channel(latest, rules), _stage_up(), per_channel(trend, rules), _weights()]


def _stage_up() -> stat.Panel:
    steps = [dm.Threshold(value=None, color=CRIT), dm.Threshold(value=1, color=OK)]
    return (stat.Panel().title("Quality stage up").datasource(DATASOURCE).height(5).span(6)
            .with_target(query(f'sum(up{{job="{QUALITY_JOB}"}})', instant=True))
            .color_mode(cm.BigValueColorMode.BACKGROUND).graph_mode(cm.BigValueGraphMode.NONE)
            .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
            .thresholds(absolute(steps)).no_value("not scraped")
            .description(f"Quality stages Prometheus scrapes (job {QUALITY_JOB}). 0 or not "
                         "scraped: the quality index, weights, gap grid and consistency panels "
                         "have no current value, and no quality_index alert is evaluated (a "
                         "firing one holds for 10 minutes)."))


def _bars(title: str, expr: str, description: str) -> bargauge.Panel:
    return (bargauge.Panel().title(title).unit("percentunit").datasource(DATASOURCE).height(8)
            .span(8).with_target(query(expr, "{{score}}", instant=True)).min(0)
            .thresholds(thresholds(None)).display_mode(cm.BarGaugeDisplayMode.BASIC)
            .orientation(cm.VizOrientation.HORIZONTAL)
            .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
            .description(description))


def _weights() -> bargauge.Panel:
    return _bars("Weights in use", "max by (score) (sqm_quality_weight)",
                 "The weight of each score in the quality index of the latest period ([quality] "
                 "method: expert, ahp or entropy; the entropy weights change every period). A "
                 "score missing for a channel hands its weight to the others in proportion.").max(1)


def _gap_grid() -> table.Panel:
    order = {MATRIX_CORNER: 0, **{d: i + 1 for i, d in enumerate(DIMENSIONS)}}
    corner = dm.MatcherConfig(id_val="byNames",
                              options={"mode": "include", "names": [MATRIX_CORNER]})
    return (table.Panel().title("SERVQUAL gap by channel and dimension").datasource(DATASOURCE)
            .height(9).span(10).unit("none").decimals(2)
            .with_target(query(f"max by (channel, dimension) (sqm_servqual_gap{CHANNEL})",
                               instant=True, table=True))
            .with_transformation(dm.DataTransformerConfig(
                id_val="groupingToMatrix",
                options={"columnField": "dimension", "rowField": "channel",
                         "valueField": "Value"}))
            .with_transformation(dm.DataTransformerConfig(
                id_val="organize", options={"indexByName": order}))
            .thresholds(absolute(GAP_STEPS))
            .cell_options(cm.TableColoredBackgroundCellOptions(
                mode=cm.TableCellBackgroundDisplayMode.BASIC))
            .with_override(corner, [dm.DynamicConfigValue(id_val="custom.cellOptions",
                                                          value={"type": "auto"})])
            .description("Perceived minus expected (SERVQUAL gap 5, on the surveys' 1-7 scale) "
                         "per channel and dimension in the latest final quality period, from "
                         "the quality stage. Below 0: customers rate the service under what "
                         "they expect. Red below -1, orange from -1, green from -0.5; empty: "
                         "no answers for that dimension in the period."))


def _gap_history() -> statushistory.Panel:
    return (statushistory.Panel().title("SERVQUAL gap over time (last hour's surveys)")
            .datasource(DATASOURCE).height(9).span(14).unit("none").decimals(2).interval("10m")
            .with_target(query(f"sqm:servqual_gap:mean_rate1h{CHANNEL}",
                               "{{channel}} {{dimension}}"))
            .thresholds(absolute(GAP_STEPS))
            .color_scheme(dashboard.FieldColor().mode(dm.FieldColorModeId.THRESHOLDS))
            .show_value(cm.VisibilityMode.NEVER)
            .description("The gap per channel and dimension over the surveys of the hour before "
                         "each point, from the workers' counters (sqm:servqual_gap:mean_rate1h); "
                         "the same colours as the grid."))


def _feedback(rules: dict[str, dict[str, Rule]]) -> list[Panel]:
    csat = f"sqm:csat:mean_rate1h{CHANNEL}"
    nps = f"sqm:nps:score_rate1h{CHANNEL}"
    hour = "over the surveys of the last hour (the alerts judge each window's answers)"
    return [
        per_channel(_stat("CSAT (last hour)", csat, "none", 12,
                          f"Mean CSAT (1-5) {hour}. {_colour('csat_mean')}").decimals(2),
                    rules.get("csat_mean", {})),
        per_channel(_stat("NPS (last hour)", nps, "none", 12,
                          f"Net promoter score (-100..100) {hour}. {_colour('nps')}").decimals(0),
                    rules.get("nps", {})),
        per_channel(_series("CSAT mean", csat, "none", 12,
                            "Mean CSAT (1-5) over the hour before each point; dashed lines: the "
                            "csat_mean alert thresholds.").decimals(2),
                    rules.get("csat_mean", {})),
        per_channel(_series("NPS", nps, "none", 12,
                            "Promoters (9-10) minus detractors (0-6), in % of the NPS answers "
                            "of the hour before each point; dashed lines: the nps alert "
                            "thresholds.").decimals(0),
                    rules.get("nps", {})),
        _series("CSAT satisfied share", f"sqm:csat_satisfied:ratio_rate1h{CHANNEL}",
                "percentunit", 8, "Share of CSAT answers of 4 or 5, over the hour before each "
                "point.").height(7),
        _series("Complaint rate", f"sqm:complaints:ratio_rate1h{CHANNEL}", "percentunit", 8,
                "Complaints per contact opened, over the hour before each point.").height(7),
        _series("Surveys in the last hour", f"sqm:feedback:increase1h{CHANNEL}", "short", 8,
                "Surveys (feedback events) counted in the hour before each point: the sample "
                "behind CSAT, NPS and the gap. A few dozen or fewer: read them as a rough "
                "signal.").height(7),
    ]


def _consistency() -> list[Panel]:
    expr = "max by (score) (sqm_channel_consistency_cv)"
    what = ("Coefficient of variation (standard deviation / mean) of each score and of the "
            "quality index across the channels with volume in the period, from the quality "
            "stage. 0: every channel equally good; the larger, the more the experience depends "
            "on the channel (SPEC 7.3).")
    return [
        _bars("Cross-channel consistency (latest period)", expr, what),
        _series("Cross-channel consistency over time", expr, "percentunit", 16, what,
                legend="{{score}}"),
    ]


def servqual(cfg: Config) -> dashboard.Dashboard:
    rules = rules_by_indicator(cfg)
    sections: list[tuple[str, Sequence[Panel]]] = [
        ("Quality index (latest final period)",
         _quality_index(rules.get("quality_index", {}), cfg.quality.period_s)),
        ("SERVQUAL gap: perceived minus expected", [_gap_grid(), _gap_history()]),
        ("Customer feedback", _feedback(rules)),
        ("Cross-channel consistency", _consistency()),
    ]
    d = (dashboard.Dashboard("Service quality (SERVQUAL)").uid(UID).tags(["sqm"])
         .refresh("1m").time("now-24h", "now").timezone("browser")
         .with_variable(datasource_variable())
         .with_variable(channel_variable(cfg.channel_names)))
    ids = itertools.count(1)  # unique panel ids: several rows would all get id 0
    for title, panels in sections:
        d = d.with_row(dashboard.Row(title).id(next(ids)))
        for p in panels:
            d = d.with_panel(p.id(next(ids)))
    return d
