"""Events/s of the stages alone (stage one + stage two and their encodings, no Kafka): the hot
path's CPU cost, and the time a restore of one partition takes from the changelog it wrote.

Usage: python bench/core_speed.py [--events N] [--batch B] [--queues Q] [--profile]
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import sys
import time
import tomllib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workload import queues_toml

from monitor.config import Config, domain_params, window_rules
from monitor.config.loader import from_mapping
from monitor.contract import deadletter, indicators, partials, queues
from monitor.contract.partitioner import partition_of_key
from monitor.sim.model import encode, history, key_of
from monitor.stages.aggregate.aggregator import Aggregator
from monitor.stages.interactions.processor import PartitionProcessor
from monitor.state import windows
from monitor.state.changelog import last_values
from monitor.state.statelog import StateLog

PARTITIONS = 4


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--events", type=int, default=200_000)
    ap.add_argument("--batch", type=int, default=5000)
    ap.add_argument("--queues", type=int, default=3, help="queues per channel (0: none)")
    ap.add_argument("--profile", action="store_true")
    args = ap.parse_args()
    gc.set_threshold(100_000, 50, 1000)  # as `sqm worker` does
    cfg = from_mapping(tomllib.loads(queues_toml(args.queues))) if args.queues else Config()
    params = domain_params(cfg)
    now = int(time.time() * 1000)
    rate = 200.0
    duration = args.events / rate
    start = now - int(duration * 1000) - 3_600_000
    by_p: list[list[tuple[int, bytes | None, bytes]]] = [[] for _ in range(PARTITIONS)]
    for item in history(cfg.channels, "steady", 42, rate, start, duration):
        key = key_of(item)
        p = partition_of_key(key, PARTITIONS) if key else 0
        by_p[p].append((len(by_p[p]), key, encode(item)))
    total = sum(len(x) for x in by_p)
    procs = [PartitionProcessor(params, "in", p, PARTITIONS) for p in range(PARTITIONS)]
    agg = Aggregator(params, 0, 1, PARTITIONS, window_rules(cfg))
    prof = cProfile.Profile() if args.profile else None
    t0 = time.perf_counter()
    c0 = time.process_time()
    if prof:
        prof.enable()
    changelog = 0
    changelog_bytes = 0
    logged: list[tuple[bytes, bytes | None]] = []  # partition 0's changelog, to time a restore
    for i in range(0, max(len(x) for x in by_p), args.batch):
        for p in range(PARTITIONS):
            r = procs[p].process(by_p[p][i:i + args.batch], now, False)
            changelog += len(r.changelog)
            changelog_bytes += sum(len(k) + len(v or b"") for k, v in r.changelog)
            if p == 0:
                logged += r.changelog
            for d in r.deadletters:
                deadletter.encode(d)
            vals = [partials.encode_partial(p, q, w, a) for (q, w), a in r.partials.items()]
            if r.mark:
                vals.append(partials.encode_mark(r.mark))
            out = agg.process([partials.decode(v, params.queues) for v in vals], now)
            windows.records(out.windows, out.state)
            for rec in out.records:
                indicators.encode(rec)
            for rec in out.queue_records:
                queues.encode(rec)
    if prof:
        prof.disable()
    el = time.perf_counter() - t0
    cpu = time.process_time() - c0
    print(f"{total} events in {el:.2f} s: {total / el:,.0f} events/s wall, "
          f"{total / cpu:,.0f} events/s of CPU time "
          f"({changelog / total:.2f} changelog records and {changelog_bytes / total:.0f} changelog bytes "
          "per event)")
    if prof:
        pstats.Stats(prof).sort_stats("tottime").print_stats(15)
    # what a restart of partition 0 costs: its snapshot, then the batches logged after it re-run
    kept = list(last_values(logged).items())
    _, _, batches = StateLog().restore(kept)  # only to count what the restore re-runs
    replayed = sum(sum(len(e) == 6 for e in entries) for _, entries in batches)
    t0 = time.perf_counter()
    restored = PartitionProcessor(params, "in", 0, PARTITIONS)
    restored.restore(kept)
    el = time.perf_counter() - t0
    assert len(restored.states) == len(procs[0].states)
    print(f"restore of partition 0: {len(restored.states):,} interactions, {replayed:,} events "
          f"re-run, in {el:.2f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
