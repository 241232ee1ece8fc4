"""The quality stage's durable state: the keys and values of its Faust tables and of its
internal ``<app id>-closed-periods`` topic, and their byte formats.

Every table is a plain ``str`` key -> JSON bytes table (Faust adds its own JSON around the key on
the changelog); the formats below are what existing changelogs hold, so they must not change:

``periods`` (one per input partition, co-partitioned with ``sqm.indicators.v1``)
    ``<channel>/<period start ms>`` -> ``PeriodAcc``: the windows of an open channel-period.
``<app id>-closed-periods`` (the internal topic, one partition)
    ``CLOSED_KEY`` -> ``Closure``: a closed channel-period on its way to the cross-channel step.
``combine``
    ``META_KEY`` -> ``Meta``: the latest period published and its result;
    ``p/<period start ms>`` -> ``Pending``: the closures of a period not published yet.
``history``
    ``<period start ms>`` -> ``{channel: ScoreRow}``: the score rows of the entropy look-back.
``alerts``
    ``<channel>/<indicator>`` -> ``AlertEntry``: the state of one ``quality_index`` alert.

Names follow the stage's rule: a ``*_start_ms`` / ``*_end_ms`` is a point in time (epoch ms), a
length is ``period_ms``. The JSON field names of the structs are the stored format, whatever
the Python names.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Final

import msgspec

from monitor.domain.alerts import AlertState, Transition
from monitor.domain.quality.index import Spread, Sums

#: every closure goes to partition 0 of the internal topic under this key: one agent sees all
#: channels
CLOSED_KEY: Final = b"periods"
#: the ``combine`` table's progress record
META_KEY: Final = "meta"
#: the prefix of the ``combine`` table's unfinished periods
_PENDING: Final = "p/"
#: between a channel (channel names never contain ``/``) and the rest of a key
_SEP: Final = "/"

#: one channel's scores in one period (``monitor.domain.quality.index.scores``)
ScoreRow = dict[str, float | None]


# --- values ----------------------------------------------------------------------------------


class PeriodAcc(msgspec.Struct, gc=False):
    """The windows of one channel seen so far in one period, by window start (ms)."""

    windows: dict[int, Sums] = msgspec.field(default_factory=dict)


class Closure(msgspec.Struct, frozen=True, gc=False):
    """A closed channel-period on its way to the cross-channel step. It carries the windows, not
    their total, so the next step can merge copies per window as well."""

    channel: str
    period_start_ms: int
    windows: dict[int, Sums]


class Pending(msgspec.Struct, gc=False):
    """The closures received so far for one period: channel -> window start -> sums."""

    channels: dict[str, dict[int, Sums]] = msgspec.field(default_factory=dict)


class ChannelResult(msgspec.Struct, frozen=True, gc=False):
    channel: str
    has_volume: bool
    scores: ScoreRow
    quality_index: float | None
    servqual_gap: dict[str, float | None]


class PeriodResult(msgspec.Struct, frozen=True, gc=False):
    """One period across every configured channel: what the records and the gauges show."""

    period_start_ms: int
    period_end_ms: int
    method: str
    weights: dict[str, float]
    channels: list[ChannelResult]
    consistency: dict[str, Spread | None]

    def volume_rows(self) -> dict[str, ScoreRow]:
        """The score rows of the channels with volume (the entropy method's history)."""
        return {c.channel: c.scores for c in self.channels if c.has_volume}


class Meta(msgspec.Struct, gc=False):
    """The combine step's progress: the latest period published, and its result for the gauges."""

    #: the start of the latest period published (epoch ms); None: none yet
    published_through: int | None = None
    latest: PeriodResult | None = None


class AlertEntry(msgspec.Struct, gc=False):
    state: AlertState = msgspec.field(default_factory=AlertState)
    #: start of the latest period fed to the state (epoch ms); None: none yet
    through_ms: int | None = None
    #: the transition of that period, if it caused one
    transition: Transition | None = None


# --- keys ------------------------------------------------------------------------------------


def channel_period_key(channel: str, period_start_ms: int) -> str:
    """The ``periods`` table key of a channel-period."""
    return f"{channel}{_SEP}{period_start_ms}"


def channel_period_starts(keys: Iterable[str], channel: str) -> list[int]:
    """The period starts of ``channel`` among the ``periods`` table's keys, oldest first."""
    prefix = channel + _SEP
    return sorted(int(k[len(prefix):]) for k in keys if k.startswith(prefix))


def pending_key(period_start_ms: int) -> str:
    """The ``combine`` table key of an unfinished period."""
    return f"{_PENDING}{period_start_ms}"


def parse_pending_key(key: str) -> int | None:
    """The period start of a ``combine`` table key; None for a key of another kind (``META_KEY``)."""
    return int(key[len(_PENDING):]) if key.startswith(_PENDING) else None


def history_key(period_start_ms: int) -> str:
    """The ``history`` table key of a period."""
    return str(period_start_ms)


def parse_history_key(key: str) -> int:
    """The period start of a ``history`` table key."""
    return int(key)


def alert_key(channel: str, indicator: str) -> str:
    """The ``alerts`` table key of one alert of one channel."""
    return f"{channel}{_SEP}{indicator}"


# --- codecs ----------------------------------------------------------------------------------

_ACC = msgspec.json.Decoder(PeriodAcc)
_CLOSURE = msgspec.json.Decoder(Closure)
_PENDING_DECODER = msgspec.json.Decoder(Pending)
_ROWS = msgspec.json.Decoder(dict[str, ScoreRow])
_META = msgspec.json.Decoder(Meta)
_ALERT = msgspec.json.Decoder(AlertEntry)
_encode = msgspec.json.Encoder().encode


def encode_acc(acc: PeriodAcc) -> bytes:
    return _encode(acc)


def decode_acc(raw: bytes) -> PeriodAcc:
    return _ACC.decode(raw)


def encode_closure(closure: Closure) -> bytes:
    return _encode(closure)


def decode_closure(raw: bytes) -> Closure:
    """Raises ``msgspec.DecodeError`` on bytes that are no closure."""
    return _CLOSURE.decode(raw)


def encode_pending(pending: Pending) -> bytes:
    return _encode(pending)


def decode_pending(raw: bytes) -> Pending:
    return _PENDING_DECODER.decode(raw)


def encode_rows(rows: Mapping[str, ScoreRow]) -> bytes:
    return _encode(rows)


def decode_rows(raw: bytes) -> dict[str, ScoreRow]:
    return _ROWS.decode(raw)


def encode_meta(meta: Meta) -> bytes:
    return _encode(meta)


def decode_meta(raw: bytes | None) -> Meta:
    """The ``combine`` table's progress; an empty ``Meta`` when there is none yet."""
    return Meta() if raw is None else _META.decode(raw)


def encode_alert(entry: AlertEntry) -> bytes:
    return _encode(entry)


def decode_alert(raw: bytes) -> AlertEntry:
    return _ALERT.decode(raw)
