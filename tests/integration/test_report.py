"""``sqm report`` end to end on the real broker, against the test's own reference.

A seeded scenario of two channels over three quality periods (period_s 300, window_s 60), with
surveys, and phone answering late for four windows so that the shipped ``service_level`` rule
fires and resolves, is written to a JSON-lines file and replayed with ``sqm replay`` to the real
broker and processed by the real ``sqm worker`` and
``sqm quality``; "tick" events in every input partition move the worker's watermark past the
end. Once the last period's quality records are out, ``sqm report`` runs as a subprocess over the
scenario's range, in Markdown and in HTML, and its figures are compared with
``tests/reference_report.py`` (sums, service level, SLA attainment, error budget, SERVQUAL gaps,
alert episodes), cell by cell in the Markdown tables; the HTML must carry the same figures and
embed the four charts.

Queues (SPEC 9): chat declares ``billing`` (with chat's targets, so the channel's figures are
those of the reference without queues); every third chat contact opens in billing and every
eleventh in an undeclared queue (measured under ``other``). The report's per-queue section
must list main, billing and other, each queue's first-response actual and its service-level
attainment as ``tests/reference.py``'s queue records give them.
"""

from __future__ import annotations

import html
import re
import subprocess
import sys
import time
import uuid
from pathlib import Path

import orjson
from harness import QualityProcess, WorkerProcess, poll, read_json, reset_topics, ticks
from kafka_broker import free_port
from reference import DIMENSIONS, Queues, compute, iso
from reference_report import (
    CHANNELS,
    GAP_CHANNEL,
    PERIOD_MS,
    SLO_NAME,
    WINDOW_MS,
    WINDOWS,
    ChannelFigures,
    Expected,
    Scenario,
    attainment_row,
    budget_row,
    count,
    expected,
    gap_row,
    service_level,
    summary_row,
)

INPUT_PARTITIONS = 4
CHARTS = 4
Row = dict[str, str]
Tables = dict[str, list[list[Row]]]


# --- running -------------------------------------------------------------------------------------


#: chat's queues: ``billing`` declared (main, the default, with it), undeclared ones under other
QUEUES = {"chat": Queues(declared=("main", "billing"))}
QUEUE_CHANNEL = "chat"
LISTED = ("main", "billing", "other")


def write_config(path: Path, bootstrap: str) -> Path:
    channels = "\n".join(f"[channels.{ch}]" for ch in CHANNELS)
    path.write_text(f"""
broker_url = "kafka://{bootstrap}"
group_id = "itr-{uuid.uuid4().hex[:8]}"
idle_timeout_s = 3600
{channels}
[channels.{QUEUE_CHANNEL}.queues.billing]
[quality]
period_s = {PERIOD_MS // 1000}
method = "expert"
""")
    return path


def wait_until_done(bootstrap: str, sc: Scenario, want: Expected,
                    processes: list[WorkerProcess | QualityProcess]) -> None:
    """The last period's quality records are out, and every alert transition of the range."""
    last = iso(sc.end - PERIOD_MS)

    def check() -> bool:
        for p in processes:
            assert p.alive(), f"{type(p).__name__} died:\n{p.log_tail()}"
        quality = read_json(bootstrap, "sqm.quality.v1")
        done = {r.get("channel", "*") for r in quality if r["period_start"] == last}
        if done < {*CHANNELS, "*"}:
            return False
        in_range = [a for a in read_json(bootstrap, "sqm.alerts.v1")
                    if a["window_start"] < iso(sc.end)]
        return len(in_range) >= want.transitions

    poll(check, 60, "the last period's quality records and the range's alerts", every_s=0.2)


def replay(cfg: Path, events: list[dict[str, object]], path: Path) -> None:
    """The scenario as a JSON-lines file, produced by ``sqm replay`` as an operator would."""
    path.write_bytes(b"".join(orjson.dumps(e) + b"\n" for e in events))
    proc = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(cfg), "replay",
                           str(path)], capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr


def run_report(cfg: Path, sc: Scenario, fmt: str, out: Path) -> str:
    proc = subprocess.run(
        [sys.executable, "-m", "monitor.cli", "--config", str(cfg), "report", "--from",
         iso(sc.t0), "--to", iso(sc.end), "--format", fmt, "--out", str(out)],
        capture_output=True, text=True, timeout=60, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return out.read_text(encoding="utf-8")


# --- queues ----------------------------------------------------------------------------------------


def route(events: list[dict[str, object]]) -> list[dict[str, object]]:
    """The scenario's events with a queue on chat's ``opened``: every third contact opens in
    billing, every eleventh (not a third) in ``overflow``, which chat does not declare."""
    out = []
    for e in events:
        iid = str(e["interaction_id"])
        if e["channel"] == QUEUE_CHANNEL and e["type"] == "opened":
            n = int(iid.rsplit("-i", 1)[1])
            queue = "billing" if n % 3 == 0 else "overflow" if n % 11 == 0 else None
            if queue is not None:
                e = {**e, "queue": queue}
        out.append(e)
    return out


def queue_figures(sc: Scenario, events: list[dict[str, object]]) -> dict[str, ChannelFigures]:
    """Per listed queue of chat, its figures from the reference's queue records."""
    ref = compute(events, 60, last_window_ms=sc.end - WINDOW_MS, channels=CHANNELS, queues=QUEUES)
    out = {q: ChannelFigures() for q in LISTED}
    for (ch, q, w), rec in sorted(ref.queue_records.items(), key=lambda kv: kv[0][2]):
        if ch == QUEUE_CHANNEL:
            assert sc.t0 <= w < sc.end
            out[q].add_window(rec)
    return out


def queue_rows(figures: dict[str, ChannelFigures]) -> list[tuple[str, dict[str, str], Row]]:
    out: list[tuple[str, dict[str, str], Row]] = []
    for q, f in figures.items():
        assert f.windows > 0 and f.offered > 0, q
        at = {"Channel": QUEUE_CHANNEL, "Queue": q}
        out += [
            ("Queues", {**at, "Kind": "time", "Target": "first_response"},
             {"Actual": service_level(f), "Volume": count(f.offered)}),
            ("Queues", {**at, "Indicator": "service_level"}, attainment_row(f)),
        ]
    return out


# --- reading the Markdown ------------------------------------------------------------------------


def _cells(line: str) -> list[str]:
    """A table row's cells, unescaped (``md_escape`` backslash-escapes pipes and markup)."""
    raw = re.split(r"(?<!\\)\|", line.strip()[1:-1])
    return [html.unescape(re.sub(r"\\(.)", r"\1", c.strip())) for c in raw]


def md_tables(text: str) -> Tables:
    """Per ``## `` section title, its tables, each a list of rows keyed by header."""
    out: Tables = {}
    section = ""
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("## "):
            section = _cells(f"|{line[3:]}|")[0]
            out[section] = []
        elif line.startswith("|"):
            headers = _cells(line)
            rows: list[Row] = []
            i += 2  # past the alignment row
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(dict(zip(headers, _cells(lines[i]), strict=True)))
                i += 1
            out[section].append(rows)
            continue
        i += 1
    return out


def row(tables: Tables, section: str, **match: str) -> Row:
    found = [r for t in tables[section] for r in t if all(r.get(k) == v for k, v in match.items())]
    assert len(found) == 1, (section, match, found)
    return found[0]


def check(got: Row, want: Row, what: str) -> None:
    diff = {k: (v, got.get(k)) for k, v in want.items() if got.get(k) != v}
    assert not diff, f"{what}: (expected, got) {diff}"


# --- the comparison ------------------------------------------------------------------------------


def expected_rows(want: Expected,
                  queues: dict[str, ChannelFigures]) -> list[tuple[str, dict[str, str], Row]]:
    """(section, row selector, expected cells) for every figure the test checks."""
    out = queue_rows(queues)
    for ch, f in want.channels.items():
        assert f.windows == WINDOWS
        out += [
            ("Summary", {"Channel": ch}, summary_row(f)),
            ("Targets against actuals", {"Channel": ch, "Kind": "time", "Target": "first_response"},
             {"Actual": service_level(f), "Volume": count(f.offered)}),
            ("Targets against actuals", {"Channel": ch, "Kind": "slo", "Target": SLO_NAME},
             {"Actual": service_level(f)}),
            ("SLA attainment", {"Channel": ch, "Indicator": "service_level"}, attainment_row(f)),
            ("Error budgets", {"SLO": SLO_NAME, "Channel": ch}, budget_row(f)),
        ]
    out.append(("SERVQUAL gaps", {"Channel": GAP_CHANNEL}, gap_row(want.channels[GAP_CHANNEL])))
    return out


def assert_markdown(text: str, want: Expected, queues: dict[str, ChannelFigures]) -> None:
    tables = md_tables(text)
    for section, match, cells in expected_rows(want, queues):
        check(row(tables, section, **match), cells, f"{section} {match}")
    episodes = tables["Alerts"][0]
    assert len(episodes) == want.episodes, episodes
    assert sum(r["Resolved"] != "open" for r in episodes) == want.resolved_episodes, episodes
    assert any(r["Indicator"] == "service_level" and r["Channel"] == "phone" for r in episodes)
    # queues under their channel, in config order; phone declares none
    targets = tables["Queues"][0]
    assert list(dict.fromkeys((r["Channel"], r["Queue"]) for r in targets)) == [
        (QUEUE_CHANNEL, q) for q in LISTED]


def assert_html(text: str, want: Expected, queues: dict[str, ChannelFigures]) -> None:
    assert text.count('src="data:image/png;base64,') == CHARTS
    assert "http://" not in text and "https://" not in text.replace("https://www.w3.org", "")
    assert 'id="queues"' in text
    body = html.unescape(re.sub(r"<[^>]+>", " ", text))
    missing = [v for _s, _m, cells in expected_rows(want, queues) for v in cells.values()
               if v not in body]
    assert not missing, f"figures missing from the HTML: {missing}"


def test_report_against_the_reference(kafka_bootstrap: str, tmp_path: Path) -> None:
    started = time.monotonic()
    bootstrap = kafka_bootstrap
    reset_topics(bootstrap)
    now = int(time.time() * 1000)
    sc = Scenario(now - now % PERIOD_MS - 5 * PERIOD_MS, seed=12)
    want = expected(sc)
    events = route(sc.events)
    queues = queue_figures(sc, events)
    assert want.resolved_episodes >= 1, "the scenario should raise and resolve an alert"
    assert {d for d in DIMENSIONS if want.channels[GAP_CHANNEL].gaps[d] is not None}
    cfg = write_config(tmp_path / "sqm.toml", bootstrap)
    worker = WorkerProcess(cfg, free_port(), tmp_path / "worker.log")
    quality = QualityProcess(cfg, free_port(), tmp_path / "quality.log")
    try:
        replay(cfg, [*events, *ticks("tick", sc.end + 30_000, INPUT_PARTITIONS)],
               tmp_path / "scenario.jsonl")
        wait_until_done(bootstrap, sc, want, [worker, quality])
    finally:
        quality.stop()
        worker.stop()
    processed = time.monotonic()
    assert_markdown(run_report(cfg, sc, "md", tmp_path / "report.md"), want, queues)
    assert_html(run_report(cfg, sc, "html", tmp_path / "report.html"), want, queues)
    print(f"processed in {processed - started:.1f} s, reports in "
          f"{time.monotonic() - processed:.1f} s")
    assert time.monotonic() - started < 90
