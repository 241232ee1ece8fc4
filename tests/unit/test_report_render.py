"""The report's renderers (SPEC section 8): a hand-built Report in HTML and Markdown carries the
same figures, identically formatted; the HTML is self-contained (charts as data URIs, no URL),
its findings link to existing sections and data strings are escaped; an empty report renders
with "no data" placeholders. With queues (SPEC 9): the queue section and the queue alerts in
both formats, and nothing of them in a report without queues."""

from __future__ import annotations

import base64
import re

import msgspec

from monitor.domain.quality.index import DIMENSIONS, Spread
from monitor.domain.report.attainment import Attainment, Budget, Counts, Hour, Target
from monitor.domain.report.review import (
    ANCHOR_ALERTS,
    ANCHOR_ATTAINMENT,
    ANCHOR_GAPS,
    Episode,
    Finding,
    GapTable,
    QualityPoint,
    Trend,
)
from monitor.report import charts, fmt, sections
from monitor.report.html import esc, render_html
from monitor.report.markdown import md_escape, render_markdown
from monitor.report.model import Report

M = 60_000
H = 60 * M
T0 = 1_714_521_600_000  # 2024-05-01 00:00 UTC
PNG = b"\x89PNG\r\n\x1a\n"


def _report() -> Report:
    phone = Counts(opened=120, answered=100, answered_within_target=80, abandoned=20,
                   resolved=90, resolved_within_target=81, failed=10, reopened=9)
    chat = Counts(opened=60, answered=50, answered_within_target=45, abandoned=5, resolved=40,
                  resolved_within_target=30, failed=2, reopened=1)
    overall = Counts()
    overall.add(phone)
    overall.add(chat)
    gap_rows: dict[str, dict[str, float | None]] = {
        "phone": dict(zip(DIMENSIONS, (-1.25, 0.5, 0.0, None, 0.75), strict=True)),
        "chat": dict(zip(DIMENSIONS, (-0.4, -0.2, 0.3, 0.1, 0.2), strict=True)),
    }
    return Report(
        from_ms=T0, to_ms=T0 + 24 * H, generated_at_ms=T0 + 25 * H + 7 * M,
        channels=("phone", "chat"), window_s=300, period_s=3600, method="fixed", windows=288,
        sums={"phone": phone, "chat": chat}, overall=overall,
        targets=[
            Target("phone", "time", "first_response", "service_level", None, 20.0, "<=", 0.8,
                   None, 120),
            Target("phone", "slo", "phone-sl", "service_level", 0.85, None, ">=", 0.8, False, 120),
            Target("chat", "threshold", "service_level", "service_level", 0.75, None, "<",
                   0.818181, True, 55),
            Target("chat", "threshold", "csat_mean", "csat_mean", 4.2, None, "<", 4.375, True, 16),
        ],
        attainment=[
            Attainment("phone", "service_level", "warning", 0.8, "<", 280, 175, 8, 0.625, 115),
            Attainment("chat", "oldest_wait_s", "critical", 600.0, ">", 288, 288, 0, 1.0, None),
        ],
        budgets=[Budget("phone-sl", "phone", "service_level", 0.85, 80, 120, 40, 18.0, 2.2222)],
        episodes=[
            Episode("phone", "service_level", "critical", T0 + 2 * H, T0 + 3 * H + 5 * M,
                    65 * M, 65 * M, 1, 0),
            Episode("chat", "oldest_wait_s", "warning", T0 + 20 * H, None, 4 * H, None, 0, 0),
        ],
        alert_time_ms={"chat": 4 * H, "phone": 65 * M},
        trends={
            "phone": Trend("phone", [QualityPoint("phone", T0, T0 + H, 71.25),
                                     QualityPoint("phone", T0 + H, T0 + 2 * H, None),
                                     QualityPoint("phone", T0 + 2 * H, T0 + 3 * H, 64.5)],
                           67.875, 71.25, 64.5, -6.75, -81.0),
            "chat": Trend("chat", [QualityPoint("chat", T0, T0 + H, 88.0)], 88.0, 88.0, 88.0,
                          None, None),
        },
        gaps=GapTable(gap_rows, dict(zip(DIMENSIONS, (-0.9, 0.2, 0.1, 0.1, 0.5), strict=True)),
                      {}, None),
        spread={"service_level": Spread(0.809, 0.0091, 0.01125, "chat", "phone"),
                "reopen_rate": Spread(0.95, 0.01, 0.0105, "phone", "chat"),
                "quality_index": Spread(77.9375, 10.0625, 0.1291, "chat", "phone"),
                "nps": None},
        worst_hours=[Hour("phone", T0 + 2 * H, 0.5, 10, 20), Hour(None, T0 + 3 * H, 0.6, 12, 20)],
        findings=[Finding(ANCHOR_GAPS, "phone", "reliability", -1.25),
                  Finding(ANCHOR_ATTAINMENT, "phone", "service_level", 0.625),
                  Finding(ANCHOR_ALERTS, "chat", "", 4 * H)],
        series={"phone": [(T0, 0.9), (T0 + 5 * M, None), (T0 + 10 * M, 0.7)],
                "chat": [(T0, 0.8), (T0 + 5 * M, 0.85), (T0 + 10 * M, 0.95)]},
    )


def _empty() -> Report:
    return Report(T0, T0 + H, T0 + 2 * H, ("phone",), 300, 3600, "entropy", 0, {}, Counts(), [],
                  [], [], [], {}, {}, GapTable({}, {d: None for d in DIMENSIONS}, {}, None), {},
                  [], [], {})


#: every figure of ``_report`` as the reader must see it, in both formats
FIGURES = (
    # header and sums
    "2024-05-01 00:00 UTC", "2024-05-02 00:00 UTC", "2024-05-02 01:07 UTC", "288", "5 min",
    "1 h 00 min", "120", "180", "125", "25", "130", "12", "10",
    # targets
    "within 20 s", "80.0%", "≥ 85.0%", "not below 75.0%", "81.8%", "not below 4.20", "4.38",
    "missed", "met", "55",
    # attainment
    "warning not below 80.0%", "critical not above 10 min", "62.5%", "100.0%", "175", "115",
    # budget
    "18.0", "222.2%",
    # alerts
    "2024-05-01 02:00 UTC", "2024-05-01 03:05 UTC", "1 h 05 min", "4 h 00 min", "open",
    # quality
    "67.9", "71.2", "64.5", "88.0", "\u22126.8", "\u221281.00",
    # gaps
    "\u22121.25", "+0.50", "+0.00", "+0.75", "\u22120.40", "\u22120.90",
    # consistency
    "0.809", "0.009", "0.011", "77.938", "10.062", "0.129", "0.950",
    "1 \u2212 reopen rate", "quality index (0..100)",
    # worst hours
    "2024-05-01 02:00 UTC", "50.0%", "60.0%", "all channels",
    # findings
    "Largest SERVQUAL gap: phone, reliability \u22121.25",
    "Most alert time: chat, 4 h 00 min",
)


def test_formatting_helpers() -> None:
    assert fmt.duration_ms(65 * M) == "1 h 05 min"
    assert fmt.duration_ms(12 * M + 30_000) == "12 min"
    assert fmt.duration_s(45) == "45 s"
    assert fmt.pct(0.8125) == "81.2%" and fmt.pct(None) == "n/a" and fmt.pct(float("inf")) == "∞"
    assert fmt.signed(-0.5) == "\u22120.50" and fmt.signed(0.25) == "+0.25"
    assert fmt.when(T0 + 90 * M) == "2024-05-01 01:30 UTC"


def test_both_formats_carry_every_figure() -> None:
    page, md = render_html(_report()), render_markdown(_report())
    for figure in FIGURES:
        assert esc(figure) in page, figure
        assert md_escape(figure) in md, figure
    # the cells themselves, row by row, are the same in both
    for section in sections.sections(_report()):
        for table in section.tables:
            for row in table.rows:
                assert "| " + " | ".join(md_escape(c) for c in row) + " |" in md
                for cell in row:
                    assert f">{esc(cell)}</td>" in page


def test_html_is_self_contained_and_embeds_the_charts() -> None:
    page = render_html(_report())
    assert "http://" not in page and "https://" not in page and "<script" not in page
    assert "url(" not in page and "@import" not in page
    images = re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([A-Za-z0-9+/=]+)">', page)
    assert len(images) == len(charts.CHARTS) == 4
    assert page.count("<img") == 4
    assert all(base64.b64decode(data).startswith(PNG) for data in images)


def test_charts_are_deterministic() -> None:
    assert charts.draw(_report()) == charts.draw(_report())
    assert b"Software" not in charts.draw(_report())["gaps"]


def test_findings_link_to_existing_sections() -> None:
    page, md = render_html(_report()), render_markdown(_report())
    ids = set(re.findall(r'id="([^"]+)"', page))
    assert {"summary", "targets", "attainment", "budgets", "alerts", "quality", "gaps",
            "consistency", "worst-hours"} <= ids
    links = re.findall(r'href="#([^"]+)"', page)
    assert links == ["gaps", "attainment", "alerts"]
    assert set(links) <= ids
    md_ids = set(re.findall(r'<a id="([^"]+)"></a>', md))
    assert set(re.findall(r"\]\(#([^)]+)\)", md)) <= md_ids and len(md_ids) == 9
    assert md.count("_Chart in the HTML variant") == 4


def test_strings_from_data_are_escaped() -> None:
    assert esc('<b>"x"&') == "&lt;b&gt;&quot;x&quot;&amp;"
    assert md_escape("a|<b>") == "a\\|&lt;b&gt;"
    page = render_html(_report())
    assert "<b>" not in page


def test_empty_report_renders_with_placeholders() -> None:
    page, md = render_html(_empty()), render_markdown(_empty())
    assert "<img" not in page and page.count("no data to chart") == 4
    assert page.count(fmt.NO_DATA) == 10 and md.count(fmt.NO_DATA) == 10
    assert "Nothing stands out" in page and "Nothing stands out" in md
    assert charts.draw(_empty()) == {}


# --- queues (SPEC 9) -----------------------------------------------------------------------


def _queued() -> Report:
    """``_report`` with chat's queues billing and sales, and a queue alert on billing."""
    r = _report()
    return msgspec.structs.replace(
        r,
        queues={"chat": ("billing", "sales")},
        queue_targets=[
            Target("chat", "time", "first_response", "service_level", None, 30.0, "<=", 0.4375,
                   None, 32, "billing"),
            Target("chat", "threshold", "service_level", "service_level", 0.75, None, "<", 0.9125,
                   True, 23, "sales"),
        ],
        queue_attainment=[
            Attainment("chat", "service_level", "warning", 0.75, "<", 144, 36, 4, 0.25, 32,
                       "billing"),
            Attainment("chat", "oldest_wait_s", "critical", 90.0, ">", 288, 287, 0, 287 / 288,
                       None, "sales"),
        ],
        queue_budgets=[Budget("queue_sl", "chat", "service_level", 0.9, 14, 32, 18, 3.2, 5.625,
                              "billing")],
        episodes=[*r.episodes, Episode("chat", "service_level", "warning", T0 + 5 * H,
                                       T0 + 7 * H + 30 * M, 150 * M, 150 * M, 0, 0, "billing")],
        queue_alert_time_ms={("chat", "billing"): 150 * M},
    )


#: the queue figures of ``_queued`` as the reader must see them, in both formats
QUEUE_FIGURES = (
    "Queues: chat: billing, sales.",
    # targets per queue
    "within 30 s", "43.8%", "32", "not below 75.0%", "91.2%", "23",
    # attainment per queue
    "warning not below 75.0%", "144", "36", "25.0%", "critical not above 1 min", "287", "99.7%",
    # budgets per queue
    "queue_sl", "90.0%", "14", "18", "3.2", "562.5%",
    # the queue alert and its time
    sections.WHOLE_CHANNEL, "2024-05-01 05:00 UTC", "2024-05-01 07:30 UTC", "2 h 30 min",
    "Alert time per queue",
)


def test_both_formats_carry_the_queue_figures() -> None:
    page, md = render_html(_queued()), render_markdown(_queued())
    for figure in QUEUE_FIGURES:
        assert esc(figure) in page, figure
        assert md_escape(figure) in md, figure
    for section in sections.sections(_queued()):
        for table in section.tables:
            for row in table.rows:
                assert "| " + " | ".join(md_escape(c) for c in row) + " |" in md
                for cell in row:
                    assert f">{esc(cell)}</td>" in page


def test_queue_rows_sit_under_their_channel() -> None:
    found = {s.anchor: s for s in sections.sections(_queued())}
    targets, attained, budgets = found["queues"].tables
    assert targets.headers[:3] == ("Channel", "Queue", "Kind")
    assert [row[:2] for row in targets.rows] == [("chat", "billing"), ("chat", "sales")]
    assert attained.rows[0] == ("chat", "billing", "service_level", "warning not below 75.0%",
                                "144", "36", "4", "25.0%", "32")
    assert budgets.rows == [("queue_sl", "chat", "billing", "90.0%", "14", "32", "18", "3.2",
                             "562.5%")]
    episodes, per_channel, per_queue = found["alerts"].tables
    assert episodes.headers[:3] == ("Channel", "Queue", "Indicator")
    assert [row[:3] for row in episodes.rows] == [
        ("phone", sections.WHOLE_CHANNEL, "service_level"),
        ("chat", sections.WHOLE_CHANNEL, "oldest_wait_s"), ("chat", "billing", "service_level")]
    # the channel's alert time is its own alerts'; the queue's is apart
    assert per_channel.rows == [("chat", "4 h 00 min"), ("phone", "1 h 05 min")]
    assert per_queue.rows == [("chat", "billing", "2 h 30 min")]


def test_the_queue_section_follows_the_attainment_and_links() -> None:
    anchors = [s.anchor for s in sections.sections(_queued())]
    assert anchors[anchors.index("attainment") + 1] == "queues"
    page, md = render_html(_queued()), render_markdown(_queued())
    assert 'id="queues"' in page and '<a id="queues"></a>' in md
    assert "## Queues" in md and "<h2>Queues</h2>" in page
    # no chart of its own: still the four
    assert page.count("<img") == 4 and md.count("_Chart in the HTML variant") == 4


def test_no_queue_section_nor_column_without_queues() -> None:
    page, md = render_html(_report()), render_markdown(_report())
    assert 'id="queues"' not in page and "Queue" not in md and "Queue" not in page
    assert sections.WHOLE_CHANNEL not in md
    # a queue alert without a listed queue (a rule on a channel's only queue) still shows it
    lone = msgspec.structs.replace(_report(), episodes=[Episode(
        "phone", "service_level", "warning", T0, None, H, None, 0, 0, "main")],
        queue_alert_time_ms={("phone", "main"): H})
    found = {s.anchor: s for s in sections.sections(lone)}
    assert "queues" not in found
    assert found["alerts"].tables[0].rows[0][:2] == ("phone", "main")
