"""Stage two of the worker: combine partials per (queue, window) and finalise windows.

One ``Aggregator`` per partition of the partials topic; it owns the channels routed there
(``channel_index % partitions``). Input partitions report their watermark in marks that follow
their partials, so once the minimum over all input partitions passes ``window_end + grace`` every
partial of that window is already here: the window is final and its records (one per queue,
one per channel: the roll-up of its queues) are emitted exactly once. Partials for a final
window are late: counted, not added. The rules of time are in ``monitor.domain.stream.watermark``;
``monitor.state.windows`` encodes the changelog.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import msgspec

from monitor.domain.alerts import CRITICAL, WARNING, AlertState, Rule, Transition, evaluate
from monitor.domain.stream import watermark
from monitor.domain.stream.indicators import Indicators, indicators
from monitor.domain.stream.params import Params
from monitor.domain.stream.queues import Queue
from monitor.domain.stream.watermark import Mark
from monitor.domain.stream.window import Partial, WindowAcc, rollup
from monitor.state.windows import AggState, Series


def route(params: Params, channel: str, partitions: int) -> int:
    """Partials partition of a channel (all its queues: the roll-up needs them in one place):
    stable as long as the channel list is unchanged."""
    return params.channels.index(channel) % partitions


@dataclass(slots=True)
class AggResult:
    #: the channels' records (``sqm.indicators.v1``), in window order
    records: list[Indicators] = field(default_factory=list)
    #: the queues' records (``sqm.queues.v1``), in window order
    queue_records: list[Indicators] = field(default_factory=list)
    #: alert transitions the final windows caused, in window order
    alerts: list[Transition] = field(default_factory=list)
    #: open windows that changed, for the changelog (None: finalised, delete it)
    windows: dict[tuple[Queue, int], WindowAcc | None] = field(default_factory=dict)
    #: set when the marks, the next window, the latest records or the alert states changed
    state: AggState | None = None
    late: Counter[Queue] = field(default_factory=Counter)


class Aggregator:
    """Open windows and watermarks of one partials partition."""

    def __init__(self, params: Params, partition: int, partitions: int, sources: int,
                 rules: Mapping[Series, tuple[Rule, ...]]) -> None:
        self.p = params
        #: threshold alert rules per (channel, queue) (queue "": the channel's roll-up),
        #: evaluated on each final window
        self.rules = rules
        self.partition = partition
        self.sources = sources
        self.channels = tuple(c for c in params.channels if route(params, c, partitions) == partition)
        self.marks: dict[int, Mark] = {}
        self.next_w: int | None = None
        self.accs: dict[tuple[Queue, int], WindowAcc] = {}
        #: the latest final record per (channel, queue), queue "" for the channel's
        self.latest: dict[Series, Indicators] = {}
        #: queues that have had a window with an event: they have a record every window since
        self.started: set[Queue] = set()
        self.alerts: dict[tuple[str, str, str], AlertState] = {}
        self._dirty: set[tuple[Queue, int]] = set()
        self._meta_dirty = False

    def global_watermark(self, now_ms: int | None = None) -> int | None:
        return watermark.global_watermark(self.marks, self.sources, now_ms, self.p.grace_ms,
                                          self.p.idle_timeout_ms)

    def process(self, items: Iterable[Partial | Mark], now_ms: int | None = None) -> AggResult:
        """Merge partials and marks, then finalise what the watermark allows (``now_ms``: the
        wall clock, used only to tell a live input from a backfill)."""
        out = AggResult()
        for item in items:
            if isinstance(item, Mark):
                self.marks[item.src] = item
                self._meta_dirty = True
                continue
            key = (item.queue, item.window_start_ms)
            if self.next_w is not None and item.window_start_ms < self.next_w:
                out.late[item.queue] += item.acc.measured
                continue
            cur = self.accs.get(key)
            if cur is None:
                self.accs[key] = item.acc
            else:
                cur.merge(item.acc)
            self._dirty.add(key)
        self._finalise(out, now_ms)
        out.windows = {key: self.accs.get(key) for key in self._dirty}
        if self._meta_dirty:
            out.state = AggState(dict(self.marks), self.next_w, dict(self.latest),
                                 {k: msgspec.structs.replace(v) for k, v in self.alerts.items()},
                                 frozenset(self.started))
        self._dirty = set()
        self._meta_dirty = False
        return out

    def _finalise(self, out: AggResult, now_ms: int | None) -> None:
        g = self.global_watermark(now_ms)
        if g is None:
            return
        window_ms, grace_ms = self.p.window_ms, self.p.grace_ms
        if self.next_w is None:
            first_w = watermark.first_window(self.marks, window_ms, grace_ms)
            if first_w is None or not watermark.is_final(first_w, window_ms, grace_ms, g):
                return
            self.next_w = first_w
            self._meta_dirty = True
        while watermark.is_final(self.next_w, window_ms, grace_ms, g):
            w = self.next_w
            for ch in self.channels:
                self._final_window(out, ch, w)
            self.next_w = w + window_ms
            self._meta_dirty = True

    def _final_window(self, out: AggResult, ch: str, w: int) -> None:
        """The records of one channel's final window: each started queue's, and the channel's,
        the merge of its queues' accumulators (SPEC 9: the exact roll-up)."""
        window_ms = self.p.window_ms
        accs: list[WindowAcc] = []
        for q in self.p.queues[ch].queues:
            acc = self.accs.pop((q, w), None)
            if acc is not None:
                self._dirty.add((q, w))
                accs.append(acc)
                self.started.add(q)
            elif q not in self.started:
                continue
            rec = indicators(ch, w, window_ms, acc or WindowAcc(), q.name)
            out.queue_records.append(rec)
            self.latest[(ch, q.name)] = rec
            self._evaluate_alerts(rec, (ch, q.name), out)
        rec = indicators(ch, w, window_ms, accs[0] if len(accs) == 1 else rollup(accs))
        out.records.append(rec)
        self.latest[(ch, "")] = rec
        self._evaluate_alerts(rec, (ch, ""), out)

    def active_alerts(self) -> dict[tuple[str, str, str, str], int]:
        """``sqm_alert_active`` of this partition's channels and their queues, by (channel,
        queue, indicator, severity): 1 for the severity firing, 0 for every other configured
        one (queue "": a channel alert)."""
        out: dict[tuple[str, str, str, str], int] = {}
        for ch in self.channels:
            for q in ("", *(q.name for q in self.p.queues[ch].queues)):
                for rule in self.rules.get((ch, q), ()):
                    state = self.alerts.get((ch, q, rule.indicator))
                    firing = None if state is None else state.severity
                    for severity, threshold in ((WARNING, rule.warning), (CRITICAL, rule.critical)):
                        if threshold is not None:
                            out[(ch, q, rule.indicator, severity)] = int(firing == severity)
        return out

    def _evaluate_alerts(self, rec: Indicators, series: Series, out: AggResult) -> None:
        """Feed a final window to the threshold alerts of its channel or queue (SPEC 5.1, 9)."""
        for rule in self.rules.get(series, ()):
            key = (*series, rule.indicator)
            state = self.alerts.get(key)
            if state is None:
                state = self.alerts[key] = AlertState()
            t = evaluate(rule, state, rec)
            if t is not None:
                out.alerts.append(t)

    def restore(self, state: AggState | None, accs: dict[tuple[Queue, int], WindowAcc]) -> None:
        """Take the state and open windows read back from the changelog."""
        if state is not None:
            self.marks = dict(state.marks)
            self.next_w = state.next_w
            self.latest = dict(state.latest)
            self.alerts = dict(state.alerts)
            self.started = set(state.started)
        self.accs.update(accs)
