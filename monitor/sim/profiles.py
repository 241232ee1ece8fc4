"""How each channel's contacts behave: arrival share, abandons, self-service, outcomes, surveys.

Times scale with the channel's (or queue's) targets F, R and S from the config, so the table
holds only what targets cannot say::

    channel share  wait median  abandon  short   self-    follow-ups  resolved  reopen  survey
                   (x F)        p        share   service  (mean)      p         p         p
    phone   30 %   0.40         6 %      40 %    3 %      0.3         97 %      4 %    12 %
    chat    25 %   0.40         8 %      35 %    5 %      2.0         97 %      5 %    25 %
    email   15 %   0.40         0 %      -       1 %      1.0         96 %      6 %    10 %
    web     10 %   0.40         3 %      30 %    25 %     0.8         96 %      5 %     8 %
    app     10 %   0.40         3 %      30 %    20 %     0.8         96 %      5 %     8 %
    store    5 %   0.40         5 %      30 %    0 %      0.3         98 %      3 %    15 %
    social   5 %   0.40         2 %      30 %    2 %      1.2         96 %      6 %     5 %
    other    5 %   0.40         3 %      30 %    5 %      0.8         96 %      5 %    10 %

Arrival shares are renormalised over the configured channels; a channel not in the table gets
the ``other`` row. ``queues`` are the free ``attrs.queue`` values of a channel that declares no
queues in the config (SPEC 1: metadata, never a label).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

#: ``attrs.segment`` of a contact: (name, share).
SEGMENTS: Final = (("consumer", 0.75), ("business", 0.20), ("premium", 0.05))


@dataclass(frozen=True, slots=True)
class Profile:
    """Behaviour of one channel (see the module docstring table)."""

    share: float
    abandon_p: float
    short_abandon_share: float
    self_service_p: float
    follow_ups_mean: float
    resolved_p: float
    reopen_p: float
    queues: tuple[str, ...]
    survey_p: float  # share of closed contacts that answer the post-contact survey


PROFILES: Final[dict[str, Profile]] = {
    "phone": Profile(0.30, 0.06, 0.40, 0.03, 0.3, 0.97, 0.04,
                     ("billing", "technical", "sales", "cancellations"), 0.12),
    "chat": Profile(0.25, 0.08, 0.35, 0.05, 2.0, 0.97, 0.05,
                    ("billing", "technical", "sales", "orders"), 0.25),
    "email": Profile(0.15, 0.0, 0.30, 0.01, 1.0, 0.96, 0.06,
                     ("billing", "technical", "complaints", "orders"), 0.10),
    "web": Profile(0.10, 0.03, 0.30, 0.25, 0.8, 0.96, 0.05, ("orders", "account", "returns"), 0.08),
    "app": Profile(0.10, 0.03, 0.30, 0.20, 0.8, 0.96, 0.05, ("orders", "account", "payments"),
                   0.08),
    "store": Profile(0.05, 0.05, 0.30, 0.0, 0.3, 0.98, 0.03, ("returns", "repairs", "sales"), 0.15),
    "social": Profile(0.05, 0.02, 0.30, 0.02, 1.2, 0.96, 0.06, ("complaints", "general"), 0.05),
}
DEFAULT_PROFILE: Final = Profile(0.05, 0.03, 0.30, 0.05, 0.8, 0.96, 0.05, ("general",), 0.10)


def segment_of(u: float) -> str:
    """The segment of a contact from one uniform draw in [0, 1)."""
    for name, share in SEGMENTS:
        if u < share:
            return name
        u -= share
    return SEGMENTS[-1][0]
