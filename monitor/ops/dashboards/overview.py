"""The service quality overview: the alerts firing now and the volume by channel; the queues
of the chosen channels (a table and series, ``monitor.ops.dashboards.queues``); then per channel
(a repeated row), stat tiles of the latest final window coloured by the config's alert
thresholds and their time series with the thresholds as lines.

The thresholds come from the same ``[[alerts]]`` the stream evaluates: per channel, as an
override on the series named after the channel, because an ``"Nx"`` threshold differs by
channel and a repeated panel is one definition. A channel's figure is its roll-up series
(``queue=""``) or the sum of its queues' (``monitor.ops.dashboards.series``), never both."""

from __future__ import annotations

import itertools

from grafana_foundation_sdk.builders import common, dashboard, stat, table, timeseries
from grafana_foundation_sdk.models import common as cm

from monitor.config import Config, channel_window_rules, period_rules
from monitor.domain.alerts import Rule
from monitor.ops.dashboards.panels import (
    DATASOURCE,
    by_name,
    channel_variable,
    datasource_variable,
    query,
    queue_variable,
    thresholds,
)
from monitor.ops.dashboards.queues import queue_panels
from monitor.ops.dashboards.series import CHANNELS, TILES, Measure

UID = "sqm-overview"
#: the alerts table: channel alerts (queue empty) and queue alerts alike
ALERTS = "max by (channel, queue, indicator, severity) (sqm_alert_active == 1)"


def rules_by_indicator(cfg: Config) -> dict[str, dict[str, Rule]]:
    """Indicator -> channel -> its alert rule: the very rules the stream (``window_rules``) and
    the quality stage (``period_rules``: ``quality_index``) evaluate, thresholds resolved
    (``"Nx"``)."""
    out: dict[str, dict[str, Rule]] = {}
    for per_channel in (channel_window_rules(cfg), period_rules(cfg)):
        for ch, rules in per_channel.items():
            for r in rules:
                out.setdefault(r.indicator, {})[ch] = r
    return out


def _stat(tile: Measure, rules: dict[str, Rule]) -> stat.Panel:
    p = (stat.Panel().title(tile.title).unit(tile.unit).datasource(DATASOURCE).height(4).span(3)
         .with_target(query(tile.channel_expr(), "{{channel}}", instant=True))
         .thresholds(thresholds(None)).color_mode(cm.BigValueColorMode.BACKGROUND)
         .graph_mode(cm.BigValueGraphMode.NONE)
         .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
         .description(f"Latest final window. Colour: the [[alerts]] thresholds of "
                      f"{tile.indicator} for the channel (none: blue)."))
    for ch, r in sorted(rules.items()):
        p = p.with_override(*by_name(ch, r))
    return p


def _series(tile: Measure, rules: dict[str, Rule]) -> timeseries.Panel:
    p = (timeseries.Panel().title(tile.title).unit(tile.unit).datasource(DATASOURCE).height(6)
         .span(6).with_target(query(tile.channel_expr(), "{{channel}}"))
         .thresholds(thresholds(None))
         .thresholds_style(common.GraphThresholdsStyleConfig()
                           .mode(cm.GraphThresholdsStyleMode.DASHED))
         .description(f"Each final window's value; dashed lines: the alert thresholds of "
                      f"{tile.indicator}."))
    for ch, r in sorted(rules.items()):
        p = p.with_override(*by_name(ch, r))
    return p


def _alerts_table() -> table.Panel:
    return (table.Panel().title("Alerts firing now").datasource(DATASOURCE).height(6).span(12)
            .with_target(query(ALERTS, instant=True, table=True))
            .description("The threshold alerts firing (sqm_alert_active = 1): channel, queue "
                         "(empty for a channel's own alert), indicator, severity."))


def _volume() -> timeseries.Panel:
    return (timeseries.Panel().title("Volume by channel").unit("reqps").datasource(DATASOURCE)
            .height(6).span(12)
            .with_target(query(
                f"sum by (channel) (rate(sqm_opened_total{{{CHANNELS}}}[$__rate_interval]))",
                "{{channel}}"))
            .description("Contacts opened per second."))


def overview(cfg: Config) -> dashboard.Dashboard:
    d = (dashboard.Dashboard("Service quality overview").uid(UID).tags(["sqm"])
         .refresh("30s").time("now-3h", "now").timezone("browser")
         .with_variable(datasource_variable())
         .with_variable(channel_variable(cfg.channel_names))
         .with_variable(queue_variable()))
    ids = itertools.count(1)  # unique panel ids: two rows would both get id 0
    for p in (_alerts_table(), _volume()):
        d = d.with_panel(p.id(next(ids)))
    d = d.with_row(dashboard.Row("Queues").id(next(ids)))
    for q in queue_panels(cfg):
        d = d.with_panel(q.id(next(ids)))
    d = d.with_row(dashboard.Row("$channel").repeat("channel").id(next(ids)))
    rules = rules_by_indicator(cfg)
    for tile in TILES:
        d = d.with_panel(_stat(tile, rules.get(tile.indicator, {})).id(next(ids)))
    for tile in TILES:
        d = d.with_panel(_series(tile, rules.get(tile.indicator, {})).id(next(ids)))
    return d
