"""``sqm.internal.partials.v1``: stage one's partial accumulators (one per queue and window)
and watermark marks as JSON.

The accumulator's JSON form is also how stage two's changelog stores an open window.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from monitor.domain.stream import feedback
from monitor.domain.stream.queues import ChannelQueues, Queue
from monitor.domain.stream.sketch import Sketch
from monitor.domain.stream.watermark import Mark
from monitor.domain.stream.window import Partial, WindowAcc


def sketch_to_json(s: Sketch) -> list[Any]:
    return [s.count, s.sum_ms, s.max_ms, [[b, n] for b, n in s.buckets.items()]]


def sketch_from_json(data: list[Any]) -> Sketch:
    s = Sketch()
    s.count, s.sum_ms, s.max_ms = int(data[0]), int(data[1]), int(data[2])
    s.buckets = {int(b): int(n) for b, n in data[3]}
    return s


def acc_to_json(acc: WindowAcc) -> dict[str, Any]:
    out = {
        "n": acc.counts,
        "fr": sketch_to_json(acc.first_response),
        "rs": sketch_to_json(acc.resolution),
        "m": acc.measured,
        "sn": [acc.snap_waiting, acc.snap_open, acc.snap_min_waiting_ts, acc.snap_parts],
    }
    if acc.feedback is not None:
        out["fb"] = acc.feedback
    return out


def acc_from_json(data: dict[str, Any]) -> WindowAcc:
    acc = WindowAcc()
    acc.counts = [int(x) for x in data["n"]]
    acc.first_response = sketch_from_json(data["fr"])
    acc.resolution = sketch_from_json(data["rs"])
    acc.measured = int(data["m"])
    acc.snap_waiting, acc.snap_open, acc.snap_min_waiting_ts, acc.snap_parts = data["sn"]
    fb = data.get("fb")  # absent: no survey (or a partial of a release before feedback)
    if fb is not None:
        if len(fb) != feedback.SIZE:
            raise ValueError(f"feedback sums of {len(fb)} counters, expected {feedback.SIZE}")
        acc.feedback = [int(x) for x in fb]
    return acc


def encode_partial(src: int, queue: Queue, window_start_ms: int, acc: WindowAcc) -> bytes:
    return orjson.dumps({"k": "p", "src": src, "c": queue.channel, "q": queue.name,
                         "w": window_start_ms, "a": acc_to_json(acc)})


def encode_mark(mark: Mark) -> bytes:
    return orjson.dumps({"k": "m", "src": mark.src, "wm": mark.watermark_ms,
                         "first": mark.first_ts_ms, "idle": mark.idle})


def decode(value: bytes, queues: Mapping[str, ChannelQueues]) -> Partial | Mark:
    """A record of the partials topic (written by ``encode_partial`` or ``encode_mark``); its
    queue is found among ``queues`` by name (a partial of a release before queues: the
    channel's default queue)."""
    d = orjson.loads(value)
    if d["k"] == "m":
        return Mark(d["src"], d["wm"], d["first"], bool(d.get("idle", False)))
    return Partial(d["src"], queues[d["c"]].resolve(d.get("q")), d["w"], acc_from_json(d["a"]))
