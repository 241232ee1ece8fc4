"""The ``sqm`` console command (SPEC section 6): arguments and dispatch to each command's module."""

from __future__ import annotations

import argparse
import logging
import os
import sys
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
    from monitor.worker.main import run

    return run(_load_for_kafka(args), args.metrics_port)


def cmd_quality(args: argparse.Namespace) -> int:
    from monitor.quality.runner import metrics_port, run

    cfg = _load_for_kafka(args)
    return run(cfg, metrics_port(cfg, args.metrics_port, os.environ), verbose=args.verbose)


def cmd_topics(args: argparse.Namespace) -> int:
    from monitor.kafka import admin

    return admin.main(_load_for_kafka(args), check_only=args.action == "check")


def cmd_check_config(args: argparse.Namespace) -> int:
    from monitor.config.summary import summary
    from monitor.ops.rules.document import notes

    cfg = _load(args)
    print(summary(cfg, notes(cfg)))
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
    return watch_main(urls, cfg.queue_labels, args.interval, args.once, args.alertmanager,
                      args.by)


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
    p.add_argument("--scenario", default="steady",
                   help="steady | degrade:<channel> | degrade:<channel>/<queue>")
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
    p = sub.add_parser("watch", help="live per-channel (--by queue: and per-queue) summary "
                       "from workers' /metrics")
    p.add_argument("--url", action="append", help="metrics URL (repeat for several workers and "
                   "the quality stage; default: this config's worker and quality ports)")
    p.add_argument("--interval", type=float, default=2.0, help="seconds between refreshes")
    p.add_argument("--once", action="store_true", help="print one table and exit")
    p.add_argument("--alertmanager", metavar="URL",
                   help="also show the alerts Alertmanager has active, by receiver")
    p.add_argument("--by", choices=["channel", "queue"], default="channel",
                   help="a row per channel (default), or each channel followed by its queues")
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
