"""Throttle the Kafka client's log lines: during a broker outage aiokafka logs the same error
for every retry (about 2,000 lines a second with the worker's short retry backoff), which
floods a log pipeline just when an operator reads it, often with a traceback each. Its records
pass at most once per template every ``every_s``, on one line (a traceback becomes the one-line
chain of its causes). Our own log lines are never throttled."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

#: loggers whose records are throttled (the Kafka client libraries')
THROTTLED_PREFIXES = ("aiokafka", "kafka")
#: distinct message templates remembered; beyond, the memory starts again (templates come from
#: the libraries' source, so this is never reached in practice)
MAX_TEMPLATES = 1000


def causes(exc: BaseException) -> str:
    """An exception and what caused it, on one line, outermost first."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        text = f"{type(current).__name__}: {current}".strip()
        if not parts or text not in parts[-1]:
            parts.append(text)
        current = current.__cause__ or current.__context__
    return " <- ".join(parts)


class Throttle(logging.Filter):
    """Lets through at most one record per (logger, message template) every ``every_s``; the
    next one let through says how many were held back since the last."""

    def __init__(self, every_s: float = 10.0, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__()
        self.every_s = every_s
        self.clock = clock
        self._seen: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if not record.name.startswith(THROTTLED_PREFIXES):
            return True
        key = (record.name, str(record.msg))
        now = self.clock()
        last = self._seen.get(key)
        if last is not None and now - last[0] < self.every_s:
            self._seen[key] = (last[0], last[1] + 1)
            return False
        if len(self._seen) >= MAX_TEMPLATES:
            self._seen.clear()
        self._seen[key] = (now, 0)
        if record.exc_info and record.exc_info[1] is not None:
            record.msg = f"{record.msg} ({causes(record.exc_info[1])})"
            record.exc_info, record.exc_text = None, None
        if last is not None and last[1]:
            record.msg = f"{record.msg} [{last[1]} more like this in the last {now - last[0]:.0f} s]"
        return True


def install(every_s: float = 10.0) -> None:
    """Add the throttle to every handler of the root logger (call after ``basicConfig``)."""
    throttle = Throttle(every_s)
    for handler in logging.getLogger().handlers:
        handler.addFilter(throttle)
