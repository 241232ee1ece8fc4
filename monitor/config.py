"""Configuration: one TOML file, built-in defaults, environment overrides.

A bad value stops start-up with one message that names the key (``ConfigError``).
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from monitor import web_config
from monitor.alert_config import (
    PERIOD_INDICATORS,
    AlertConfig,
    AlertConfigError,
    SloConfig,
    multiple,
    parse_alerts,
    parse_slos,
)
from monitor.domain.alerts import Rule
from monitor.domain.params import ChannelParams, Params
from monitor.kafka_config import KafkaConfig, KafkaConfigError, parse_kafka
from monitor.quality_config import QualityConfig, QualityConfigError, parse_quality
from monitor.rules_config import RulesConfig, RulesConfigError, parse_rules
from monitor.web_config import WebConfig

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


class ConfigError(ValueError):
    """A configuration value is wrong; the message names the key."""


@dataclass(frozen=True, slots=True)
class ChannelConfig:
    name: str
    first_response_target_s: float
    resolution_target_s: float
    short_abandon_s: float


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
            return parse_alerts(None, self.channel_names)
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


# --- loading -------------------------------------------------------------------------------

_SCALARS: dict[str, tuple[type, ...]] = {
    "broker_url": (str,),
    "metrics_port": (int,),
    "metrics_bind": (str,),
    "metrics_web_config": (str,),
    "group_id": (str,),
    "window_s": (int,),
    "grace_s": (int,),
    "reorder_s": (int,),
    "idle_timeout_s": (int, float),
    "max_future_skew_s": (int,),
    "orphan_timeout_s": (int,),
    "reopen_window_s": (int,),
    "max_event_bytes": (int,),
    "max_event_age_s": (int,),
    "commit_interval_ms": (int,),
    "broker_timeout_s": (int, float),
}
_CHANNEL_KEYS = ("first_response_target_s", "resolution_target_s", "short_abandon_s")
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$")
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789_-")


def _check_type(key: str, value: Any, types: tuple[type, ...]) -> None:
    if isinstance(value, bool) or not isinstance(value, types):
        names = " or ".join(t.__name__ for t in types)
        raise ConfigError(f"{key}: expected {names}, got {type(value).__name__} {value!r}")


def _positive(key: str, value: float) -> None:
    if value <= 0:
        raise ConfigError(f"{key}: must be greater than 0, got {value!r}")


def _channels(raw: Any) -> tuple[ChannelConfig, ...]:
    if not isinstance(raw, Mapping) or not raw:
        raise ConfigError("channels: expected a table with at least one [channels.<name>] entry")
    out: list[ChannelConfig] = []
    for name, spec in raw.items():
        key = f"channels.{name}"
        if not name or len(name) > 32 or not set(name) <= _NAME_OK:
            raise ConfigError(f"{key}: a channel name is 1..32 of [a-z0-9_-]")
        if not isinstance(spec, Mapping):
            raise ConfigError(f"{key}: expected a table")
        unknown = set(spec) - set(_CHANNEL_KEYS)
        if unknown:
            raise ConfigError(f"{key}.{sorted(unknown)[0]}: unknown key")
        fr_default, rs_default = DEFAULT_TARGETS.get(name, (None, None))
        values: dict[str, float] = {}
        for ck, default in zip(
            _CHANNEL_KEYS, (fr_default, rs_default, DEFAULT_SHORT_ABANDON_S), strict=True
        ):
            v = spec.get(ck, default)
            if v is None:
                raise ConfigError(f"{key}.{ck}: required for a channel without built-in defaults")
            _check_type(f"{key}.{ck}", v, (int, float))
            if ck == "short_abandon_s":
                if v < 0:
                    raise ConfigError(f"{key}.{ck}: must be 0 or more, got {v!r}")
            else:
                _positive(f"{key}.{ck}", v)
            values[ck] = v
        out.append(ChannelConfig(name, **values))
    return tuple(out)


def from_mapping(raw: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Config:
    """Build a validated ``Config`` from parsed TOML and environment overrides."""
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key == "channels":
            kwargs["channels"] = _channels(value)
            continue
        if key in ("alerts", "slos", "quality", "kafka"):
            continue  # after the channels (which they name) and window_s
        if key == "rules":
            try:
                kwargs["rules"] = parse_rules(value)
            except RulesConfigError as exc:
                raise ConfigError(str(exc)) from None
            continue
        if key not in _SCALARS:
            raise ConfigError(f"{key}: unknown key")
        _check_type(key, value, _SCALARS[key])
        kwargs[key] = value
    kwargs.update(_env_overrides(os.environ if env is None else env))
    kwargs.update(_tables(raw, kwargs.get("channels", Config().channels),
                          kwargs.get("window_s", DEFAULT_WINDOW_S),
                          os.environ if env is None else env))
    cfg = Config(**kwargs)
    _validate(cfg)
    return cfg


def _env_overrides(env: Mapping[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if env.get("SQM_BROKER_URL"):
        out["broker_url"] = env["SQM_BROKER_URL"]
    if env.get("SQM_METRICS_PORT"):
        try:
            out["metrics_port"] = int(env["SQM_METRICS_PORT"])
        except ValueError:
            raise ConfigError(
                f"SQM_METRICS_PORT: expected an integer, got {env['SQM_METRICS_PORT']!r}"
            ) from None
    return out


#: what a table's own parser raises; it becomes a ``ConfigError`` (its message names the key)
_TABLE_ERRORS = (AlertConfigError, QualityConfigError, KafkaConfigError)


def _tables(raw: Mapping[str, Any], channels: tuple[ChannelConfig, ...], window_s: int,
            env: Mapping[str, str]) -> dict[str, Any]:
    """``[[alerts]]``, ``[[slos]]`` (absent: the defaults apply), ``[quality]`` and ``[kafka]``,
    each parsed in its own module, as ``Config`` fields."""
    names = tuple(c.name for c in channels)
    parsers: dict[str, tuple[str, Callable[[Any], Any]]] = {
        "alerts": ("alerts_config", lambda t: parse_alerts(t, names)),
        "slos": ("slos_config", lambda t: parse_slos(t, names)),
        "quality": ("quality", lambda t: parse_quality(t, window_s)),
        "kafka": ("kafka", lambda t: parse_kafka(t, env)),
    }
    out: dict[str, Any] = {}
    try:
        for key, (field_name, parse) in parsers.items():
            if key in raw:
                out[field_name] = parse(raw[key])
    except _TABLE_ERRORS as exc:
        raise ConfigError(str(exc)) from None
    return out


def _validate(cfg: Config) -> None:
    for key in ("window_s", "grace_s", "idle_timeout_s", "max_future_skew_s", "orphan_timeout_s",
                "reopen_window_s", "max_event_bytes", "max_event_age_s", "commit_interval_ms",
                "broker_timeout_s"):
        _positive(key, getattr(cfg, key))
    _check_metrics(cfg)
    if 86400 % cfg.window_s != 0:
        raise ConfigError(f"window_s: must divide a day (86400 s) evenly, got {cfg.window_s}")
    if not cfg.bootstrap_servers:
        raise ConfigError(f"broker_url: no host:port in {cfg.broker_url!r}")
    for part in cfg.bootstrap_servers.split(","):
        host, _, port = part.rpartition(":")
        if not host or not port.isdigit():
            raise ConfigError(f"broker_url: expected host:port, got {part!r}")
    if cfg.reorder_s is not None and not 0 <= cfg.reorder_s <= cfg.grace_s:
        raise ConfigError(f"reorder_s: must be 0..grace_s ({cfg.grace_s}), got {cfg.reorder_s}")
    if not cfg.group_id:
        raise ConfigError("group_id: must not be empty")
    if cfg.quality.period_s % cfg.window_s:
        raise ConfigError(f"quality.period_s: {cfg.quality.period_s} is not a multiple of "
                          f"window_s ({cfg.window_s})")


def _check_metrics(cfg: Config) -> None:
    """The endpoint's port and bind address (an IP address such as ``0.0.0.0``, ``127.0.0.1``
    or ``::``, or a host name); the web config file itself is read by ``web``."""
    if not 0 <= cfg.metrics_port <= 65535:
        raise ConfigError(f"metrics_port: must be 0..65535, got {cfg.metrics_port}")
    try:
        ipaddress.ip_address(cfg.metrics_bind)
    except ValueError:
        if not _HOST.match(cfg.metrics_bind):
            raise ConfigError("metrics_bind: expected an IP address or a host name, got "
                              f"{cfg.metrics_bind!r}") from None
    if cfg.metrics_web_config is not None and not cfg.metrics_web_config.strip():
        raise ConfigError("metrics_web_config: must not be empty (leave the key out for plain HTTP)")


def web(cfg: Config) -> WebConfig | None:
    """``metrics_web_config`` read and checked (TLS files loaded). Only the commands that serve
    metrics, and ``check-config``, read it: the others' pods need not mount its certificates."""
    if cfg.metrics_web_config is None:
        return None
    try:
        return web_config.load(cfg.metrics_web_config)
    except web_config.WebConfigError as exc:
        raise ConfigError(str(exc)) from None


def load(path: str | os.PathLike[str] | None = None, env: Mapping[str, str] | None = None) -> Config:
    """Load ``path`` (or ``$SQM_CONFIG``, or built-in defaults when neither is set)."""
    env = os.environ if env is None else env
    chosen = path if path is not None else env.get("SQM_CONFIG") or None
    raw: dict[str, Any] = {}
    if chosen is not None:
        p = Path(chosen)
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(f"config file {p}: not found") from None
        except tomllib.TOMLDecodeError as exc:
            raise ConfigError(f"config file {p}: not valid TOML ({exc})") from None
    return from_mapping(raw, env)


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


def domain_params(cfg: Config) -> Params:
    """The configuration as the domain uses it (integer milliseconds)."""
    return Params(
        channels=cfg.channel_names,
        channel_params={
            c.name: ChannelParams(
                _ms(c.first_response_target_s), _ms(c.resolution_target_s), _ms(c.short_abandon_s)
            )
            for c in cfg.channels
        },
        window_ms=cfg.window_s * 1000,
        grace_ms=cfg.grace_s * 1000,
        reorder_ms=(cfg.grace_s if cfg.reorder_s is None else cfg.reorder_s) * 1000,
        idle_timeout_ms=_ms(cfg.idle_timeout_s),
        max_future_skew_ms=cfg.max_future_skew_s * 1000,
        orphan_timeout_ms=cfg.orphan_timeout_s * 1000,
        reopen_window_ms=cfg.reopen_window_s * 1000,
        max_event_bytes=cfg.max_event_bytes,
        max_event_age_ms=cfg.max_event_age_s * 1000,
        alert_rules={c.name: tuple(rule(a, c) for a in cfg.alerts
                                   if c.name in a.channels and a.indicator not in PERIOD_INDICATORS)
                     for c in cfg.channels},
    )


def period_rules(cfg: Config) -> dict[str, tuple[Rule, ...]]:
    """The alerts the quality stage evaluates on each final period (``quality_index``), per
    channel; ``for_windows`` and ``clear_windows`` count periods there."""
    return {c.name: tuple(rule(a, c) for a in cfg.alerts
                          if c.name in a.channels and a.indicator in PERIOD_INDICATORS)
            for c in cfg.channels}


def threshold_value(t: float | str | None, channel: ChannelConfig) -> float | None:
    """A threshold in the indicator's unit: ``"Nx"`` is N times ``first_response_target_s``."""
    n = multiple(t)
    if n is not None:
        return n * channel.first_response_target_s
    assert not isinstance(t, str)
    return t


def rule(a: AlertConfig, channel: ChannelConfig) -> Rule:
    """One ``[[alerts]]`` entry as the domain evaluates it for ``channel``."""
    return Rule(a.indicator, a.op, threshold_value(a.warning, channel),
                threshold_value(a.critical, channel), a.for_windows, a.clear_windows,
                a.min_volume)
