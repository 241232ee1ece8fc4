"""Panel building blocks shared by the dashboards: a Prometheus query, thresholds in Grafana's
steps from an alert rule, and the datasource every panel reads (a dashboard variable)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, Self, TypeVar

from grafana_foundation_sdk.builders import dashboard, prometheus
from grafana_foundation_sdk.models import dashboard as dm
from grafana_foundation_sdk.models.prometheus import PromQueryFormat

from monitor.domain.alerts import Rule

#: Panels read the Prometheus chosen in the dashboard's ``datasource`` variable.
DATASOURCE = dm.DataSourceRef(type_val="prometheus", uid="${datasource}")
OK, WARN, CRIT, NEUTRAL = "green", "orange", "red", "blue"


def query(expr: str, legend: str = "", ref: str = "A", *, instant: bool = False,
          table: bool = False) -> prometheus.Dataquery:
    q = prometheus.Dataquery().expr(expr).ref_id(ref).datasource(DATASOURCE)
    if legend:
        q = q.legend_format(legend)
    if instant:
        q = q.instant()
    if table:
        q = q.format(PromQueryFormat.TABLE)
    return q


def steps(rule: Rule | None) -> list[dm.Threshold]:
    """Grafana threshold steps that colour a value as the stream's alert would class it:
    below/above ``warning`` orange, below/above ``critical`` red (``op`` decides the side)."""
    if rule is None:
        return [dm.Threshold(value=None, color=NEUTRAL)]
    levels = [(t, c) for t, c in ((rule.warning, WARN), (rule.critical, CRIT)) if t is not None]
    if rule.op == ">":  # ascending: healthy below the warning
        return [dm.Threshold(value=None, color=OK),
                *(dm.Threshold(value=t, color=c) for t, c in sorted(levels))]
    # op "<": red below critical, orange below warning, green from warning up
    ordered = sorted(levels)  # critical (lower) first
    out = [dm.Threshold(value=None, color=ordered[0][1])]
    for i, (t, _c) in enumerate(ordered):
        out.append(dm.Threshold(value=t, color=ordered[i + 1][1] if i + 1 < len(ordered) else OK))
    return out


def thresholds(rule: Rule | None) -> dashboard.ThresholdsConfig:
    return absolute(steps(rule))


def absolute(levels: list[dm.Threshold]) -> dashboard.ThresholdsConfig:
    return dashboard.ThresholdsConfig().mode(dm.ThresholdsMode.ABSOLUTE).steps(levels)


def by_name(name: str, rule: Rule | None) -> tuple[dm.MatcherConfig, list[dm.DynamicConfigValue]]:
    """An override giving the series named ``name`` (a channel) its own thresholds."""
    value = dm.ThresholdsConfig(mode=dm.ThresholdsMode.ABSOLUTE, steps=steps(rule))
    # "byNames" (options an object) rather than "byName" (a bare string), which the dashboard
    # schema does not allow
    matcher = dm.MatcherConfig(id_val="byNames", options={"mode": "include", "names": [name]})
    return matcher, [dm.DynamicConfigValue(id_val="thresholds", value=value)]


class _Overridable(Protocol):
    def with_override(self, matcher: dm.MatcherConfig,
                      properties: list[dm.DynamicConfigValue]) -> Self: ...


P = TypeVar("P", bound=_Overridable)


def per_channel(panel: P, rules: Mapping[str, Rule]) -> P:
    """``panel`` with each channel's series (named after the channel) coloured by its rule."""
    for ch, r in sorted(rules.items()):
        panel = panel.with_override(*by_name(ch, r))
    return panel


def datasource_variable() -> dashboard.DatasourceVariable:
    return dashboard.DatasourceVariable("datasource").label("Prometheus").type("prometheus")


def channel_variable(channels: tuple[str, ...]) -> dashboard.CustomVariable:
    """``$channel``: the configured channels, several at once, all by default."""
    return (dashboard.CustomVariable("channel").label("Channel").values(",".join(channels))
            .multi(True).include_all(True)
            .current(dm.VariableOption(selected=True, text=["All"], value=["$__all"])))


def queue_variable() -> dashboard.QueryVariable:
    """``$queue``: the queues of the chosen channels as Prometheus has them (label values come
    only from the config, SPEC 9), several at once, all by default."""
    return (dashboard.QueryVariable("queue").label("Queue").datasource(DATASOURCE)
            .query('label_values(sqm_opened_total{channel=~"$channel"}, queue)')
            .refresh(dm.VariableRefresh.ON_TIME_RANGE_CHANGED)
            .sort(dm.VariableSort.ALPHABETICAL_ASC)
            .multi(True).include_all(True)
            .current(dm.VariableOption(selected=True, text=["All"], value=["$__all"])))
