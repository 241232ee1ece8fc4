"""The worker's glibc allocator setting: applied on glibc, never over the operator's own."""

from __future__ import annotations

import ctypes.util
import platform

import pytest

from monitor.allocator import fix_mmap_threshold


def test_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "262144")
    assert fix_mmap_threshold() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc" or ctypes.util.find_library("c") is None,
                    reason="glibc only")
def test_glibc_takes_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert fix_mmap_threshold() is True
