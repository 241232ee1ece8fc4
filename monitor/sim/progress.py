"""The progress bar of ``sqm generate`` and ``sqm replay``: rich on a terminal, silent
otherwise (logs and pipes get the one summary line the commands print themselves)."""

from __future__ import annotations

import sys
import time

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)


class Meter:
    """A rich progress bar on a terminal, nothing otherwise; the summary line is ours."""

    def __init__(self, description: str, total: float) -> None:
        self.enabled = sys.stdout.isatty()
        self.started = time.monotonic()
        self.sent = 0
        self._phase_started = self.started
        self._phase_sent = 0
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[sent]:>10,} records"),
            TextColumn("{task.fields[rate]:>9,.0f}/s"),
            TimeElapsedColumn(),
            TextColumn("left"),
            TimeRemainingColumn(),
            console=Console(file=sys.stdout),
            disable=not self.enabled,
        )
        self.task: TaskID = self.progress.add_task(description, total=total, sent=0, rate=0.0)

    def __enter__(self) -> Meter:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self.started

    @property
    def rate(self) -> float:
        """Records per second over the whole run."""
        elapsed = self.elapsed
        return self.sent / elapsed if elapsed > 0 else 0.0

    @property
    def phase_rate(self) -> float:
        """Records per second since the current phase (history, live) began."""
        elapsed = time.monotonic() - self._phase_started
        return (self.sent - self._phase_sent) / elapsed if elapsed > 0 else 0.0

    def phase(self, description: str, total: float) -> None:
        self._phase_started, self._phase_sent = time.monotonic(), self.sent
        self.progress.reset(self.task, total=total, description=description,
                            sent=self.sent, rate=0.0)

    def update(self, completed: float, sent: int) -> None:
        self.sent = sent
        if self.enabled:
            self.progress.update(self.task, completed=completed, sent=sent, rate=self.phase_rate)
