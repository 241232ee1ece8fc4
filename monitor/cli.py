"""The ``sqm`` console command (SPEC section 6)."""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import os
import signal
import socket
import sys
from collections.abc import Sequence
from pathlib import Path

from monitor import config as config_mod
from monitor.config import Config, ConfigError
from monitor.runtime import logthrottle


def _load(args: argparse.Namespace) -> Config:
    return config_mod.load(args.config)


class CommandFailed(Exception):
    """The command cannot start; the message is the one line to show (exit code 1)."""


def _load_for_kafka(args: argparse.Namespace) -> Config:
    """The config of a command that talks to Kafka, after one login with its ``[kafka]``
    settings: a refused password or TLS handshake stops here, with one message, instead of
    aiokafka's retries and "Unable to bootstrap"."""
    from monitor.kafka.security import KafkaAccessError, check_access_sync

    cfg = _load(args)
    try:
        check_access_sync(cfg.bootstrap_servers, cfg.kafka)
    except KafkaAccessError as exc:
        raise CommandFailed(str(exc)) from None
    return cfg


def cmd_worker(args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry, ProcessCollector

    from monitor.metrics.exporter import SqmCollector
    from monitor.metrics.server import serve
    from monitor.runtime.allocator import fix_mmap_threshold, heap_releaser
    from monitor.worker.loop import Worker

    cfg = _load_for_kafka(args)
    web = config_mod.load_web(cfg)  # before anything starts: a bad file is a config error
    # The state is millions of long-lived, cycle-free containers: frequent full collections
    # would walk all of them for nothing (measured: 1.6x faster hot path with these thresholds).
    gc.set_threshold(100_000, 50, 1000)
    fix_mmap_threshold()  # resident memory follows the state, not the largest fetch
    port = cfg.metrics_port if args.metrics_port is None else args.metrics_port
    worker = Worker(cfg, config_mod.domain_params(cfg),
                    client_id=f"sqm-worker-{socket.gethostname()}-{os.getpid()}",
                    on_idle=heap_releaser())  # after a burst, freed heap goes back
    registry = CollectorRegistry()
    registry.register(SqmCollector(cfg.channel_names, worker.snapshot))
    ProcessCollector(registry=registry)  # process_resident_memory_bytes, CPU, open fds
    try:
        server = serve(registry, cfg.metrics_bind, port, web, live=worker.heartbeat.check,
                       ready=worker.readiness.check)
    except OSError as exc:
        print(f"sqm worker: cannot serve metrics on {cfg.metrics_bind}:{port}: {exc}",
              file=sys.stderr)
        return 1
    print(f"sqm worker: broker {cfg.broker_url}, metrics on {server.url()}", flush=True)

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        await worker.run(stop)

    from aiokafka.errors import KafkaError

    from monitor.worker.restore import HangingTransaction
    from monitor.worker.task import DeliveryFailed
    from monitor.worker.watchdog import RESTART_NOTE, BrokerLost

    try:
        asyncio.run(main())
    except (BrokerLost, HangingTransaction) as exc:  # one line: what happened, what comes next
        logging.getLogger("sqm.worker").error("worker stopped: %s", exc)
        return 1
    except (KafkaError, DeliveryFailed) as exc:  # the broker failed a write or a commit
        logging.getLogger("sqm.worker").error(
            "worker stopped: the Kafka client failed (%s); %s", logthrottle.causes(exc),
            RESTART_NOTE)
        return 1
    except Exception as exc:  # anything else: exit so that a supervisor restarts us
        logging.getLogger("sqm.worker").exception("worker stopped: %s", exc)
        return 1
    return 0


def cmd_quality(args: argparse.Namespace) -> int:
    from monitor.quality.runner import metrics_port, run

    cfg = _load_for_kafka(args)
    return run(cfg, metrics_port(cfg, args.metrics_port, os.environ), verbose=args.verbose)


def cmd_topics(args: argparse.Namespace) -> int:
    from monitor.kafka import admin

    return admin.main(_load_for_kafka(args), check_only=args.action == "check")


def cmd_check_config(args: argparse.Namespace) -> int:
    cfg = _load(args)
    endpoint = metrics_summary(cfg)  # reads metrics_web_config: its errors stop here too
    print(f"config ok: broker {cfg.broker_url}, metrics port {cfg.metrics_port}, "
          f"window {cfg.window_s} s, grace {cfg.grace_s} s, channels {', '.join(cfg.channel_names)}")
    print(endpoint)
    print(cfg.kafka.summary())
    print()
    print(alerting_summary(cfg))
    r = cfg.rules
    print(f"\nrules: job {r.job}, watermark lag > {r.watermark_lag_s:g} s, dead letters > "
          f"{r.deadletter_ratio:.2%}, consumer lag > {r.consumer_lag_records} records, "
          f"runbook {r.runbook_url}")
    from monitor.ops.rules.document import notes

    for note in notes(cfg):
        print(f"note: {note}")
    print(f"\n{quality_summary(cfg)}")
    return 0


def cmd_rules(args: argparse.Namespace) -> int:
    from monitor.ops.rules.document import notes, render, render_prometheusrule

    cfg = _load(args)
    text = (render(cfg) if args.format == "file"
            else render_prometheusrule(cfg, args.namespace))
    if args.out is None:
        sys.stdout.write(text)
    else:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"sqm rules: wrote {args.out}", file=sys.stderr)
    for note in notes(cfg):
        print(f"sqm rules: note: {note}", file=sys.stderr)
    return 0


def metrics_summary(cfg: Config) -> str:
    """How the worker and the quality stage serve /metrics, /healthz and /readyz."""
    web = config_mod.load_web(cfg)
    scheme = "https" if web is not None and web.tls is not None else "http"
    n = 0 if web is None else len(web.users)
    auth = f"basic auth for /metrics ({n} user{'s' * (n != 1)})" if n else "no authentication"
    return (f"metrics: {scheme} on {cfg.metrics_bind}, ports {cfg.metrics_port} (worker) and "
            f"{cfg.quality.metrics_port} (quality), {auth}; /healthz and /readyz open")


def quality_summary(cfg: Config) -> str:
    """``[quality]``: period, method and the weights in force (AHP with its consistency ratio;
    entropy weights are computed each period from the data)."""
    q = cfg.quality
    head = (f"quality: period {q.period_s} s, method {q.method}, metrics port {q.metrics_port}"
            + (f", entropy over the last {q.entropy_periods} periods" if q.method == "entropy"
               else ""))
    weights = q.static_weights()
    if weights is None:
        return head + "\n  weights: entropy, recomputed at the close of each period"
    lines = [head]
    if q.method == "ahp" and q.ahp_consistency_ratio is not None:
        lines.append(f"  AHP consistency ratio {q.ahp_consistency_ratio:.3f} (must stay below 0.1)")
    lines += [f"  weight {name:<24} {w:.4f}" for name, w in weights.items() if w > 0]
    return "\n".join(lines)


def _fmt(value: object) -> str:
    return "-" if value is None else f"{value:g}" if isinstance(value, float) else str(value)


def alerting_summary(cfg: Config) -> str:
    """The effective ``[[alerts]]`` and ``[[slos]]`` (defaults included) as two text tables."""
    def chans(names: tuple[str, ...]) -> str:
        return "all" if names == cfg.channel_names else ",".join(names)

    rows = [("alert", "op", "warning", "critical", "for", "clear", "min_volume", "channels")]
    rows += [(a.indicator, a.op, _fmt(a.warning), _fmt(a.critical), str(a.for_windows),
              str(a.clear_windows), str(a.min_volume), chans(a.channels)) for a in cfg.alerts]
    slos = [("slo", "indicator", "objective", "period_days", "min_events", "channels")]
    slos += [(s.name, s.indicator, _fmt(s.objective), str(s.period_days), str(s.min_events),
              chans(s.channels)) for s in cfg.slos]
    return "\n".join([*_table(rows), "", *_table(slos)])


def _table(rows: Sequence[tuple[str, ...]]) -> list[str]:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    return ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip() for r in rows]


def cmd_dashboards(args: argparse.Namespace) -> int:
    from monitor.ops.dashboards.document import write

    for path in write(_load(args), Path(args.out)):
        print(f"sqm dashboards: wrote {path}")
    return 0


def cmd_generate(args: argparse.Namespace) -> int:
    from monitor.sim.producer import generate_main

    cfg = _load(args) if args.out is not None else _load_for_kafka(args)  # a file: no Kafka
    return generate_main(
        cfg, rate=args.rate, duration_s=args.duration, scenario=args.scenario,
        seed=args.seed, out=args.out, history_s=args.history, duplicate_ratio=args.duplicates,
        disorder_ms=args.disorder_ms, garbage_ratio=args.garbage,
    )


def cmd_replay(args: argparse.Namespace) -> int:
    from monitor.sim.producer import replay_main

    return replay_main(_load_for_kafka(args), args.file, rate=args.rate)


def cmd_watch(args: argparse.Namespace) -> int:
    from monitor.metrics.watch import main as watch_main

    cfg = _load(args)
    urls = args.url or [f"http://127.0.0.1:{cfg.metrics_port}/metrics",
                        f"http://127.0.0.1:{cfg.quality.metrics_port}/metrics"]
    return watch_main(urls, cfg.channel_names, args.interval, args.once, args.alertmanager)


def cmd_report(args: argparse.Namespace) -> int:
    from monitor.report.command import report_main

    return report_main(_load_for_kafka(args), args.from_time, args.to_time, args.channel or (), args.format,
                       args.out)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="sqm", description="Streaming service-quality monitor")
    parser.add_argument("--config", type=Path, default=None,
                        help="TOML config file (default: $SQM_CONFIG, else built-in defaults)")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("worker", help="run a stream-processing worker (start several to scale out)")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="override metrics_port / SQM_METRICS_PORT")
    p.set_defaults(func=cmd_worker)

    p = sub.add_parser("quality", help="run the quality stage (quality index, SERVQUAL gaps and "
                       "cross-channel consistency per period; a Faust worker)")
    p.add_argument("--metrics-port", type=int, default=None,
                   help="override quality.metrics_port / SQM_QUALITY_METRICS_PORT")
    p.set_defaults(func=cmd_quality)

    p = sub.add_parser("topics", help="create or check the topics defined in topics/")
    p.add_argument("action", choices=["apply", "check"])
    p.set_defaults(func=cmd_topics)

    p = sub.add_parser("check-config", help="validate the configuration and print a summary")
    p.set_defaults(func=cmd_check_config)
    p = sub.add_parser("rules", help="print the Prometheus rule file (recording, threshold, SLO "
                       "burn-rate and pipeline-health rules) generated from the config")
    p.add_argument("--out", metavar="FILE", help="write FILE instead of standard output")
    p.add_argument("--format", choices=["file", "prometheusrule"], default="file",
                   help="a Prometheus rule file (default) or a prometheus-operator "
                        "PrometheusRule for Kubernetes")
    p.add_argument("--namespace", default="sqm",
                   help="the PrometheusRule's namespace (default: sqm)")
    p.set_defaults(func=cmd_rules)
    p = sub.add_parser("dashboards", help="write the Grafana dashboards (overview, SLOs, pipeline "
                       "health) generated from the config")
    p.add_argument("--out", metavar="DIR", default="grafana/dashboards",
                   help="directory for the JSON files (default: grafana/dashboards)")
    p.set_defaults(func=cmd_dashboards)

    p = sub.add_parser("generate", help="produce realistic synthetic traffic")
    p.add_argument("--rate", type=float, default=200.0, help="events per second (default 200)")
    p.add_argument("--duration", type=float, default=60.0, help="seconds (default 60)")
    p.add_argument("--scenario", default="steady", help="steady | degrade:<channel>")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--out", type=Path, default=None, help="write JSON lines here instead of Kafka")
    p.add_argument("--history", type=float, default=None,
                   help="generate this many seconds of history ending now, as fast as possible")
    p.add_argument("--duplicates", type=float, default=0.0, help="ratio of duplicated events")
    p.add_argument("--disorder-ms", type=int, default=0, help="max delivery delay (out of order)")
    p.add_argument("--garbage", type=float, default=0.0, help="ratio of invalid records")
    p.set_defaults(func=cmd_generate)

    p = sub.add_parser("replay", help="produce the JSON lines of FILE into the input topic")
    p.add_argument("file", type=Path)
    p.add_argument("--rate", type=float, default=None, help="lines per second (default: max)")
    p.set_defaults(func=cmd_replay)
    p = sub.add_parser("watch", help="live per-channel summary from workers' /metrics")
    p.add_argument("--url", action="append", help="metrics URL (repeat for several workers and "
                   "the quality stage; default: this config's worker and quality ports)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes")
    p.add_argument("--once", action="store_true", help="print one table and exit")
    p.add_argument("--alertmanager", metavar="URL",
                   help="also show the alerts Alertmanager has active, by receiver")
    p.set_defaults(func=cmd_watch)

    p = sub.add_parser("report", help="write a period report (targets, SLA attainment, error "
                       "budgets, alerts, quality index, SERVQUAL gaps) read from the output topics")
    p.add_argument("--from", dest="from_time", required=True, metavar="T",
                   help="start (inclusive): RFC 3339 with offset, a date (UTC midnight), now, or "
                        "relative like now-7d (write --from=-7d for the short form)")
    p.add_argument("--to", dest="to_time", required=True, metavar="T",
                   help="end (exclusive), same forms as --from")
    p.add_argument("--channel", action="append", metavar="C",
                   help="report this channel (repeat for several; default: all)")
    p.add_argument("--format", choices=["html", "md"], default="html",
                   help="a self-contained HTML file (default) or Markdown")
    p.add_argument("--out", metavar="FILE",
                   help="output file (default: sqm-report-<from>-<to>.<html|md> here)")
    p.set_defaults(func=cmd_report)

    for p in sub.choices.values():  # --config (and -v) also after the subcommand (SPEC 6)
        _common_options(p)
    return parser


def _common_options(p: argparse.ArgumentParser) -> None:
    """``--config`` and ``-v`` after a subcommand. SUPPRESS: not given there, the value given
    before the subcommand (or its default) stays; given in both places, the later one wins."""
    p.add_argument("--config", type=Path, default=argparse.SUPPRESS,
                   help="TOML config file (also accepted before the subcommand)")
    p.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS,
                   help="debug logging")


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    logthrottle.install()  # a broker outage makes aiokafka repeat itself thousands of times
    try:
        return int(args.func(args))
    except ConfigError as exc:
        print(f"sqm: bad config: {exc}", file=sys.stderr)
        return 2
    except CommandFailed as exc:
        print(f"sqm {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `sqm rules | head`: the reader left; say nothing more
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
