"""The configuration as the commands use it: one frozen ``Config`` with a field per table.

Built only by ``monitor.config.loader`` (which checks every value); defaults are the SPEC's.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from monitor.config.alerts import AlertConfig, SloConfig, parse_alerts, parse_slos
from monitor.config.kafka import KafkaConfig
from monitor.config.quality import QualityConfig
from monitor.config.rules import RulesConfig

#: Defaults per channel: (first_response_target_s, resolution_target_s), SPEC section 6.
DEFAULT_TARGETS: dict[str, tuple[int, int]] = {
    "phone": (20, 600),
    "chat": (60, 1800),
    "email": (14400, 86400),
    "web": (300, 3600),
    "app": (300, 3600),
    "store": (300, 1800),
    "social": (3600, 86400),
}
DEFAULT_SHORT_ABANDON_S = 5
DEFAULT_BROKER_URL = "kafka://127.0.0.1:9092"
DEFAULT_METRICS_PORT = 9310
DEFAULT_METRICS_BIND = "0.0.0.0"
DEFAULT_WINDOW_S = 60
#: The queue of an event without ``queue`` when the channel sets no ``default_queue`` (SPEC 9).
DEFAULT_QUEUE = "main"
#: The queue every undeclared queue of a channel with declared queues is measured under.
OTHER_QUEUE = "other"
DEFAULT_MAX_QUEUES = 50


@dataclass(frozen=True, slots=True)
class QueueConfig:
    """One queue of a channel, its targets resolved (the channel's where it sets none)."""

    name: str
    first_response_target_s: float
    resolution_target_s: float
    short_abandon_s: float


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    name: str
    first_response_target_s: float
    resolution_target_s: float
    short_abandon_s: float
    #: the queue of an event that names none
    default_queue: str = DEFAULT_QUEUE
    #: ``[channels.<c>.queues.<q>]`` in file order; the default queue is added (with the
    #: channel's targets) when queues are declared without it. Empty: one queue, the default.
    queues: tuple[QueueConfig, ...] = ()

    @property
    def queue_labels(self) -> tuple[str, ...]:
        """Every ``queue`` label value of this channel: its declared queues and ``other``, or
        its default queue alone when it declares none."""
        if not self.queues:
            return (self.default_queue,)
        return (*(q.name for q in self.queues), OTHER_QUEUE)

    def queue(self, name: str) -> QueueConfig:
        """A queue's targets (``other`` and an undeclared channel's default: the channel's)."""
        for q in self.queues:
            if q.name == name:
                return q
        return QueueConfig(name, self.first_response_target_s, self.resolution_target_s,
                           self.short_abandon_s)


def queue_labels(channels: tuple[ChannelConfig, ...]) -> dict[str, tuple[str, ...]]:
    """Each channel's ``queue`` label values (SPEC 9), by channel name."""
    return {c.name: c.queue_labels for c in channels}


@dataclass(frozen=True, slots=True)
class Config:
    broker_url: str = DEFAULT_BROKER_URL
    metrics_port: int = DEFAULT_METRICS_PORT
    #: the address ``/metrics``, ``/healthz`` and ``/readyz`` listen on (worker and quality stage)
    metrics_bind: str = DEFAULT_METRICS_BIND
    #: exporter-toolkit web configuration (TLS, basic auth) of that endpoint; read by ``web``
    metrics_web_config: str | None = None
    group_id: str = "sqm-monitor"
    window_s: int = 60  # DEFAULT_WINDOW_S
    grace_s: int = 10
    #: How long events wait to be applied in event-time order; None: ``grace_s``. Less gives
    #: earlier counters, but results then depend on arrival order within the grace.
    reorder_s: int | None = None
    idle_timeout_s: float = 5.0
    max_future_skew_s: int = 300
    orphan_timeout_s: int = 3600
    reopen_window_s: int = 7 * 24 * 3600
    max_event_bytes: int = 65536
    #: Events older than this (wall clock) are dead-lettered: a fresh deployment emits every
    #: window from the first event's on, so a stray old timestamp must not start that run.
    max_event_age_s: int = 7 * 24 * 3600
    commit_interval_ms: int = 250
    #: How long the worker goes on without an answer from its broker before it exits with code
    #: 1 for its supervisor to restart it (it resumes from its last commit).
    broker_timeout_s: float = 30.0
    #: at most this many declared queues per channel (bounds the series of the ``queue`` label)
    max_queues: int = DEFAULT_MAX_QUEUES
    channels: tuple[ChannelConfig, ...] = field(
        default_factory=lambda: tuple(
            ChannelConfig(n, fr, rs, DEFAULT_SHORT_ABANDON_S)
            for n, (fr, rs) in DEFAULT_TARGETS.items()
        )
    )

    #: ``[[alerts]]`` and ``[[slos]]`` as given; None: the shipped defaults (``alerts``, ``slos``)
    alerts_config: tuple[AlertConfig, ...] | None = None
    slos_config: tuple[SloConfig, ...] | None = None
    #: ``[rules]``: job, runbook and pipeline-health thresholds of ``sqm rules``
    rules: RulesConfig = field(default_factory=RulesConfig)
    #: ``[quality]``: the quality stage's period, weighting method and port (SPEC 7.2)
    quality: QualityConfig = field(default_factory=QualityConfig)
    #: ``[kafka]``: security protocol, SASL credentials and TLS files of every Kafka client
    kafka: KafkaConfig = field(default_factory=KafkaConfig)

    @property
    def alerts(self) -> tuple[AlertConfig, ...]:
        """The threshold alerts in force (SPEC 5.1)."""
        if self.alerts_config is None:
            return parse_alerts(None, self.channel_names, self.queue_labels)
        return self.alerts_config

    @property
    def slos(self) -> tuple[SloConfig, ...]:
        """The SLOs in force (SPEC 5.2)."""
        if self.slos_config is None:
            return parse_slos(None, self.channel_names)
        return self.slos_config

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    @property
    def queue_labels(self) -> dict[str, tuple[str, ...]]:
        """Each channel's ``queue`` label values (SPEC 9)."""
        return queue_labels(self.channels)

    def channel(self, name: str) -> ChannelConfig:
        for c in self.channels:
            if c.name == name:
                return c
        raise KeyError(name)

    @property
    def bootstrap_servers(self) -> str:
        """``kafka://h1:9092;h2:9092`` -> ``h1:9092,h2:9092`` for aiokafka."""
        url = self.broker_url
        if "://" in url:
            url = url.split("://", 1)[1]
        return ",".join(part.strip() for part in url.replace(";", ",").split(",") if part.strip())
