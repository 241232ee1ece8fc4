"""Stage two's changelog (``sqm.internal.windows-changelog.v1``): open windows and its state.

Keys: ``a:<channel>:<queue>:<window start ms>`` per open window of a queue (the accumulator's
JSON, a tombstone once final) and ``m:`` for the marks, the next window to finalise, the latest
record per channel and queue, the queues that have started and the state of each threshold
alert. The worker adds ``o:``, the partials offset to resume at
(``monitor.state.changelog.OFFSET_KEY``), and takes it out before ``restore``. A changelog of
a release before queues (``a:<channel>:<window>``) restores into each channel's default queue.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import msgspec
import orjson

from monitor.contract import indicators
from monitor.contract.partials import acc_from_json, acc_to_json
from monitor.domain.alerts import AlertState
from monitor.domain.stream.indicators import Indicators
from monitor.domain.stream.queues import ChannelQueues, Queue
from monitor.domain.stream.watermark import Mark
from monitor.domain.stream.window import WindowAcc
from monitor.state.changelog import ChangelogRecord, last_values

META_KEY = b"m:"

#: ``(channel, queue)``; queue ``""``: the channel's roll-up
Series = tuple[str, str]


@dataclass(frozen=True, slots=True)
class AggState:
    """What stage two keeps besides its open windows: each input partition's latest mark, the
    next window to finalise, the latest final record per channel and queue, the state of every
    threshold alert of its channels and queues (by channel, queue and indicator), and the
    queues that have had a window with an event (each has a record every window since)."""

    marks: dict[int, Mark]
    next_w: int | None
    latest: dict[Series, Indicators]
    alerts: dict[tuple[str, str, str], AlertState] = field(default_factory=dict)
    started: frozenset[Queue] = frozenset()


def records(changed: dict[tuple[Queue, int], WindowAcc | None], state: AggState | None
            ) -> list[ChangelogRecord]:
    """The changelog records of one batch of stage two: the open windows it changed (None:
    finalised, a tombstone) and its state if that changed."""
    out: list[ChangelogRecord] = [
        (f"a:{q.channel}:{q.name}:{w}".encode(),
         None if acc is None else orjson.dumps(acc_to_json(acc)))
        for (q, w), acc in changed.items()
    ]
    if state is not None:
        out.append((META_KEY, _encode_state(state)))
    return out


def _encode_state(s: AggState) -> bytes:
    marks = s.marks.items()
    return orjson.dumps({
        "src_wm": [[k, m.watermark_ms] for k, m in marks],
        "src_first": [[k, m.first_ts_ms] for k, m in marks],
        "src_idle": [[k, m.idle] for k, m in marks],
        "next_w": s.next_w,
        "latest": {ch: indicators.record(rec) for (ch, q), rec in s.latest.items() if not q},
        "latest_q": [[ch, q, indicators.record(rec)] for (ch, q), rec in s.latest.items() if q],
        "alerts": [[ch, q, ind, msgspec.structs.astuple(a)]
                   for (ch, q, ind), a in s.alerts.items()],
        "started": sorted([q.channel, q.name] for q in s.started),
    })


def restore(items: Iterable[ChangelogRecord], queues: Mapping[str, ChannelQueues]) -> tuple[
        AggState | None, dict[tuple[Queue, int], WindowAcc]]:
    """The state and the open windows, from changelog records; queues are found among
    ``queues`` by name (one no longer declared: under ``other``)."""
    state: AggState | None = None
    accs: dict[tuple[Queue, int], WindowAcc] = {}
    for k, v in last_values(items).items():
        d = orjson.loads(v)
        if k == META_KEY:
            state = _decode_state(d, queues)
            continue
        parts = k.decode().split(":")
        ch, name, w = (parts[1], None, parts[2]) if len(parts) == 3 else parts[1:]
        q = queues[ch].resolve(name)
        acc = acc_from_json(d)
        cur = accs.get((q, int(w)))
        if cur is None:
            accs[(q, int(w))] = acc
        else:  # two undeclared queues now both ``other``
            cur.merge(acc)
    return state, accs


def _decode_state(d: dict[str, Any], queues: Mapping[str, ChannelQueues]) -> AggState:
    first = {int(a): b for a, b in d["src_first"]}
    idle = {int(a): bool(b) for a, b in d.get("src_idle", [])}
    marks = {int(a): Mark(int(a), b, first.get(int(a)), idle.get(int(a), False))
             for a, b in d["src_wm"]}
    latest: dict[Series, Indicators] = {
        (ch, ""): indicators.from_record(r) for ch, r in d["latest"].items()}
    for ch, q, r in d.get("latest_q", []):
        latest[(ch, q)] = msgspec.structs.replace(indicators.from_record(r), queue=q)
    # (a changelog of a release before alerts has none: they start from ok; one before queues
    # has (channel, indicator) pairs: channel alerts)
    alerts = {(a[0], "", a[1]) if len(a) == 3 else (a[0], a[1], a[2]): AlertState(*a[-1])
              for a in d.get("alerts", [])}
    started = frozenset(queues[ch].resolve(q) for ch, q in d.get("started", [])
                        if ch in queues)
    return AggState(marks, d["next_w"], latest, alerts, started)
