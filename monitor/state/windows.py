"""Stage two's changelog (``sqm.internal.windows-changelog.v1``): open windows and its state.

Keys: ``a:<channel>:<window start ms>`` per open window (the accumulator's JSON, a tombstone once
final) and ``m:`` for the marks, the next window to finalise, the latest record per channel and the state of
each threshold alert. The worker adds ``o:``, the partials offset to resume at
(``monitor.state.changelog.OFFSET_KEY``), and takes it out before ``restore``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import msgspec
import orjson

from monitor.contract import indicators
from monitor.contract.partials import acc_from_json, acc_to_json
from monitor.domain.alerts import AlertState
from monitor.domain.stream.indicators import Indicators
from monitor.domain.stream.watermark import Mark
from monitor.domain.stream.window import WindowAcc
from monitor.state.changelog import ChangelogRecord, last_values

META_KEY = b"m:"


@dataclass(frozen=True, slots=True)
class AggState:
    """What stage two keeps besides its open windows: each input partition's latest mark, the
    next window to finalise, the latest final record per channel, and the state of every
    threshold alert of its channels (by channel and indicator)."""

    marks: dict[int, Mark]
    next_w: int | None
    latest: dict[str, Indicators]
    alerts: dict[tuple[str, str], AlertState] = field(default_factory=dict)


def records(changed: dict[tuple[str, int], WindowAcc | None], state: AggState | None
            ) -> list[ChangelogRecord]:
    """The changelog records of one batch of stage two: the open windows it changed (None:
    finalised, a tombstone) and its state if that changed."""
    out: list[ChangelogRecord] = [
        (f"a:{ch}:{w}".encode(), None if acc is None else orjson.dumps(acc_to_json(acc)))
        for (ch, w), acc in changed.items()
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
        "latest": {ch: indicators.record(rec) for ch, rec in s.latest.items()},
        "alerts": [[ch, ind, msgspec.structs.astuple(a)] for (ch, ind), a in s.alerts.items()],
    })


def restore(items: Iterable[ChangelogRecord]) -> tuple[
        AggState | None, dict[tuple[str, int], WindowAcc]]:
    """The state and the open windows, from changelog records."""
    state: AggState | None = None
    accs: dict[tuple[str, int], WindowAcc] = {}
    for k, v in last_values(items).items():
        d = orjson.loads(v)
        if k == META_KEY:
            first = {int(a): b for a, b in d["src_first"]}
            idle = {int(a): bool(b) for a, b in d.get("src_idle", [])}
            marks = {int(a): Mark(int(a), b, first.get(int(a)), idle.get(int(a), False))
                     for a, b in d["src_wm"]}
            latest = {ch: indicators.from_record(r) for ch, r in d["latest"].items()}
            # (a changelog of a release before alerts has none: they start from ok)
            alerts = {(ch, ind): AlertState(*a) for ch, ind, a in d.get("alerts", [])}
            state = AggState(marks, d["next_w"], latest, alerts)
        else:
            _, ch, w = k.decode().split(":")
            accs[(ch, int(w))] = acc_from_json(d)
    return state, accs
