"""``sqm watch``: each channel's (and with ``--by queue`` each queue's) numbers, summed over the
workers' ``/metrics`` as a Prometheus query would, and their firing alerts."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from rich.console import Console
from stream_harness import final_window

from monitor.metrics.exporter import SqmCollector
from monitor.metrics.stats import Snapshot
from monitor.metrics.watch import (
    By,
    Samples,
    canonical,
    firing,
    largest_gap,
    notified,
    parse,
    table,
)

#: two channels without declared queues (one label each, their default queue)
PLAIN = {"phone": ("main",), "chat": ("main",)}
#: phone declares billing (main, its default, implicitly); chat declares none
QUEUES = {"phone": ("main", "billing", "other"), "chat": ("main",)}
NOW_S = 1_800_000_000.0
NOW_MS = 1_800_000_000_000


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
    console.print(table([s], PLAIN))
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
    console.print(table([worker, quality], PLAIN))
    text = console.export_text()
    chat = next(ln for ln in text.splitlines() if ln.split("│")[1:2] and "chat" in ln.split("│")[1])
    assert "71.2" in chat and "reliability -1.40" in chat
    assert "1 worker(s) · quality stage: up" in text


def scrape_of(snapshot: Snapshot) -> Samples:
    """What ``sqm watch`` reads from a worker that exports ``snapshot``."""
    reg = CollectorRegistry()
    reg.register(SqmCollector(QUEUES, lambda: snapshot, clock=lambda: NOW_S, blocks=lambda: 1))
    return parse(generate_latest(reg).decode())


def two_workers() -> list[Samples]:
    """Worker A owns the latest windows and the alerts; both own input partitions of phone, so
    both have its counters and backlog. B still shows an older phone window (before a
    rebalance), which is not current."""
    w0 = NOW_MS - 120_000
    a = Snapshot(
        measured={("phone", "main"): [5] + [0] * 8, ("phone", "billing"): [3] + [0] * 8,
                  ("phone", "other"): [1] + [0] * 8, ("chat", "main"): [2] + [0] * 8},
        duplicate={("phone", "billing"): 2}, late={("phone", "other"): 1},
        backlog_waiting={("phone", "main"): 2, ("phone", "billing"): 1, ("phone", "other"): 0},
        backlog_open={("phone", "main"): 3, ("phone", "billing"): 2, ("phone", "other"): 1},
        oldest_waiting_ts_ms={("phone", "main"): NOW_MS - 30_000,
                              ("phone", "billing"): NOW_MS - 90_000, ("phone", "other"): None},
        windows={("phone", ""): final_window("phone", w0, service_level=0.75),
                 ("phone", "main"): final_window("phone", w0, queue="main", service_level=1.0),
                 ("phone", "billing"): final_window("phone", w0, queue="billing",
                                                    service_level=0.5)},
        alerts={("phone", "", "service_level", "warning"): 1,
                ("phone", "", "service_level", "critical"): 0,
                ("phone", "billing", "service_level", "warning"): 0,
                ("phone", "billing", "service_level", "critical"): 1},
    )
    b = Snapshot(
        measured={("phone", "main"): [4] + [0] * 8, ("phone", "billing"): [2] + [0] * 8},
        duplicate={("phone", "main"): 1},
        backlog_waiting={("phone", "main"): 1, ("phone", "billing"): 0, ("phone", "other"): 0},
        backlog_open={("phone", "main"): 1, ("phone", "billing"): 0, ("phone", "other"): 0},
        oldest_waiting_ts_ms={("phone", "main"): NOW_MS - 60_000, ("phone", "billing"): None,
                              ("phone", "other"): None},
        windows={("phone", ""): final_window("phone", w0 - 60_000, service_level=0.1),
                 ("phone", "billing"): final_window("phone", w0 - 60_000, queue="billing",
                                                    service_level=0.1)},
    )
    return [scrape_of(a), scrape_of(b)]


def cells(samples: list[Samples], by: By) -> list[list[str]]:
    """The table's body rows as cell texts (the first cell keeps its indentation)."""
    console = Console(width=250, record=True)
    console.print(table(samples, QUEUES, by))
    rows = [ln.split("│")[1:-1] for ln in console.export_text().splitlines() if "│" in ln]
    return [[c[1:].rstrip() if i == 0 else c.strip() for i, c in enumerate(r)] for r in rows]


#: columns of the cells the tests look at
COLS = ("channel", "opened", "waiting", "open", "oldest wait", "service level", "late", "dupes",
        "quality", "alerts")
AT = (0, 1, 2, 3, 4, 5, 10, 11, 12, 14)


def pick(row: list[str]) -> tuple[str, ...]:
    return tuple(row[i] for i in AT)


def test_an_empty_label_is_dropped_as_prometheus_does() -> None:
    """A channel's roll-up (``queue=""``) is read with the key of a series without ``queue``;
    ``parse`` itself keeps the labels as exposed."""
    text = ('# TYPE sqm_oldest_wait_seconds gauge\n'
            'sqm_oldest_wait_seconds{channel="phone",queue=""} 42.5\n'
            'sqm_oldest_wait_seconds{channel="phone",queue="billing"} 5.0\n')
    assert ("sqm_oldest_wait_seconds", (("channel", "phone"), ("queue", ""))) in parse(text)
    assert canonical(parse(text)) == {
        ("sqm_oldest_wait_seconds", (("channel", "phone"),)): 42.5,
        ("sqm_oldest_wait_seconds", (("channel", "phone"), ("queue", "billing"))): 5.0,
    }


def test_by_channel_sums_over_queues_and_reads_the_channel_window() -> None:
    """Counters and backlog: summed over the queue label and the workers (phone opened
    5+3+1 + 4+2); the window gauges: the channel's own (``queue=""``) of the newest window, not
    a queue's; the oldest wait: the channel's roll-up, the oldest of any worker; alerts: the
    channel's only (billing's critical is not phone's)."""
    rows = cells(two_workers(), "channel")
    assert [r[0] for r in rows] == ["phone", "chat"]
    assert pick(rows[0]) == ("phone", "15", "4", "7", "90 s", "75.0%", "1", "3", "-",
                             "warn service_level")
    assert pick(rows[1]) == ("chat", "2", "-", "-", "0 s", "-", "0", "0", "-", "")


def test_by_queue_shows_each_channels_queues_under_it() -> None:
    rows = cells(two_workers(), "queue")
    assert [r[0] for r in rows] == ["phone", "  main", "  billing", "  other", "chat", "  main"]
    assert pick(rows[0]) == ("phone", "15", "4", "7", "90 s", "75.0%", "1", "3", "-",
                             "warn service_level")
    assert pick(rows[1]) == ("  main", "9", "3", "4", "60 s", "100.0%", "0", "1", "-", "")
    assert pick(rows[2]) == ("  billing", "5", "1", "2", "90 s", "50.0%", "0", "2", "-",
                             "CRIT service_level")
    assert pick(rows[3]) == ("  other", "1", "0", "1", "0 s", "-", "1", "0", "-", "")
    assert pick(rows[5]) == ("  main", "2", "-", "-", "0 s", "-", "0", "0", "-", "")


def test_firing_alerts_of_a_queue() -> None:
    s: Samples = {
        ("sqm_alert_active", (("channel", "chat"), ("indicator", "service_level"),
                              ("queue", "vip"), ("severity", "warning"))): 1,
        ("sqm_alert_active", (("channel", "chat"), ("indicator", "no_data"),
                              ("severity", "warning"))): 1,
    }
    assert firing(s, "chat") == "warn no_data"
    assert firing(s, "chat", "vip") == "warn service_level"
    assert firing(s, "chat", "main") == ""
