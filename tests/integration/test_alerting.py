"""Alerting end to end: the committed Alertmanager configuration (amtool, a real Alertmanager),
and the real worker, Prometheus and Alertmanager on a degrading channel."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import pytest
from harness import WorkerProcess, poll, read_topic, reset_topics
from kafka_broker import free_port
from observability import (
    ALERTMANAGER_YML,
    Alertmanager,
    Prometheus,
    Webhook,
    dashboard_queries,
)

from monitor.contract.topics import TOPIC_ALERTS


def amtool(*args: str) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("amtool")
    assert exe, "amtool is missing: `make setup` installs Debian's prometheus-alertmanager"
    return subprocess.run([exe, *args], capture_output=True, text=True, timeout=60, check=False)


def test_the_committed_alertmanager_config_passes_amtool() -> None:
    r = amtool("check-config", str(ALERTMANAGER_YML))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "SUCCESS" in r.stdout


@pytest.mark.parametrize(("labels", "receiver"), [
    (["severity=critical", "channel=chat", "alertname=SqmServiceLevelLow"], "page"),
    (["severity=page", "channel=chat", "alertname=SqmErrorBudgetBurn"], "page"),
    (["severity=warning", "channel=chat", "alertname=SqmServiceLevelLow"], "ticket"),
    (["severity=ticket", "channel=phone", "alertname=SqmErrorBudgetBurn"], "ticket"),
    (["severity=critical", "alertname=SqmWorkerDown"], "page"),
])
def test_alertmanager_routes_pages_and_tickets_apart(labels: list[str], receiver: str) -> None:
    r = amtool("config", "routes", "test", f"--config.file={ALERTMANAGER_YML}", *labels)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split() == [receiver]


def _alert(name: str, severity: str, channel: str, indicator: str) -> dict[str, Any]:
    return {"labels": {"alertname": name, "severity": severity, "channel": channel,
                       "indicator": indicator},
            "annotations": {"summary": f"{channel} {indicator} {severity}"}}


def test_a_channels_warning_is_inhibited_while_its_critical_fires(tmp_path: Path) -> None:
    """A real Alertmanager with the committed routing: chat's critical pages, chat's warning of
    the same indicator is held back, and phone's warning (another channel) is not."""
    hook = Webhook()
    am = Alertmanager(tmp_path, hook)
    try:
        am.post([
            _alert("SqmServiceLevelLow", "critical", "chat", "service_level"),
            _alert("SqmServiceLevelLow", "warning", "chat", "service_level"),
            _alert("SqmServiceLevelLow", "warning", "phone", "service_level"),
        ])
        poll(lambda: len(hook.alerts()) >= 2, 30, "two notifications")
        states = {(a["labels"]["channel"], a["labels"]["severity"]): a["status"]
                  for a in am.alerts()}
        assert states[("chat", "warning")]["state"] == "suppressed"
        assert states[("chat", "warning")]["inhibitedBy"]
        assert states[("chat", "critical")]["state"] == "active"
        assert states[("phone", "warning")]["state"] == "active"
        got = {(path, a["labels"]["channel"], a["labels"]["severity"]) for path, a in hook.alerts()}
        assert got == {("/page", "chat", "critical"), ("/ticket", "phone", "warning")}
    finally:
        am.stop()
        hook.close()


# --- the whole chain ---------------------------------------------------------------------------

WINDOW_S = 10
#: Queries of what only the quality stage (`sqm quality`, not run here) exports.
QUALITY_STAGE = re.compile(r"\b(sqm_quality_index|sqm_quality_weight|sqm_servqual_gap|"
                           r'sqm_channel_consistency_cv)\b|job="sqm-quality"')
CONFIG = """\
broker_url = "kafka://{bootstrap}"
group_id = "{group}"
window_s = {window_s}
grace_s = 2
idle_timeout_s = 1

[channels.phone]
first_response_target_s = 4
resolution_target_s = 60
short_abandon_s = 1

[channels.chat]
first_response_target_s = 8
resolution_target_s = 120
short_abandon_s = 1

# SPEC 9: chat's queues (main, its default, is declared with them; undeclared names count in
# `other`), so the dashboards' per-queue panels and the per-queue SLO have series; phone has none
# and is its one queue, `main`.
[channels.chat.queues.billing]
[channels.chat.queues.tech]

# the shipped SLO, and the same objective per queue of chat
[[slos]]
name = "answered_in_time"
indicator = "service_level"
objective = 0.8

[[slos]]
name = "answered_in_time_by_queue"
indicator = "service_level"
objective = 0.8
channels = ["chat"]
by = ["queue"]
"""
#: Every (channel, queue) label pair of CONFIG: the rows of the overview's queue table.
QUEUE_ROWS = {("phone", "main"), ("chat", "main"), ("chat", "billing"), ("chat", "tech"),
              ("chat", "other")}


def _iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _alert_records(bootstrap: str) -> list[dict[str, Any]]:
    return [orjson.loads(v) for _k, v in read_topic(bootstrap, TOPIC_ALERTS)]


def _sl_critical(a: dict[str, Any]) -> bool:
    return bool(a["channel"] == "chat" and a["indicator"] == "service_level"
                and a["severity"] == "critical")


def _grafana_queries(boards: Path) -> list[str]:
    """Every panel query, ``$channel`` and ``$queue`` as Grafana fills them in with "All" (the
    queue label values of the chosen channels: every configured pair is exported)."""
    queues = "|".join(sorted({q for _ch, q in QUEUE_ROWS}))
    return [q.replace("$queue", queues) for q in dashboard_queries(boards)]


def _queue_table(boards: Path) -> dict[str, str]:
    """The overview's queue table: column (its display name) -> query, variables filled in."""
    d = orjson.loads((boards / "sqm-overview.json").read_bytes())
    (table,) = [p for p in d["panels"] if p["title"] == "Queues (latest final window)"]
    names = {o["matcher"]["options"]["names"][0]: o["properties"][0]["value"]
             for o in table["fieldConfig"]["overrides"]}
    queues = "|".join(sorted({q for _ch, q in QUEUE_ROWS}))
    return {names[f"Value #{t['refId']}"]: t["expr"].replace("$channel", "phone|chat")
            .replace("$queue", queues) for t in table["targets"]}


def _rows(result: list[dict[str, Any]]) -> set[tuple[str, str]]:
    return {(r["metric"]["channel"], r["metric"]["queue"]) for r in result}


def _check_queue_panels(prom: Prometheus, boards: Path) -> None:
    """The queue table has a row for every configured queue and no other; a queue with traffic
    has its latest window in it (with a generator that leaves out `queue`, only the default
    queues have traffic)."""
    table = _queue_table(boards)
    assert _rows(prom.query(table["Firing alerts"])) == QUEUE_ROWS
    busy = _rows(prom.query('sqm_opened_total{channel=~"phone|chat"} > 0'))
    assert {("phone", "main"), ("chat", "main")} <= busy <= QUEUE_ROWS, busy
    windows = _rows(prom.query(table["Service level"]))
    assert windows <= QUEUE_ROWS, windows
    assert busy - {("chat", "other")} <= windows, (busy, windows)  # other: a trickle


def test_degraded_channel_pages_through_prometheus_and_alertmanager_once(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    """`degrade:chat`: the stream fires chat's critical service-level alert within 3 windows of
    the onset, Prometheus follows it and Alertmanager pages the test's webhook; phone stays
    quiet everywhere. Meanwhile every dashboard query, the per-queue ones of chat's queues
    included, returns data from this Prometheus. A SIGKILL of the worker between firing and
    resolving gives no second firing, on the topic or at the webhook, and the resolution arrives
    at both."""
    reset_topics(kafka_bootstrap)
    cfg = tmp_path / "sqm.toml"
    cfg.write_text(CONFIG.format(bootstrap=kafka_bootstrap, group=f"it-{uuid.uuid4().hex[:8]}",
                                 window_s=WINDOW_S))
    rules = tmp_path / "rules.yml"
    gen = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(cfg), "rules",
                          "--out", str(rules)], capture_output=True, text=True, timeout=60,
                         check=False)
    assert gen.returncode == 0, gen.stderr
    port = free_port()
    hook = Webhook()
    am = Alertmanager(tmp_path, hook)
    prom = Prometheus(tmp_path, rules, [port], am)
    worker = WorkerProcess(cfg, port, tmp_path / "worker.log")
    traffic: subprocess.Popen[str] | None = None
    try:
        poll(lambda: (worker.try_metrics() or {}).get(
            ("sqm_assigned_partitions", (("stage", "aggregate"),))) == 4, 60, "the worker")
        traffic = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(cfg), "generate", "--rate",
             "150", "--duration", "160", "--scenario", "degrade:chat", "--seed", "7"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert traffic.stdout is not None
        first = traffic.stdout.readline()
        m = re.search(r"chat degraded from (\S+) to (\S+)", first)
        assert m, first
        onset, recovery = _iso(m.group(1)), _iso(m.group(2))

        # the stream fires within 3 windows of the onset ...
        fired = poll(lambda: [a for a in _alert_records(kafka_bootstrap)
                              if _sl_critical(a) and a["state"] == "firing"], 120,
                     "chat's critical service-level alert on sqm.alerts.v1")[0]
        assert _iso(fired["window_end"]) <= onset + timedelta(seconds=3 * WINDOW_S), fired
        # ... and on-call gets paged with it
        def paged() -> list[dict[str, Any]]:
            return [a for path, a in hook.alerts() if path == "/page"
                    and a["labels"].get("alertname") == "SqmServiceLevelLow"
                    and a["labels"].get("channel") == "chat"]
        page = poll(paged, 60, "the page at the webhook")[0]
        assert page["status"] == "firing"
        # while it fires, every panel of every dashboard shows data from this Prometheus
        # (including the table of firing alerts)
        boards = tmp_path / "dashboards"
        made = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(cfg),
                               "dashboards", "--out", str(boards)], capture_output=True,
                              text=True, timeout=60, check=False)
        assert made.returncode == 0, made.stderr
        # The scenario runs the worker only: the SERVQUAL dashboard's quality-stage panels (its
        # gauges and its `up`) have nothing to show here. They are excluded by name, and
        # tests/integration/test_servqual_dashboard.py checks them with a quality stage running.
        # The survey panels stay: their records give NaN (0/0) rather than nothing while no
        # survey has been counted, as the worker exports its survey counters from the start.
        queries = [q for q in _grafana_queries(boards) if not QUALITY_STAGE.search(q)]
        assert len(queries) > 20
        assert sum("queue=~" in q for q in queries) >= 6 + 5 + 9  # table, series, queue SLO
        empty = [q for q in queries if not prom.query(q)]
        assert not empty, f"panels without data: {empty}"
        _check_queue_panels(prom, boards)
        assert page["labels"]["severity"] == "critical"
        assert page["labels"]["indicator"] == "service_level"
        assert page["annotations"]["summary"] == "chat: service level below 0.6 (critical)"

        # SIGKILL between firing and resolving, then a new worker on the same port
        assert datetime.now(UTC) < recovery, "the kill came after the recovery: a slow machine"
        worker.kill()
        worker = WorkerProcess(cfg, port, tmp_path / "worker-2.log")

        resolved = poll(lambda: [a for a in _alert_records(kafka_bootstrap)
                                 if a["channel"] == "chat" and a["indicator"] == "service_level"
                                 and a["state"] == "resolved"], 180,
                        "the resolution on sqm.alerts.v1")[0]
        poll(lambda: [a for a in paged() if a["status"] == "resolved"], 60,
             "the resolution at the webhook")
        assert _iso(resolved["window_end"]) > recovery

        records = [a for a in _alert_records(kafka_bootstrap)
                   if a["channel"] == "chat" and a["indicator"] == "service_level"]
        assert len({a["alert_id"] for a in records}) == 1, records  # one episode
        assert [a["state"] for a in records if _sl_critical(a)].count("firing") == 1, records
        assert records[-1]["state"] == "resolved"
        # at the webhook: one episode (one start), resolved only at the end
        notes = paged()
        assert {a["startsAt"] for a in notes} == {page["startsAt"]}, notes
        states = [a["status"] for a in notes]
        cut = states.index("resolved")
        assert set(states[:cut]) == {"firing"} and set(states[cut:]) == {"resolved"}, states
        # the healthy channel: nothing anywhere
        assert not [a for a in _alert_records(kafka_bootstrap) if a["channel"] == "phone"]
        assert not [a for _p, a in hook.alerts() if a["labels"].get("channel") == "phone"]
        assert not [a for _p, a in hook.alerts()
                    if a["labels"]["alertname"] in ("SqmWorkerDown", "SqmDeadLetterRateHigh")]
    finally:
        if traffic is not None and traffic.poll() is None:
            traffic.terminate()
            traffic.wait(timeout=30)
        worker.stop()
        prom.stop()
        am.stop()
        hook.close()
