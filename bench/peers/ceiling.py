"""Benchmark peer: the raw consume ceiling of aiokafka + orjson in one Python process.

Usage: python bench/peers/ceiling.py --bootstrap HOST:PORT --topic TOPIC --expected N
       --group GROUP [--timeout-s 600]

A plain `AIOKafkaConsumer.getmany()` loop (fresh group, from the earliest offset, large fetch
sizes) that decodes every record value with `orjson.loads` and does nothing else but count. No
windowing, no state, no commits, so it reports `"windows": null`. Exits 0 after printing one
JSON line once N records have been counted, or 1 after --timeout-s.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import sys
import time

import orjson
from aiokafka import AIOKafkaConsumer
from common import base_parser
from common import result as peer_result

NAME = "aiokafka-ceiling"


def parse_args() -> argparse.Namespace:
    ap = base_parser(__doc__.splitlines()[0])
    return ap.parse_args()


async def run(args: argparse.Namespace) -> dict[str, object] | None:
    consumer = AIOKafkaConsumer(
        args.topic,
        bootstrap_servers=args.bootstrap,
        group_id=args.group,
        client_id=NAME,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        max_partition_fetch_bytes=4 * 1024 * 1024,
        fetch_max_bytes=32 * 1024 * 1024,
    )
    await consumer.start()
    loads = orjson.loads
    count = 0
    first_t = last_t = 0.0
    deadline = time.monotonic() + args.timeout_s
    try:
        while count < args.expected and time.monotonic() < deadline:
            batches = await consumer.getmany(timeout_ms=200, max_records=20_000)
            for records in batches.values():
                if not records:
                    continue
                if count == 0:
                    first_t = time.perf_counter()  # the first record is in hand
                records = records[: args.expected - count]
                for record in records:
                    with contextlib.suppress(orjson.JSONDecodeError):
                        loads(record.value)
                count += len(records)
                if count >= args.expected:
                    last_t = time.perf_counter()
                    break
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(consumer.stop(), 10)
    if count < args.expected:
        print(
            f"{NAME}: timed out after {args.timeout_s} s with {count} of {args.expected} records",
            file=sys.stderr,
        )
        return None
    seconds = last_t - first_t
    return peer_result(NAME, count, seconds, None)


def main() -> int:
    args = parse_args()
    logging.getLogger("aiokafka").setLevel(logging.ERROR)  # e.g. coordinator retries on a new broker
    try:
        result = asyncio.run(asyncio.wait_for(run(args), args.timeout_s + 30))
    except TimeoutError:
        print(f"{NAME}: hard timeout", file=sys.stderr)
        result = None
    if result is None:
        sys.stdout.flush()
        os._exit(1)
    sys.stdout.write(orjson.dumps(result).decode() + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
