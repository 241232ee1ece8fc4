"""The report as one self-contained HTML5 file: inline CSS, charts as base64 PNG data URIs, no
script and no external URL, so it opens offline, in a mail client or from an archive years later.

Every string from the data goes through ``esc``; the figures come formatted from ``fmt``, the
same cells the Markdown variant prints.
"""

from __future__ import annotations

import base64
import html
from typing import Final

from monitor.report import charts
from monitor.report.fmt import NA, NO_DATA, finding_text, when
from monitor.report.model import Report
from monitor.report.sections import Section, Table, sections

#: the cell texts coloured as verdicts
_STATUS: Final = {"met": "ok", "missed": "bad", "open": "bad", "critical": "bad",
                  "warning": "warn"}
_CSS: Final = """
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:2rem auto;
max-width:70rem;padding:0 1rem;color:#1b1f24;line-height:1.4}
h1{font-size:1.6rem;margin-bottom:.2rem}h2{font-size:1.25rem;margin-top:2.2rem;
border-bottom:1px solid #d0d7de;padding-bottom:.2rem}
table{border-collapse:collapse;margin:.6rem 0;font-size:.9rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border:1px solid #d0d7de;padding:.25rem .55rem;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#f6f8fa}
td.ok{background:#dafbe1;color:#116329}td.bad{background:#ffebe9;color:#a40e26}
td.warn{background:#fff8c5;color:#7d4e00}
.nodata{color:#57606a;font-style:italic}.meta{color:#57606a;margin:.1rem 0}
img{max-width:100%;height:auto;display:block;margin:.6rem 0}
nav ul{padding-left:1.2rem}
"""


def esc(text: str) -> str:
    """Escape a string for HTML text and attribute values (quotes too)."""
    return html.escape(text, quote=True)


def _cell(text: str) -> str:
    status = _STATUS.get(text)
    return f'<td class="{status}">{esc(text)}</td>' if status else f"<td>{esc(text)}</td>"


def _table(t: Table) -> str:
    if not t.rows:
        caption = f"{esc(t.caption)}: " if t.caption else ""
        return f'<p class="nodata">{caption}{esc(NO_DATA)}</p>'
    parts = ["<table>"]
    if t.caption:
        parts.append(f"<caption>{esc(t.caption)}</caption>")
    parts.append("<thead><tr>" + "".join(f'<th scope="col">{esc(h)}</th>' for h in t.headers)
                 + "</tr></thead><tbody>")
    parts.extend("<tr>" + "".join(_cell(c) for c in row) + "</tr>" for row in t.rows)
    parts.append("</tbody></table>")
    return "\n".join(parts)


def _chart(key: str | None, pngs: dict[str, bytes]) -> str:
    if key is None:
        return ""
    alt = charts.CHARTS[key][1]
    if key not in pngs:
        return f'<p class="nodata">{esc(alt)}: no data to chart.</p>'
    data = base64.b64encode(pngs[key]).decode("ascii")
    return f'<img alt="{esc(alt)}" src="data:image/png;base64,{data}">'


def _section(s: Section, pngs: dict[str, bytes]) -> str:
    body = [f'<section id="{esc(s.anchor)}">', f"<h2>{esc(s.title)}</h2>"]
    body.extend(f"<p>{esc(line)}</p>" for line in s.lines)
    body.extend(_table(t) for t in s.tables)
    body.append(_chart(s.chart, pngs))
    body.append("</section>")
    return "\n".join(part for part in body if part)


def _findings(r: Report) -> str:
    if not r.findings:
        return '<p class="nodata">Nothing stands out: no negative gap, no SLA miss, no alert.</p>'
    items = "".join(f'<li><a href="#{esc(f.anchor)}">{esc(finding_text(f))}</a></li>'
                    for f in r.findings)
    return f"<nav><ul>{items}</ul></nav>"


def render_html(report: Report) -> str:
    """The whole report as one HTML5 document (UTF-8 text)."""
    pngs = charts.draw(report)
    title = f"Service quality report {when(report.from_ms)} to {when(report.to_ms)}"
    head = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{esc(title)}</title>", f"<style>{_CSS}</style>", "</head>", "<body>",
            "<header>", f"<h1>{esc(title)}</h1>",
            f'<p class="meta">Channels: {esc(", ".join(report.channels) or NA)}</p>',
            f'<p class="meta">Generated at {esc(when(report.generated_at_ms))}</p>', "</header>",
            "<h2>What to look at</h2>", _findings(report)]
    body = [_section(s, pngs) for s in sections(report)]
    return "\n".join([*head, *body, "</body>", "</html>"]) + "\n"
