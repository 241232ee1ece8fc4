"""``sqm report``: parse the range, read the output topics with a progress bar (``read``: the
queues' topic too when queues are declared), build (``build``), render, write.

Times given to ``--from`` and ``--to`` (``--to`` is exclusive), all in UTC unless an offset says
otherwise:

* RFC 3339 with an offset: ``2026-12-01T00:00:00Z``, ``2026-12-01T09:00:00+01:00``;
* a date: ``2026-12-01`` is that day's midnight UTC;
* ``now``: the time the command starts;
* relative to now: ``-7d`` or ``now-7d`` (units ``s``, ``m`` minutes, ``h``, ``d``, ``w`` weeks).
  ``argparse`` reads a bare ``-7d`` after a space as an option, so write ``--from=-7d`` or
  ``--from now-7d``.

A weekly report: ``sqm report --from=-7d --to now``, or for a calendar week
``sqm report --from 2026-11-30 --to 2026-12-07``.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Final

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

from monitor.config import Config
from monitor.domain.stream.timefmt import parse_rfc3339_ms
from monitor.kafka.reader import ReadError
from monitor.report.build import build_report
from monitor.report.model import Inputs, Report
from monitor.report.read import TopicProgress, read_inputs

FORMATS: Final = ("html", "md")
_UNIT_MS: Final = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}
_RELATIVE: Final = re.compile(r"^(?:now)?-(\d{1,9})([smhdw])$")
_DATE: Final = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_TIME_FORMS: Final = ("RFC 3339 with an offset (2026-12-01T00:00:00Z), a date (2026-12-01, UTC "
                      "midnight), now, or now minus an amount: -7d, now-12h (s, m, h, d, w)")

#: ``read(cfg, from_ms, to_ms, progress)``: the topics' in-range records, decoded
#: (``read.read_inputs``)
Reader = Callable[[Config, int, int, TopicProgress | None], Inputs]


class UsageError(ValueError):
    """A bad option value; the message starts with the option's name."""


def parse_time(text: str, now_ms: int, option: str) -> int:
    """Epoch ms of one ``--from``/``--to`` value (module docstring for the forms)."""
    t = text.strip()
    if t == "now":
        return now_ms
    if m := _RELATIVE.match(t):
        return now_ms - int(m.group(1)) * _UNIT_MS[m.group(2)]
    if _DATE.match(t):
        try:
            day = date.fromisoformat(t)
        except ValueError:
            raise UsageError(f"{option}: {text!r} is not a calendar date") from None
        return int(datetime(day.year, day.month, day.day, tzinfo=UTC).timestamp()) * 1000
    ms = parse_rfc3339_ms(t)
    if ms is None:
        raise UsageError(f"{option}: {text!r} is not a time; expected {_TIME_FORMS}")
    return ms


def parse_range(from_text: str, to_text: str, now_ms: int) -> tuple[int, int]:
    """``[from, to)`` in epoch ms; ``--from`` must come before ``--to``."""
    from_ms = parse_time(from_text, now_ms, "--from")
    to_ms = parse_time(to_text, now_ms, "--to")
    if from_ms >= to_ms:
        raise UsageError(f"--from: {from_text!r} is not before --to {to_text!r}")
    return from_ms, to_ms


def check_channels(cfg: Config, channels: Iterable[str]) -> tuple[str, ...]:
    """The ``--channel`` values, each a configured channel (none: all of them)."""
    given = tuple(channels)
    unknown = [ch for ch in given if ch not in cfg.channel_names]
    if unknown:
        raise UsageError(f"--channel: {unknown[0]!r} is not configured "
                         f"(channels: {', '.join(cfg.channel_names)})")
    return given


def compact_utc(ms: int) -> str:
    """``20261201T000000Z``: a time that is safe in a file name on every system."""
    return datetime.fromtimestamp(ms // 1000, UTC).strftime("%Y%m%dT%H%M%SZ")


def default_out(from_ms: int, to_ms: int, fmt: str) -> Path:
    """``sqm-report-<from>-<to>.<html|md>`` in the current directory."""
    return Path(f"sqm-report-{compact_utc(from_ms)}-{compact_utc(to_ms)}.{fmt}")


def render(report: Report, fmt: str) -> str:
    """The report as ``fmt`` text (``html`` draws the charts: matplotlib is imported then)."""
    from monitor.report.html import render_html
    from monitor.report.markdown import render_markdown

    return render_html(report) if fmt == "html" else render_markdown(report)


@contextmanager
def progress_bar() -> Iterator[TopicProgress]:
    """A rich progress bar on standard error, one row per topic, over the offsets read."""
    bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TimeElapsedColumn(), console=Console(stderr=True))
    tasks: dict[str, TaskID] = {}

    def update(topic: str, done: int, total: int) -> None:
        if topic not in tasks:
            tasks[topic] = bar.add_task(f"reading {topic}", total=max(total, 1))
        bar.update(tasks[topic], completed=done if total else 1, total=max(total, 1))

    with bar:
        yield update


def report_main(cfg: Config, from_text: str, to_text: str, channels: Sequence[str], fmt: str,
                out: str | Path | None, *, now_ms: int | None = None,
                read: Reader = read_inputs) -> int:
    """``sqm report``: 0 written, 2 bad options, 1 the broker could not be read."""
    now = int(time.time() * 1000) if now_ms is None else now_ms
    try:
        if fmt not in FORMATS:
            raise UsageError(f"--format: {fmt!r} is not one of {', '.join(FORMATS)}")
        from_ms, to_ms = parse_range(from_text, to_text, now)
        chans = check_channels(cfg, channels)
    except UsageError as exc:
        print(f"sqm report: {exc}", file=sys.stderr)
        return 2
    try:
        with progress_bar() as progress:
            inputs = read(cfg, from_ms, to_ms, progress)
    except ReadError as exc:
        print(f"sqm report: cannot read {cfg.broker_url}: {exc}", file=sys.stderr)
        return 1
    report = build_report(cfg, inputs, from_ms, to_ms, chans, now)
    path = Path(out) if out is not None else default_out(from_ms, to_ms, fmt)
    path.write_text(render(report, fmt), encoding="utf-8")
    print(path)
    return 0
