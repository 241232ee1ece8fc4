"""The report's HTML in a real browser (SPEC section 8): headless Chromium opens the rendered
file with no console error or exception, decodes every embedded chart (complete, naturalWidth >
0) and renders a screenshot of the expected width; the empty report opens cleanly too.

The Reports are the hand-built ones of tests/unit/test_report_render.py, loaded from that file:
tests/unit is on sys.path only when pytest collects a test from it, so the module is imported by
path (and shared with pytest's own import of it when both run in one session)."""

from __future__ import annotations

import importlib.util
import sys
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import cast

import pytest
from browser import CHROMIUM, open_page, png_size

from monitor.report.html import render_html
from monitor.report.model import Report

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not on PATH (Debian's chromium package; make setup installs it)")

_UNIT = Path(__file__).resolve().parents[1] / "unit" / "test_report_render.py"
WIDTH = 1200
#: the report has four charts, each an embedded PNG
CHARTS = 4


def _render_module() -> ModuleType:
    name = "test_report_render"
    module = sys.modules.get(name)
    if module is not None and Path(module.__file__ or "").resolve() == _UNIT:
        return module
    spec = importlib.util.spec_from_file_location(name, _UNIT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def _builder(name: str) -> Callable[[], Report]:
    return cast(Callable[[], Report], getattr(_render_module(), name))


def _write(report: Report, directory: Path) -> Path:
    path = directory / "report.html"
    path.write_text(render_html(report), encoding="utf-8")
    return path


def test_report_opens_cleanly_in_chromium(tmp_path: Path) -> None:
    html = _write(_builder("_report")(), tmp_path)
    shot = tmp_path / "report.png"
    started = time.monotonic()
    page = open_page(html, shot, width=WIDTH)
    assert time.monotonic() - started < 15
    assert page.console == []
    assert len(page.images) == CHARTS
    assert all(complete and width > 0 for complete, width in page.images), page.images
    assert page.ids > 0
    assert png_size(shot.read_bytes()) == page.screenshot_size
    assert page.screenshot_size[0] == WIDTH
    # a blank page compresses to a few kB; the report's text and charts do not
    assert page.screenshot_bytes == shot.stat().st_size > 50_000


def test_empty_report_opens_cleanly_in_chromium(tmp_path: Path) -> None:
    html = _write(_builder("_empty")(), tmp_path)
    shot = tmp_path / "empty.png"
    page = open_page(html, shot, width=WIDTH)
    assert page.console == []
    assert page.images == []
    assert page.screenshot_size[0] == WIDTH and page.screenshot_bytes > 5_000
