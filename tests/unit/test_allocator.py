"""The worker's glibc allocator settings: the mmap threshold applied on glibc, never over the
operator's own; freed heap given back when idle, at a bounded cost."""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import platform

import pytest
from procfs import rss_kib

from monitor.runtime.allocator import HeapRelease, fix_mmap_threshold, heap_releaser


def test_the_environment_wins(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MALLOC_MMAP_THRESHOLD_", "262144")
    assert fix_mmap_threshold() is False


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc" or ctypes.util.find_library("c") is None,
                    reason="glibc only")
def test_glibc_takes_the_threshold(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MALLOC_MMAP_THRESHOLD_", raising=False)
    assert fix_mmap_threshold() is True


class FakeClock:
    def __init__(self) -> None:
        self.now_s = 100.0

    def __call__(self) -> float:
        return self.now_s


def test_release_at_most_once_a_second_when_cheap() -> None:
    clock = FakeClock()
    calls: list[int] = []
    release = HeapRelease(calls.append, clock)
    release()
    clock.now_s += 0.999
    release()
    assert calls == [0]
    clock.now_s += 0.001
    release()
    assert calls == [0, 0]


def test_a_slow_release_waits_a_hundred_times_its_duration() -> None:
    clock = FakeClock()
    calls: list[float] = []

    def trim(pad: int) -> None:
        calls.append(clock.now_s)
        clock.now_s += 0.125  # a large fragmented heap: 125 ms
    release = HeapRelease(trim, clock)
    release()  # starts at 100.0, next no sooner than 100.0 + 12.5
    clock.now_s = 112.4
    release()
    clock.now_s = 112.6
    release()
    assert calls == [100.0, 112.6]


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc" or ctypes.util.find_library("c") is None,
                    reason="glibc only")
def test_glibc_gives_freed_heap_back() -> None:
    """64 MiB of small heap blocks, all freed but the last (which keeps the heap's top in place,
    so free() alone returns nothing): the release gives at least half of it back."""
    libc = ctypes.CDLL(ctypes.util.find_library("c"))
    libc.malloc.restype = ctypes.c_void_p
    libc.malloc.argtypes = [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    block = 16 * 1024  # under the mmap threshold: from the heap
    blocks = [libc.malloc(block) for _ in range(64 * 1024 * 1024 // block)]
    assert all(blocks)
    for b in blocks:
        ctypes.memset(b, 1, block)  # resident
    for b in blocks[:-1]:
        libc.free(b)
    before = rss_kib(os.getpid())
    release = heap_releaser()
    assert release is not None
    release()
    after = rss_kib(os.getpid())
    libc.free(blocks[-1])
    assert before - after >= 32 * 1024, (before, after)
