"""``sqm dashboards``: the Grafana dashboards of the config as JSON files, one per dashboard."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from grafana_foundation_sdk.builders import dashboard
from grafana_foundation_sdk.cog.encoder import JSONEncoder

from monitor.config import Config
from monitor.ops.dashboards.overview import overview
from monitor.ops.dashboards.pipeline import pipeline
from monitor.ops.dashboards.servqual import servqual
from monitor.ops.dashboards.slo import slos

#: file name -> builder
DASHBOARDS: dict[str, Callable[[Config], dashboard.Dashboard]] = {
    "sqm-overview.json": overview,
    "sqm-slos.json": slos,
    "sqm-pipeline.json": pipeline,
    "sqm-servqual.json": servqual,
}


def as_dict(cfg: Config, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(JSONEncoder().encode(DASHBOARDS[name](cfg).build()))
    return data


def render(cfg: Config) -> dict[str, str]:
    """File name -> JSON text (sorted keys, two-space indent, a final newline)."""
    return {name: json.dumps(as_dict(cfg, name), indent=2, sort_keys=True) + "\n"
            for name in DASHBOARDS}


def write(cfg: Config, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, text in render(cfg).items():
        path = out_dir / name
        path.write_text(text, encoding="utf-8")
        paths.append(path)
    return paths
