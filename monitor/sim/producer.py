"""``sqm generate`` and ``sqm replay``: records to Kafka (or a file), paced or not.

``generate_main`` runs the pure traffic model of ``monitor.sim.traffic`` against the wall clock
(or writes a file); ``replay_main`` sends a JSON-lines file unchanged, garbage lines included
(the worker has to dead-letter them). Both send with ``monitor.sim.sending.produce``.
"""

from __future__ import annotations

import asyncio
import math
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import IO

from monitor.config import Config
from monitor.contract.topics import TOPIC_INPUT
from monitor.kafka.security import client_options
from monitor.sim.progress import Meter
from monitor.sim.records import Item, encode, format_ts, key_of
from monitor.sim.scenario import Scenario, parse_scenario
from monitor.sim.sending import KeyValue, ProduceError, produce
from monitor.sim.traffic import TrafficModel

__all__ = ["DEFAULT_TOPIC", "ProduceError", "generate_main", "line_key", "produce", "replay_main"]

DEFAULT_TOPIC = TOPIC_INPUT
#: Live mode hands the producer what became due every TICK_S of wall-clock time.
TICK_S = 0.1
#: History / file mode steps the model through event time in these steps.
STEP_MS = 1000


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


def _err(command: str, message: str) -> None:
    print(f"sqm {command}: {message}", file=sys.stderr)


# --- sqm generate --------------------------------------------------------------------------


def generate_main(
    cfg: Config,
    *,
    rate: float,
    duration_s: float,
    scenario: str,
    seed: int,
    out: Path | None,
    topic: str = DEFAULT_TOPIC,
    history_s: float | None = None,
    duplicate_ratio: float = 0.0,
    disorder_ms: int = 0,
    garbage_ratio: float = 0.0,
) -> int:
    """``sqm generate``: synthetic traffic into ``topic`` (or JSON lines into ``out``).

    Live: event time is the wall clock; what became due is sent every ~100 ms for
    ``duration_s``. ``history_s`` first backfills that many seconds ending now, as fast as
    possible. The scenario's degradation runs over the whole span (history + live).
    With ``out``, nothing is paced: the file holds ``history_s + duration_s`` seconds of
    traffic ending now. Returns 0, 1 when Kafka fails, 2 on bad arguments.
    """
    history = 0.0 if history_s is None else history_s
    problem = None
    if not (rate > 0 and math.isfinite(rate)):
        problem = f"--rate must be a positive number of events per second, got {rate}"
    elif not (duration_s >= 0 and math.isfinite(duration_s)):
        problem = f"--duration must be 0 or more seconds, got {duration_s}"
    elif not (history >= 0 and math.isfinite(history)):
        problem = f"--history must be 0 or more seconds, got {history_s}"
    elif duration_s + history <= 0:
        problem = "nothing to generate: --duration and --history are both 0"
    if problem is not None:
        _err("generate", problem)
        return 2
    try:
        parsed = parse_scenario(scenario, cfg.channels)
        now = _now_ms()
        span_s = history + duration_s
        start = now - round((span_s if out is not None else history) * 1000)
        model = TrafficModel(
            cfg.channels, parsed, seed, rate, start_ms=start, duration_s=span_s,
            duplicate_ratio=duplicate_ratio, disorder_ms=disorder_ms,
            garbage_ratio=garbage_ratio, id_tag=f"{seed}-{start // 1000}",
        )
    except ValueError as exc:
        _err("generate", str(exc))
        return 2

    _announce(parsed, start, span_s)
    if out is not None:
        return _generate_file(model, out)

    bootstrap = cfg.bootstrap_servers
    meter = Meter("history" if history > 0 else "live", history if history > 0 else duration_s)
    history_end = start + round(history * 1000)
    try:
        with meter:
            acked = asyncio.run(produce(
                bootstrap, topic, _generate_items(model, meter, history_end),
                on_sent=lambda n: setattr(meter, "sent", n), security=client_options(cfg.kafka),
                notice=lambda line: _err("generate", line),
            ))
    except ProduceError as exc:
        _err("generate", str(exc))
        return 1
    except KeyboardInterrupt:
        print(f"interrupted: {meter.sent:,} records handed to Kafka ({_stats(model)})")
        return 130
    print(
        f"sent {acked:,} records ({_stats(model)}) to {topic} at {bootstrap} in "
        f"{meter.elapsed:.1f} s ({meter.rate:,.0f}/s), scenario {parsed}, seed {seed}"
    )
    return 0


def _announce(scenario: Scenario, start_ms: int, span_s: float) -> None:
    """Say when the degraded channel (or queue) is bad, so a reader knows when to expect its
    alerts."""
    if scenario.degrade is None:
        return
    slow = scenario.slowdown(scenario.degrade, start_ms, span_s)
    assert slow is not None
    print(f"sqm generate: {scenario}: {scenario.target} degraded from "
          f"{format_ts(round(slow.from_ms))} to {format_ts(round(slow.until_ms))} (event time)",
          flush=True)


def _stats(model: TrafficModel) -> str:
    s = model.stats
    transfers = f" ({s.transfers:,} transfers)" if s.transfers else ""
    return (f"{s.events:,} events{transfers} of {s.interactions:,} contacts, "
            f"{s.duplicates:,} duplicates, {s.garbage:,} garbage")


def _kv(item: Item) -> KeyValue:
    return key_of(item), encode(item)


async def _generate_items(
    model: TrafficModel, meter: Meter, history_end: int
) -> AsyncIterator[KeyValue]:
    """History as fast as the producer takes it, then live on the wall clock."""
    assert model.start_ms is not None and model.end_ms is not None
    start, end = model.start_ms, model.end_ms
    t = start
    while t < history_end:
        t = min(t + STEP_MS, history_end)
        for item in model.events_until(t):
            yield _kv(item)
        meter.update((t - start) / 1000, meter.sent)
    if end > history_end:
        meter.phase("live", (end - history_end) / 1000)
    tick = time.monotonic()
    while True:
        now = _now_ms()
        last = now >= end
        batch = model.drain(end) if last else model.events_until(now)
        for item in batch:
            yield _kv(item)
        meter.update((min(now, end) - history_end) / 1000, meter.sent)
        if last:
            return
        tick += TICK_S
        delay = tick - time.monotonic()
        if delay > 0:
            await asyncio.sleep(min(delay, (end - now) / 1000 + 0.001))
        else:
            tick = time.monotonic()


def _generate_file(model: TrafficModel, out: Path) -> int:
    assert model.start_ms is not None and model.end_ms is not None
    start, end = model.start_ms, model.end_ms
    meter = Meter(f"writing {out.name}", (end - start) / 1000)
    written = 0
    try:
        with out.open("wb") as fh, meter:
            t = start
            while t < end:
                t = min(t + STEP_MS, end)
                written += _write(fh, model.events_until(t))
                meter.update((t - start) / 1000, written)
            written += _write(fh, model.drain(end))
            meter.update((end - start) / 1000, written)
    except OSError as exc:
        _err("generate", f"cannot write {out}: {exc.strerror or exc}")
        return 1
    print(f"wrote {written:,} lines ({_stats(model)}) to {out} in {meter.elapsed:.1f} s, "
          f"event time {(end - start) / 1000:,.0f} s ending now")
    return 0


def _write(fh: IO[bytes], items: list[Item]) -> int:
    if items:
        fh.write(b"".join(encode(item) + b"\n" for item in items))
    return len(items)


# --- sqm replay ----------------------------------------------------------------------------


def line_key(line: bytes) -> bytes | None:
    """The record key of a line: its ``interaction_id`` when it is an object that has one."""
    return key_of(line)


def replay_main(
    cfg: Config,
    path: Path,
    *,
    topic: str = DEFAULT_TOPIC,
    rate: float | None = None,
) -> int:
    """``sqm replay FILE``: every non-blank line, unchanged, as one record (``rate`` lines/s)."""
    if rate is not None and not (rate > 0 and math.isfinite(rate)):
        _err("replay", f"--rate must be a positive number of lines per second, got {rate}")
        return 2
    try:
        size = path.stat().st_size
        fh = path.open("rb")
    except OSError as exc:
        _err("replay", f"cannot read {path}: {exc.strerror or exc}")
        return 1
    bootstrap = cfg.bootstrap_servers
    meter = Meter(f"replay {path.name}", max(size, 1))
    try:
        with fh, meter:
            acked = asyncio.run(produce(
                bootstrap, topic, _replay_items(fh, meter, rate),
                on_sent=lambda n: setattr(meter, "sent", n), security=client_options(cfg.kafka),
                notice=lambda line: _err("replay", line),
            ))
    except ProduceError as exc:
        _err("replay", str(exc))
        return 1
    except OSError as exc:
        _err("replay", f"cannot read {path}: {exc.strerror or exc}")
        return 1
    except KeyboardInterrupt:
        print(f"interrupted: {meter.sent:,} lines of {path} handed to Kafka")
        return 130
    print(f"replayed {acked:,} lines of {path} to {topic} at {bootstrap} in "
          f"{meter.elapsed:.1f} s ({meter.rate:,.0f}/s)")
    return 0


async def _replay_items(
    fh: IO[bytes], meter: Meter, rate: float | None
) -> AsyncIterator[KeyValue]:
    started = time.monotonic()
    done_bytes = 0
    n = 0
    for raw in fh:
        done_bytes += len(raw)
        line = raw[:-1] if raw.endswith(b"\n") else raw
        if line.endswith(b"\r"):
            line = line[:-1]
        if not line.strip():
            continue
        if rate is not None:
            delay = started + n / rate - time.monotonic()
            if delay > 0.005:
                await asyncio.sleep(delay)
        n += 1
        yield line_key(line), line
        if n % 256 == 0 or rate is not None:
            meter.update(done_bytes, meter.sent)
    meter.update(done_bytes, meter.sent)
