"""What every peer shares: its command line and a watchdog that ends a stuck process."""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import threading


def base_parser(description: str) -> argparse.ArgumentParser:
    """The arguments the benchmark driver passes to every peer."""
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--expected", type=int, required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--timeout-s", type=float, default=600.0)
    return ap


def hard_exit(name: str, code: int, message: str, delay: float,
              cleanup: str | None = None) -> threading.Timer:
    """End the process with ``code`` after ``delay`` seconds unless cancelled (a daemon thread):
    frameworks that hang on shutdown must not hang the benchmark."""

    def fire() -> None:
        print(f"{name}: {message}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        if cleanup:
            shutil.rmtree(cleanup, ignore_errors=True)
        os._exit(code)

    timer = threading.Timer(delay, fire)
    timer.daemon = True
    timer.start()
    return timer


def peak_rss_bytes() -> int:
    """This process's peak RSS. Not ``getrusage``: on Linux its maximum survives ``exec``, so a
    peer started by a large driver would report the driver's peak."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return 0


def result(name: str, events: int, seconds: float, windows: int | None) -> dict[str, object]:
    """The one JSON line a peer prints: the driver reads nothing else from its stdout."""
    return {
        "name": name,
        "events": events,
        "seconds": round(seconds, 4),
        "events_per_s": round(events / seconds, 1) if seconds > 0 else None,
        "peak_rss_bytes": peak_rss_bytes(),
        "windows": windows,
    }
