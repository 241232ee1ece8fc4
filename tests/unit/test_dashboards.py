"""`sqm dashboards`: the committed dashboards are what the command generates from the example
config (golden files), their thresholds are the config's alert thresholds, and every query names
only series the product produces (the worker's and the quality stage's metrics, the rule file's
records, Prometheus' `up`)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft7Validator
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from monitor import cli
from monitor.config import Config, from_mapping, load
from monitor.metrics.exporter import SqmCollector
from monitor.metrics.stats import Snapshot
from monitor.ops.dashboards.document import DASHBOARDS, as_dict, render

ROOT = Path(__file__).resolve().parents[2]
COMMITTED = ROOT / "grafana" / "dashboards"
#: The config the committed dashboards come from (Grafana in deploy/compose mounts them).
EXAMPLE = ROOT / "deploy" / "compose" / "sqm.toml"


def panels(d: dict[str, Any]) -> list[dict[str, Any]]:
    out = []
    for p in d["panels"]:
        out.append(p)
        out.extend(p.get("panels", []))
    return out


def exprs(d: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in panels(d) for t in p.get("targets", [])]


def test_committed_dashboards_are_what_sqm_dashboards_writes(tmp_path: Path) -> None:
    assert cli.main(["--config", str(EXAMPLE), "dashboards", "--out", str(tmp_path)]) == 0
    written = {p.name: p.read_text(encoding="utf-8") for p in tmp_path.iterdir()}
    committed = {p.name: p.read_text(encoding="utf-8") for p in COMMITTED.iterdir()}
    assert written == committed, ("grafana/dashboards is stale: run "
                                  "`sqm --config deploy/compose/sqm.toml dashboards`")
    assert set(written) == set(DASHBOARDS)
    assert "sqm-servqual.json" in written


def _expected_steps(op: str, warning: float | None, critical: float | None) -> list[Any]:
    """The colours a value gets from the stream's classes, in Grafana's steps (>= each value)."""
    if op == ">":
        out: list[Any] = [[None, "green"]]
        if warning is not None:
            out.append([warning, "orange"])
        if critical is not None:
            out.append([critical, "red"])
        return out
    if critical is not None and warning is not None:
        return [[None, "red"], [critical, "orange"], [warning, "green"]]
    only = critical if critical is not None else warning
    return [[None, "red" if critical is not None else "orange"], [only, "green"]]


TARGET_S = {"phone": 20, "chat": 60, "email": 14400, "web": 300, "app": 300, "store": 300,
            "social": 3600}
#: SPEC 5.1's shipped defaults, by tile title of the overview
DEFAULTS: dict[str, tuple[str, float | str, float | str]] = {
    "Service level": ("<", 0.8, 0.6),
    "Abandonment": (">", 0.10, 0.20),
    "Resolution rate": ("<", 0.90, 0.80),
    "Oldest wait": (">", "2x", "4x"),
}


def _resolve(t: float | str, channel: str) -> float:
    return float(t[:-1]) * TARGET_S[channel] if isinstance(t, str) else t


def _overrides(p: dict[str, Any]) -> dict[str, list[Any]]:
    out = {}
    for o in p["fieldConfig"].get("overrides", []):
        assert o["matcher"]["id"] == "byNames" and o["matcher"]["options"]["mode"] == "include"
        (name,) = o["matcher"]["options"]["names"]
        out[name] = [[s["value"], s["color"]] for s in o["properties"][0]["value"]["steps"]]
    return out


def test_overview_thresholds_are_the_alert_thresholds_of_the_config() -> None:
    d = json.loads((COMMITTED / "sqm-overview.json").read_text(encoding="utf-8"))
    tiles = [p for p in panels(d) if p["type"] in ("stat", "timeseries") and p["title"] in
             ("Service level", "Abandonment", "First response p90", "Waiting backlog",
              "Oldest wait", "Resolution rate", "On-time resolution", "Reopen rate")]
    assert len(tiles) == 16
    for p in tiles:
        got = _overrides(p)
        if p["title"] not in DEFAULTS:
            assert got == {}, p["title"]  # no alert: no colour but the neutral one
            continue
        op, warning, critical = DEFAULTS[p["title"]]
        assert got == {ch: _expected_steps(op, _resolve(warning, ch), _resolve(critical, ch))
                       for ch in TARGET_S}, p["title"]


def test_thresholds_follow_a_changed_config() -> None:
    cfg = from_mapping({"alerts": [
        {"indicator": "service_level", "op": "<", "critical": 0.5, "channels": ["chat"]},
        {"indicator": "first_response_p90_s", "op": ">", "warning": "3x", "channels": ["phone"]},
    ]}, env={})
    d = as_dict(cfg, "sqm-overview.json")
    by_title = {p["title"]: p for p in panels(d) if p["type"] == "stat"}
    assert _overrides(by_title["Service level"]) == {"chat": [[None, "red"], [0.5, "green"]]}
    assert _overrides(by_title["First response p90"]) == {
        "phone": [[None, "green"], [60.0, "orange"]]}
    assert _overrides(by_title["Oldest wait"]) == {}


#: The quality stage's gauges (SPEC 7.4), exported by `sqm quality` on its own port.
QUALITY_STAGE_SERIES = {"sqm_quality_index", "sqm_quality_weight", "sqm_servqual_gap",
                        "sqm_channel_consistency_cv"}
#: The worker's survey metrics (SPEC 7.4 and monitor/metrics/exporter.py), to be sure the
#: rendered exporter does have them.
SURVEY_SERIES = {"sqm_feedback_total", "sqm_complaints_total", "sqm_csat_satisfied_total",
                 "sqm_nps_promoters_total", "sqm_nps_detractors_total", "sqm_csat_score_sum",
                 "sqm_csat_score_count", "sqm_nps_score_sum", "sqm_nps_score_count",
                 "sqm_servqual_responses_total", "sqm_servqual_expected_points_total",
                 "sqm_servqual_perceived_points_total"}


def _product_series() -> set[str]:
    """Every metric name the worker's exporter exposes (rendered from a snapshot with one of each
    kind), the quality stage's gauges, every record of the committed rule file, and Prometheus'
    own `up`."""
    reg = CollectorRegistry()
    reg.register(SqmCollector({"phone": ("main",)}, lambda: Snapshot(watermark_ms=0)))
    names = {s.name for fam in text_string_to_metric_families(generate_latest(reg).decode())
             for s in fam.samples}
    names |= {fam.name for fam in text_string_to_metric_families(generate_latest(reg).decode())}
    rules = yaml.safe_load((ROOT / "deploy" / "prometheus" / "sqm-rules.yml").read_text())
    names |= {r["record"] for g in rules["groups"] for r in g["rules"] if "record" in r}
    assert names >= SURVEY_SERIES
    return names | QUALITY_STAGE_SERIES | {"up"}


_FUNCTIONS = {"sum", "max", "min", "count", "rate", "by", "without", "on", "and", "or",
              "unless", "increase", "last_over_time"}


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_queries_name_only_series_the_product_produces(name: str) -> None:
    known = _product_series()
    d = json.loads((COMMITTED / name).read_text(encoding="utf-8"))
    queries = exprs(d)
    assert queries
    for q in queries:
        bare = re.sub(r'"[^"]*"|\[[^\]]*\]|\{[^}]*\}', " ", q)  # strings, ranges, matchers
        tokens = set(re.findall(r"[a-zA-Z_:][a-zA-Z0-9_:]*", bare))
        labels = set(re.findall(r"(?:by|on|without)\s*\(([^)]*)\)", q))
        label_names = {t.strip() for group in labels for t in group.split(",")}
        series = tokens - _FUNCTIONS - label_names
        assert series, q
        assert series <= known, f"{name}: {q} names {series - known}"


def test_every_panel_reads_the_chosen_prometheus() -> None:
    for name in DASHBOARDS:
        d = json.loads(render(Config())[name])
        for p in panels(d):
            if p["type"] != "row":
                assert p["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, p["title"]


SCHEMA = ROOT / "tests" / "schemas" / "grafana-foundation-sdk" / "dashboard.jsonschema.json"


def dashboard_validator() -> Draft7Validator:
    """The vendored schema with two documented corrections. A threshold's ``value`` may be null:
    the schema's own description says so ("Nulls currently appear here when serializing
    -Infinity to JSON"): Grafana writes the base step of every threshold list as null. An
    override property's ``value`` may be any JSON value, not only an object: the SDK that
    writes the dashboards types it so (``value: typing.Optional[object]``, Go ``any``), and
    Grafana's override editor writes a unit or a display name as a string."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    schema["definitions"]["Threshold"]["properties"]["value"]["type"] = ["number", "null"]
    schema["definitions"]["DynamicConfigValue"]["properties"]["value"] = {}
    return Draft7Validator(schema)


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_dashboards_validate_against_grafanas_dashboard_schema(name: str) -> None:
    validator = dashboard_validator()
    d = json.loads((COMMITTED / name).read_text(encoding="utf-8"))
    errors = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
              for e in validator.iter_errors(d)]
    assert errors == []


def test_the_schema_refuses_a_broken_dashboard() -> None:
    validator = dashboard_validator()
    d = json.loads((COMMITTED / "sqm-pipeline.json").read_text(encoding="utf-8"))
    d["panels"][0]["gridPos"] = {"h": "tall"}
    del d["schemaVersion"]
    assert len(list(validator.iter_errors(d))) >= 2


# --- the SERVQUAL dashboard ----------------------------------------------------------------------

def _servqual(cfg: Config | None = None) -> dict[str, dict[str, Any]]:
    """Title -> panel of the SERVQUAL dashboard (the committed one by default)."""
    if cfg is None:
        d = json.loads((COMMITTED / "sqm-servqual.json").read_text(encoding="utf-8"))
    else:
        d = as_dict(cfg, "sqm-servqual.json")
    return {p["title"]: p for p in panels(d)}


ALL = tuple(TARGET_S)


def test_servqual_colours_follow_the_alert_thresholds_of_the_example_config() -> None:
    """quality_index < 70 / 60, csat_mean < 3.5 / 3.0, nps < 0 / -20 in deploy/compose/sqm.toml:
    red below critical, orange below warning, green from warning up, for every channel."""
    by_title = _servqual()
    expected = {
        ("Quality index", "Quality index trend"): [[None, "red"], [60, "orange"], [70, "green"]],
        ("CSAT (last hour)", "CSAT mean"): [[None, "red"], [3.0, "orange"], [3.5, "green"]],
        ("NPS (last hour)", "NPS"): [[None, "red"], [-20, "orange"], [0, "green"]],
    }
    for titles, steps in expected.items():
        for title in titles:
            assert _overrides(by_title[title]) == dict.fromkeys(ALL, steps), title
    for title in ("CSAT satisfied share", "Complaint rate", "Surveys in the last hour",
                  "Weights in use", "Cross-channel consistency over time"):
        assert _overrides(by_title[title]) == {}, title


def test_servqual_colours_follow_a_changed_config() -> None:
    cfg = from_mapping({"alerts": [
        {"indicator": "quality_index", "op": "<", "critical": 50, "channels": ["chat"]},
        {"indicator": "nps", "op": ">", "warning": 90, "channels": ["phone", "web"]},
    ]}, env={})
    by_title = _servqual(cfg)
    assert _overrides(by_title["Quality index"]) == {"chat": [[None, "red"], [50, "green"]]}
    assert _overrides(by_title["Quality index trend"]) == {"chat": [[None, "red"], [50, "green"]]}
    assert _overrides(by_title["NPS"]) == {ch: [[None, "green"], [90, "orange"]]
                                            for ch in ("phone", "web")}
    assert _overrides(by_title["CSAT mean"]) == {}
    # the shipped defaults have none of them: every tile neutral
    for title in ("Quality index", "CSAT (last hour)", "NPS (last hour)"):
        assert _overrides(_servqual(Config())[title]) == {}, title


def test_the_gap_grid_is_a_channel_by_dimension_matrix_coloured_by_the_gap() -> None:
    grid = _servqual()["SERVQUAL gap by channel and dimension"]
    assert grid["type"] == "table"
    (target,) = grid["targets"]
    assert target["expr"] == 'max by (channel, dimension) (sqm_servqual_gap{channel=~"$channel"})'
    assert target["format"] == "table" and target["instant"] is True
    matrix, organize = grid["transformations"]
    assert matrix == {"id": "groupingToMatrix", "options": {
        "rowField": "channel", "columnField": "dimension", "valueField": "Value"}}
    # the corner column first, then the dimensions in SERVQUAL's order
    order = organize["options"]["indexByName"]
    assert sorted(order, key=order.__getitem__) == [
        "channel\\dimension", "reliability", "responsiveness", "assurance", "empathy",
        "tangibles"]
    defaults = grid["fieldConfig"]["defaults"]
    assert defaults["custom"]["cellOptions"]["type"] == "color-background"
    gap_steps = [[None, "red"], [-1.0, "orange"], [-0.5, "green"]]
    assert [[t["value"], t["color"]] for t in defaults["thresholds"]["steps"]] == gap_steps
    (corner,) = grid["fieldConfig"]["overrides"]  # channel names are not coloured
    assert corner["matcher"]["options"]["names"] == ["channel\\dimension"]
    assert corner["properties"] == [{"id": "custom.cellOptions", "value": {"type": "auto"}}]
    history = _servqual()["SERVQUAL gap over time (last hour's surveys)"]
    assert history["type"] == "status-history"
    assert [[t["value"], t["color"]] for t in history["fieldConfig"]["defaults"]["thresholds"][
        "steps"]] == gap_steps


def test_servqual_panels_and_their_sources() -> None:
    """Quality-stage panels read its gauges (and its `up`), the others the feedback records."""
    by_title = _servqual()
    sources = {title: [t["expr"] for t in p.get("targets", [])] for title, p in by_title.items()
               if p["type"] != "row"}
    assert sources == {
        "Quality index": ['max by (channel) (sqm_quality_index{channel=~"$channel"})'],
        "Quality stage up": ['sum(up{job="sqm-quality"})'],
        "Quality index trend": ['max by (channel) (sqm_quality_index{channel=~"$channel"})'],
        "Weights in use": ["max by (score) (sqm_quality_weight)"],
        "SERVQUAL gap by channel and dimension": [
            'max by (channel, dimension) (sqm_servqual_gap{channel=~"$channel"})'],
        "SERVQUAL gap over time (last hour's surveys)": [
            'sqm:servqual_gap:mean_rate1h{channel=~"$channel"}'],
        "CSAT (last hour)": ['sqm:csat:mean_rate1h{channel=~"$channel"}'],
        "NPS (last hour)": ['sqm:nps:score_rate1h{channel=~"$channel"}'],
        "CSAT mean": ['sqm:csat:mean_rate1h{channel=~"$channel"}'],
        "NPS": ['sqm:nps:score_rate1h{channel=~"$channel"}'],
        "CSAT satisfied share": ['sqm:csat_satisfied:ratio_rate1h{channel=~"$channel"}'],
        "Complaint rate": ['sqm:complaints:ratio_rate1h{channel=~"$channel"}'],
        "Surveys in the last hour": ['sqm:feedback:increase1h{channel=~"$channel"}'],
        "Cross-channel consistency (latest period)": [
            "max by (score) (sqm_channel_consistency_cv)"],
        "Cross-channel consistency over time": ["max by (score) (sqm_channel_consistency_cv)"],
    }
    d = json.loads((COMMITTED / "sqm-servqual.json").read_text(encoding="utf-8"))
    ids = [p["id"] for p in panels(d)]
    assert len(set(ids)) == len(ids)  # several rows: Grafana needs distinct ids


def test_the_quality_stage_job_is_the_one_prometheus_scrapes() -> None:
    for path in (ROOT / "deploy" / "prometheus" / "prometheus.yml",
                 ROOT / "deploy" / "compose" / "prometheus.yml"):
        jobs = {j["job_name"]: j for j in yaml.safe_load(path.read_text())["scrape_configs"]}
        assert set(jobs) == {"sqm-worker", "sqm-quality"}, path
        (targets,) = [c["targets"] for c in jobs["sqm-quality"]["static_configs"]]
        assert [t.rsplit(":", 1)[1] for t in targets] == [
            str(load(EXAMPLE, env={}).quality.metrics_port)], path


# --- queues (SPEC 9) -----------------------------------------------------------------------------

#: chat declares queues (general by default_queue, billing with its own target, tech), phone none;
#: a channel and a queue service_level rule, a queue oldest_wait rule, a channel and a queue SLO.
QUEUED: dict[str, Any] = {
    "channels": {"phone": {}, "chat": {"default_queue": "general", "queues": {
        "billing": {"first_response_target_s": 30}, "tech": {}}}},
    "alerts": [
        {"indicator": "service_level", "op": "<", "warning": 0.8, "critical": 0.6},
        {"indicator": "service_level", "op": "<", "warning": 0.9, "channels": ["chat"],
         "queues": ["*"]},
        {"indicator": "oldest_wait_s", "op": ">", "warning": "2x", "critical": "4x",
         "channels": ["chat"], "queues": ["billing", "tech"]},
    ],
    "slos": [
        {"name": "answered_in_time", "indicator": "service_level", "objective": 0.8},
        {"name": "answered_by_queue", "indicator": "service_level", "objective": 0.9,
         "channels": ["chat"], "by": ["queue"]},
    ],
}


def _queued(name: str) -> dict[str, Any]:
    return as_dict(from_mapping(QUEUED, env={}), name)


def _boards() -> list[tuple[str, dict[str, Any]]]:
    """The committed dashboards and those of QUEUED (whatever the example config declares)."""
    return [*((f"committed {n}", json.loads((COMMITTED / n).read_text(encoding="utf-8")))
              for n in sorted(DASHBOARDS)),
            *((f"queued {n}", _queued(n)) for n in sorted(DASHBOARDS))]


def _variables(d: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {v["name"]: v for v in d["templating"]["list"]}


def test_overview_and_slos_have_a_queue_variable_of_the_chosen_channels() -> None:
    for name in ("sqm-overview.json", "sqm-slos.json"):
        for d in (json.loads((COMMITTED / name).read_text(encoding="utf-8")), _queued(name)):
            variables = _variables(d)
            q = variables["queue"]
            assert q["type"] == "query"
            assert q["query"] == 'label_values(sqm_opened_total{channel=~"$channel"}, queue)'
            assert q["datasource"] == {"type": "prometheus", "uid": "${datasource}"}
            assert q["multi"] is True and q["includeAll"] is True
            assert q["current"]["value"] == ["$__all"]
            # Grafana resolves variables in order: $channel before the query that names it
            assert list(variables).index("channel") < list(variables).index("queue")
    for label, d in _boards():  # a query naming $queue has the variable on its dashboard
        if any("$queue" in q for q in exprs(d)):
            assert "queue" in _variables(d), label


#: SPEC 9: the worker's gauges that cannot be summed over queues, one series per queue and the
#: channel's own with queue="" (absent); and the SLO records, a channel SLO's without queue, a
#: per-queue SLO's with one, under the same names.
NON_SUMMABLE = re.compile(
    r"\b(sqm_(service_level|abandonment|resolution|on_time_resolution|reopen)_ratio|"
    r"sqm_(first_response|resolution)_window_seconds|sqm_window_end_timestamp_seconds|"
    r"sqm_oldest_wait_seconds|sqm_alert_active|sqm:slo_[a-z_]+:[a-z_0-9]+)(\{[^}]*\})?")
#: Series with one per queue and no roll-up: counters, histograms, summaries, the backlog.
SUMMABLE = re.compile(r"\b(sqm_[a-z_]+_(total|bucket|sum|count)|sqm_backlog_(waiting|open))\b")
_AGGREGATION = re.compile(r"\b(sum|max|min|avg|count)\b\s*(by\s*\([^)]*\)\s*)?\(")


def _keeps_queue(target: dict[str, Any]) -> bool:
    """Whether a query's result is per queue: grouped by queue, or named by it."""
    grouped = re.findall(r"by\s*\(([^)]*)\)", target["expr"])
    return (any("queue" in g.split(", ") for g in grouped)
            or "{{queue}}" in target.get("legendFormat", ""))


def _targets(d: dict[str, Any]) -> list[dict[str, Any]]:
    return [t for p in panels(d) for t in p.get("targets", [])]


def test_channel_level_queries_of_non_summable_series_select_the_channels_own() -> None:
    """A query whose result is per channel reads the channel's roll-up (queue="") of every
    non-summable series: without it a channel would be the max over its queues and its own."""
    checked = 0
    for label, d in _boards():
        for t in _targets(d):
            if _keeps_queue(t):
                continue
            for m in NON_SUMMABLE.finditer(t["expr"]):
                checked += 1
                assert 'queue=""' in (m.group(4) or ""), f"{label}: {t['expr']}"
    assert checked >= 2 * (13 + 9 + 1)  # both overviews' tiles, SLO panels, alerts


def test_queue_queries_leave_out_the_channels_own_series() -> None:
    """A query naming $queue is per (channel, queue) and excludes the roll-up (queue!=""), even
    if $queue is given a match-all value."""
    checked = 0
    for label, d in _boards():
        for t in _targets(d):
            if "$queue" not in t["expr"]:
                continue
            checked += 1
            assert _keeps_queue(t), f"{label}: {t['expr']}"
            selectors = re.findall(r"\{[^}]*\}", t["expr"].replace("{{", "").replace("}}", ""))
            assert selectors, t["expr"]
            for sel in selectors:
                assert 'queue=~"$queue"' in sel and 'queue!=""' in sel, f"{label}: {t['expr']}"
    assert checked >= 2 * (6 + 5) + 10  # both overviews' table and series, the queue SLO


def test_summable_series_are_summed_over_their_queues() -> None:
    """Counters, histograms and the backlog have no roll-up series: every query sums them (by
    channel, or by channel and queue), and none selects queue="" (it would find nothing)."""
    checked = 0
    for label, d in _boards():
        for t in _targets(d):
            for m in SUMMABLE.finditer(t["expr"]):
                checked += 1
                outer = list(_AGGREGATION.finditer(t["expr"][:m.start()]))
                assert outer and outer[-1].group(1) == "sum", f"{label}: {t['expr']}"
                assert 'queue=""' not in t["expr"][m.end():].split("}")[0], t["expr"]
    assert checked >= 2 * 9


def _by_title(d: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {p["title"]: p for p in panels(d)}


BY_QUEUE_COLUMNS = ["Service level", "Abandonment", "First response p90", "Waiting backlog",
                    "Oldest wait", "Firing alerts"]


def test_the_overview_has_a_table_with_one_row_per_queue() -> None:
    for d in (json.loads((COMMITTED / "sqm-overview.json").read_text(encoding="utf-8")),
              _queued("sqm-overview.json")):
        t = _by_title(d)["Queues (latest final window)"]
        assert t["type"] == "table"
        refs = [x["refId"] for x in t["targets"]]
        assert refs == ["A", "B", "C", "D", "E", "F"]
        for x in t["targets"]:  # instant tables, each one value per (channel, queue)
            assert x["instant"] is True and x["format"] == "table"
            assert re.match(r"(sum|max|count) by \(channel, queue\) \(", x["expr"]), x["expr"]
        assert [x["expr"].split(" (")[2].split("{")[0] for x in t["targets"][:5]] == [
            "sqm_service_level_ratio", "sqm_abandonment_ratio",
            "sqm_first_response_window_seconds", "sqm_backlog_waiting", "sqm_oldest_wait_seconds"]
        assert 'quantile="0.9"' in t["targets"][2]["expr"]
        # the firing count: alerts at 1 per queue, else a 0 for each configured queue
        assert "sqm_alert_active" in t["targets"][5]["expr"]
        assert " or 0 * sum by (channel, queue) (sqm_opened_total{" in t["targets"][5]["expr"]
        merge, organize = t["transformations"]
        assert merge["id"] == "merge"  # one row per equal (channel, queue)
        assert organize["id"] == "organize"
        assert organize["options"]["excludeByName"] == {"Time": True}
        order = organize["options"]["indexByName"]
        assert sorted(order, key=order.__getitem__) == [
            "channel", "queue", *(f"Value #{r}" for r in refs)]
        names = {}
        for o in t["fieldConfig"]["overrides"]:
            (field,) = o["matcher"]["options"]["names"]
            props = {p["id"]: p["value"] for p in o["properties"]}
            names[field] = (props["displayName"], props["unit"])
        assert names == {f"Value #{r}": (c, u) for r, c, u in zip(
            refs, BY_QUEUE_COLUMNS,
            ["percentunit", "percentunit", "s", "short", "s", "short"], strict=True)}
        assert t["options"]["sortBy"] == [{"displayName": "Firing alerts", "desc": True}]


def test_the_alerts_table_names_the_queue_of_a_queue_alert() -> None:
    d = json.loads((COMMITTED / "sqm-overview.json").read_text(encoding="utf-8"))
    (target,) = _by_title(d)["Alerts firing now"]["targets"]
    assert target["expr"] == "max by (channel, queue, indicator, severity) (sqm_alert_active == 1)"


def test_queue_series_are_coloured_by_the_queue_alerts_of_their_queue() -> None:
    """chat/billing's "2x" is of its own 30 s target, chat/tech's of chat's 60 s; the channel
    tiles keep the channel rules, and no queue rule colours them."""
    by_title = _by_title(_queued("sqm-overview.json"))
    assert _overrides(by_title["Oldest wait by queue"]) == {
        "chat/billing": [[None, "green"], [60.0, "orange"], [120.0, "red"]],
        "chat/tech": [[None, "green"], [120.0, "orange"], [240.0, "red"]]}
    assert _overrides(by_title["Service level by queue"]) == {
        f"chat/{q}": [[None, "orange"], [0.9, "green"]]
        for q in ("general", "billing", "tech", "other")}
    for title in ("Abandonment by queue", "Waiting backlog by queue"):
        assert _overrides(by_title[title]) == {}, title
    for p in panels(_queued("sqm-overview.json")):
        if p["title"] == "Service level" and p["type"] in ("stat", "timeseries"):
            assert _overrides(p) == {ch: [[None, "red"], [0.6, "orange"], [0.8, "green"]]
                                     for ch in ("phone", "chat")}
        if p["title"] == "Oldest wait":
            assert _overrides(p) == {}
    (series,) = by_title["Service level by queue"]["targets"]
    assert series["legendFormat"] == "{{channel}}/{{queue}}"


def test_a_per_queue_slo_shows_its_queues_and_a_channel_slo_its_channels() -> None:
    d = _queued("sqm-slos.json")
    rows = [p["title"] for p in panels(d) if p["type"] == "row"]
    assert rows == ["answered_in_time: 0.8 of service_level over 30 days",
                    "answered_by_queue: 0.9 of service_level over 30 days, per queue"]
    sections: dict[str, list[dict[str, Any]]] = {}
    for p in panels(d):
        if p["type"] == "row":
            current = sections.setdefault(p["title"].split(":")[0], [])
        else:
            current.extend(p["targets"])
    channel = '{slo="answered_in_time", channel=~"$channel", queue=""}'
    queue = '{slo="answered_by_queue", channel=~"$channel", queue=~"$queue", queue!=""}'
    for slo, sel, legend, budget in (("answered_in_time", channel, "{{channel}}", "0.2"),
                                     ("answered_by_queue", queue, "{{channel}}/{{queue}}", "0.1")):
        targets = sections[slo]
        assert len(targets) == 1 + 1 + 7  # budget, objective, burn over each alert window
        for t in targets:
            assert sel in t["expr"], t["expr"]
            assert t["legendFormat"].split(" ")[0] == legend
        assert targets[0]["expr"] == f"sqm:slo_error_budget:remaining_ratio{sel}"
        assert targets[1]["expr"] == f"1 - sqm:slo_error:ratio_rate1h{sel}"
        assert targets[2]["expr"] == f"sqm:slo_error:ratio_rate5m{sel} / {budget}"
    ids = [p["id"] for p in panels(d)]
    assert len(set(ids)) == len(ids)  # several rows: Grafana needs distinct ids


def test_overview_panel_ids_are_distinct() -> None:
    for d in (json.loads((COMMITTED / "sqm-overview.json").read_text(encoding="utf-8")),
              _queued("sqm-overview.json")):
        ids = [p["id"] for p in panels(d)]
        assert len(set(ids)) == len(ids) == len(panels(d))
