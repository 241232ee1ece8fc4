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

from monitor.core.indicators import indicator_record
from monitor.core.params import Params
from monitor.core.window import WindowAcc, window_start

META_KEY = b"m:"


def partial_value(src: int, channel: str, w: int, acc: WindowAcc) -> bytes:
    return orjson.dumps({"k": "p", "src": src, "c": channel, "w": w, "a": acc.to_json()})


def mark_value(src: int, wm: int | None, first: int | None) -> bytes:
    return orjson.dumps({"k": "m", "src": src, "wm": wm, "first": first})


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
        self.next_w: int | None = None
        self.accs: dict[tuple[str, int], WindowAcc] = {}
        self.latest: dict[str, dict[str, Any]] = {}
        self._dirty: set[tuple[str, int]] = set()
        self._meta_dirty = False

    def global_watermark(self) -> int | None:
        """Min watermark over input partitions with events, once every partition has reported."""
        if len(self.src_wm) < self.sources:
            return None
        wms = [v for v in self.src_wm.values() if v is not None]
        return min(wms) if wms else None

    def process(self, values: Iterable[bytes]) -> AggResult:
        out = AggResult()
        for raw in values:
            d = orjson.loads(raw)
            if d["k"] == "m":
                self.src_wm[d["src"]] = d["wm"]
                self.src_first[d["src"]] = d["first"]
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
        self._finalise(out)
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

    def _finalise(self, out: AggResult) -> None:
        g = self.global_watermark()
        if g is None:
            return
        if self.next_w is None:
            firsts = [f for f in self.src_first.values() if f is not None]
            if not firsts:
                return
            self.next_w = window_start(min(firsts), self.p.window_ms)
            self._meta_dirty = True
        window_ms, grace_ms = self.p.window_ms, self.p.grace_ms
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
            "next_w": self.next_w,
            "latest": self.latest,
        }

    def restore(self, items: Iterable[tuple[bytes, bytes | None]]) -> None:
        latest: dict[bytes, bytes | None] = {}
        for k, v in items:
            latest[k] = v
        for k, v in latest.items():
            if v is None:
                continue
            d = orjson.loads(v)
            if k == META_KEY:
                self.src_wm = {int(a): b for a, b in d["src_wm"]}
                self.src_first = {int(a): b for a, b in d["src_first"]}
                self.next_w = d["next_w"]
                self.latest = d["latest"]
            else:
                _, ch, w = k.decode().split(":")
                self.accs[(ch, int(w))] = WindowAcc.from_json(d)
