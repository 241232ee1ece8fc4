"""The packages depend on each other only in the direction data flows.

Every package of ``monitor`` has a rank; a module may import its own package and packages of a
lower rank, never one above it, and no application imports another. The domain is pure: no
Kafka or Prometheus client, no configuration loader, no byte format. Checked on the import
statements of every module (``TYPE_CHECKING`` ones included), so a shortcut fails here, not in
review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "monitor"

#: package -> rank. Lower ranks are further down the flow; a package imports only its own rank's
#: package and lower ones. Same-rank packages may not import each other (a circle would need it).
RANKS: dict[str, int] = {
    # the pure core, itself layered: windows and events, then alerts on them, then the
    # quality index, then the report's figures, which use all three
    "domain.stream": 0,
    "domain.alerts": 1,
    "domain.quality": 2,
    "domain.report": 3,
    # what everything else is built on: the records on the topics and the configuration
    "contract": 10,
    "config": 10,
    # durable state of the stages
    "state": 20,
    # the stages: pure orchestration of the domain behind one protocol
    "stages": 30,
    # adapters: thin wrappers around Kafka, Prometheus and the process
    "kafka": 40,
    "metrics": 40,
    "runtime": 40,
    # applications: each a command, none importing another
    "worker": 50,
    "quality": 50,
    "report": 50,
    "ops": 50,
    "sim": 50,
    # argparse and dispatch
    "cli": 60,
}
#: the applications: none may import a sibling
APPS = frozenset({"worker", "quality", "report", "ops", "sim"})

#: third-party modules a package must not import (the domain writes no byte format)
CLIENTS = ("aiokafka", "prometheus_client", "faust", "mode")
PURE: dict[str, tuple[str, ...]] = {
    "domain": (*CLIENTS, "orjson", "msgspec.json", "json", "tomllib", "yaml"),
    "contract": CLIENTS,
    "config": CLIENTS,
    "state": CLIENTS,
    "stages": (*CLIENTS, "orjson", "json"),
}


def package_of(module: str) -> str | None:
    """The ranked package a ``monitor.*`` module belongs to (longest match)."""
    if not module.startswith("monitor."):
        return None
    rest = module[len("monitor."):]
    for name in sorted(RANKS, key=len, reverse=True):
        if rest == name or rest.startswith(name + "."):
            return name
    return rest.split(".")[0]


def imports(path: Path) -> set[str]:
    """Every module name an import statement of ``path`` names (``from a import b``: a and a.b)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module is not None:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def modules(root: Path = PACKAGE) -> dict[str, Path]:
    """Every module of the package by dotted name."""
    out = {}
    for path in sorted(root.rglob("*.py")):
        parts = path.relative_to(root.parent).with_suffix("").parts
        if parts[-1] == "__init__":
            parts = parts[:-1]
        out[".".join(parts)] = path
    return out


def _edge_violation(own: str, name: str) -> str | None:
    other = package_of(name)
    if other is None or other == own or other not in RANKS:
        return None
    if RANKS[other] > RANKS[own]:
        return "imports upward"
    if RANKS[other] == RANKS[own]:
        return "imports a sibling application" if own in APPS else "imports a sibling"
    return None


def violations(root: Path = PACKAGE) -> list[str]:
    found = []
    for module, path in modules(root).items():
        own = package_of(module)
        if own is None or any(r.startswith(module[len("monitor."):] + ".") for r in RANKS):
            continue  # ``monitor`` and ``monitor.domain`` themselves: a package of packages
        if own not in RANKS:
            found.append(f"{module}: package {own} has no rank in test_layout.RANKS")
            continue
        top = own.split(".")[0]
        for name in sorted(imports(path)):
            why = _edge_violation(own, name)
            if why is not None:
                found.append(f"{module} {why}: {name}")
            for prefix in PURE.get(top, ()):
                if name == prefix or name.startswith(prefix + "."):
                    found.append(f"{module} is pure but imports {name}")
    return found


def cycles(root: Path = PACKAGE) -> list[list[str]]:
    """Import circles between modules (within a package too): each as the modules on it."""
    mods = modules(root)
    # (a module inside a package names the package when it imports a sibling submodule from it:
    # ``from monitor.config import check``; that runs no code of the package's own)
    graph = {m: sorted({n for n in imports(p) if n in mods and n != m and not m.startswith(n + ".")})
             for m, p in mods.items()}
    found: list[list[str]] = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done

    def visit(m: str, path: list[str]) -> None:
        state[m] = 1
        for n in graph[m]:
            if state.get(n) == 1:
                found.append([*path[path.index(n):], n])
            elif n not in state:
                visit(n, [*path, n])
        state[m] = 2

    for m in graph:
        if m not in state:
            visit(m, [m])
    return found


def test_no_import_circles() -> None:
    assert cycles() == []


def test_a_planted_circle_is_found(tmp_path: Path) -> None:
    root = _plant(tmp_path, {
        "stages/interactions/processor.py": "from monitor.stages.interactions import persist\n",
        "stages/interactions/persist.py": ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
                                           "    from monitor.stages.interactions.processor import P\n"),
    })
    assert cycles(root) == [["monitor.stages.interactions.persist",
                             "monitor.stages.interactions.processor",
                             "monitor.stages.interactions.persist"]]


def test_imports_point_down_only() -> None:
    assert violations() == []


def _plant(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "monitor"
    for rel, text in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


@pytest.mark.parametrize(("files", "expected"), [
    ({"domain/stream/events.py": "from monitor.config import Config\n"},
     "monitor.domain.stream.events imports upward: monitor.config"),
    ({"domain/stream/window.py": "from monitor.domain.alerts import Rule\n"},
     "monitor.domain.stream.window imports upward: monitor.domain.alerts.Rule"),
    ({"contract/input.py": "import monitor.state.statelog\n"},
     "monitor.contract.input imports upward: monitor.state.statelog"),
    ({"state/windows.py": "from monitor.stages.aggregate import aggregator\n"},
     "monitor.state.windows imports upward: monitor.stages.aggregate"),
    ({"stages/interactions/processor.py": "from monitor.kafka import admin\n"},
     "monitor.stages.interactions.processor imports upward: monitor.kafka"),
    ({"metrics/exporter.py": "from monitor.quality.combine import PeriodResult\n"},
     "monitor.metrics.exporter imports upward: monitor.quality.combine"),
    ({"report/build.py": "from monitor.worker.loop import Worker\n"},
     "monitor.report.build imports a sibling application: monitor.worker.loop"),
    ({"config/loader.py": "from monitor.contract.topics import TOPIC_INPUT\n"},
     "monitor.config.loader imports a sibling: monitor.contract.topics"),
    ({"domain/stream/events.py": "import orjson\n"},
     "monitor.domain.stream.events is pure but imports orjson"),
    ({"stages/aggregate/aggregator.py": "from aiokafka import TopicPartition\n"},
     "monitor.stages.aggregate.aggregator is pure but imports aiokafka"),
])
def test_a_planted_violation_fails(tmp_path: Path, files: dict[str, str], expected: str) -> None:
    root = _plant(tmp_path, files)
    assert expected in violations(root)


def test_a_downward_import_passes(tmp_path: Path) -> None:
    root = _plant(tmp_path, {
        "stages/interactions/processor.py": ("from monitor.domain.stream.events import Event\n"
                                             "from monitor.state.statelog import StateLog\n"
                                             "from monitor.contract.input import Parser\n"),
        "worker/loop.py": "from monitor.stages.protocol import Stage\nfrom monitor.kafka import admin\n",
    })
    assert violations(root) == []


def test_a_package_without_a_rank_is_named(tmp_path: Path) -> None:
    root = _plant(tmp_path, {"newthing/x.py": "x = 1\n"})
    assert violations(root) == ["monitor.newthing.x: package newthing has no rank in test_layout.RANKS"]


def test_the_worker_loads_neither_faust_nor_the_numerics_of_the_quality_index() -> None:
    """Only the quality stage needs Faust, and only AHP and entropy weights need numpy and
    pymcdm (which brings scipy and matplotlib): the worker and the other commands would carry
    about 100 MiB and a second of start-up for nothing."""
    import subprocess
    import sys

    code = ("import sys, monitor.cli, monitor.config, monitor.worker.loop; "
            "monitor.config.load(None, env={}); "
            "print(sorted(m for m in ('numpy', 'scipy', 'matplotlib', 'pymcdm', 'faust') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"
