"""The one error of the configuration: its message names the key (``alerts[1].warning: ...``)."""

from __future__ import annotations


class ConfigError(ValueError):
    """A configuration value is wrong; ``sqm`` prints the message and exits 2."""
