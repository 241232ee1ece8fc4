"""``sqm worker`` as a process: the metrics endpoint, the memory settings, the loop and its exit.

Every way the worker stops ends in one log line and an exit code a supervisor acts on: 0 after
SIGTERM or SIGINT, 1 when the broker or the Kafka client failed (it resumes from its last
commit when restarted).
"""

from __future__ import annotations

import asyncio
import gc
import logging
import os
import signal
import socket
import sys

from aiokafka.errors import KafkaError
from prometheus_client import CollectorRegistry, ProcessCollector

from monitor.config import Config, domain_params, load_web
from monitor.metrics.exporter import SqmCollector
from monitor.metrics.server import serve
from monitor.runtime import logthrottle
from monitor.runtime.allocator import fix_mmap_threshold, heap_releaser
from monitor.worker.loop import Worker
from monitor.worker.restore import HangingTransaction
from monitor.worker.task import DeliveryFailed
from monitor.worker.watchdog import RESTART_NOTE, BrokerLost

log = logging.getLogger("sqm.worker")


def run(cfg: Config, metrics_port: int | None) -> int:
    """Serve metrics and run the worker until a signal; the process's exit code."""
    web = load_web(cfg)  # before anything starts: a bad file is a config error
    # The state is millions of long-lived, cycle-free containers: frequent full collections
    # would walk all of them for nothing (measured: 1.6x faster hot path with these thresholds).
    gc.set_threshold(100_000, 50, 1000)
    fix_mmap_threshold()  # resident memory follows the state, not the largest fetch
    port = cfg.metrics_port if metrics_port is None else metrics_port
    worker = Worker(cfg, domain_params(cfg),
                    client_id=f"sqm-worker-{socket.gethostname()}-{os.getpid()}",
                    on_idle=heap_releaser())  # after a burst, freed heap goes back
    registry = CollectorRegistry()
    registry.register(SqmCollector(cfg.queue_labels, worker.snapshot))
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

    try:
        asyncio.run(main())
    except (BrokerLost, HangingTransaction) as exc:  # one line: what happened, what comes next
        log.error("worker stopped: %s", exc)
        return 1
    except (KafkaError, DeliveryFailed) as exc:  # the broker failed a write or a commit
        log.error("worker stopped: the Kafka client failed (%s); %s", logthrottle.causes(exc),
                  RESTART_NOTE)
        return 1
    except Exception as exc:  # anything else: exit so that a supervisor restarts us
        log.exception("worker stopped: %s", exc)
        return 1
    return 0
