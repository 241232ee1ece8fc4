"""The queues of the benchmarks' traffic (SPEC 9), shared by ``bench.py`` and ``core_speed.py``."""

from __future__ import annotations

from monitor.config import Config

QUEUE_NAMES = ("general", "billing", "tech_support", "sales", "retention", "vip")


def queues_toml(per_channel: int) -> str:
    """``[channels.<c>.queues.<q>]`` for every built-in channel, ``general`` the default
    (``per_channel`` 0: nothing, the built-in channels without queues)."""
    if per_channel <= 0:
        return ""
    return "".join(f"[channels.{ch}]\ndefault_queue = \"general\"\n" + "".join(
        f"[channels.{ch}.queues.{q}]\n" for q in QUEUE_NAMES[:per_channel])
        for ch in Config().channel_names)
