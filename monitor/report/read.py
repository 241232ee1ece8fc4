"""The records of a period report (SPEC sections 8 and 9), read from Kafka and each decoded once.

``read_documents`` reads ``sqm.indicators.v1``, ``sqm.alerts.v1``, ``sqm.quality.v1`` and, when
the config declares queues, ``sqm.queues.v1`` straight from Kafka (``monitor.kafka.reader``),
parses each value once and keeps the records whose event time is in the range; ``decode_inputs``
decodes each of them once, with its topic's codec (``contract.indicators``, ``contract.alerts``,
``contract.quality``, ``contract.queues``), into the domain values ``build`` takes
(``model.Inputs``); ``read_inputs`` does both, for the command.

``sqm.queues.v1`` is left unread when no channel declares queues: the report then has no queue
section (``build``), and a deployment that never used queues need not have the topic.

The topics are read at least once, so a record may come twice (a worker re-emits after a crash,
with the same values): each is deduplicated by its identity before anything is counted. A record
that does not decode is skipped with a warning rather than failing the whole report: the report
is read after the fact, and one bad record should not hide a month of good ones.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Hashable, Iterable
from typing import Any, Final, NamedTuple, TypeVar

import orjson

from monitor.config import Config
from monitor.contract import alerts as alerts_wire
from monitor.contract import indicators as indicators_wire
from monitor.contract import quality as quality_codec
from monitor.contract import queues as queues_wire
from monitor.contract.topics import TOPIC_ALERTS, TOPIC_INDICATORS, TOPIC_QUALITY, TOPIC_QUEUES
from monitor.domain.alerts import Transition
from monitor.domain.stream.indicators import Indicators
from monitor.kafka.reader import Record, event_time_of, read_range_sync, slack_ms_for
from monitor.kafka.security import client_options
from monitor.report.model import Inputs, Window

log = logging.getLogger("sqm.report")
T = TypeVar("T")

#: the topics a report reads, in reading order (``sqm.queues.v1`` only when queues are declared)
TOPICS: Final = (TOPIC_INDICATORS, TOPIC_ALERTS, TOPIC_QUALITY, TOPIC_QUEUES)

#: alert records are read from this event time on (the topic's start): an episode that began
#: before the range and has no record inside it still counts (its firing record is older)
ALERTS_SINCE_MS: Final = 0

#: ``progress(topic, done, total)``: offsets read so far and to read of one topic
TopicProgress = Callable[[str, int, int], None]


class Documents(NamedTuple):
    """The parsed JSON objects of each topic, in ``TOPICS`` order."""

    indicators: list[dict[str, Any]]
    alerts: list[dict[str, Any]]
    quality: list[dict[str, Any]]
    #: empty when the topic was not read (no channel declares queues)
    queues: list[dict[str, Any]]


def topics_for(cfg: Config) -> tuple[str, ...]:
    """The topics to read for ``cfg``: ``sqm.queues.v1`` only when a channel declares queues."""
    if any(c.queues for c in cfg.channels):
        return TOPICS
    return tuple(t for t in TOPICS if t != TOPIC_QUEUES)


# --- reading -------------------------------------------------------------------------------


def _in_range(records: Iterable[Record], since_ms: int, to_ms: int) -> list[dict[str, Any]]:
    """The values whose event time is in ``[since_ms, to_ms)``, each parsed once."""
    out = []
    for r in records:
        try:
            doc = orjson.loads(r.value)
        except orjson.JSONDecodeError:
            continue
        t = event_time_of(doc)  # only a JSON object has one
        if t is not None and since_ms <= t < to_ms:
            out.append(doc)
    return out


def read_documents(cfg: Config, from_ms: int, to_ms: int,
                   progress: TopicProgress | None = None) -> Documents:
    """The indicator, queue and quality records whose event time (``window_start``, or
    ``period_start`` for quality) is in ``[from_ms, to_ms)``, and the alert records whose event
    time is before ``to_ms``, as parsed JSON objects (``topics_for``: the queue records only when
    the config declares queues).

    ``sqm.alerts.v1`` is read from its first retained record: an episode that fired before the
    range and is resolved inside it or after it has its firing record before ``from_ms``, however
    long ago. The topic holds only transitions, a few records per episode, so this stays small.

    Raises ``monitor.kafka.reader.ReadError`` when a topic is missing or the broker stalls."""
    out: dict[str, list[dict[str, Any]]] = {}
    security = client_options(cfg.kafka)
    for topic in topics_for(cfg):
        def report(done: int, total: int, topic: str = topic) -> None:
            if progress is not None:
                progress(topic, done, total)

        alerts = topic == TOPIC_ALERTS
        records = read_range_sync(cfg.bootstrap_servers, topic, from_ms, to_ms,
                                  slack_ms=slack_ms_for(cfg), from_beginning=alerts,
                                  progress=report, security=security)
        out[topic] = _in_range(records, ALERTS_SINCE_MS if alerts else from_ms, to_ms)
    return Documents(*(out.get(topic, []) for topic in TOPICS))


# --- decoding ------------------------------------------------------------------------------


def _decoded(docs: Iterable[dict[str, Any]], decode: Callable[[dict[str, Any]], T | None],
             what: str) -> list[T]:
    """Each document decoded, those that do not decode skipped with a warning (and those that
    decode to None: a quality record of ``kind: consistency``)."""
    out: list[T] = []
    for d in docs:
        try:
            value = decode(d)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("skipping a %s record that does not decode: %s", what, exc)
            continue
        if value is not None:
            out.append(value)
    return out


def _distinct(values: Iterable[T], identity: Callable[[T], Hashable]) -> list[T]:
    """One value per identity, the last one read winning, in first-seen order."""
    seen: dict[Hashable, T] = {}
    for v in values:
        seen[identity(v)] = v
    return list(seen.values())


def _window_id(w: Window) -> Hashable:
    return w.indicators.channel, w.indicators.window_start_ms


def _queue_window_id(w: Indicators) -> Hashable:
    return w.channel, w.queue, w.window_start_ms


def _alert_id(t: Transition) -> Hashable:
    return t.channel, t.queue, t.indicator, t.since_ms, t.state, t.severity, t.window_start_ms


def _quality_id(q: quality_codec.ChannelQuality) -> Hashable:
    return q.point.channel, q.point.period_start_ms


def decode_inputs(cfg: Config, indicators: Iterable[dict[str, Any]],
                  alerts: Iterable[dict[str, Any]], quality: Iterable[dict[str, Any]],
                  queues: Iterable[dict[str, Any]] = ()) -> Inputs:
    """The topics' parsed records as the report's inputs: each decoded once, distinct."""
    window_ms = cfg.window_s * 1000

    def window(d: dict[str, Any]) -> Window:
        ind = indicators_wire.decode(d, window_ms)
        return Window(ind, indicators_wire.sums_of(ind))

    def queue_window(d: dict[str, Any]) -> Indicators:
        return queues_wire.decode(d, window_ms)

    return Inputs(
        windows=_distinct(_decoded(indicators, window, "indicators"), _window_id),
        transitions=_distinct(_decoded(alerts, alerts_wire.decode, "alerts"), _alert_id),
        quality=_distinct(_decoded(quality, quality_codec.decode, "quality"), _quality_id),
        queues=_distinct(_decoded(queues, queue_window, "queues"), _queue_window_id),
    )


def read_inputs(cfg: Config, from_ms: int, to_ms: int,
                progress: TopicProgress | None = None) -> Inputs:
    """``read_documents``, decoded (``decode_inputs``): what ``build_report`` takes."""
    return decode_inputs(cfg, *read_documents(cfg, from_ms, to_ms, progress))
