"""Pre-load a topic for the peers (a helper for trying them by hand; the driver has its own).

Usage: python bench/peers/load.py --bootstrap HOST:PORT --topic TOPIC [--events N]
       [--partitions P] [--seed S]

Creates TOPIC with P partitions (default 4) if it does not exist, then produces about N seeded
`steady` lifecycle events (all configured channels, timestamps starting two hours in the past,
20 % of them with integer epoch-ms `ts`), keyed by interaction_id. Prints the exact number of
records produced and the number of distinct (channel, 60 s window) pairs they span, i.e. the
`windows` value the peers should report.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO))

from aiokafka.admin import AIOKafkaAdminClient, NewTopic  # noqa: E402

from monitor.config import Config  # noqa: E402
from monitor.sim.model import encode, history, key_of  # noqa: E402
from monitor.sim.producer import produce  # noqa: E402


def ts_ms(ts: object) -> int:
    if isinstance(ts, int):
        return ts
    assert isinstance(ts, str)
    return int(datetime.fromisoformat(ts).timestamp() * 1000)


async def create_topic(bootstrap: str, topic: str, partitions: int) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        if topic not in await admin.list_topics():
            await admin.create_topics([NewTopic(topic, partitions, 1)])
            for _ in range(100):
                if topic in await admin.list_topics():
                    break
                await asyncio.sleep(0.1)
    finally:
        await admin.close()


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--bootstrap", required=True)
    ap.add_argument("--topic", required=True)
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--partitions", type=int, default=4)
    ap.add_argument("--seed", type=int, default=42)
    args = ap.parse_args()
    rate = 200.0
    duration = args.events / rate
    start_ms = int(time.time() * 1000) - 2 * 3_600_000
    items = list(history(Config().channels, "steady", args.seed, rate, start_ms, duration))
    windows = {(i["channel"], ts_ms(i["ts"]) // 60_000) for i in items if isinstance(i, dict)}
    asyncio.run(create_topic(args.bootstrap, args.topic, args.partitions))
    t0 = time.monotonic()
    n = asyncio.run(produce(args.bootstrap, args.topic, [(key_of(i), encode(i)) for i in items]))
    print(
        f"produced {n} records to {args.topic} in {time.monotonic() - t0:.1f} s; "
        f"expected windows {len(windows)}",
        file=sys.stderr,
    )
    print(n)
    return 0


if __name__ == "__main__":
    sys.exit(main())
