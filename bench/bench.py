"""The throughput, memory and latency benchmark (issue 3). Run with ``make bench``.

Everything runs in one go on a fresh local broker so that the figures are comparable: ratios
to the raw consume ceiling measured in the same run are the numbers that count.

1. Throughput: a fixed seeded workload (``--events``, default 1,000,000 lifecycle events,
   4 partitions, all seven channels) is loaded once; then, one after another, each consumer
   reads all of it with a fresh consumer group: the ceiling (aiokafka getmany + orjson), `sqm
   worker`, a stock Faust agent and Quix Streams (bench/peers/).
2. Memory: `--open` interactions (default 1,000,000) opened and never closed; the worker's RSS
   growth divided by the number of open interactions.
3. Latency: live traffic offered at `--latency-rate` events/s (default 5,000) for
   `--latency-s` seconds (and 15 s more, not measured, so that the measured events see a steady
   state); delays from an event's arrival to its effect on the worker's `/metrics` counters,
   and from a window's end to its record on `sqm.indicators.v1`. Once with the default
   configuration and once with `reorder_s = 0`.

A quick figure for one worker: ``python bench/bench.py --events 400000 --skip faust --skip quix
--skip memory --skip latency --out /tmp/r.md``. Environment switches for the worker under test:
``SQM_BENCH_WORKER_PATH=DIR`` runs the worker of another checkout (a before/after comparison
in the same harness); ``SQM_PROFILE=FILE`` runs it under cProfile; ``SQM_PYSPY=FILE`` samples
it with py-spy (raw collapsed stacks, low overhead; ``pip install py-spy``);
``SQM_BENCH_EXTRA='key = value;...'`` adds config lines (for example
``commit_interval_ms = 1000``).

Results: a table on stdout and bench/RESULTS.md. The worker's rate runs from its first to its
last committed input offset (read from the broker, so watching costs the worker nothing); use
large workloads (the default): with a few ten thousand events one batch holds most of them and
the rate says nothing.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
import tomllib
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import orjson

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from kafka_broker import free_port, start_broker, stop_broker  # noqa: E402
from workload import queues_toml  # noqa: E402

from monitor.config import Config  # noqa: E402
from monitor.config.loader import from_mapping  # noqa: E402
from monitor.config.model import ChannelConfig  # noqa: E402
from monitor.contract import topics  # noqa: E402
from monitor.domain.stream.timefmt import parse_rfc3339_ms  # noqa: E402
from monitor.kafka import admin  # noqa: E402
from monitor.sim.model import encode, history, key_of  # noqa: E402
from monitor.sim.producer import produce  # noqa: E402

PEERS = REPO / "bench" / "peers"
BENCH_TOPIC = "bench.interactions.v1"


@dataclass
class Row:
    name: str
    events: int
    seconds: float
    rss_bytes: int | None
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def eps(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def scrape(port: int) -> dict[str, float]:
    """Unlabelled sums per metric name (enough for counters we read here)."""
    out: dict[str, float] = {}
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2) as r:
        for line in r.read().decode().splitlines():
            if not line or line[0] == "#":
                continue
            name_part, _, value = line.rpartition(" ")
            name = name_part.split("{", 1)[0]
            out[name] = out.get(name, 0.0) + float(value)
    return out


def try_scrape(port: int) -> dict[str, float] | None:
    try:
        return scrape(port)
    except OSError:
        return None


def rss_of(pid: int) -> tuple[int, int]:
    """(current RSS, peak RSS) in bytes from /proc."""
    cur = peak = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            cur = int(line.split()[1]) * 1024
        elif line.startswith("VmHWM:"):
            peak = int(line.split()[1]) * 1024
    return cur, peak


def cpu_of(pid: int) -> float:
    """CPU seconds (user + system) the process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_busy() -> float:
    """CPU seconds all cores of this machine have spent not idle, from /proc/stat."""
    ticks = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(ticks) - ticks[3] - ticks[4]) / os.sysconf("SC_CLK_TCK")


def wait_for(check: Callable[[], Any], deadline_s: float, what: str, every_s: float = 0.05) -> Any:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(every_s)
    raise RuntimeError(f"timed out waiting for {what}")


class Worker:
    """`sqm worker` as a child process against the bench broker."""

    def __init__(self, tmp: Path, bootstrap: str, group: str, **cfg: Any) -> None:
        self.port = free_port()
        conf = tmp / f"{group}.toml"
        lines = [f'broker_url = "kafka://{bootstrap}"', f'group_id = "{group}"']
        lines += [f"{k} = {v}" for k, v in cfg.items()]
        lines += [x.strip() for x in os.environ.get("SQM_BENCH_EXTRA", "").split(";") if x.strip()]
        conf.write_text("\n".join(lines) + "\n" + queues_toml(QUEUES_PER_CHANNEL))
        self.log_path = tmp / f"{group}.log"
        # SQM_PROFILE=FILE: run the worker under cProfile (written when it stops)
        profile = ["-m", "cProfile", "-o", os.environ["SQM_PROFILE"]] if os.environ.get(
            "SQM_PROFILE") else []
        # SQM_BENCH_WORKER_PATH=DIR: run another checkout's worker (DIR/monitor) in this harness,
        # for a before/after comparison on the same machine, one after the other
        env = dict(os.environ)
        if os.environ.get("SQM_BENCH_WORKER_PATH"):
            env["PYTHONPATH"] = os.environ["SQM_BENCH_WORKER_PATH"]
        self.proc = subprocess.Popen(
            [sys.executable, *profile, "-m", "monitor.cli", "--config", str(conf), "worker",
             "--metrics-port", str(self.port)],
            stdout=self.log_path.open("wb"), stderr=subprocess.STDOUT, env=env)
        # SQM_PYSPY=FILE: sample the worker with py-spy (low overhead; written when it stops)
        if os.environ.get("SQM_PYSPY"):
            subprocess.Popen(["py-spy", "record", "--pid", str(self.proc.pid), "--format", "raw",
                              "--nonblocking", "-o", os.environ["SQM_PYSPY"]],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for(lambda: (try_scrape(self.port) or {}).get("sqm_assigned_partitions", 0) >= 8,
                 120, "the worker to own every partition")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(60)
        except subprocess.TimeoutExpired:
            self.proc.kill()


# --- workloads -------------------------------------------------------------------------------

#: queues declared per channel in the workers' config and the traffic (``--queues``; SPEC 9)
QUEUES_PER_CHANNEL = 3


def bench_channels(per_channel: int) -> tuple[ChannelConfig, ...]:
    return from_mapping(tomllib.loads(queues_toml(per_channel))).channels


def lifecycle_items(n_events: int, seed: int = 42) -> list[tuple[bytes | None, bytes]]:
    """About ``n_events`` seeded lifecycle events of all channels, ending an hour ago, in the
    queues of ``QUEUES_PER_CHANNEL`` (with transfers and a few undeclared names)."""
    rate = 200.0
    duration = n_events / rate
    start = int(time.time() * 1000) - int(duration * 1000) - 3_600_000
    return [(key_of(i), encode(i)) for i in
            history(bench_channels(QUEUES_PER_CHANNEL), "steady", seed, rate, start, duration,
                    epoch_ms_ratio=0.2)]


def opened_items(n: int) -> list[tuple[bytes | None, bytes]]:
    """``n`` interactions opened within the last hours and never answered or closed."""
    channels = Config().channel_names
    start = int(time.time() * 1000) - 3 * 3_600_000
    out = []
    for i in range(n):
        iid = f"open-{i}"
        e = {"event_id": f"o-{i}", "interaction_id": iid, "channel": channels[i % len(channels)],
             "type": "opened", "ts": start + i * 10}
        out.append((iid.encode(), orjson.dumps(e)))
    return out


async def _create(bootstrap: str, name: str, partitions: int) -> None:
    from aiokafka.admin import AIOKafkaAdminClient, NewTopic
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, partitions, 1)])
        # CreateTopics answers once the controller has the topic; a producer asking a broker
        # that has just started may not see it yet
        deadline = time.monotonic() + 30
        while name not in await admin.list_topics():
            if time.monotonic() > deadline:
                raise RuntimeError(f"topic {name} not listed 30 s after its creation")
            await asyncio.sleep(0.1)
    finally:
        await admin.close()


# --- 1. throughput ---------------------------------------------------------------------------

def run_peer(name: str, bootstrap: str, n: int) -> Row:
    """A peer reads the first ``n`` records of the pre-loaded topic."""
    group = f"bench-{name}-{os.getpid()}-{time.monotonic_ns()}"
    log(f"peer {name}: {n} events")
    res = subprocess.run(
        [sys.executable, str(PEERS / f"{name}.py"), "--bootstrap", bootstrap, "--topic",
         BENCH_TOPIC, "--expected", str(n), "--group", group, "--timeout-s", "1500"],
        capture_output=True, text=True, timeout=1800, check=False)
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("{")]
    if res.returncode != 0 or not lines:
        log(f"peer {name} failed ({res.returncode}): {res.stderr[-2000:]}")
        return Row(name, n, 0.0, None, note=f"failed (exit {res.returncode})")
    d = json.loads(lines[-1])
    return Row(d["name"], d["events"], d["seconds"], d.get("peak_rss_bytes"),
               extra={"windows": d.get("windows")})


def run_sqm_throughput(tmp: Path, bootstrap: str, items: list[tuple[bytes | None, bytes]]) -> Row:
    """The worker reads the input topic (the same records, copied in topic order, keyed by
    interaction: nothing is forwarded, so committed offsets count records)."""
    n = len(items)
    log(f"sqm worker: loading {n} events into {topics.TOPIC_INPUT}")
    asyncio.run(produce(bootstrap, topics.TOPIC_INPUT, items))
    group = f"bench-sqm-{os.getpid()}"
    worker = Worker(tmp, bootstrap, group)
    try:
        # Progress is read from the group's committed input offsets, which the worker commits
        # with each transaction: watching costs the worker nothing (scraping /metrics as often
        # as this needs took a tenth of its CPU; Prometheus scrapes every 15 s).
        samples = asyncio.run(_watch_committed(bootstrap, group, n, worker.proc.pid))
        first_t, first_n, first_cpu, first_busy = next(s for s in samples if s[1])
        last_t, _, last_cpu, last_busy = samples[-1]
        span = last_t - first_t
        # the record of the last window: the worker finalises it once the input is idle
        last_ts = max(_ts_of(v) for _k, v in items)
        last_window = last_ts - last_ts % 60_000
        w_published = _wait_for_window(bootstrap, last_window, 300)
        _, peak = rss_of(worker.proc.pid)
        # where the time went: a worker below one core waited (for the broker, on a busy
        # machine); CPU per event is the figure that code changes move
        return Row("sqm worker", int(n - first_n), span, peak,
                   extra={"last_window_record_s": round(w_published - last_t, 1),
                          "worker_cores": round((last_cpu - first_cpu) / span, 2),
                          "worker_cpu_us_per_event": round(
                              (last_cpu - first_cpu) / (n - first_n) * 1e6, 1),
                          "machine_cores_busy": round((last_busy - first_busy) / span, 2)})
    finally:
        worker.stop()


async def _watch_committed(bootstrap: str, group: str, n: int,
                           pid: int) -> list[tuple[float, int, float, float]]:
    """(monotonic time, committed input records, CPU seconds of the worker ``pid``, busy CPU
    seconds of the machine) every 20 ms until all ``n`` are committed."""
    from aiokafka.admin import AIOKafkaAdminClient

    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    samples: list[tuple[float, int, float, float]] = []
    try:
        deadline = time.monotonic() + 1800
        while time.monotonic() < deadline:
            offsets = await admin.list_consumer_group_offsets(group)
            c = sum(o.offset for tp, o in offsets.items() if tp.topic == topics.TOPIC_INPUT)
            samples.append((time.monotonic(), c, cpu_of(pid), machine_busy()))
            if c >= n:
                return samples
            await asyncio.sleep(0.02)
        raise RuntimeError(f"the worker committed {samples[-1][1]} of {n} records in 30 min")
    finally:
        await admin.close()


def _ts_of(value: bytes) -> int:
    ts = orjson.loads(value)["ts"]
    return ts if isinstance(ts, int) else parse_rfc3339_ms(ts) or 0


def _wait_for_window(bootstrap: str, window_start_ms: int, deadline_s: float) -> float:
    """Monotonic time at which a record of ``window_start_ms`` was first seen on the topic."""
    from aiokafka import AIOKafkaConsumer

    want = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(window_start_ms / 1000))

    async def go() -> float:
        c = AIOKafkaConsumer(topics.TOPIC_INDICATORS, bootstrap_servers=bootstrap,
                             isolation_level="read_committed", auto_offset_reset="earliest",
                             group_id=None)
        await c.start()
        try:
            end = time.monotonic() + deadline_s
            while time.monotonic() < end:
                batch = await c.getmany(timeout_ms=200)
                for recs in batch.values():
                    for r in recs:
                        if orjson.loads(r.value)["window_start"] == want:
                            return time.monotonic()
            raise RuntimeError(f"no record for window {want}")
        finally:
            await c.stop()

    return asyncio.run(go())


# --- 2. memory -------------------------------------------------------------------------------

def run_memory(tmp: Path, bootstrap: str, n_open: int) -> dict[str, Any]:
    worker = Worker(tmp, bootstrap, f"bench-mem-{os.getpid()}")
    try:
        time.sleep(1.0)  # let start-up allocations settle before the baseline
        base, _ = rss_of(worker.proc.pid)
        items = opened_items(n_open)
        log(f"memory: {n_open} open interactions")
        asyncio.run(produce(bootstrap, topics.TOPIC_INPUT, items))

        def opened_all() -> bool:
            m = try_scrape(worker.port)
            return bool(m) and m.get("sqm_backlog_open", 0) >= n_open  # type: ignore[union-attr]

        wait_for(opened_all, 1800, "every interaction open", every_s=0.5)
        cur, peak = rss_of(worker.proc.pid)
        return {"open": n_open, "rss_base": base, "rss": cur, "rss_peak": peak,
                "bytes_per_open": (cur - base) / n_open}
    finally:
        worker.stop()


# --- 3. latency ------------------------------------------------------------------------------

LATENCY_TAIL_S = 15.0  # traffic goes on this long after the measured span (> the 10 s grace)


def run_latency(tmp: Path, bootstrap: str, rate: float, seconds: float,
                reorder_s: int | None = None) -> dict[str, Any]:
    """Delays of the events offered in the first ``seconds``. Traffic goes on for
    ``LATENCY_TAIL_S`` more, so the measured events see a steady state: when traffic stops, the
    last events wait for the idle timeout to move the watermark, which is not what a live
    deployment sees."""
    extra = {} if reorder_s is None else {"reorder_s": reorder_s}
    worker = Worker(tmp, bootstrap, f"bench-lat-{os.getpid()}-{reorder_s}", idle_timeout_s=5,
                    **extra)
    try:
        log(f"latency: {rate:.0f} events/s for {seconds:.0f} s (+{LATENCY_TAIL_S:.0f} s), "
            f"reorder_s={'default' if reorder_s is None else reorder_s}")
        from monitor.sim.model import TrafficModel, parse_scenario

        cfg = Config()
        start_ms = int(time.time() * 1000)
        model = TrafficModel(cfg.channels, parse_scenario("steady", cfg.channel_names), 99, rate,
                             start_ms=start_ms, duration_s=seconds + LATENCY_TAIL_S,
                             epoch_ms_ratio=0.0)
        sent: list[float] = []  # wall time each record was handed to the broker (acked batch)
        consumed_at: list[tuple[float, float]] = []  # (wall time, consumed counter)
        applied_at: list[tuple[float, float]] = []  # (wall time, accepted-events counter)
        measured: list[int] = []  # how many events were sent in the measured span

        async def offer() -> None:
            from aiokafka import AIOKafkaProducer
            p = AIOKafkaProducer(bootstrap_servers=bootstrap, linger_ms=5)
            await p.start()
            try:
                t_end = time.time() + seconds + LATENCY_TAIL_S
                while time.time() < t_end:
                    if time.time() >= t_end - LATENCY_TAIL_S and not measured:
                        measured.append(len(sent))
                    now_ms = int(time.time() * 1000)
                    futs = [await p.send(topics.TOPIC_INPUT, encode(i), key=key_of(i))
                            for i in model.events_until(now_ms)]
                    await p.flush()
                    await asyncio.gather(*futs)
                    t = time.time()
                    sent.extend([t] * len(futs))
                    await asyncio.sleep(0.02)
            finally:
                await p.stop()

        async def watch(stop: asyncio.Event) -> None:
            while not stop.is_set():
                m = await asyncio.to_thread(try_scrape, worker.port)
                t = time.time()
                if m:
                    consumed_at.append((t, m.get("sqm_records_consumed_total", 0.0)))
                    applied_at.append((t, m.get("sqm_events_total", 0.0)))
                await asyncio.sleep(0.1)  # 10 scrapes/s: finer would load the worker measured

        async def main() -> None:
            stop = asyncio.Event()
            w = asyncio.create_task(watch(stop))
            await offer()
            # until every measured event is applied (they wait out the reorder grace)
            end = time.monotonic() + 120
            while time.monotonic() < end and (not applied_at or applied_at[-1][1] < measured[0]):  # noqa: ASYNC110 - polls another process
                await asyncio.sleep(0.1)
            stop.set()
            await w

        asyncio.run(main())
        # a window with traffic that ended a minute before the traffic did: its record is out
        # once the watermark passes its end + grace
        ts = max(start_ms, start_ms + int((seconds + LATENCY_TAIL_S) * 1000) - 60_000)
        _wait_for_window(bootstrap, ts - ts % 60_000, 120)
        n = measured[0]
        return {"rate": rate, "seconds": seconds, "events": n, "reorder_s": reorder_s,
                "consumed_delay": _delays(sent[:n], consumed_at),
                "applied_delay": _delays(sent[:n], applied_at),
                "window_delay": _window_delays(bootstrap, start_ms, seconds)}
    finally:
        worker.stop()


def _delays(sent: list[float], seen: list[tuple[float, float]]) -> dict[str, float]:
    """p50/p99 of (first scrape whose counter covers event i) - (time event i was acked)."""
    delays: list[float] = []
    j = 0
    for i, t_sent in enumerate(sent):
        while j < len(seen) and seen[j][1] < i + 1:
            j += 1
        if j == len(seen):
            break
        delays.append(max(0.0, seen[j][0] - t_sent))
    delays.sort()
    if not delays:
        return {"p50_s": float("nan"), "p99_s": float("nan"), "n": 0}
    return {"p50_s": round(delays[len(delays) // 2], 3),
            "p99_s": round(delays[min(len(delays) - 1, int(len(delays) * 0.99))], 3),
            "n": len(delays)}


def _window_delays(bootstrap: str, start_ms: int, seconds: float) -> dict[str, float]:
    """Publication time (broker timestamp) of each record minus its window end."""
    from aiokafka import AIOKafkaConsumer

    async def go() -> list[float]:
        c = AIOKafkaConsumer(topics.TOPIC_INDICATORS, bootstrap_servers=bootstrap,
                             isolation_level="read_committed", auto_offset_reset="earliest",
                             group_id=None)
        await c.start()
        out: list[float] = []
        try:
            for _ in range(20):
                batch = await c.getmany(timeout_ms=300)
                for recs in batch.values():
                    for r in recs:
                        d = orjson.loads(r.value)
                        end = parse_rfc3339_ms(d["window_end"]) or 0
                        if start_ms < end <= start_ms + seconds * 1000:  # had traffic
                            out.append((r.timestamp - end) / 1000)
        finally:
            await c.stop()
        return out

    d = sorted(asyncio.run(go()))
    if not d:
        return {"p50_s": float("nan"), "p99_s": float("nan"), "n": 0}
    return {"p50_s": round(d[len(d) // 2], 2), "p99_s": round(d[int(len(d) * 0.99)], 2),
            "n": len(d)}


# --- report ----------------------------------------------------------------------------------

def machine() -> str:
    cpu = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            cpu = line.split(":", 1)[1].strip()
            break
    mem_kb = int(Path("/proc/meminfo").read_text().split()[1])
    return (f"{os.cpu_count()} cores ({cpu}), {mem_kb / 1024 / 1024:.0f} GiB RAM, "
            f"{platform.system()} {platform.release()}, Python {platform.python_version()}, "
            f"Kafka 4.3.1 (single KRaft node on the same machine)")


def bracketing_ceiling(rows: list[Row]) -> float:
    """The ceiling a run's ratios are taken against: the mean of its ceiling measurements
    (before and after the consumers), so a machine that was briefly slower or faster during one
    of them (seen here: 213,000 then 363,000 events/s in one run) moves the ratio half as much."""
    ceilings = [r.eps for r in rows if "ceiling" in r.name and r.seconds]
    return statistics.fmean(ceilings) if ceilings else 0.0


def runs_summary(runs: list[list[Row]]) -> list[str]:
    """Each run's worker ratio to its own ceilings, and their median: the figure to compare
    between builds on a machine whose neighbours come and go."""
    ratios = [w.eps / c for rows in runs if (c := bracketing_ceiling(rows))
              for w in rows if w.name == "sqm worker" and w.seconds]
    cpu = [w.extra["worker_cpu_us_per_event"] for rows in runs for w in rows
           if w.name == "sqm worker" and "worker_cpu_us_per_event" in w.extra]
    if len(ratios) < 2:
        return []
    return ["", "## Runs", "",
            f"{len(ratios)} runs of the throughput part, each on a fresh broker: the worker at "
            + ", ".join(f"{r:.1%}" for r in ratios)
            + f" of its run's ceiling (**median {statistics.median(ratios):.1%}**); worker CPU "
            + ", ".join(f"{c} µs" for c in cpu) + f" per event (median {statistics.median(cpu)} µs)."]


def report(rows: list[Row], memory: dict[str, Any] | None, latency: list[dict[str, Any]],
           n: int, runs: list[list[Row]] | None = None) -> str:
    ceiling = bracketing_ceiling(rows)
    faust = next((r.eps for r in rows if r.name.startswith("faust") and r.seconds), 0.0)
    lines = [
        "# Benchmark results", "",
        f"Run: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} · `make bench` · "
        f"{n:,} lifecycle events, 4 partitions, 7 channels, {QUEUES_PER_CHANNEL} queues per "
        "channel", "",
        f"Machine: {machine()}", "",
        "| consumer | events/s | ratio to ceiling (mean of both) | peak RSS | notes |",
        "|---|---:|---:|---:|---|",
    ]
    for r in rows:
        ratio = f"{r.eps / ceiling:.1%}" if ceiling and r.seconds else "-"
        rss = f"{r.rss_bytes / 2**20:.0f} MiB" if r.rss_bytes else "-"
        note = r.note
        if r.name == "sqm worker" and faust:
            note = (note + f"; {r.eps / faust:.1f}x stock Faust").strip("; ")
        if "last_window_record_s" in r.extra:
            note = (note + f"; last window's record {r.extra['last_window_record_s']} s after "
                    "the last event").strip("; ")
        if "worker_cores" in r.extra:
            note = (note + f"; worker CPU {r.extra['worker_cpu_us_per_event']} µs per event, "
                    f"{r.extra['worker_cores']} cores busy (machine: "
                    f"{r.extra['machine_cores_busy']})").strip("; ")
        if r.extra.get("windows"):
            note = (note + f"; {r.extra['windows']} (channel, window) counts").strip("; ")
        lines.append(f"| {r.name} | {r.eps:,.0f} | {ratio} | {rss} | {note} |")
    lines += runs_summary(runs or [rows])
    if memory:
        lines += ["", "## Memory", "",
                  f"{memory['open']:,} interactions open at once: RSS {memory['rss'] / 2**20:.0f} "
                  f"MiB (start {memory['rss_base'] / 2**20:.0f} MiB, peak "
                  f"{memory['rss_peak'] / 2**20:.0f} MiB): **{memory['bytes_per_open']:.0f} bytes "
                  "per open interaction** (memory-backed state; target <= 600)."]
    if latency:
        first = latency[0]
        lines += ["", "## Latency", "",
                  f"Live traffic at {first['rate']:,.0f} events/s; the events offered in "
                  f"{first['seconds']:.0f} s are measured while traffic goes on for "
                  f"{LATENCY_TAIL_S:.0f} s more. Delays "
                  "from an event's arrival (acknowledged by the broker) to the first scrape of "
                  "`/metrics` (every 0.1 s) whose counter covers it:", "",
                  "| worker | delay | p50 | p99 |", "|---|---|---:|---:|"]
        for run in latency:
            c, a, w = run["consumed_delay"], run["applied_delay"], run["window_delay"]
            who = ("default (`reorder_s` = grace = 10)" if run["reorder_s"] is None
                   else f"`reorder_s = {run['reorder_s']}`")
            lines += [
                f"| {who} | arrival -> `sqm_records_consumed_total` | {c['p50_s']} s | {c['p99_s']} s |",
                f"| {who} | arrival -> `sqm_events_total` (event applied) | {a['p50_s']} s | "
                f"{a['p99_s']} s |",
                f"| {who} | window end -> record on `sqm.indicators.v1` | {w['p50_s']} s | "
                f"{w['p99_s']} s |"]
    return "\n".join(lines) + "\n"


def main() -> int:
    global QUEUES_PER_CHANNEL
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--events", type=int, default=1_000_000)
    ap.add_argument("--open", type=int, default=1_000_000)
    ap.add_argument("--faust-events", type=int, default=200_000)
    ap.add_argument("--latency-rate", type=float, default=5000.0)
    ap.add_argument("--latency-s", type=float, default=60.0)
    ap.add_argument("--skip", action="append", default=[],
                    help="skip a part: faust, quix, memory, latency")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "RESULTS.md")
    ap.add_argument("--queues", type=int, default=3,
                    help="queues declared per channel, in the config and the traffic (0: none, "
                         "as before queues; for the worker of a checkout without them)")
    ap.add_argument("--runs", type=int, default=3,
                    help="repeat the throughput part (ceiling, worker, ceiling) on a fresh broker "
                         "this many times and report the median ratio (default 3)")
    args = ap.parse_args()
    QUEUES_PER_CHANNEL = args.queues
    tmp = Path(tempfile.mkdtemp(prefix="sqm-bench-"))
    memory = None
    latency: list[dict[str, Any]] = []

    def fresh_broker() -> tuple[int, Path, str]:
        port = free_port()
        data = tmp / f"kafka-{port}"
        bootstrap = start_broker(port, data)
        asyncio.run(admin.apply(bootstrap, topics.load_definitions()))
        return port, data, bootstrap

    log(f"workload: {args.events:,} events")
    items = lifecycle_items(args.events)
    n = len(items)
    runs: list[list[Row]] = []
    for run in range(args.runs):
        run_rows: list[Row] = []
        port, data, bootstrap = fresh_broker()
        try:
            asyncio.run(_create(bootstrap, BENCH_TOPIC, 4))
            asyncio.run(produce(bootstrap, BENCH_TOPIC, items))
            run_rows.append(run_peer("ceiling", bootstrap, n))
            run_rows.append(run_sqm_throughput(tmp, bootstrap, items))
            if run == 0 and "faust" not in args.skip:  # ~1,000 events/s: a slice is enough
                faust_n = min(n, args.faust_events)
                run_rows.append(run_peer("faust_agent", bootstrap, faust_n))
                if faust_n < n:
                    run_rows[-1].note = f"first {faust_n:,} events of the same topic"
            if run == 0 and "quix" not in args.skip:
                run_rows.append(run_peer("quix_app", bootstrap, n))
            run_rows.append(run_peer("ceiling", bootstrap, n))  # again: did the machine drift?
            run_rows[-1].name = "ceiling (again)"
        finally:
            stop_broker(port, data)
        runs.append(run_rows)
    rows = runs[0]
    del items
    if "memory" not in args.skip:
        port, data, bootstrap = fresh_broker()
        try:
            memory = run_memory(tmp, bootstrap, args.open)
        finally:
            stop_broker(port, data)
    if "latency" not in args.skip:
        # the default, and immediate application (arrival order within the grace counts);
        # each on a broker of its own: the workers share the topics
        for reorder_s in (None, 0):
            port, data, bootstrap = fresh_broker()
            try:
                latency.append(run_latency(tmp, bootstrap, args.latency_rate, args.latency_s,
                                           reorder_s))
            finally:
                stop_broker(port, data)
    text = report(rows, memory, latency, n, runs)
    print(text)
    args.out.write_text(text)
    log(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
