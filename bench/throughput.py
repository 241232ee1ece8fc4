"""One worker's sustained throughput on a local broker (a first measurement; issue 3 extends it).

Usage: python bench/throughput.py [--events N] [--bootstrap HOST:PORT]

Without --bootstrap it starts a fresh local broker (deploy/local/kafka.sh) on a free port. It
pre-loads N seeded lifecycle events (4 partitions, all seven channels) into the input topic,
then starts `sqm worker` and scrapes `sqm_records_consumed_total` every 100 ms. The figure is
events divided by the time from the first to the last counted record.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from kafka_broker import free_port, start_broker, stop_broker  # noqa: E402

from monitor import topics  # noqa: E402
from monitor.config import Config  # noqa: E402
from monitor.generate import encode, history, key_of  # noqa: E402
from monitor.traffic import produce  # noqa: E402


def consumed(port: int) -> float | None:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
            for line in r.read().decode().splitlines():
                if line.startswith("sqm_records_consumed_total "):
                    return float(line.split()[1])
    except OSError:
        return None
    return None


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--bootstrap", default=None)
    args = ap.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="sqm-bench-"))
    port = None
    bootstrap = args.bootstrap
    if bootstrap is None:
        port = free_port()
        bootstrap = start_broker(port, tmp / "kafka")
    try:
        asyncio.run(topics.apply(bootstrap, topics.load_definitions()))
        rate = 200.0
        duration = args.events / rate
        start_ms = int(time.time() * 1000) - int(duration * 1000) - 3_600_000
        items = [(key_of(i), encode(i)) for i in
                 history(Config().channels, "steady", 42, rate, start_ms, duration)]
        t0 = time.monotonic()
        asyncio.run(produce(bootstrap, topics.TOPIC_INPUT, items))
        print(f"loaded {len(items)} events in {time.monotonic() - t0:.1f} s")
        cfg = tmp / "sqm.toml"
        cfg.write_text(f'broker_url = "kafka://{bootstrap}"\ngroup_id = "bench-{os.getpid()}"\n')
        mport = free_port()
        profile = ["-m", "cProfile", "-o", os.environ["SQM_PROFILE"]] if os.environ.get(
            "SQM_PROFILE") else []
        worker = subprocess.Popen(
            [sys.executable, *profile, "-m", "monitor.cli", "--config", str(cfg), "worker",
             "--metrics-port", str(mport)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            first_t = None
            last = 0.0
            deadline = time.monotonic() + 900
            while time.monotonic() < deadline:
                n = consumed(mport)
                now = time.monotonic()
                if n and first_t is None:
                    first_t, first_n = now, n
                if n is not None and n >= len(items):
                    last = now
                    break
                time.sleep(0.1)
            assert first_t is not None and last, "worker did not finish"
            rate_eps = (len(items) - first_n) / (last - first_t)
            print(f"one worker: {rate_eps:,.0f} events/s "
                  f"({len(items) - first_n:,.0f} events in {last - first_t:.1f} s)")
        finally:
            worker.terminate()
            worker.wait(30)
    finally:
        if port is not None:
            stop_broker(port, tmp / "kafka")
    return 0


if __name__ == "__main__":
    sys.exit(main())
