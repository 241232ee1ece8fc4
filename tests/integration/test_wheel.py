"""The wheel carries everything ``sqm topics`` needs: installed from it, with no checkout in sight.

Builds the wheel (``pip wheel --no-deps``) from a copy of the repository's working tree without
its build artefacts: an in-place build would write ``build/`` and ``*.egg-info`` into the
repository, and setuptools reads a stale ``*.egg-info/SOURCES.txt`` back into the wheel, which
could hide a missing package-data declaration. Installs the wheel into a fresh venv (its
dependencies come from PyPI through pip's cache), then runs that venv's ``sqm topics apply`` and
``sqm topics check`` against the session broker from a directory outside the repository.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

from monitor.contract.topics import load_definitions

REPO = Path(__file__).resolve().parents[2]

#: Build artefacts, caches and environments that are not part of the sources.
_NOT_SOURCES = shutil.ignore_patterns(
    ".git", ".venv", "venv", "build", "dist", "*.egg-info", "__pycache__", "*.pyc",
    ".mypy_cache", ".ruff_cache", ".pytest_cache", ".run", "target",
)
#: pip's per-connection timeout (s); a whole pip run is bounded by ``_PIP_RUN_TIMEOUT_S``.
_PIP_SOCKET_TIMEOUT_S = 30
_PIP_RUN_TIMEOUT_S = 300.0
_SQM_TIMEOUT_S = 120.0


def _clean_env(**extra: str) -> dict[str, str]:
    """The environment minus whatever could make the venv import from elsewhere or reconfigure sqm."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV"}
        and not k.startswith("SQM_")
    }
    env.update(PYTHONNOUSERSITE="1", PIP_DISABLE_PIP_VERSION_CHECK="1", **extra)
    return env


def _run(args: list[str], cwd: Path, timeout: float, **extra_env: str) -> subprocess.CompletedProcess[str]:
    """Run ``args``; fail with its output unless it exits 0."""
    proc = subprocess.run(
        args, cwd=cwd, env=_clean_env(**extra_env), capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, (
        f"{' '.join(args)} exited {proc.returncode}\n--- stdout\n{proc.stdout}\n--- stderr\n{proc.stderr}"
    )
    return proc


def _build_wheel(tmp_path: Path) -> Path:
    """Build the wheel from a clean copy of the repository; return its path."""
    src = tmp_path / "src"
    shutil.copytree(REPO, src, ignore=_NOT_SOURCES)
    out = tmp_path / "wheels"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--timeout", str(_PIP_SOCKET_TIMEOUT_S),
         str(src), "-w", str(out)],
        cwd=tmp_path, timeout=_PIP_RUN_TIMEOUT_S,
    )
    (wheel,) = out.glob("sqm_monitor-*.whl")
    return wheel


def _venv_with(wheel: Path, venv: Path) -> Path:
    """A fresh venv with ``wheel`` installed; returns its ``bin`` directory."""
    _run([sys.executable, "-m", "venv", str(venv)], cwd=venv.parent, timeout=120.0)
    bin_dir = venv / "bin"
    _run(
        [str(bin_dir / "python"), "-m", "pip", "install", "--quiet",
         "--timeout", str(_PIP_SOCKET_TIMEOUT_S), str(wheel)],
        cwd=venv.parent, timeout=_PIP_RUN_TIMEOUT_S,
    )
    return bin_dir


def test_installed_wheel_applies_and_checks_the_topics(kafka_bootstrap: str, tmp_path: Path) -> None:
    names = [d.name for d in load_definitions()]
    wheel = _build_wheel(tmp_path)
    bin_dir = _venv_with(wheel, tmp_path / "venv")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert not elsewhere.resolve().is_relative_to(REPO)

    # The venv imports its own copy of the package, and finds the data next to it.
    where = _run(
        [str(bin_dir / "python"), "-c",
         "import monitor, monitor.contract.topics as t; print(monitor.__file__); print(t.TOPICS_DIR)"],
        cwd=elsewhere, timeout=_SQM_TIMEOUT_S,
    ).stdout.splitlines()
    venv = (tmp_path / "venv").resolve()
    for line in where:
        path = Path(line).resolve()
        assert path.is_relative_to(venv), where
        assert not path.is_relative_to(REPO), where

    broker = {"SQM_BROKER_URL": f"kafka://{kafka_bootstrap}"}
    applied = _run([str(bin_dir / "sqm"), "topics", "apply"], elsewhere, _SQM_TIMEOUT_S, **broker)
    lines = [line.split() for line in applied.stdout.splitlines()]
    assert [line[1] for line in lines] == names, applied.stdout
    assert all(line[0] in ("created", "ok") for line in lines), applied.stdout

    checked = _run([str(bin_dir / "sqm"), "topics", "check"], elsewhere, _SQM_TIMEOUT_S, **broker)
    assert [line.split() for line in checked.stdout.splitlines()] == [["ok", n] for n in names], (
        checked.stdout
    )
