"""One contact's lifecycle (SPEC section 1): which events, at which offsets from its ``opened``.

Times scale with the targets F, R and S (``first_response_target_s``, ``resolution_target_s``,
``short_abandon_s``) of the queue the contact is in when it is answered and closed, the
channel's when it declares no queues.

* First response wait: lognormal, median 0.4 x F, sigma 0.6, drawn again beyond 1.5 x F (agents
  take the oldest contact first, so a queue's waits are bounded; independent lognormal tails
  would make a busy channel's oldest wait an extreme value). P(wait <= F) = 94 %; with abandons
  beyond S in the denominator the service level comes out at about 0.89-0.93.
* Abandon (instead of a response), probability ``abandon p``: a share ``short share`` of them are
  short abandons (uniform in [min(1, S/2), S] seconds), the rest happen at S + 1 s +
  lognormal(median 0.6 x F, sigma 0.6), bounded like the waits. Abandoned contacts get a callback:
  closed after a handling time like an answered contact's, resolved in 60 % of the cases.
* Self-service (``resolved`` or ``failed`` with no ``responded`` at all, mostly web/app): closing
  after a draw from the wait distribution; 96 % resolved; never reopened (it would count as
  waiting again, from its first ``opened``).
* Answered contacts: closing at wait + handle, handle lognormal(median 0.48 x R, sigma 0.55),
  about 88 % of resolutions within R (87 % for email/store whose F is large against R);
  ``resolved`` with probability ``resolved p``, else ``failed``. ``follow-ups``: a Poisson
  number of further ``responded`` events spread between the first response and the closing.
  The resolution rate comes out at about 0.94-0.97 from the first window on.
* Reopen (only after an agent's ``resolved``), probability ``reopen p``: 1-15 minutes after the
  closing (real reopens come hours or days later, within ``reopen_window_s``; minutes keep them
  inside a generated span), then 70 % get a ``responded`` at lognormal(median 0.1 x R), and a
  second closing at lognormal(median 0.2 x R) after the reopen, 90 % resolved.
"""

from __future__ import annotations

import random
from typing import Final, Protocol

from monitor.domain.stream.events import ABANDONED, FAILED, OPENED, REOPENED, RESOLVED, RESPONDED
from monitor.sim.draws import capped, lognormal, ms, poisson
from monitor.sim.profiles import Profile
from monitor.sim.scenario import Slowdown

WAIT_MEDIAN: Final = 0.4  # x first_response_target_s
WAIT_SIGMA: Final = 0.6
WAIT_CAP: Final = 1.5  # x first_response_target_s (x the degradation): agents take the oldest first
ABANDON_MEDIAN: Final = 0.6  # x first_response_target_s, long abandons after short_abandon_s + 1
SELF_SERVICE_RESOLVED: Final = 0.96
CALLBACK_RESOLVED: Final = 0.6
HANDLE_MEDIAN: Final = 0.48  # x resolution_target_s, after the first response
HANDLE_SIGMA: Final = 0.55
FAILED_SLOWER: Final = 1.2
REOPEN_AFTER_S: Final = (60.0, 900.0)
REOPEN_RESPONSE_P: Final = 0.7
REOPEN_RESPONSE_MEDIAN: Final = 0.1  # x resolution_target_s
REOPEN_CLOSE_MEDIAN: Final = 0.2  # x resolution_target_s
REOPEN_RESOLVED: Final = 0.9

#: (offset ms from opened, event type, done by an agent)
Step = tuple[int, str, bool]


class Targets(Protocol):
    """What a lifecycle scales with: a channel's targets (``ChannelConfig``) or a queue's
    (``QueueConfig``), or a mix of two queues'
    (``monitor.sim.queues.Route.targets``)."""

    @property
    def first_response_target_s(self) -> float: ...
    @property
    def resolution_target_s(self) -> float: ...
    @property
    def short_abandon_s(self) -> float: ...


def lifecycle(
    rng: random.Random,
    profile: Profile,
    targets: Targets,
    opened_ms: float = 0.0,
    slowdown: Slowdown | None = None,
) -> list[Step]:
    """One contact's events as (offset ms from opened, type, done by an agent), in order."""
    big_f = targets.first_response_target_s
    big_r = targets.resolution_target_s
    short = targets.short_abandon_s
    degraded = slowdown is not None and slowdown.active(opened_ms)
    slower = slowdown.factor if slowdown is not None and degraded else 1.0
    out: list[Step] = [(0, OPENED, False)]
    u = rng.random()
    abandon_mult = slowdown.abandon_factor if slowdown is not None and degraded else 1.0
    abandon_p = min(profile.abandon_p * abandon_mult, 0.9)
    if u < abandon_p:
        if short > 0 and rng.random() < profile.short_abandon_share:
            wait_s = rng.uniform(min(1.0, short / 2), short)
            at = min(ms(wait_s), int(short * 1000))
        else:
            cap_s = max(WAIT_CAP * big_f * slower - short - 1, 1)
            at = ms(short + 1.0 + capped(rng, ABANDON_MEDIAN * big_f * slower, cap_s, WAIT_SIGMA))
        out.append((at, ABANDONED, False))
        callback = at + ms(lognormal(rng, HANDLE_MEDIAN * big_r, HANDLE_SIGMA))
        out.append((callback, RESOLVED if rng.random() < CALLBACK_RESOLVED else FAILED, True))
        return out
    if u < abandon_p + profile.self_service_p:
        at = ms(capped(rng, WAIT_MEDIAN * big_f, WAIT_CAP * big_f, WAIT_SIGMA))
        resolved = rng.random() < SELF_SERVICE_RESOLVED
        out.append((at, RESOLVED if resolved else FAILED, False))
        return out  # never reopened: it would wait again, counted from its first opened
    healthy_ms = capped(rng, WAIT_MEDIAN * big_f, WAIT_CAP * big_f, WAIT_SIGMA) * 1000.0
    if slowdown is not None:
        healthy_ms = slowdown.wait_ms(opened_ms, healthy_ms)
    wait = max(1, round(healthy_ms))
    resolved = rng.random() < profile.resolved_p
    handle = lognormal(rng, HANDLE_MEDIAN * big_r, HANDLE_SIGMA)
    close = wait + ms(handle if resolved else handle * FAILED_SLOWER)
    out.append((wait, RESPONDED, True))
    follow_ups = sorted(rng.randint(wait + 1, close - 1)
                        for _ in range(poisson(rng, profile.follow_ups_mean)) if close - wait > 2)
    out.extend((at, RESPONDED, True) for at in follow_ups)
    out.append((close, RESOLVED if resolved else FAILED, True))
    if resolved and rng.random() < profile.reopen_p:
        _reopen(rng, big_r, out)
    return out


def _reopen(rng: random.Random, big_r: float, out: list[Step]) -> None:
    at = out[-1][0] + ms(rng.uniform(*REOPEN_AFTER_S))
    out.append((at, REOPENED, False))
    close = at + ms(lognormal(rng, REOPEN_CLOSE_MEDIAN * big_r, 0.6))
    if rng.random() < REOPEN_RESPONSE_P:
        reply = at + ms(lognormal(rng, REOPEN_RESPONSE_MEDIAN * big_r, 0.6))
        if reply < close:
            out.append((reply, RESPONDED, True))
    out.append((close, RESOLVED if rng.random() < REOPEN_RESOLVED else FAILED, True))
