"""What ``sqm check-config`` prints: the configuration in force, defaults included."""

from __future__ import annotations

from collections.abc import Sequence

from monitor.config.loader import load_web
from monitor.config.model import Config


def metrics_summary(cfg: Config) -> str:
    """How the worker and the quality stage serve /metrics, /healthz and /readyz (reads
    ``metrics_web_config``: its errors are config errors here too)."""
    web = load_web(cfg)
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


def summary(cfg: Config, notes: Sequence[str]) -> str:
    """The whole ``check-config`` text, built before any of it is printed (a bad
    ``metrics_web_config`` stops with nothing printed); ``notes``: what ``sqm rules`` warns of."""
    r = cfg.rules
    lines = [
        f"config ok: broker {cfg.broker_url}, metrics port {cfg.metrics_port}, "
        f"window {cfg.window_s} s, grace {cfg.grace_s} s, channels {', '.join(cfg.channel_names)}",
        metrics_summary(cfg),
        cfg.kafka.summary(),
        "",
        alerting_summary(cfg),
        f"\nrules: job {r.job}, watermark lag > {r.watermark_lag_s:g} s, dead letters > "
        f"{r.deadletter_ratio:.2%}, consumer lag > {r.consumer_lag_records} records, "
        f"runbook {r.runbook_url}",
        *(f"note: {note}" for note in notes),
        f"\n{quality_summary(cfg)}",
    ]
    return "\n".join(lines)
