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
import contextlib
import logging
import os
import shutil
import signal
import sys
import tempfile
import time
import traceback
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import faust
import orjson
from common import base_parser, hard_exit
from common import result as peer_result

NAME = "faust-agent"
SHUTDOWN_GRACE_S = 30.0


def parse_args() -> argparse.Namespace:
    ap = base_parser(__doc__.splitlines()[0])
    ap.add_argument(
        "--no-group-by",
        action="store_true",
        help="skip the repartition by channel (not co-partitioned; for comparison)",
    )
    ap.add_argument(
        "--dump-windows",
        metavar="FILE",
        help="at the end, write the counts as JSON [[channel, window_start_ms, count], ...]",
    )
    return ap.parse_args()




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
    datadir = tempfile.mkdtemp(prefix="faust-peer-")  # Faust would create <app-id>-data in cwd
    deadline = hard_exit(NAME, 1, f"timed out after {args.timeout_s} s", args.timeout_s, datadir)
    logging.getLogger("aiokafka").setLevel(logging.ERROR)

    app = faust.App(
        args.group,
        broker=f"kafka://{args.bootstrap}",
        store="memory://",
        datadir=datadir,
        topic_partitions=4,
        topic_replication_factor=1,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
    )
    source = app.topic(args.topic, value_type=Event)
    # Faust expires windows against the wall clock, and the input may be hours old: keep a day.
    counts = (
        app.Table("counts", default=int).tumbling(60.0, expires=timedelta(days=1)).relative_to(event_time)
    )
    name = NAME + ("-no-group-by" if args.no_group_by else "")
    state: dict[str, Any] = {"n": 0, "first": 0.0, "result": None}

    def report(n: int, seconds: float) -> None:
        """Print the result line, then stop the worker (SIGTERM: Faust's graceful shutdown)."""
        deadline.cancel()
        # table keys are (channel, (window start, end))
        result = peer_result(name, n, seconds, len(counts.table.data))
        state["result"] = result
        sys.stdout.write(orjson.dumps(result).decode() + "\n")
        sys.stdout.flush()
        in_windows = sum(counts.table.data.values())
        if args.dump_windows:
            rows = [[k[0], round(k[1][0] * 1000), v] for k, v in counts.table.data.items()]
            Path(args.dump_windows).write_bytes(orjson.dumps(sorted(rows)))
        print(f"{name}: {in_windows} of {n} events in windows", file=sys.stderr, flush=True)
        hard_exit(NAME, 0, "Faust shutdown took too long; exiting", SHUTDOWN_GRACE_S, datadir)
        os.kill(os.getpid(), signal.SIGTERM)

    # The agent's name prefixes its repartition topic (<agent name>-<topic>-channel-repartition);
    # Faust's default, the function's qualified name, would make every run read the records
    # forwarded by the runs before it, so it is named after GROUP like the rest.
    @app.agent(source, name=f"{args.group}.count_windows")
    async def count_windows(stream: faust.StreamT[Event]) -> None:
        try:
            if not args.no_group_by:
                stream = stream.group_by(Event.channel)
            async for event in stream:
                counts[event.channel] += 1
                n = state["n"] = state["n"] + 1
                if n == 1:
                    state["first"] = time.perf_counter()
                if n == args.expected:
                    report(n, time.perf_counter() - state["first"])
        except Exception:
            # A crashed Faust agent is only logged and the worker keeps running: end it now.
            traceback.print_exc()
            print(f"{name}: agent crashed after {state['n']} events", file=sys.stderr, flush=True)
            shutil.rmtree(datadir, ignore_errors=True)
            os._exit(1)

    # Faust's console output (start-up spinner, logs) goes to stderr: stdout is the result line.
    worker = faust.Worker(app, loglevel="WARNING", quiet=True, redirect_stdouts=False, stdout=sys.stderr)
    with contextlib.suppress(SystemExit):
        worker.execute_from_commandline()
    sys.stdout.flush()
    shutil.rmtree(datadir, ignore_errors=True)
    os._exit(0 if state["result"] is not None else 1)


if __name__ == "__main__":
    sys.exit(main())
