"""The packages depend on each other only in the direction data flows.

The domain writes no byte format and knows neither Kafka nor the configuration loader; the
stages and ``wire`` know no Kafka client, no Prometheus client and no configuration loader.
Checked on the import statements of every module, so a shortcut fails here, not in review.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[2] / "monitor"

#: package -> module prefixes its modules must not import
FORBIDDEN: dict[str, tuple[str, ...]] = {
    "domain": ("orjson", "msgspec.json", "json", "aiokafka", "prometheus_client", "monitor.config",
               "monitor.kafka", "monitor.wire", "monitor.stage1", "monitor.stage2",
               "monitor.metrics", "monitor.sim"),
    "stage1": ("orjson", "aiokafka", "prometheus_client", "monitor.config", "monitor.metrics",
               "monitor.kafka.worker", "monitor.kafka.task", "monitor.kafka.outbox",
               "monitor.kafka.topics", "monitor.stage2"),
    "stage2": ("orjson", "aiokafka", "prometheus_client", "monitor.config", "monitor.metrics",
               "monitor.kafka", "monitor.wire", "monitor.stage1"),
    "wire": ("aiokafka", "prometheus_client", "monitor.config", "monitor.metrics",
             "monitor.kafka"),
}


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


def violations(package: str) -> list[str]:
    found = []
    for path in sorted((PACKAGE / package).glob("*.py")):
        for name in sorted(imports(path)):
            for prefix in FORBIDDEN[package]:
                if name == prefix or name.startswith(prefix + "."):
                    found.append(f"{path.name} imports {name}")
    return found


@pytest.mark.parametrize("package", sorted(FORBIDDEN))
def test_package_imports_only_downstream(package: str) -> None:
    assert (PACKAGE / package).is_dir()
    assert violations(package) == []


def test_the_check_sees_a_forbidden_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("import orjson\nfrom monitor.config import Config\n", encoding="utf-8")
    assert {"orjson", "monitor.config", "monitor.config.Config"} <= imports(module)


def test_the_worker_loads_neither_faust_nor_the_numerics_of_the_quality_index() -> None:
    """Only the quality stage needs Faust, and only AHP and entropy weights need numpy and
    pymcdm (which brings scipy and matplotlib): the worker and the other commands would carry
    about 100 MiB and a second of start-up for nothing."""
    import subprocess
    import sys

    code = ("import sys, monitor.cli, monitor.config, monitor.kafka.worker; "
            "monitor.config.load(None, env={}); "
            "print(sorted(m for m in ('numpy', 'scipy', 'matplotlib', 'pymcdm', 'faust') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True).stdout
    assert out.strip() == "[]"
