"""Benchmark peer: per-channel 60 s tumbling window counts with Quix Streams.

Usage: python bench/peers/quix_app.py --bootstrap HOST:PORT --topic TOPIC --expected N
       --group GROUP [--timeout-s 600] [--grace-ms 600000]

The pipeline a Quix Streams user writes from the windowing tutorial, stock settings except the
ones a benchmark needs (fresh consumer group, earliest offset, a temporary state dir, warnings
only):

    topic = app.topic(TOPIC, value_deserializer="json", timestamp_extractor=event_time)
    sdf = app.dataframe(topic)
    sdf = sdf.group_by("channel")                 # repartition: windows are per message key
    sdf = sdf.update(count_one)                   # side effect: how many events were seen
    sdf = sdf.tumbling_window(60_000, grace_ms=G).count().current()
    sdf = sdf.update(remember_window)             # (channel, window start) -> running count

`event_time` reads the JSON `ts` field (RFC 3339 string or integer epoch ms). The window state
lives in RocksDB with a changelog topic; Quix creates its repartition and changelog topics
itself through the Kafka admin API (the broker's auto.create.topics.enable does not matter).

`.current()` (one output per event) rather than `.final()` because `.final()` only emits closed
windows, and the last window of every channel never closes on a finite input; with `.current()`
the last output of each (channel, window) is its count, which gives `windows` exactly and lets
the script check on stderr that every event landed in a window. The grace (default 10 min) has
to cover the event-time skew between the input partitions once they are interleaved in the
repartition topic (reading a pre-loaded topic, some events arrive over 2 min of event time
behind: with a 10 s grace Quix drops about 40 % of 200,000 events as late); an event later than
the grace is dropped by Quix, and the stderr summary says how many were.

When the N-th event has been counted the app is stopped (`app.stop()`); once `app.run()` has
returned (or after 30 s if Quix's shutdown hangs) the JSON line is printed and the process ends
with exit 0.
After --timeout-s without N events it ends with exit 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import threading
import time
import warnings
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

# quixstreams imports authlib's httpx client (for Quix Cloud), which warns on import; authlib
# forces its warnings on with a filter of its own, so ours has to come after it.
try:
    from authlib.deprecate import AuthlibDeprecationWarning

    warnings.filterwarnings("ignore", category=AuthlibDeprecationWarning)
except ImportError:  # pragma: no cover - another quixstreams version
    pass
from common import base_parser, hard_exit
from common import result as peer_result
from quixstreams import Application

NAME = "quix-streams"
SHUTDOWN_GRACE_S = 30.0


def parse_args() -> argparse.Namespace:
    ap = base_parser(__doc__.splitlines()[0])
    ap.add_argument("--grace-ms", type=int, default=600_000)
    ap.add_argument(
        "--dump-windows",
        metavar="FILE",
        help="at the end, write the counts as JSON [[channel, window_start_ms, count], ...]",
    )
    return ap.parse_args()




def event_time(value: Any, headers: Any, timestamp: int, timestamp_type: Any) -> int:
    """The event's own `ts` in epoch milliseconds (RFC 3339 string or integer ms)."""
    ts = value["ts"]
    if isinstance(ts, str):
        return int(datetime.fromisoformat(ts).timestamp() * 1000)
    return int(ts)


def _text(key: Any) -> str:
    return key.decode() if isinstance(key, bytes) else str(key)


def main() -> int:
    args = parse_args()
    state_dir = tempfile.mkdtemp(prefix="quix-peer-")
    deadline = hard_exit(NAME, 1, f"timed out after {args.timeout_s} s", args.timeout_s, state_dir)

    app = Application(
        broker_address=args.bootstrap,
        consumer_group=args.group,
        auto_offset_reset="earliest",
        state_dir=state_dir,
        loglevel="WARNING",
    )
    state: dict[str, Any] = {"n": 0, "first": 0.0, "last": 0.0, "late": 0, "late_by_max": 0}
    windows: dict[tuple[Any, int], int] = {}

    def count_one(value: Any) -> None:
        n = state["n"] = state["n"] + 1
        if n == 1:
            state["first"] = time.perf_counter()
        if n == args.expected:
            state["last"] = time.perf_counter()
            app.stop()  # the poll loop ends after this message has gone through the pipeline
            # If Quix's shutdown (final commit, closing clients) hangs, report anyway.
            watchdog = threading.Timer(SHUTDOWN_GRACE_S, state["finish"])
            watchdog.daemon = True
            watchdog.start()

    def remember_window(value: Any, key: Any, timestamp: int, headers: Any) -> None:
        windows[(key, value["start"])] = value["value"]

    def on_late(value: Any, key: Any, timestamp_ms: int, late_by_ms: int, *rest: Any) -> bool:
        state["late"] += 1
        state["late_by_max"] = max(state["late_by_max"], late_by_ms)
        return False  # counted here; no log line per late event

    topic = app.topic(args.topic, value_deserializer="json", timestamp_extractor=event_time)
    sdf = app.dataframe(topic)
    sdf = sdf.group_by("channel")
    sdf = sdf.update(count_one)
    sdf = sdf.tumbling_window(60_000, grace_ms=args.grace_ms, on_late=on_late).count().current()
    sdf = sdf.update(remember_window, metadata=True)

    printed = threading.Lock()

    def finish() -> None:
        """Print the result line once and end the process (exit 0)."""
        if not printed.acquire(blocking=False):
            return
        seconds = state["last"] - state["first"]
        n = state["n"]
        result = peer_result(NAME, n, seconds, len(windows))
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
        sys.stdout.flush()
        print(
            f"{NAME}: {sum(windows.values())} of {n} events in windows, {state['late']} "
            f"dropped as late (grace {args.grace_ms} ms, the latest by {state['late_by_max']} "
            "ms)",
            file=sys.stderr,
            flush=True,
        )
        if args.dump_windows:
            rows = [[_text(k[0]), k[1], v] for k, v in windows.items()]
            Path(args.dump_windows).write_bytes(orjson.dumps(sorted(rows)))
        shutil.rmtree(state_dir, ignore_errors=True)
        os._exit(0)

    state["finish"] = finish
    try:
        app.run()
    except BaseException:
        shutil.rmtree(state_dir, ignore_errors=True)
        raise  # a traceback and exit 1
    deadline.cancel()
    if state["n"] < args.expected:
        print(f"{NAME}: stopped with {state['n']} of {args.expected} events", file=sys.stderr)
        shutil.rmtree(state_dir, ignore_errors=True)
        sys.stdout.flush()
        os._exit(1)
    finish()
    return 0


if __name__ == "__main__":
    sys.exit(main())
