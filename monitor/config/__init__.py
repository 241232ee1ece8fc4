"""The configuration: one ``Config``, one loader, one ``ConfigError`` for every table.

``model`` holds the values, ``loader`` reads and checks them (``check`` has the checks every
table shares; each table's own keys are in ``channels``, ``alerts``, ``quality``, ``kafka``,
``rules`` and ``web``), and ``params`` turns them into what the domain runs with.
"""

from monitor.config.errors import ConfigError
from monitor.config.loader import from_mapping, load, load_web
from monitor.config.model import ChannelConfig, Config
from monitor.config.params import (
    channel_window_rules,
    domain_params,
    period_rules,
    quality_params,
    window_rules,
)

__all__ = [
    "ChannelConfig",
    "Config",
    "ConfigError",
    "channel_window_rules",
    "domain_params",
    "from_mapping",
    "load",
    "load_web",
    "period_rules",
    "quality_params",
    "window_rules",
]
