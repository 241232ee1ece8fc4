"""The pipeline-health dashboard: what the workers take in, reject and hold back, how far they
trail, and who owns what."""

from __future__ import annotations

from grafana_foundation_sdk.builders import common, dashboard, stat, timeseries
from grafana_foundation_sdk.models import common as cm

from monitor.config import Config
from monitor.ops.dashboards.panels import DATASOURCE, datasource_variable, query, thresholds

UID = "sqm-pipeline"
RATE = "[$__rate_interval]"


def _series(title: str, unit: str, description: str,
            *targets: tuple[str, str]) -> timeseries.Panel:
    p = (timeseries.Panel().title(title).unit(unit).datasource(DATASOURCE).height(7).span(12)
         .thresholds(thresholds(None)).description(description))
    for i, (expr, legend) in enumerate(targets):
        p = p.with_target(query(expr, legend, ref=chr(ord("A") + i)))
    return p


def pipeline(cfg: Config) -> dashboard.Dashboard:
    job = cfg.rules.job
    workers = (stat.Panel().title("Workers up").datasource(DATASOURCE).height(4).span(24)
               .with_target(query(f'count(up{{job="{job}"}} == 1)', instant=True))
               .reduce_options(common.ReduceDataOptions().calcs(["lastNotNull"]))
               .graph_mode(cm.BigValueGraphMode.AREA).thresholds(thresholds(None))
               .description(f"Workers Prometheus scrapes (job {job})."))
    return (
        dashboard.Dashboard("Pipeline health").uid(UID).tags(["sqm"]).refresh("30s")
        .time("now-3h", "now").timezone("browser").with_variable(datasource_variable())
        .with_panel(workers)
        .with_panel(_series("Events by type", "reqps", "Accepted events per second.",
                            (f"sum by (type) (rate(sqm_events_total{RATE}))", "{{type}}")))
        .with_panel(_series("Dead letters by reason", "reqps",
                            "Records sent to sqm.deadletter.v1 per second, by reason.",
                            (f"sum by (reason) (rate(sqm_events_rejected_total{RATE}))",
                             "{{reason}}")))
        .with_panel(_series("Late and duplicate events", "reqps",
                            "Late: measurements for windows already final. Duplicates: a "
                            "repeated event_id.",
                            (f"sum by (channel) (rate(sqm_events_late_total{RATE}))",
                             "late {{channel}}"),
                            (f"sum by (channel) (rate(sqm_events_duplicate_total{RATE}))",
                             "duplicate {{channel}}")))
        .with_panel(_series("Events of undeclared queues", "reqps",
                            "Events naming a queue the config does not declare, per second: "
                            "measured under the channel's queue 'other' (SPEC 9), not "
                            "dead-lettered. Declare the queue ([channels.<c>.queues.<q>]) to "
                            "see it apart.",
                            (f"sum by (channel) (rate(sqm_events_unlisted_queue_total{RATE}))",
                             "{{channel}}")))
        .with_panel(_series("Watermark lag", "s", "Wall clock minus each worker's event-time "
                            "watermark: how late final windows and threshold alerts come.",
                            ("max by (instance) (sqm_watermark_lag_seconds)", "{{instance}}")))
        .with_panel(_series("Consumer lag", "short", "Records not processed yet, per stage.",
                            ("sum by (stage) (sqm_consumer_lag_records)", "{{stage}}")))
        .with_panel(_series("Assigned partitions", "short", "Partitions each worker owns, per "
                            "stage.", ("sum by (instance, stage) (sqm_assigned_partitions)",
                                       "{{instance}} {{stage}}")))
    )
