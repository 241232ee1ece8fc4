"""``sqm watch`` shows each channel's firing alerts from the workers' ``sqm_alert_active``."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from monitor.metrics.watch import Samples, firing, notified, table


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
