"""Benchmark peer: per-channel 60 s window counts the way a typical Faust user writes them.

Usage: python bench/peers/faust_agent.py --bootstrap HOST:PORT --topic TOPIC --expected N
       --group GROUP [--timeout-s 600]

faust-streaming, stock settings except the ones a benchmark needs (broker, in-memory table
store, 4 partitions for internal topics, no web server, start from the earliest offset):

* the input topic is read with a `faust.Record` model and the JSON codec;
* a per-event agent re-keys the stream by channel (`stream.group_by(Event.channel)`, Faust's
  documented way to co-partition a stream with a table keyed by something else; this goes
  through an internal repartition topic);
* each event does `counts[event.channel] += 1` on a tumbling 60 s windowed table
  (`app.Table(...).tumbling(60).relative_to(event_time)`), i.e. windows by the event's own `ts`
  (RFC 3339 string or epoch ms), not by the Kafka record timestamp. Every table update also
  writes the table's changelog topic, as Faust tables do.

The Faust app id (= its consumer group and the prefix of its internal topics) is GROUP, so every
run gets a fresh group and fresh internal topics; Faust creates those itself through the Kafka
admin API, so this works on a broker with auto.create.topics.enable=false.

When N events have been counted the agent prints one JSON line and sends the worker SIGTERM;
a watchdog thread ends the process (exit 0) if Faust's shutdown takes longer than 30 s, and
ends it with exit 1 after --timeout-s if N is never reached. `windows` is the number of
(channel, window) keys in the table when the N-th event has been counted (read once, at the end).
"""

from __future__ import annotations

import argparse
import logging
import os
import resource
import signal
import sys
import threading
import time
from datetime import datetime, timedelta
from typing import Any

import faust
import orjson

NAME = "faust-agent"
SHUTDOWN_GRACE_S = 30.0


def parse_args() -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--expected", type=int, required=True)
    ap.add_argument("--group", required=True)
    ap.add_argument("--timeout-s", type=float, default=600.0)
    return ap.parse_args()


def _hard_exit(code: int, message: str, delay: float) -> threading.Timer:
    def fire() -> None:
        print(f"{NAME}: {message}", file=sys.stderr, flush=True)
        sys.stdout.flush()
        os._exit(code)

    timer = threading.Timer(delay, fire)
    timer.daemon = True
    timer.start()
    return timer


class Event(faust.Record, serializer="json"):
    event_id: str
    interaction_id: str
    channel: str
    type: str
    ts: Any  # RFC 3339 string or integer epoch milliseconds
    attrs: Any = None


def event_time(event: faust.types.EventT) -> float:
    """Window by the event's own `ts` (seconds since the epoch)."""
    ts = event.value.ts
    if isinstance(ts, str):
        return datetime.fromisoformat(ts).timestamp()
    return ts / 1000.0


def main() -> int:
    args = parse_args()
    deadline = _hard_exit(1, f"timed out after {args.timeout_s} s", args.timeout_s)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)

    app = faust.App(
        args.group,
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        topic_partitions=4,
        topic_replication_factor=1,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
    )
    source = app.topic(args.topic, value_type=Event)
    counts = (
        app.Table("counts", default=int)
        .tumbling(60.0, expires=timedelta(days=1))
        .relative_to(event_time)
    )
    state: dict[str, Any] = {"n": 0, "first": 0.0, "result": None}

    @app.agent(source)
    async def count_windows(stream: faust.StreamT[Event]) -> None:
        async for event in stream.group_by(Event.channel):
            counts[event.channel] += 1
            n = state["n"] = state["n"] + 1
            if n == 1:
                state["first"] = time.perf_counter()
            if n == args.expected:
                seconds = time.perf_counter() - state["first"]
                deadline.cancel()
                windows = len(counts.table.data)
                result = {
                    "name": NAME,
                    "events": n,
                    "seconds": round(seconds, 4),
                    "events_per_s": round(n / seconds, 1) if seconds > 0 else None,
                    "peak_rss_bytes": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024,
                    "windows": windows,
                }
                state["result"] = result
                sys.stdout.write(orjson.dumps(result).decode() + "\n")
                sys.stdout.flush()
                _hard_exit(0, "Faust shutdown took too long; exiting", SHUTDOWN_GRACE_S)
                os.kill(os.getpid(), signal.SIGTERM)  # the Faust worker's graceful stop

    # Faust's console output (start-up spinner, logs) goes to stderr: stdout is the result line.
    worker = faust.Worker(
        app, loglevel="WARNING", quiet=True, redirect_stdouts=False, stdout=sys.stderr
    )
    try:
        worker.execute_from_commandline()
    except SystemExit:
        pass
    code = 0 if state["result"] is not None else 1
    sys.stdout.flush()
    os._exit(code)


if __name__ == "__main__":
    sys.exit(main())
