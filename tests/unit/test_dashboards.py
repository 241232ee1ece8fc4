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
    reg.register(SqmCollector(("phone",), lambda: Snapshot(watermark_ms=0)))
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
    """The vendored schema with one documented correction: a threshold's ``value`` may be null.
    The schema's own description says so ("Nulls currently appear here when serializing
    -Infinity to JSON"): Grafana writes the base step of every threshold list as null."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    schema["definitions"]["Threshold"]["properties"]["value"]["type"] = ["number", "null"]
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
