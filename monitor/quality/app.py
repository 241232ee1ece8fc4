"""The quality stage as a Faust app (SPEC 7.2-7.4): topics, tables and the two agents.

``collect`` reads ``sqm.indicators.v1`` (keyed by channel, so a channel's windows sit in one
partition) and keeps each (channel, period) in the ``periods`` table, co-partitioned with its
input. A closed channel-period goes to the internal topic ``<app id>-closed-periods`` under one
constant key, so ``combine`` sees every channel on one partition; it keeps the unfinished periods
(``combine``), the entropy look-back (``history``) and the alert states (``alerts``) and
publishes ``sqm.quality.v1`` and ``sqm.alerts.v1`` once every channel has closed a period.
The tables' keys and byte formats are in ``monitor.state.periods``; the stage's lengths (window,
period) come from ``monitor.config.params.quality_params``.

Faust runs at least once here (its ``exactly_once`` picks transactional ids by destination
partition, which breaks for outputs that are not a source topic). Every step is therefore
idempotent and ordered "effect first, then the state that says it is done", each effect awaited:
a re-read after a crash repeats work but never skips or double-counts it.
"""

from __future__ import annotations

import logging
import os
import signal
from collections import Counter
from collections.abc import Awaitable
from pathlib import Path
from typing import Any, Final

import faust
import msgspec

from monitor.config import Config, period_rules
from monitor.config.kafka import KafkaConfig
from monitor.config.params import quality_params
from monitor.contract import alerts as alerts_wire
from monitor.contract import quality as wire
from monitor.contract import topics
from monitor.contract.indicators import BadRecord
from monitor.contract.timefmt import format_utc_s
from monitor.contract.topics import TOPIC_ALERTS, TOPIC_INDICATORS, TOPIC_QUALITY
from monitor.domain.alerts import Span, Transition
from monitor.kafka.security import client_options, ssl_context
from monitor.quality import alerting, combine, faustfix, periods, sink
from monitor.state import periods as stored
from monitor.state.periods import Meta, PeriodResult

log = logging.getLogger("sqm.quality")

#: closures are read within seconds; a week covers any outage worth restarting after
CLOSED_RETENTION_S: Final = 7 * 86400
#: how often the metrics snapshot is re-read from the tables (after a restart, before any
#: new period closes)
REFRESH_S: Final = 2.0


class Snapshot(msgspec.Struct, frozen=True, gc=False):
    """What ``/metrics`` shows; replaced whole, so a scrape from another thread sees one moment."""

    latest: PeriodResult | None = None
    alerts: dict[tuple[str, str, str], int] = msgspec.field(default_factory=dict)
    rejected: dict[str, int] = msgspec.field(default_factory=dict)


def app_id(cfg: Config) -> str:
    """Faust's app id = its consumer group and the prefix of its internal topics."""
    return f"{cfg.group_id}-quality"


def _raw_topic(app: faust.App, name: str, **kwargs: Any) -> faust.TopicT:
    return app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw",
                     value_serializer="raw", **kwargs)


def _table(app: faust.App, name: str, partitions: int) -> faust.types.TableT[str, bytes]:
    """A plain table of encoded values (we keep the formats, not Faust's models)."""
    # value_type bytes: the "raw" codec; key_type str: Faust's json codec (str keys come back)
    return app.Table(name, default=None, partitions=partitions, key_type=str, value_type=bytes)


def broker_credentials(kafka: KafkaConfig) -> faust.types.auth.CredentialsT | None:
    """``[kafka]`` as Faust's credentials, which faust-streaming turns into the same aiokafka
    options as ``client_options`` gives the other clients (None: PLAINTEXT)."""
    if kafka.uses_sasl:
        assert kafka.sasl_password is not None
        return faust.SASLCredentials(
            username=kafka.sasl_username, password=kafka.sasl_password.reveal(),
            mechanism=kafka.sasl_mechanism,
            ssl_context=ssl_context(kafka) if kafka.uses_tls else None)
    if kafka.uses_tls:
        return faust.SSLCredentials(ssl_context(kafka))
    return None


def make_app(cfg: Config, datadir: Path, replication: int) -> faustfix.App:
    """Faust settings: at least once, memory store restored from the changelogs, no web server
    (the stage serves its own /metrics), no leader topic, a short session so a restarted stage
    gets its partitions back quickly."""
    return faustfix.App(
        app_id(cfg),
        broker=[f"kafka://{h}" for h in cfg.bootstrap_servers.split(",")],
        broker_credentials=broker_credentials(cfg.kafka),
        store="memory://",
        datadir=str(datadir),
        autodiscover=False,
        topic_partitions=1,
        topic_replication_factor=replication,
        topic_disable_leader=True,
        web_enabled=False,
        consumer_auto_offset_reset="earliest",
        processing_guarantee="at_least_once",
        stream_publish_on_commit=False,
        broker_commit_interval=1.0,
        broker_session_timeout=10.0,
        broker_heartbeat_interval=1.0,
        table_standby_replicas=0,
    )


class QualityStage:
    """The app, its topics, tables and agents, and the snapshot the exporter reads."""

    def __init__(self, cfg: Config, datadir: Path, *, indicators_partitions: int,
                 replication: int = 1) -> None:
        self.cfg = cfg
        self.params = quality_params(cfg)
        self.channels = self.params.channels
        self._channel_set = frozenset(self.channels)
        self.rules = period_rules(cfg)
        self.rejected: Counter[str] = Counter()
        self.snapshot = Snapshot()
        self.failure: BaseException | None = None
        self.app = app = make_app(cfg, datadir, replication)
        aid = app_id(cfg)
        self.indicators = _raw_topic(app, TOPIC_INDICATORS)
        self.closed = _raw_topic(app, f"{aid}-closed-periods", internal=True, partitions=1,
                                 deleting=True, retention=CLOSED_RETENTION_S)
        app.stream_sources = frozenset({TOPIC_INDICATORS, self.closed.get_topic_name()})
        self.quality_out = _raw_topic(app, TOPIC_QUALITY)
        self.alerts_out = _raw_topic(app, TOPIC_ALERTS)
        self.periods = _table(app, "periods", indicators_partitions)
        self.combine = _table(app, "combine", 1)
        self.history = _table(app, "history", 1)
        self.alerts = _table(app, "alerts", 1)
        # agent names prefix their internal topics: named after the app id like the rest
        app.agent(self.indicators, name=f"{aid}.collect")(self._collect)
        app.agent(self.closed, name=f"{aid}.combine")(self._combine)
        app.timer(REFRESH_S)(self._refresh)

    def internal_topics(self, replication: int) -> list[topics.TopicDef]:
        """The topics Faust declares (changelogs, closures), as ``sqm topics apply`` defines
        topics: the runner creates them before Faust starts (see ``runner.declare``)."""
        tables = (self.periods, self.combine, self.history, self.alerts)
        out = [topics.TopicDef(t.changelog_topic.get_topic_name(), t.partitions or 1, replication,
                               {"cleanup.policy": "compact"}, True, None,
                               f"changelog of the quality stage's {t.name} table")
               for t in tables]
        out.append(topics.TopicDef(
            self.closed.get_topic_name(), 1, replication,
            {"cleanup.policy": "delete", "retention.ms": str(CLOSED_RETENTION_S * 1000)}, True,
            None, "closed channel-periods, to the cross-channel step"))
        return out

    # --- agent 1: windows -> closed channel-periods --------------------------------------

    async def _collect(self, stream: faust.StreamT[bytes]) -> None:
        try:
            async for raw in stream:
                try:
                    ws = wire.decode_window(raw, self._channel_set, self.params.window_ms)
                except BadRecord as exc:
                    self._reject(exc)
                    continue
                await self._add_window(ws)
        except Exception as exc:
            self._fail(exc)
            raise

    def _reject(self, exc: BadRecord) -> None:
        self.rejected[exc.reason] += 1
        log.warning("rejected a %s record: %s", TOPIC_INDICATORS, str(exc)[:300])

    async def _add_window(self, ws: wire.WindowSums) -> None:
        """Merge the window into its period, then close what the record closes. A closure is
        sent and acknowledged before its period leaves the table: after a crash, either the
        period is still there (and is closed again) or its closure was delivered."""
        period_ms, window_ms = self.params.period_ms, self.params.window_ms
        period_start_ms = periods.period_start(ws.window_start_ms, period_ms)
        k = stored.channel_period_key(ws.channel, period_start_ms)
        raw = self.periods.get(k)
        acc = periods.merge(None if raw is None else stored.decode_acc(raw), ws.window_start_ms,
                            ws.sums)
        self.periods[k] = stored.encode_acc(acc)
        last = periods.is_last_window(ws.window_start_ms, window_ms, period_ms)
        opened = stored.channel_period_starts(list(self.periods.keys()), ws.channel)
        closes = periods.closing(opened, period_start_ms, last)
        log.debug("window %s %s: period %s has %d windows; closes %s", ws.channel,
                  format_utc_s(ws.window_start_ms), format_utc_s(period_start_ms),
                  len(acc.windows), closes)
        for closed_start_ms in closes:
            ck = stored.channel_period_key(ws.channel, closed_start_ms)
            closure = stored.Closure(ws.channel, closed_start_ms,
                                     stored.decode_acc(self.periods[ck]).windows)
            await self._deliver(self.closed.send(key=stored.CLOSED_KEY,
                                                  value=stored.encode_closure(closure), force=True))
            del self.periods[ck]

    @staticmethod
    async def _deliver(sending: Awaitable[Awaitable[Any]]) -> None:
        """Send and wait for the broker's acknowledgement."""
        await (await sending)

    # --- agent 2: closed channel-periods -> quality records ------------------------------

    async def _combine(self, stream: faust.StreamT[bytes]) -> None:
        try:
            async for raw in stream:
                try:
                    closure = stored.decode_closure(raw)
                except msgspec.DecodeError as exc:  # only this app writes the topic
                    log.error("skipping an unreadable closure: %s", exc)
                    continue
                await self._add_closure(closure)
        except Exception as exc:
            self._fail(exc)
            raise

    def _meta(self) -> Meta:
        return stored.decode_meta(self.combine.get(stored.META_KEY))

    async def _add_closure(self, c: stored.Closure) -> None:
        meta = self._meta()
        log.debug("closure %s %s (%d windows); published through %s", c.channel,
                  format_utc_s(c.period_start_ms), len(c.windows), meta.published_through)
        pk = stored.pending_key(c.period_start_ms)
        if meta.published_through is not None and c.period_start_ms <= meta.published_through:
            if self.combine.get(pk) is not None:  # left over by a crash after publishing
                del self.combine[pk]
            return
        raw = self.combine.get(pk)
        pending = combine.merge(None if raw is None else stored.decode_pending(raw), c)
        self.combine[pk] = stored.encode_pending(pending)
        if not combine.complete(pending, self.channels):
            return
        for earlier_start_ms in self._pending_before(c.period_start_ms):
            log.warning("period %s: a later period completed first; publishing it with the "
                        "channels it has", format_utc_s(earlier_start_ms))
            await self._publish(earlier_start_ms, stored.decode_pending(
                self.combine[stored.pending_key(earlier_start_ms)]))
        await self._publish(c.period_start_ms, pending)

    def _pending_before(self, period_start_ms: int) -> list[int]:
        """The starts of the unfinished periods older than one that just completed (periods
        publish in order)."""
        return sorted(p for k in list(self.combine.keys())
                      if (p := stored.parse_pending_key(k)) is not None and p < period_start_ms)

    def _lookback_start(self, period_start_ms: int) -> int:
        return combine.lookback_start(period_start_ms, self.params.period_ms,
                                      self.params.entropy_periods)

    def _history_rows(self, period_start_ms: int) -> list[stored.ScoreRow]:
        """The score rows of the look-back's earlier periods (the one starting at
        ``period_start_ms`` excluded)."""
        oldest_start_ms = self._lookback_start(period_start_ms)
        rows: list[stored.ScoreRow] = []
        for p in sorted(stored.parse_history_key(k) for k in list(self.history.keys())):
            if oldest_start_ms <= p < period_start_ms:
                rows.extend(stored.decode_rows(self.history[stored.history_key(p)]).values())
        return rows

    def _save_history(self, result: PeriodResult) -> None:
        period_start_ms = result.period_start_ms
        self.history[stored.history_key(period_start_ms)] = stored.encode_rows(
            result.volume_rows())
        oldest_start_ms = self._lookback_start(period_start_ms)
        for k in list(self.history.keys()):
            if stored.parse_history_key(k) < oldest_start_ms:
                del self.history[k]

    def _step_alerts(self, result: PeriodResult) -> list[tuple[Transition, bool]]:
        """Feed the period to every channel's ``quality_index`` alerts, saving each state."""
        out: list[tuple[Transition, bool]] = []
        for r in result.channels:
            span = Span(r.channel, result.period_start_ms, result.period_end_ms)
            for rule in self.rules.get(r.channel, ()):
                k = stored.alert_key(r.channel, rule.indicator)
                raw = self.alerts.get(k)
                s = alerting.step(rule, None if raw is None else stored.decode_alert(raw), span,
                                  r.quality_index)
                if not s.replayed:
                    self.alerts[k] = stored.encode_alert(s.entry)
                if s.transition is not None:
                    out.append((s.transition, s.replayed))
        return out

    async def _publish(self, period_start_ms: int, pending: stored.Pending) -> None:
        """Compute, save the states, publish (acknowledged), then mark the period done."""
        params = self.params
        result = combine.compute(self.channels, period_start_ms,
                                 period_start_ms + params.period_ms, pending, params.method,
                                 params.static_weights, self._history_rows(period_start_ms))
        self._save_history(result)
        transitions = self._step_alerts(result)
        await self.app.producer.flush()  # the states are durable before anything is published
        replayed = [t for t, again in transitions if again]
        done = (await sink.published(self.cfg.bootstrap_servers, replayed,
                                     client_options(self.cfg.kafka)) if replayed else set())
        sends = [self.alerts_out.send(key=alerts_wire.key(t), value=alerts_wire.encode(t),
                                      force=True)
                 for t, _again in transitions if sink.ident(t) not in done]
        sends += [self.quality_out.send(key=k, value=v, force=True)
                  for k, v in combine.records(result)]
        for sending in sends:  # sent in order; each waits for its acknowledgement
            await self._deliver(sending)
        self.combine[stored.META_KEY] = stored.encode_meta(Meta(period_start_ms, result))
        del self.combine[stored.pending_key(period_start_ms)]
        log.info("published period %s: %s", format_utc_s(period_start_ms),
                 ", ".join(f"{r.channel} {r.quality_index}" for r in result.channels))
        self._set_snapshot(result)

    # --- metrics and failure ---------------------------------------------------------------

    def _entries(self) -> dict[str, stored.AlertEntry]:
        return {k: stored.decode_alert(v) for k, v in list(self.alerts.items()) if v is not None}

    def _set_snapshot(self, latest: PeriodResult | None) -> None:
        self.snapshot = Snapshot(latest, alerting.active(self.rules, self._entries()),
                                 dict(self.rejected))

    async def _refresh(self) -> None:
        """Re-read the latest period and the alert states (restored from the changelogs)."""
        self._set_snapshot(self._meta().latest)

    def _fail(self, exc: BaseException) -> None:
        """An unexpected error (a lost broker, a failed send): stop the worker, exit non-zero so
        a supervisor restarts the stage, which then re-reads from its committed offsets."""
        log.exception("quality stage failed: %s", exc)
        self.failure = exc
        os.kill(os.getpid(), signal.SIGTERM)
