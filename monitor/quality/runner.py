"""``sqm quality``: the Faust worker in this process, with the stage's own ``/metrics``.

Faust's worker (mode) owns the event loop and the signals: SIGINT and SIGTERM stop it cleanly
(agents finish the event in hand, offsets are committed, the producer is flushed).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path

import faust
from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry

from monitor import config as config_mod
from monitor.config import Config, ConfigError
from monitor.contract.topics import TOPIC_INDICATORS, TopicDef, load_definitions
from monitor.kafka import admin
from monitor.kafka.security import ClientOptions, client_options
from monitor.metrics.health import Heartbeat
from monitor.metrics.server import serve
from monitor.quality.app import QualityStage, app_id
from monitor.quality.exporter import QualityCollector

ENV_METRICS_PORT = "SQM_QUALITY_METRICS_PORT"


class StageError(RuntimeError):
    """The stage cannot start (its internal topics); the message says why."""


#: metadata checks, 0.2 s apart, before a created topic must show as defined
DECLARE_TRIES = 50
#: how often a Faust timer stamps the heartbeat of ``/healthz``
HEARTBEAT_S = 1.0


def metrics_port(cfg: Config, override: int | None, env: Mapping[str, str]) -> int:
    """``--metrics-port``, else ``$SQM_QUALITY_METRICS_PORT``, else ``quality.metrics_port``."""
    if override is not None:
        return override
    raw = env.get(ENV_METRICS_PORT, "").strip()
    if not raw:
        return cfg.quality.metrics_port
    try:
        port = int(raw)
    except ValueError:
        raise ConfigError(f"{ENV_METRICS_PORT}: expected an integer, got {raw!r}") from None
    if not 0 <= port <= 65535:
        raise ConfigError(f"{ENV_METRICS_PORT}: expected a port 0..65535, got {port}")
    return port


def _layout(env: Mapping[str, str]) -> tuple[int, int]:
    """The input's partition count (the ``periods`` table must match it) and the replication
    factor of the topics Faust declares, both from ``topics.toml`` like ``sqm topics apply``."""
    (indicators,) = [d for d in load_definitions() if d.name == TOPIC_INDICATORS]
    return indicators.partitions, admin.replication_override(env) or indicators.replication_factor


async def _declare(bootstrap: str, defs: list[TopicDef], security: ClientOptions
                   ) -> list[str]:
    """Create the missing internal topics, then wait until the broker shows every one as
    defined; the problems left (e.g. a changelog with another partition count) otherwise."""
    await admin.apply(bootstrap, defs, security=security)
    problems: list[str] = []
    for _ in range(DECLARE_TRIES):
        statuses = await admin.apply(bootstrap, defs, create=False, security=security)
        problems = [f"{s.name}: {'; '.join(s.differences)}" for s in statuses if s.status != "ok"]
        if not problems:
            break
        await asyncio.sleep(0.2)
    return problems


def declare(bootstrap: str, defs: list[TopicDef], security: ClientOptions | None = None
            ) -> None:
    """Faust declares its topics itself, but a table used right after its changelog was
    created can see it with 0 partitions in the consumer's metadata and refuse every write
    (``PartitionsMismatch``, faust-streaming 0.15.3 + aiokafka 0.14). Creating them first, and
    waiting until they show, avoids that race; it also checks an existing changelog still has
    its input's partition count."""
    try:
        problems = asyncio.run(_declare(bootstrap, defs, security or {}))
    except (KafkaError, OSError) as exc:
        raise StageError(f"cannot create the internal topics on {bootstrap}: {exc!r}") from None
    finally:
        asyncio.set_event_loop(asyncio.new_event_loop())  # asyncio.run left none for Faust
    if problems:
        raise StageError("internal topics of the quality stage: " + "; ".join(problems))


def readiness(app: faust.App) -> str | None:
    """``/readyz``: ready once Faust has had its partitions assigned and its tables recovered
    (``rebalancing`` is set when a rebalance starts and cleared after the recovery)."""
    if app.rebalancing_count == 0:
        return "waiting for the first partition assignment"
    if app.rebalancing:
        return "rebalancing: recovering the tables"
    return None


def run(cfg: Config, port: int, verbose: bool = False) -> int:
    """Run until SIGINT/SIGTERM; 0 after a clean stop, 1 when the stage failed."""
    web = config_mod.load_web(cfg)  # before anything starts: a bad file is a config error
    partitions, replication = _layout(os.environ)
    with tempfile.TemporaryDirectory(prefix="sqm-quality-") as datadir:
        stage = QualityStage(cfg, Path(datadir), indicators_partitions=partitions,
                             replication=replication)
        try:
            declare(cfg.bootstrap_servers, stage.internal_topics(replication),
                    client_options(cfg.kafka))
        except (StageError, admin.TopicsError) as exc:
            print(f"sqm quality: {exc}", file=sys.stderr)
            return 1
        registry = CollectorRegistry()
        registry.register(QualityCollector(cfg.channel_names, lambda: stage.snapshot))
        heartbeat = Heartbeat()

        async def beat() -> None:  # runs while Faust's event loop does
            heartbeat.beat()

        stage.app.timer(HEARTBEAT_S)(beat)
        try:
            server = serve(registry, cfg.metrics_bind, port, web, live=heartbeat.check,
                           ready=lambda: readiness(stage.app))
        except OSError as exc:
            print(f"sqm quality: cannot serve metrics on {cfg.metrics_bind}:{port}: {exc}",
                  file=sys.stderr)
            return 1
        print(f"sqm quality: broker {cfg.broker_url}, app {app_id(cfg)}, method "
              f"{cfg.quality.method}, period {cfg.quality.period_s} s, metrics on "
              f"{server.url()}", flush=True)
        worker = faust.Worker(stage.app, loglevel="DEBUG" if verbose else "INFO", quiet=True,
                              redirect_stdouts=False, stdout=sys.stderr)
        for name in ("aiokafka", "faust", "mode"):
            logging.getLogger(name).setLevel(logging.DEBUG if verbose else logging.WARNING)
        with contextlib.suppress(SystemExit):
            worker.execute_from_commandline()
    return 1 if stage.failure is not None else 0
