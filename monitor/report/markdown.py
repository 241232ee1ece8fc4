"""The report as Markdown: the same sections and cells as the HTML variant (both come from
``sections.sections``), for a wiki, a ticket or a terminal. No charts: each section that has one says
so, since a Markdown file cannot carry them without external files.
"""

from __future__ import annotations

from monitor.report import charts
from monitor.report.fmt import NA, NO_DATA, finding_text, when
from monitor.report.model import Report
from monitor.report.sections import Section, Table, sections


def md_escape(text: str) -> str:
    """Escape what would break a table cell or start markup: pipes, backslashes, HTML, emphasis."""
    for ch in ("\\", "|", "*", "_", "`", "[", "]"):
        text = text.replace(ch, "\\" + ch)
    return text.replace("<", "&lt;").replace(">", "&gt;").replace("\n", " ")


def _table(t: Table) -> list[str]:
    caption = [f"**{md_escape(t.caption)}**", ""] if t.caption else []
    if not t.rows:
        return [*caption, f"_{NO_DATA}_", ""]
    align = ["---", *("---:" for _ in t.headers[1:])]
    lines = ["| " + " | ".join(md_escape(h) for h in t.headers) + " |",
             "| " + " | ".join(align) + " |"]
    lines.extend("| " + " | ".join(md_escape(c) for c in row) + " |" for row in t.rows)
    return [*caption, *lines, ""]


def _section(s: Section) -> list[str]:
    out = [f'<a id="{s.anchor}"></a>', "", f"## {md_escape(s.title)}", ""]
    for line in s.lines:
        out.extend([md_escape(line), ""])
    for t in s.tables:
        out.extend(_table(t))
    if s.chart is not None:
        out.extend([f"_Chart in the HTML variant: {charts.CHARTS[s.chart][1]}._", ""])
    return out


def render_markdown(report: Report) -> str:
    """The whole report as one Markdown document."""
    title = f"Service quality report {when(report.from_ms)} to {when(report.to_ms)}"
    out = [f"# {md_escape(title)}", "",
           f"Channels: {md_escape(', '.join(report.channels) or NA)}  ",
           f"Generated at {when(report.generated_at_ms)}", "", "## What to look at", ""]
    if report.findings:
        out.extend(f"- [{md_escape(finding_text(f))}](#{f.anchor})" for f in report.findings)
    else:
        out.append("_Nothing stands out: no negative gap, no SLA miss, no alert._")
    out.append("")
    for s in sections(report):
        out.extend(_section(s))
    return "\n".join(out).rstrip("\n") + "\n"
