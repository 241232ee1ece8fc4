"""`sqm rules`: the committed rule file is what the command generates from the example config
(golden file), and the pieces a reader relies on (names, channel and queue matchers, notes, the
[rules] table, the feedback records) are right."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor import cli
from monitor.config import Config, ConfigError, from_mapping, load
from monitor.config.alerts import AlertConfig, SloConfig
from monitor.ops.rules.document import notes, render, rule_groups
from monitor.ops.rules.names import alert_name

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "deploy" / "prometheus" / "sqm-rules.yml"
#: The config the committed rules and dashboards come from (deploy/compose mounts both); the
#: local and Kubernetes copies are kept equal to it by tests/unit/test_deploy.py.
EXAMPLE = ROOT / "deploy" / "compose" / "sqm.toml"
#: SPEC 7's threshold alerts in the example config: alert name -> (indicator, op, warning,
#: critical, for, clear)
FEEDBACK_ALERTS = {
    "SqmCsatMeanLow": ("csat_mean", "<", 3.5, 3.0, 2, 2),
    "SqmNpsLow": ("nps", "<", 0.0, -20.0, 2, 2),
    "SqmQualityIndexLow": ("quality_index", "<", 70.0, 60.0, 1, 1),
}
#: SPEC 9's additions to the example config: the service level of every queue of the channels
#: that declare queues, and the shipped SLO once more per queue of them
QUEUE_ALERT = AlertConfig(indicator="service_level", channels=("phone", "chat", "email"),
                          op="<", warning=0.8, critical=0.6, queues=("*",))
QUEUE_SLO = SloConfig(name="answered_in_time_by_queue", indicator="service_level",
                      channels=("phone", "chat", "email"), objective=0.8, by=("queue",))
#: Every feedback record, whatever the config (monitor/ops/rules/feedback.py)
FEEDBACK_RECORDS = {f"sqm:{what}:{op}{w}" for what, op in (
    ("feedback", "increase"), ("csat", "mean_rate"), ("csat_satisfied", "ratio_rate"),
    ("nps", "score_rate"), ("complaints", "ratio_rate"), ("servqual_gap", "mean_rate"))
    for w in ("1h", "1d")}


def test_committed_rule_file_is_what_sqm_rules_prints(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["--config", str(EXAMPLE), "rules"]) == 0
    printed = capsys.readouterr().out
    assert printed == GOLDEN.read_text(encoding="utf-8"), (
        "deploy/prometheus/sqm-rules.yml is stale: run `sqm --config deploy/compose/sqm.toml "
        "rules --out deploy/prometheus/sqm-rules.yml`")


def rules_of(cfg: Config) -> list[dict[str, Any]]:
    doc = yaml.safe_load(render(cfg))
    return [r for g in doc["groups"] for r in g["rules"]]


def test_alert_names_follow_the_spec() -> None:
    assert alert_name("service_level", "<") == "SqmServiceLevelLow"
    assert alert_name("abandonment_rate", ">") == "SqmAbandonmentRateHigh"
    assert alert_name("oldest_wait_s", ">") == "SqmOldestWaitHigh"
    assert alert_name("first_response_p90_s", ">") == "SqmFirstResponseP90High"
    assert alert_name("no_data", ">") == "SqmNoData"
    assert alert_name("csat_mean", "<") == "SqmCsatMeanLow"
    assert alert_name("nps", "<") == "SqmNpsLow"
    assert alert_name("nps", ">") == "SqmNpsHigh"
    assert alert_name("quality_index", "<") == "SqmQualityIndexLow"


def _runbook_sections() -> set[str]:
    runbook = (ROOT / "docs" / "runbook.md").read_text(encoding="utf-8")
    return {line.lstrip("#").strip().lower() for line in runbook.splitlines()
            if line.startswith("#")}


def test_default_file_has_every_kind_and_every_alert_links_its_runbook_section() -> None:
    rules = rules_of(Config())
    alerts = [r for r in rules if "alert" in r]
    assert {a["alert"] for a in alerts} == {
        "SqmServiceLevelLow", "SqmAbandonmentRateHigh", "SqmResolutionRateLow",
        "SqmOldestWaitHigh", "SqmNoData", "SqmErrorBudgetBurn", "SqmWorkerDown",
        "SqmWatermarkLagHigh", "SqmDeadLetterRateHigh", "SqmConsumerLagHigh"}
    assert sorted(a["labels"]["severity"] for a in alerts if a["alert"] == "SqmErrorBudgetBurn") \
        == ["page", "ticket"]
    headings = _runbook_sections()
    for a in alerts:
        assert set(a["annotations"]) == {"summary", "description", "runbook_url"}
        section = a["annotations"]["runbook_url"].rsplit("#", 1)[1]
        assert section in headings, f"docs/runbook.md has no section {a['alert']}"
    records = {r["record"] for r in rules if "record" in r}
    assert "sqm:service_level:ratio_rate5m" in records
    assert "sqm:slo_error_budget:remaining_ratio" in records
    assert records >= FEEDBACK_RECORDS


def test_the_example_config_is_the_shipped_defaults_plus_the_feedback_and_queue_alerts() -> None:
    """When [[alerts]] or [[slos]] is present the defaults no longer apply: the example writes
    them out, then adds its own."""
    example = load(EXAMPLE, env={})
    defaults = Config().alerts
    assert example.alerts[:len(defaults)] == defaults
    *feedback, queues = example.alerts[len(defaults):]
    added = {alert_name(a.indicator, a.op): (a.indicator, a.op, a.warning, a.critical,
                                             a.for_windows, a.clear_windows)
             for a in feedback}
    assert added == FEEDBACK_ALERTS
    assert all(a.channels == example.channel_names and not a.queues
               for a in example.alerts[:-1])
    assert queues == QUEUE_ALERT
    assert example.slos == (*Config().slos, QUEUE_SLO)


def _queue_scoped(rule: dict[str, Any]) -> bool:
    return bool(rule.get("labels", {}).get("scope") == "queue")


def test_the_committed_file_is_the_default_one_plus_the_feedback_and_queue_alerts() -> None:
    """What the golden file does not show directly: the default config's file is the committed
    one without the three added alerts (two severities each), the queue alert and the per-queue
    SLO's group (the channels' queues change no channel rule)."""
    committed = yaml.safe_load(GOLDEN.read_text(encoding="utf-8"))
    default = rule_groups(Config())
    committed["groups"] = [g for g in committed["groups"]
                           if g["name"] != f"sqm-slo-{QUEUE_SLO.name}"]
    for group in committed["groups"]:
        group["rules"] = [r for r in group["rules"]
                          if r.get("alert") not in FEEDBACK_ALERTS and not _queue_scoped(r)]
    assert committed == default
    added = [r for r in rules_of(load(EXAMPLE, env={})) if r.get("alert") in FEEDBACK_ALERTS]
    assert sorted((r["alert"], r["labels"]["severity"]) for r in added) == sorted(
        (name, sev) for name in FEEDBACK_ALERTS for sev in ("warning", "critical"))
    headings = _runbook_sections()
    for r in added:
        assert r["annotations"]["runbook_url"].endswith(f"#{r['alert'].lower()}")
        assert r["alert"].lower() in headings, f"docs/runbook.md has no section {r['alert']}"


def test_feedback_alerts_follow_the_stream_and_the_quality_stage() -> None:
    rules = {(r["alert"], r["labels"]["severity"]): r for r in rules_of(load(EXAMPLE, env={}))
             if r.get("alert") in FEEDBACK_ALERTS}
    csat = rules[("SqmCsatMeanLow", "critical")]
    assert 'sqm_alert_active{indicator="csat_mean", severity="critical", queue=""}' \
        in csat["expr"]
    assert csat["annotations"]["summary"] == "{{ $labels.channel }}: CSAT mean below 3 (critical)"
    assert "with at least 10 (csat_responses) each" in csat["annotations"]["description"]
    assert "Decided in the stream" in csat["annotations"]["description"]
    nps = rules[("SqmNpsLow", "warning")]
    assert nps["annotations"]["summary"] == "{{ $labels.channel }}: NPS below 0 (warning)"
    assert "(nps_responses)" in nps["annotations"]["description"]
    quality = rules[("SqmQualityIndexLow", "warning")]
    assert 'sqm_alert_active{indicator="quality_index", severity="warning", queue=""}' \
        in quality["expr"]
    assert quality["annotations"]["description"] == (
        "The quality index of {{ $labels.channel }} has been below 70 in the last 3600 s quality "
        "period. The critical threshold: below 60. It resolves after one healthy period. "
        "Decided by the quality stage (sqm quality) on each final period, in event time; the "
        "episode is on sqm.alerts.v1, key {{ $labels.channel }}/quality_index.")


def test_a_quality_index_alert_counts_the_configured_periods() -> None:
    cfg = from_mapping({"quality": {"period_s": 1800}, "alerts": [
        {"indicator": "quality_index", "op": "<", "critical": 55, "for_windows": 3,
         "channels": ["store"]}]}, env={})
    (rule,) = [r for r in rules_of(cfg) if r.get("alert") == "SqmQualityIndexLow"]
    assert 'channel=~"store"' in rule["expr"]
    description = rule["annotations"]["description"]
    assert "below 55 in 3 consecutive 1800 s quality periods." in description
    assert "It resolves after 2 healthy periods." in description
    assert "window" not in description


def test_feedback_records_do_not_depend_on_the_alerts() -> None:
    only_one = from_mapping({"alerts": [
        {"indicator": "backlog_waiting", "op": ">", "warning": 50}]}, env={})
    for cfg in (Config(), only_one, load(EXAMPLE, env={})):
        groups = {g["name"]: g["rules"] for g in rule_groups(cfg)["groups"]}
        assert {r["record"] for r in groups["sqm-feedback"]} == FEEDBACK_RECORDS
    feedback = {r["record"]: r["expr"] for r in rule_groups(Config())["groups"][1]["rules"]}
    gap = feedback["sqm:servqual_gap:mean_rate1h"]
    assert gap.count("sum by (channel, dimension)") == 3
    assert "rate(sqm_servqual_responses_total[1h])" in gap
    nps = feedback["sqm:nps:score_rate1d"]
    assert nps.startswith("100 * (") and "rate(sqm_nps_score_count[1d])" in nps
    assert "rate(sqm_opened_total[1h])" in feedback["sqm:complaints:ratio_rate1h"]


def test_an_alert_for_some_channels_matches_only_them() -> None:
    cfg = from_mapping({"alerts": [
        {"indicator": "service_level", "op": "<", "critical": 0.5, "channels": ["chat", "web"]},
    ]}, env={})
    (rule,) = [r for r in rules_of(cfg) if r.get("alert") == "SqmServiceLevelLow"]
    assert 'sqm_alert_active{indicator="service_level", severity="critical", ' \
        'channel=~"chat|web", queue=""}' in rule["expr"]
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


# --- queues (SPEC 9) -------------------------------------------------------------------------

#: chat with two declared queues (labels billing, tech_support, other), billing answered faster
QUEUES = {"chat": {"queues": {"billing": {"first_response_target_s": 30}, "tech_support": {}}},
          "phone": {}}


def _alerts(cfg: Config, name: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The alerting rules named ``name``: (severity, scope) -> rule."""
    return {(r["labels"]["severity"], r["labels"].get("scope", "channel")): r
            for r in rules_of(cfg) if r.get("alert") == name}


def test_channel_and_queue_alerts_follow_their_own_series_of_sqm_alert_active() -> None:
    """A channel entry follows the channel's series (queue=""), a queue entry its queues'
    (queue!="" for "*", the names otherwise); both aggregate and hold per queue."""
    cfg = from_mapping({"channels": QUEUES, "alerts": [
        {"indicator": "service_level", "op": "<", "critical": 0.5},
        {"indicator": "service_level", "op": "<", "warning": 0.8, "queues": ["*"],
         "channels": ["chat"]},
        {"indicator": "oldest_wait_s", "op": ">", "critical": "2x", "queues": ["billing"],
         "channels": ["chat"]},
    ]}, env={})
    sl = _alerts(cfg, "SqmServiceLevelLow")
    assert set(sl) == {("critical", "channel"), ("warning", "queue")}
    by = "max by (channel, queue, indicator, severity)"
    on = "unless on (channel, queue, indicator, severity)"
    channel = 'sqm_alert_active{indicator="service_level", severity="critical", queue=""}'
    assert sl[("critical", "channel")]["expr"] == (
        f"{by} ({channel}) == 1\nor\n(\n  {by} (last_over_time({channel}[10m])) == 1\n"
        f"  {on} {channel}\n)\n")
    assert sl[("critical", "channel")]["labels"] == {"severity": "critical"}
    queues = ('sqm_alert_active{indicator="service_level", severity="warning", '
              'channel=~"chat", queue!=""}')
    assert sl[("warning", "queue")]["expr"] == (
        f"{by} ({queues}) == 1\nor\n(\n  {by} (last_over_time({queues}[10m])) == 1\n"
        f"  {on} {queues}\n)\n")
    assert sl[("warning", "queue")]["labels"] == {"severity": "warning", "scope": "queue"}
    (wait,) = _alerts(cfg, "SqmOldestWaitHigh").values()
    assert ('sqm_alert_active{indicator="oldest_wait_s", severity="critical", channel=~"chat", '
            'queue=~"billing"}') in wait["expr"]


def test_a_queue_alert_names_the_queue_and_its_target() -> None:
    cfg = from_mapping({"channels": QUEUES, "alerts": [
        {"indicator": "oldest_wait_s", "op": ">", "warning": "2x", "critical": "4x",
         "queues": ["*"], "channels": ["chat"]},
        {"indicator": "no_data", "op": ">", "warning": 0, "for_windows": 10, "queues": ["*"],
         "channels": ["chat"]},
    ]}, env={})
    wait = _alerts(cfg, "SqmOldestWaitHigh")[("warning", "queue")]["annotations"]
    assert wait["summary"] == ("{{ $labels.channel }}/{{ $labels.queue }}: oldest wait above 2x "
                               "the queue's first response target (warning)")
    assert wait["description"] == (
        "The oldest wait of queue {{ $labels.queue }} of {{ $labels.channel }} has been above 2x "
        "the queue's first response target in 2 consecutive 60 s windows. The critical "
        "threshold: above 4x the queue's first response target. It resolves after 2 healthy "
        "windows. Decided in the stream in event time; the episode is on sqm.alerts.v1, key "
        "{{ $labels.channel }}/{{ $labels.queue }}/oldest_wait_s.")
    assert wait["runbook_url"].endswith("#sqmoldestwaithigh")
    quiet = _alerts(cfg, "SqmNoData")[("warning", "queue")]["annotations"]
    assert quiet["summary"] == ("{{ $labels.channel }}/{{ $labels.queue }}: no contacts opened "
                                "for 10 windows")
    assert quiet["description"].startswith(
        "Queue {{ $labels.queue }} of {{ $labels.channel }} had opened events in the previous 60 "
        "windows but none in 10 consecutive 60 s windows: the source may be down or the queue "
        "closed.")


def test_a_listed_queue_is_matched_as_a_literal() -> None:
    """A queue name may hold a dot: in the regular expression it is escaped (RE2 ``\\.``, written
    ``\\\\.`` in the PromQL string), so ``tier.1`` never matches ``tierx1``."""
    cfg = from_mapping({"channels": {"chat": {"queues": {"tier.1": {}, "tierx1": {}}}},
                        "alerts": [{"indicator": "service_level", "op": "<", "warning": 0.8,
                                    "queues": ["tier.1", "other"]}]}, env={})
    (rule,) = _alerts(cfg, "SqmServiceLevelLow").values()
    assert 'queue=~"tier\\\\.1|other"}' in rule["expr"]


def test_no_two_alerting_rules_share_a_name_and_static_labels() -> None:
    """promtool's lint (`promtool check rules`) refuses them: the channels' and the queues'
    service level of the example config differ by scope."""
    alerts = [(r["alert"], tuple(sorted(r.get("labels", {}).items())))
              for r in rules_of(load(EXAMPLE, env={})) if "alert" in r]
    assert len(alerts) == len(set(alerts))
    assert (("SqmServiceLevelLow", (("scope", "queue"), ("severity", "warning")))) in alerts


def test_a_per_queue_slo_sums_per_channel_and_queue_and_a_channel_slo_per_channel() -> None:
    """Both over the queue-labelled counters: the channel's sums the queues (no queue label),
    the per-queue one keeps them (queues' series only); each selects its own recorded series
    and matches on its own labels."""
    cfg = from_mapping({"channels": QUEUES, "slos": [
        {"name": "sl", "indicator": "service_level", "objective": 0.9},
        {"name": "sl_queue", "indicator": "service_level", "objective": 0.9, "by": ["queue"],
         "channels": ["chat"]},
    ]}, env={})
    groups = {g["name"]: {r.get("record", r.get("alert")) + r.get("labels", {}).get(
        "severity", ""): r for r in g["rules"]} for g in rule_groups(cfg)["groups"]}
    chans = 'channel=~"chat|phone"'
    channel, queue = groups["sqm-slo-sl"], groups["sqm-slo-sl_queue"]
    assert channel["sqm:slo_events:increase5m"]["expr"] == (
        f"sum by (channel) (increase(sqm_answered_total{{{chans}}}[5m]) + "
        f"increase(sqm_abandoned_total{{{chans}}}[5m]))\n")
    assert queue["sqm:slo_events:increase5m"]["expr"] == (
        'sum by (channel, queue) (increase(sqm_answered_total{channel=~"chat", queue!=""}[5m]) '
        '+ increase(sqm_abandoned_total{channel=~"chat", queue!=""}[5m]))\n')
    assert queue["sqm:slo_error:ratio_rate1h"]["expr"] == (
        '1 - (\n  sum by (channel, queue) (rate(sqm_answered_within_target_total'
        '{channel=~"chat", queue!=""}[1h]))\n  /\n  sum by (channel, queue) ('
        'rate(sqm_answered_total{channel=~"chat", queue!=""}[1h]) + '
        'rate(sqm_abandoned_total{channel=~"chat", queue!=""}[1h]))\n)\n')
    assert queue["sqm:slo_error:ratio_rate1h"]["labels"] == {"slo": "sl_queue",
                                                            "indicator": "service_level"}
    assert channel["sqm:slo_error_budget:remaining_ratio"]["expr"] == (
        '1 - sqm:slo_error:ratio_rate30d{slo="sl", queue=""} / 0.1\n')
    assert queue["sqm:slo_error_budget:remaining_ratio"]["expr"] == (
        '1 - sqm:slo_error:ratio_rate30d{slo="sl_queue", queue!=""} / 0.1\n')
    page = queue["SqmErrorBudgetBurnpage"]
    assert page["expr"].startswith(
        '(\n  sqm:slo_error:ratio_rate1h{slo="sl_queue", queue!=""} > 14.4 * 0.1\n'
        '  and on (channel, queue, slo) sqm:slo_error:ratio_rate5m{slo="sl_queue", queue!=""} '
        '> 14.4 * 0.1\n'
        '  and on (channel, queue, slo) sqm:slo_events:increase5m{slo="sl_queue", queue!=""} '
        '>= 10\n)\n')
    assert page["annotations"]["summary"] == ("{{ $labels.channel }}/{{ $labels.queue }}: SLO "
                                              "sl_queue is burning its error budget fast (page)")
    assert "days on queue {{ $labels.queue }} of {{ $labels.channel }}." in \
        page["annotations"]["description"]
    ticket = channel["SqmErrorBudgetBurnticket"]
    assert ('sqm:slo_error:ratio_rate1d{slo="sl", queue=""} > 3 * 0.1\n  and on (channel, slo) '
            'sqm:slo_error:ratio_rate2h{slo="sl", queue=""}') in ticket["expr"]
    assert ticket["annotations"]["summary"] == ("{{ $labels.channel }}: SLO sl is burning its "
                                                "error budget steadily (ticket)")
