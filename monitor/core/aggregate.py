"""Stage two of the worker: combine partials per (channel, window) and finalise windows.

One ``Aggregator`` per partition of the partials topic; it owns the channels routed there
(``channel_index % partitions``). Input partitions report their watermark in marks that follow
their partials, so once the minimum over all input partitions passes ``window_end + grace`` every
partial of that window is already here: the window is final and its record is emitted exactly
once. Partials for a final window are late: counted, not added.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import orjson

from monitor.core import changelog
from monitor.core.indicators import indicator_record
from monitor.core.params import Params
from monitor.core.window import WindowAcc, window_start

META_KEY = b"m:"


def partial_value(src: int, channel: str, w: int, acc: WindowAcc) -> bytes:
    return orjson.dumps({"k": "p", "src": src, "c": channel, "w": w, "a": acc.to_json()})


def mark_value(src: int, wm: int | None, first: int | None, idle: bool = False) -> bytes:
    return orjson.dumps({"k": "m", "src": src, "wm": wm, "first": first, "idle": idle})


def route(params: Params, channel: str, partitions: int) -> int:
    """Partials partition of a channel: stable as long as the channel list is unchanged."""
    return params.channels.index(channel) % partitions


@dataclass(slots=True)
class AggResult:
    records: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    changelog: list[tuple[bytes, bytes | None]] = field(default_factory=list)
    late: Counter[str] = field(default_factory=Counter)


class Aggregator:
    """Open windows and watermarks of one partials partition."""

    def __init__(self, params: Params, partition: int, partitions: int, sources: int) -> None:
        self.p = params
        self.partition = partition
        self.sources = sources
        self.channels = tuple(c for c in params.channels if route(params, c, partitions) == partition)
        self.src_wm: dict[int, int | None] = {}
        self.src_first: dict[int, int | None] = {}
        self.src_idle: dict[int, bool] = {}
        self.next_w: int | None = None
        self.accs: dict[tuple[str, int], WindowAcc] = {}
        self.latest: dict[str, dict[str, Any]] = {}
        self._dirty: set[tuple[str, int]] = set()
        self._meta_dirty = False

    def global_watermark(self, now_ms: int | None = None) -> int | None:
        """Min watermark over the input partitions with events, once every partition reported.

        A partition that never delivered an event is left out only while the input is drained
        (every partition idle) or live (every busy partition within ``grace + idle_timeout`` of
        ``now_ms``). During a backfill it holds the watermark instead: otherwise the first
        partition to deliver history would finalise windows the others have not delivered yet.
        """
        if len(self.src_wm) < self.sources:
            return None
        wms = [v for v in self.src_wm.values() if v is not None]
        if not wms:
            return None
        if len(wms) < len(self.src_wm):
            busy = [wm for src, wm in self.src_wm.items() if wm is not None
                    and not self.src_idle.get(src, False)]
            live_ms = self.p.grace_ms + self.p.idle_timeout_ms
            live = now_ms is not None and all(wm >= now_ms - live_ms for wm in busy)
            if busy and not live:
                return None
        return min(wms)

    def process(self, values: Iterable[bytes], now_ms: int | None = None) -> AggResult:
        """Merge partials and marks, then finalise what the watermark allows (``now_ms``: the
        wall clock, used only to tell a live input from a backfill)."""
        out = AggResult()
        for raw in values:
            d = orjson.loads(raw)
            if d["k"] == "m":
                self.src_wm[d["src"]] = d["wm"]
                self.src_first[d["src"]] = d["first"]
                self.src_idle[d["src"]] = bool(d.get("idle", False))
                self._meta_dirty = True
                continue
            ch, w = d["c"], d["w"]
            acc = WindowAcc.from_json(d["a"])
            if self.next_w is not None and w < self.next_w:
                out.late[ch] += acc.measured
                continue
            key = (ch, w)
            cur = self.accs.get(key)
            if cur is None:
                self.accs[key] = acc
            else:
                cur.merge(acc)
            self._dirty.add(key)
        self._finalise(out, now_ms)
        for key in self._dirty:
            acc_or_none = self.accs.get(key)
            out.changelog.append(
                (f"a:{key[0]}:{key[1]}".encode(), None if acc_or_none is None else
                 orjson.dumps(acc_or_none.to_json()))
            )
        if self._meta_dirty:
            out.changelog.append((META_KEY, orjson.dumps(self._meta())))
        self._dirty = set()
        self._meta_dirty = False
        return out

    def _finalise(self, out: AggResult, now_ms: int | None) -> None:
        g = self.global_watermark(now_ms)
        if g is None:
            return
        window_ms, grace_ms = self.p.window_ms, self.p.grace_ms
        if self.next_w is None:
            # A partition with events but none applied yet will apply nothing older than its
            # watermark minus the grace: that bound keeps the first window from being fixed early.
            bounds = [
                f if f is not None else wm - grace_ms
                for src, wm in self.src_wm.items() if wm is not None
                for f in (self.src_first.get(src),)
            ]
            if not bounds:
                return
            first_w = window_start(min(bounds), window_ms)
            if not first_w + window_ms + grace_ms < g:
                return
            self.next_w = first_w
            self._meta_dirty = True
        while self.next_w + window_ms + grace_ms < g:
            w = self.next_w
            for ch in self.channels:
                acc = self.accs.pop((ch, w), None)
                if acc is not None:
                    self._dirty.add((ch, w))
                rec = indicator_record(ch, w, window_ms, acc or WindowAcc())
                out.records.append((ch, rec))
                self.latest[ch] = rec
            self.next_w = w + window_ms
            self._meta_dirty = True

    def _meta(self) -> dict[str, Any]:
        return {
            "src_wm": [[k, v] for k, v in self.src_wm.items()],
            "src_first": [[k, v] for k, v in self.src_first.items()],
            "src_idle": [[k, v] for k, v in self.src_idle.items()],
            "next_w": self.next_w,
            "latest": self.latest,
        }

    def restore(self, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        for k, d in changelog.latest(items):
            if k == META_KEY:
                self.src_wm = {int(a): b for a, b in d["src_wm"]}
                self.src_first = {int(a): b for a, b in d["src_first"]}
                self.src_idle = {int(a): bool(b) for a, b in d.get("src_idle", [])}
                self.next_w = d["next_w"]
                self.latest = d["latest"]
            else:
                _, ch, w = k.decode().split(":")
                self.accs[(ch, int(w))] = WindowAcc.from_json(d)
