"""``sqm watch`` shows each channel's firing alerts from the workers' ``sqm_alert_active``."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from monitor.metrics.watch import Samples, firing, largest_gap, notified, table


def alert(channel: str, indicator: str, severity: str, value: float) -> tuple[
        tuple[str, tuple[tuple[str, str], ...]], float]:
    labels = (("channel", channel), ("indicator", indicator), ("severity", severity))
    return ("sqm_alert_active", labels), value


def test_firing_alerts_critical_first() -> None:
    s: Samples = dict([
        alert("chat", "service_level", "warning", 0), alert("chat", "service_level", "critical", 1),
        alert("chat", "oldest_wait_s", "warning", 1), alert("chat", "oldest_wait_s", "critical", 0),
        alert("phone", "service_level", "warning", 1),
    ])
    assert firing(s, "chat") == "CRIT service_level, warn oldest_wait_s"
    assert firing(s, "phone") == "warn service_level"
    assert firing(s, "email") == ""


def test_the_table_has_an_alerts_column() -> None:
    s: Samples = dict([alert("chat", "service_level", "critical", 1)])
    console = Console(width=200, record=True)
    console.print(table([s], ["phone", "chat"]))
    lines = console.export_text().splitlines()
    assert "alerts" in lines[2]
    assert next(ln for ln in lines if "CRIT service_level" in ln).split()[1] == "chat"


def test_alertmanager_line_lists_active_alerts_by_receiver() -> None:
    def alert(receiver: str, state: str, **labels: str) -> dict[str, Any]:
        return {"labels": labels, "receivers": [{"name": receiver}], "status": {"state": state}}

    alerts = [
        alert("ticket", "active", alertname="SqmErrorBudgetBurn", channel="chat", severity="ticket"),
        alert("page", "active", alertname="SqmServiceLevelLow", channel="chat", severity="critical"),
        alert("ticket", "suppressed", alertname="SqmServiceLevelLow", channel="chat",
              severity="warning"),
        alert("page", "active", alertname="SqmWorkerDown", severity="critical"),
    ]
    assert notified(alerts) == (
        "Alertmanager: page: - SqmWorkerDown critical · page: chat SqmServiceLevelLow critical · "
        "ticket: chat SqmErrorBudgetBurn ticket")
    assert notified([]) == "Alertmanager: no active alert"


def test_quality_index_and_the_largest_servqual_gap_per_channel() -> None:
    """The quality stage's gauges (a separate scrape): the index, and the dimension whose
    perception falls furthest below expectation."""
    worker: Samples = {("sqm_records_consumed_total", ()): 10.0}
    quality: Samples = {
        ("sqm_quality_index", (("channel", "chat"),)): 71.25,
        ("sqm_servqual_gap", (("channel", "chat"), ("dimension", "empathy"))): -0.5,
        ("sqm_servqual_gap", (("channel", "chat"), ("dimension", "reliability"))): -1.4,
        ("sqm_servqual_gap", (("channel", "chat"), ("dimension", "tangibles"))): 0.3,
        ("sqm_servqual_gap", (("channel", "phone"), ("dimension", "tangibles"))): 0.25,
    }
    assert largest_gap(quality, "chat") == "reliability -1.40"
    assert largest_gap(quality, "phone") == "tangibles +0.25"
    assert largest_gap(quality, "email") == "-"
    console = Console(width=240, record=True)
    console.print(table([worker, quality], ["phone", "chat"]))
    text = console.export_text()
    chat = next(ln for ln in text.splitlines() if ln.split("│")[1:2] and "chat" in ln.split("│")[1])
    assert "71.2" in chat and "reliability -1.40" in chat
    assert "1 worker(s) · quality stage: up" in text
