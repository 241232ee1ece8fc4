"""Loading the configuration: one TOML file, built-in defaults, environment overrides.

Table-driven: top-level scalars are checked by type, each table by its own parser, in an order
where every parser has what it needs (``[[alerts]]`` names channels, ``[quality]`` needs
``window_s``). Every check raises the one ``ConfigError``, whose message names the key.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.config import check
from monitor.config import web as web_config
from monitor.config.alerts import parse_alerts, parse_slos
from monitor.config.channels import parse_channels
from monitor.config.errors import ConfigError
from monitor.config.kafka import parse_kafka
from monitor.config.model import (
    DEFAULT_MAX_QUEUES,
    DEFAULT_WINDOW_S,
    ChannelConfig,
    Config,
    queue_labels,
)
from monitor.config.quality import parse_quality
from monitor.config.rules import parse_rules
from monitor.config.web import WebConfig

#: top-level keys that hold one value, and the types it may have
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
    "max_queues": (int,),
}
_HOST = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})$")


@dataclass(frozen=True, slots=True)
class _Context:
    """What a table's parser may depend on: the scalars and the tables parsed before it."""

    channels: tuple[ChannelConfig, ...]
    window_s: int
    max_queues: int
    env: Mapping[str, str]

    @property
    def channel_names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.channels)

    @property
    def queue_labels(self) -> dict[str, tuple[str, ...]]:
        return queue_labels(self.channels)


#: Every table: its ``Config`` field and its parser, in parsing order (``channels`` first: the
#: others name channels). Absent ``[[alerts]]`` and ``[[slos]]`` leave the shipped defaults.
_TABLES: dict[str, tuple[str, Callable[[Any, _Context], Any]]] = {
    "channels": ("channels", lambda t, c: parse_channels(t, c.max_queues)),
    "rules": ("rules", lambda t, _: parse_rules(t)),
    "alerts": ("alerts_config", lambda t, c: parse_alerts(t, c.channel_names, c.queue_labels)),
    "slos": ("slos_config", lambda t, c: parse_slos(t, c.channel_names)),
    "quality": ("quality", lambda t, c: parse_quality(t, c.window_s)),
    "kafka": ("kafka", lambda t, c: parse_kafka(t, c.env)),
}


def from_mapping(raw: Mapping[str, Any], env: Mapping[str, str] | None = None) -> Config:
    """Build a validated ``Config`` from parsed TOML and environment overrides."""
    env = os.environ if env is None else env
    kwargs: dict[str, Any] = {}
    for key, value in raw.items():
        if key in _TABLES:
            continue
        if key not in _SCALARS:
            raise ConfigError(f"{key}: unknown key")
        kwargs[key] = check.typed(key, value, _SCALARS[key])
    kwargs.update(_env_overrides(env))
    for key, (field_name, parse) in _TABLES.items():
        if key in raw:
            context = _Context(kwargs.get("channels", Config().channels),
                               kwargs.get("window_s", DEFAULT_WINDOW_S),
                               kwargs.get("max_queues", DEFAULT_MAX_QUEUES), env)
            kwargs[field_name] = parse(raw[key], context)
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


def _validate(cfg: Config) -> None:
    for key in ("window_s", "grace_s", "idle_timeout_s", "max_future_skew_s", "orphan_timeout_s",
                "reopen_window_s", "max_event_bytes", "max_event_age_s", "commit_interval_ms",
                "broker_timeout_s", "max_queues"):
        check.positive(key, getattr(cfg, key))
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


def load_web(cfg: Config) -> WebConfig | None:
    """``metrics_web_config`` read and checked (TLS files loaded). Only the commands that serve
    metrics, and ``check-config``, read it: the others' pods need not mount its certificates."""
    if cfg.metrics_web_config is None:
        return None
    try:
        return web_config.load(cfg.metrics_web_config)
    except ConfigError as exc:
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


