"""`sqm rules`: the committed rule file is what the command generates (golden file), and the
pieces a reader relies on (names, channel matchers, notes, the [rules] table) are right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor import cli
from monitor.config import Config, ConfigError, from_mapping
from monitor.rules.document import notes, render, rule_groups
from monitor.rules.names import alert_name

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "deploy" / "prometheus" / "sqm-rules.yml"


def test_committed_rule_file_is_what_sqm_rules_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["rules"]) == 0
    printed = capsys.readouterr().out
    assert printed == GOLDEN.read_text(encoding="utf-8"), (
        "deploy/prometheus/sqm-rules.yml is stale: run `sqm rules --out "
        "deploy/prometheus/sqm-rules.yml`")


def rules_of(cfg: Config) -> list[dict[str, Any]]:
    doc = yaml.safe_load(render(cfg))
    return [r for g in doc["groups"] for r in g["rules"]]


def test_alert_names_follow_the_spec() -> None:
    assert alert_name("service_level", "<") == "SqmServiceLevelLow"
    assert alert_name("abandonment_rate", ">") == "SqmAbandonmentRateHigh"
    assert alert_name("oldest_wait_s", ">") == "SqmOldestWaitHigh"
    assert alert_name("first_response_p90_s", ">") == "SqmFirstResponseP90High"
    assert alert_name("no_data", ">") == "SqmNoData"


def test_default_file_has_every_kind_and_every_alert_links_its_runbook_section() -> None:
    rules = rules_of(Config())
    alerts = [r for r in rules if "alert" in r]
    assert {a["alert"] for a in alerts} == {
        "SqmServiceLevelLow", "SqmAbandonmentRateHigh", "SqmResolutionRateLow",
        "SqmOldestWaitHigh", "SqmNoData", "SqmErrorBudgetBurn", "SqmWorkerDown",
        "SqmWatermarkLagHigh", "SqmDeadLetterRateHigh", "SqmConsumerLagHigh"}
    assert sorted(a["labels"]["severity"] for a in alerts if a["alert"] == "SqmErrorBudgetBurn") \
        == ["page", "ticket"]
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    headings = {line.lstrip("#").strip().lower() for line in runbook.splitlines()
                if line.startswith("#")}
    for a in alerts:
        assert set(a["annotations"]) == {"summary", "description", "runbook_url"}
        section = a["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert section in headings, f"docs/runbook.md has no section {a['alert']}"
    records = {r["record"] for r in rules if "record" in r}
    assert "sqm:service_level:ratio_rate5m" in records
    assert "sqm:slo_error_budget:remaining_ratio" in records


def test_an_alert_for_some_channels_matches_only_them() -> None:
    cfg = from_mapping({"alerts": [
        {"indicator": "service_level", "op": "<", "critical": 0.5, "channels": ["chat", "web"]},
    ]}, env={})
    (rule,) = [r for r in rules_of(cfg) if r.get("alert") == "SqmServiceLevelLow"]
    assert 'sqm_alert_active{indicator="service_level", severity="critical", ' \
        'channel=~"chat|web"}' in rule["expr"]
    assert rule["annotations"]["summary"] == "{{ $labels.channel }}: service level below 0.5 " \
        "(critical)"


def test_slo_rules_select_its_channels_and_use_its_objective() -> None:
    cfg = from_mapping({"slos": [{"name": "fast", "indicator": "resolution", "objective": 0.95,
                                  "channels": ["email"], "min_events": 25}]}, env={})
    groups = {g["name"]: g["rules"] for g in rule_groups(cfg)["groups"]}
    slo = groups["sqm-slo-fast"]
    one_hour = next(r for r in slo if r.get("record") == "sqm:slo_error:ratio_rate1h")
    assert 'rate(sqm_resolved_total{channel=~"email"}[1h])' in one_hour["expr"]
    assert 'rate(sqm_failed_total{channel=~"email"}[1h])' in one_hour["expr"]
    assert one_hour["labels"] == {"slo": "fast", "indicator": "resolution"}
    page = next(r for r in slo if r.get("alert") and r["labels"]["severity"] == "page")
    assert "> 14.4 * 0.05" in page["expr"] and ">= 25" in page["expr"]
    remaining = next(r for r in slo if r.get("record") == "sqm:slo_error_budget:remaining_ratio")
    assert "ratio_rate30d" in remaining["expr"] and "/ 0.05" in remaining["expr"]
    assert notes(cfg) == []


def test_unreachable_burn_rates_are_noted() -> None:
    assert notes(Config()) == [
        "SLO answered_in_time (objective 0.8): its page alert needs an error ratio above 1 and "
        "cannot fire; the threshold alerts cover acute drops."]
    assert "# Note: SLO answered_in_time" in render(Config())


@pytest.mark.parametrize(("table", "message"), [
    ({"job": ""}, "rules.job: expected a non-empty string"),
    ({"runbook_url": "docs/runbook.md"}, "rules.runbook_url: expected an http(s) URL"),
    ({"watermark_lag_s": 0}, "rules.watermark_lag_s: expected a number greater than 0"),
    ({"deadletter_ratio": 1.5}, "rules.deadletter_ratio: expected less than 1"),
    ({"consumer_lag_records": "many"}, "rules.consumer_lag_records: expected an integer >= 1"),
    ({"jobs": "x"}, "rules.jobs: unknown key"),
])
def test_bad_rules_table_names_the_key(table: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        from_mapping({"rules": table}, env={})


def test_rules_table_changes_the_pipeline_alerts() -> None:
    cfg = from_mapping({"rules": {"job": "sqm", "watermark_lag_s": 120,
                                  "runbook_url": "https://wiki.example/sqm"}}, env={})
    rules = {r.get("alert"): r for r in rules_of(cfg)}
    assert rules["SqmWorkerDown"]["expr"] == 'up{job="sqm"} == 0 or absent(up{job="sqm"})\n'
    assert rules["SqmWatermarkLagHigh"]["expr"] == "sqm_watermark_lag_seconds > 120\n"
    assert rules["SqmNoData"]["annotations"]["runbook_url"] == "https://wiki.example/sqm#sqmnodata"
