"""How long the worker may go without its broker before it gives up (``broker_timeout_s``).

A worker that loses its broker cannot commit: its open transactions, and the state its loop has
computed since, are lost for good once the broker aborts them. Rather than rebuild every task in
place, the worker exits with one message, and its supervisor (Kubernetes, systemd) restarts it:
the restart restores each partition from its changelog, which is the path the crash tests
check. Without this, aiokafka's idempotent producers retry for ever and the worker would hang.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from datetime import UTC, datetime

from monitor.worker.task import Task

#: What happens after the worker stops on a broker failure (the end of its one log line).
RESTART_NOTE = ("exiting with code 1 so that the supervisor restarts the worker, which resumes "
                "from its last commit")
#: Seconds without a commit after which the watchdog asks the broker for metadata itself.
PROBE_AFTER_S = 5.0
#: Seconds the watchdog sleeps between checks.
CHECK_EVERY_S = 1.0


class BrokerLost(Exception):
    """The broker did not answer for ``broker_timeout_s``; the message is the one line to log."""


class BrokerWatch:
    """Tracks the last time the broker answered: a commit of any task, or a metadata probe sent
    only when no commit came for ``PROBE_AFTER_S``. ``run`` returns a ``BrokerLost`` once nothing
    answered for ``timeout_s``, or once one commit has been under way that long."""

    def __init__(self, bootstrap: str, timeout_s: float, tasks: Callable[[], Iterable[Task]],
                 probe: Callable[[], Awaitable[object]]) -> None:
        self.bootstrap = bootstrap
        self.timeout_s = timeout_s
        self.tasks = tasks
        self.probe = probe
        self.contact = time.monotonic()  # last time the broker answered

    def _answered(self, at: float) -> None:
        self.contact = max(self.contact, at)

    async def run(self) -> BrokerLost:
        while True:
            await asyncio.sleep(CHECK_EVERY_S)
            now = time.monotonic()
            for task in self.tasks():
                self._answered(task.committed_at)
                started = task.commit_started
                if started is not None and now - started > self.timeout_s:
                    return self._lost(f"a commit of {task.tp.topic}-{task.tp.partition} "
                                      f"under way since {self._wall(started)}")
            if now - self.contact > PROBE_AFTER_S:
                try:
                    await asyncio.wait_for(self.probe(), PROBE_AFTER_S)
                    self._answered(time.monotonic())
                except Exception:  # any failure means: no answer
                    pass
            if time.monotonic() - self.contact > self.timeout_s:
                return self._lost(f"no answer since {self._wall(self.contact)}")

    @staticmethod
    def _wall(monotonic_s: float) -> str:
        wall = time.time() - (time.monotonic() - monotonic_s)
        return datetime.fromtimestamp(wall, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    def _lost(self, what: str) -> BrokerLost:
        return BrokerLost(f"lost the broker at {self.bootstrap} for more than "
                          f"{self.timeout_s:g} s ({what}); {RESTART_NOTE}")
