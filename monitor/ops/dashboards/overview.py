"""The service quality overview: per channel (a repeated row), stat tiles of the latest final
window coloured by the config's alert thresholds and their time series with the thresholds as
lines; volume by channel; the alerts firing now.

The thresholds come from the same ``[[alerts]]`` the stream evaluates: per channel, as an
override on the series named after the channel, because an ``"Nx"`` threshold differs by
channel and a repeated panel is one definition."""

from __future__ import annotations

from typing import NamedTuple

from grafana_foundation_sdk.builders import common, dashboard, stat, table, timeseries
from grafana_foundation_sdk.models import common as cm

from monitor.config import Config, period_rules, window_rules
from monitor.domain.alerts import Rule
from monitor.ops.dashboards.panels import (
    DATASOURCE,
    by_name,
    channel_variable,
    datasource_variable,
    query,
    thresholds,
)

UID = "sqm-overview"
CHANNEL = '{channel=~"$channel"}'


class Tile(NamedTuple):
    title: str
    indicator: str  # the [[alerts]] indicator whose thresholds colour it
    expr: str  # PromQL with {sel} for the channel selector
    unit: str


TILES = (
    Tile("Service level", "service_level", "max by (channel) (sqm_service_level_ratio{sel})",
         "percentunit"),
    Tile("Abandonment", "abandonment_rate", "max by (channel) (sqm_abandonment_ratio{sel})",
         "percentunit"),
    Tile("First response p90", "first_response_p90_s",
         'max by (channel) (sqm_first_response_window_seconds{sel_q})', "s"),
    Tile("Waiting backlog", "backlog_waiting", "sum by (channel) (sqm_backlog_waiting{sel})",
         "short"),
    Tile("Oldest wait", "oldest_wait_s", "max by (channel) (sqm_oldest_wait_seconds{sel})", "s"),
    Tile("Resolution rate", "resolution_rate", "max by (channel) (sqm_resolution_ratio{sel})",
         "percentunit"),
    Tile("On-time resolution", "on_time_resolution_rate",
         "max by (channel) (sqm_on_time_resolution_ratio{sel})", "percentunit"),
    Tile("Reopen rate", "reopen_rate", "max by (channel) (sqm_reopen_ratio{sel})", "percentunit"),
)


def expr_of(tile: Tile) -> str:
    return tile.expr.replace("{sel_q}", '{channel=~"$channel", quantile="0.9"}').replace(
        "{sel}", CHANNEL)


def rules_by_indicator(cfg: Config) -> dict[str, dict[str, Rule]]:
    """Indicator -> channel -> its alert rule: the very rules the stream (``window_rules``) and
    the quality stage (``period_rules``: ``quality_index``) evaluate, thresholds resolved
    (``"Nx"``)."""
    out: dict[str, dict[str, Rule]] = {}
    for per_channel in (window_rules(cfg), period_rules(cfg)):
        for ch, rules in per_channel.items():
            for r in rules:
                out.setdefault(r.indicator, {})[ch] = r
    return out


def _stat(tile: Tile, rules: dict[str, Rule]) -> stat.Panel:
    p = (stat.Panel().title(tile.title).unit(tile.unit).datasource(DATASOURCE).height(4).span(3)
         .with_target(query(expr_of(tile), "{{channel}}", instant=True))
         .thresholds(thresholds(None)).color_mode(cm.BigValueColorMode.BACKGROUND)
         .graph_mode(cm.BigValueGraphMode.NONE)
         .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
         .description(f"Latest final window. Colour: the [[alerts]] thresholds of "
                      f"{tile.indicator} for the channel (none: blue)."))
    for ch, r in sorted(rules.items()):
        p = p.with_override(*by_name(ch, r))
    return p


def _series(tile: Tile, rules: dict[str, Rule]) -> timeseries.Panel:
    p = (timeseries.Panel().title(tile.title).unit(tile.unit).datasource(DATASOURCE).height(6)
         .span(6).with_target(query(expr_of(tile), "{{channel}}"))
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
            .with_target(query("max by (channel, indicator, severity) (sqm_alert_active == 1)",
                               instant=True, table=True))
            .description("The stream's threshold alerts (sqm_alert_active = 1): channel, "
                         "indicator, severity."))


def _volume() -> timeseries.Panel:
    return (timeseries.Panel().title("Volume by channel").unit("reqps").datasource(DATASOURCE)
            .height(6).span(12)
            .with_target(query(
                f"sum by (channel) (rate(sqm_opened_total{CHANNEL}[$__rate_interval]))",
                "{{channel}}"))
            .description("Contacts opened per second."))


def overview(cfg: Config) -> dashboard.Dashboard:
    d = (dashboard.Dashboard("Service quality overview").uid(UID).tags(["sqm"])
         .refresh("30s").time("now-3h", "now").timezone("browser")
         .with_variable(datasource_variable())
         .with_variable(channel_variable(cfg.channel_names))
         .with_panel(_alerts_table()).with_panel(_volume()))
    d = d.with_row(dashboard.Row("$channel").repeat("channel"))
    rules = rules_by_indicator(cfg)
    for tile in TILES:
        d = d.with_panel(_stat(tile, rules.get(tile.indicator, {})))
    for tile in TILES:
        d = d.with_panel(_series(tile, rules.get(tile.indicator, {})))
    return d
