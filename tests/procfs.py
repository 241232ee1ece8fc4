"""A process's resident memory, read from ``/proc`` (Linux): for the memory checks of the tests."""

from __future__ import annotations

from pathlib import Path


def rss_kib(pid: int) -> int:
    """The resident size of process ``pid`` in KiB (``VmRSS``)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")
