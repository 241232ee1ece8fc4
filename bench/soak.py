"""Soak: the local stack for a given time at a steady rate, with periodic worker restarts.

    make soak                                   # 30 minutes, 200 events/s, a restart every 5 min
    .venv/bin/python bench/soak.py --minutes 30 --rate 200 --restart-every 300 --out soak.md

Starts its own broker (a free port, a temporary data dir), applies the topics, runs one
``sqm worker`` and ``sqm generate`` at a steady rate, and restarts the worker every
``--restart-every`` seconds, alternately with SIGTERM (a clean leave) and SIGKILL (a crash).
Every 10 s it samples the worker's consumer lag, watermark lag and resident memory. It reports:

* **lag**: the largest consumer lag and watermark lag seen, and the lag at the end (after the
  generator stops, the worker must catch up to 0);
* **memory**: per worker generation, resident memory a minute after its start and at its end,
  so a leak shows as growth within a generation (a restart would hide it otherwise);
* **accounting**: before each restart and at the end, ``sqm_records_consumed_total`` against
  the sum of what the records became (README "Accounting"); any difference is listed;
* **exactness**: ``sqm.indicators.v1`` read back (read_committed): any (channel, window) with two
  different records is listed (a restart may re-emit a window, never change it).

Not a test (it takes as long as it is told to); its figures go in an issue's note.
"""

from __future__ import annotations

import argparse
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import orjson
from prometheus_client.parser import text_string_to_metric_families

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "tests"))

from kafka_broker import free_port, start_broker, stop_broker  # noqa: E402

from monitor.kafka.reader import read_range_sync  # noqa: E402

T = TypeVar("T")
SAMPLE_EVERY_S = 10.0
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


def scrape(port: int) -> Samples | None:
    """The worker's /metrics as {(name, labels): value}; None while it does not answer."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as resp:
            text = resp.read().decode()
    except OSError:
        return None
    out: Samples = {}
    for fam in text_string_to_metric_families(text):
        for s in fam.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def total(samples: Samples, name: str) -> float:
    return sum(v for (n, _), v in samples.items() if n == name)


def accounting_difference(samples: Samples) -> float:
    """consumed + restored - (events + duplicates + rejected + held + rekeyed + handed over):
    0 when nothing is lost (README "Accounting")."""
    used = sum(total(samples, n) for n in ("sqm_events_total", "sqm_events_duplicate_total",
                                           "sqm_events_rejected_total", "sqm_events_held",
                                           "sqm_events_rekeyed_total",
                                           "sqm_events_handed_over_total"))
    return (total(samples, "sqm_records_consumed_total")
            + total(samples, "sqm_events_restored_total") - used)


def settled_accounting(port: int, first: Samples, within_s: float = 20.0) -> float:
    """The accounting difference once it is 0, or the last one seen within ``within_s``.

    A scrape may fall between the loop taking a batch (the records are consumed and held) and
    its sender counting the batch's events: a difference then is in flight, not lost. One that
    stays for ``within_s`` under steady traffic is reported as it is."""
    diff = accounting_difference(first)
    end = time.monotonic() + within_s
    while diff != 0 and time.monotonic() < end:
        time.sleep(0.5)
        samples = scrape(port)
        if samples is not None:
            diff = accounting_difference(samples)
    return diff


def rss_mib(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def wait_for(check: Callable[[], T | None], deadline_s: float, what: str) -> T:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        value = check()
        if value:
            return value
        time.sleep(0.5)
    raise RuntimeError(f"timed out after {deadline_s:.0f} s waiting for {what}")


@dataclass
class Generation:
    """One worker process: when it started, how it ended, its memory and accounting."""

    started_s: float
    ended_by: str = "running"
    rss_after_1min: float | None = None
    rss_at_end: float | None = None
    accounting: float | None = None
    interactions_at_end: float | None = None  # sqm_state_interactions: the state it holds


@dataclass
class Soak:
    tmp: Path
    bootstrap: str
    cfg: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None
    generations: list[Generation] = field(default_factory=list)
    max_lag: float = 0.0
    max_watermark_lag_s: float = 0.0

    def start_worker(self) -> None:
        log = (self.tmp / f"worker-{len(self.generations)}.log").open("wb")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(self.cfg), "worker",
             "--metrics-port", str(self.port)], stdout=log, stderr=subprocess.STDOUT)
        self.generations.append(Generation(time.monotonic()))
        wait_for(lambda: (scrape(self.port) or {}).get(("sqm_assigned_partitions",
                                                        (("stage", "interactions"),))), 180,
                 "the worker to own its partitions")

    def stop_worker(self, how: signal.Signals) -> None:
        assert self.proc is not None
        gen = self.generations[-1]
        samples = scrape(self.port)
        gen.rss_at_end = rss_mib(self.proc.pid)
        if samples is not None:
            gen.accounting = settled_accounting(self.port, samples)
            gen.interactions_at_end = samples.get(("sqm_state_interactions", ()))
        gen.ended_by = how.name
        self.proc.send_signal(how)
        self.proc.wait(120)

    def sample(self) -> None:
        assert self.proc is not None
        gen = self.generations[-1]
        if gen.rss_after_1min is None and time.monotonic() - gen.started_s >= 60:
            gen.rss_after_1min = rss_mib(self.proc.pid)
        samples = scrape(self.port)
        if samples is not None:
            self.max_lag = max(self.max_lag, total(samples, "sqm_consumer_lag_records"))
            self.max_watermark_lag_s = max(self.max_watermark_lag_s,
                                           total(samples, "sqm_watermark_lag_seconds"))


def conflicting_windows(bootstrap: str) -> tuple[int, list[str]]:
    """(records read, the (channel, window) keys that have two different records)."""
    records = read_range_sync(bootstrap, "sqm.indicators.v1", 0, 2**62, slack_ms=0,
                              from_beginning=True)
    seen: dict[tuple[str, str], set[bytes]] = defaultdict(set)
    for r in records:
        doc: dict[str, Any] = orjson.loads(r.value)
        seen[(doc["channel"], doc["window_start"])].add(orjson.dumps(doc, option=orjson.OPT_SORT_KEYS))
    return len(records), [f"{ch} {w}" for (ch, w), values in sorted(seen.items()) if len(values) > 1]


def _n(x: float | None) -> str:
    return "n/a" if x is None else f"{x:.0f}"


def report(soak: Soak, args: argparse.Namespace, end_lag: float, end_accounting: float,
           n_records: int, conflicts: list[str], elapsed_s: float) -> str:
    lines = [f"# Soak: {args.minutes:g} min at {args.rate:g} events/s, a worker restart every "
             f"{args.restart_every:g} s", "",
             f"- ran {elapsed_s / 60:.1f} min, {len(soak.generations)} worker generations",
             f"- largest consumer lag {soak.max_lag:.0f} records, largest watermark lag "
             f"{soak.max_watermark_lag_s:.1f} s; lag after the traffic stopped: {end_lag:.0f}",
             f"- accounting difference at the end: {end_accounting:.0f}",
             f"- {n_records} indicator records read back; (channel, window) with two different "
             f"records: {len(conflicts)}{' ' + ', '.join(conflicts[:10]) if conflicts else ''}",
             "- interactions in the state: open ones and closed ones kept for `reopen_window_s` "
             "(7 days), so the state, and a restarted worker's memory, grow with the traffic "
             "until closed interactions start to expire",
             "", "| generation | ended by | RSS after 1 min (MiB) | RSS at end (MiB) | growth | "
             "interactions at end | KiB per interaction | accounting difference |",
             "|---:|---|---:|---:|---:|---:|---:|---:|"]
    for i, g in enumerate(soak.generations):
        growth = ("n/a" if g.rss_after_1min is None or g.rss_at_end is None
                  else f"{100 * (g.rss_at_end / g.rss_after_1min - 1):+.1f}%")
        per = ("n/a" if not g.interactions_at_end or g.rss_at_end is None
               else f"{g.rss_at_end * 1024 / g.interactions_at_end:.2f}")
        lines.append(f"| {i} | {g.ended_by} | {_n(g.rss_after_1min)} | {_n(g.rss_at_end)} | "
                     f"{growth} | {_n(g.interactions_at_end)} | {per} | {_n(g.accounting)} |")
    return "\n".join(lines) + "\n"


def run(args: argparse.Namespace) -> str:
    tmp = Path(tempfile.mkdtemp(prefix="sqm-soak-"))
    kafka_port = free_port()
    bootstrap = start_broker(kafka_port, tmp / "kafka")
    try:
        cfg = tmp / "sqm.toml"
        cfg.write_text(f'broker_url = "kafka://{bootstrap}"\ngroup_id = "soak"\n')
        subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(cfg), "topics",
                        "apply"], check=True, stdout=subprocess.DEVNULL)
        soak = Soak(tmp, bootstrap, cfg)
        soak.start_worker()
        started = time.monotonic()
        duration_s = args.minutes * 60
        gen = subprocess.Popen(
            [sys.executable, "-m", "monitor.cli", "--config", str(cfg), "generate", "--rate",
             str(args.rate), "--duration", str(duration_s), "--scenario", "degrade:chat",
             "--duplicates", "0.01", "--disorder-ms", "3000", "--garbage", "0.002"],
            stdout=(tmp / "generate.log").open("wb"), stderr=subprocess.STDOUT)
        next_restart = started + args.restart_every
        kinds = [signal.SIGTERM, signal.SIGKILL]
        while gen.poll() is None:
            time.sleep(SAMPLE_EVERY_S)
            soak.sample()
            if time.monotonic() >= next_restart and time.monotonic() - started < duration_s - 60:
                soak.stop_worker(kinds[(len(soak.generations) - 1) % 2])
                soak.start_worker()
                next_restart = time.monotonic() + args.restart_every
            print(f"soak: {(time.monotonic() - started) / 60:.1f} min, lag {soak.max_lag:.0f}",
                  file=sys.stderr)
        def caught_up() -> Samples | None:
            s = scrape(soak.port)
            return s if s is not None and total(s, "sqm_consumer_lag_records") == 0 else None

        end = wait_for(caught_up, 300, "the worker to catch up")
        soak.sample()
        end_accounting = settled_accounting(soak.port, end)
        soak.stop_worker(signal.SIGTERM)
        n_records, conflicts = conflicting_windows(bootstrap)
        return report(soak, args, total(end, "sqm_consumer_lag_records"), end_accounting,
                      n_records, conflicts, time.monotonic() - started)
    finally:
        stop_broker(kafka_port, tmp / "kafka")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    ap.add_argument("--minutes", type=float, default=float(os.environ.get("SOAK_MINUTES", 30)))
    ap.add_argument("--rate", type=float, default=200.0, help="events per second")
    ap.add_argument("--restart-every", type=float, default=300.0, help="seconds")
    ap.add_argument("--out", type=Path, default=None, help="also write the report here")
    args = ap.parse_args()
    text = run(args)
    print(text)
    if args.out is not None:
        args.out.write_text(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
