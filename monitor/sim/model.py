"""Synthetic interaction traffic: a seeded, pure model of a multi-channel contact centre.

No Kafka here: ``TrafficModel`` turns (seed, scenario, rate, channel targets) into the events of
SPEC section 1 and the survey answers of SPEC 7.1; ``monitor.sim.producer`` sends them
(``sqm generate``) or writes them to a file.

Model, per new interaction (times are offsets from its ``opened``; F, R and S are the channel's
``first_response_target_s``, ``resolution_target_s`` and ``short_abandon_s`` from the config)::

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

Calibration goal: with the shipped alert defaults (SPEC section 5.1) a healthy channel never
alerts, at any rate, from the first window on; a degraded one pages within three windows.

* Arrivals: a Poisson process over all channels, split by the shares above (renormalised over the
  configured channels; a channel not in the table gets the ``other`` row).
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
* ``attrs``: ``queue`` (per channel), ``segment`` (consumer 75 %, business 20 %, premium 5 %),
  and ``agent`` on events done by an agent (never used as a label by the worker).
* Surveys (``feedback``, SPEC 7.1): after a contact's final closing (``resolved`` or ``failed``:
  an agent's, a self-service one or the callback of an abandoned contact; after a reopen, the
  second closing), its customer answers with probability ``survey p``, independent of the
  experience so the response rate is the table's. The answer comes at the closing +
  lognormal(median 3 min, sigma 0.8), drawn again beyond 15 minutes (like a reopen: inside a
  generated span; a real survey may come days later), same ``interaction_id`` and channel, an
  event id of the same ``e-<tag>-<n>`` sequence, ``attrs`` queue and segment (no agent: the
  customer answers). Its draws come from a generator of their own, so surveys leave the
  lifecycles' random stream alone.
* What the customer felt, each 0 (fine) .. 1 (bad): ``wait`` = (first reaction / F - 1) / 0.5
  clipped to [0, 1], the first reaction being the first response, the abandon or a self-service
  closing (within F: 0; 1.5 x F or longer: 1); ``outcome`` = 1 failed (last closing), 0.8
  abandoned then called back, 0.5 resolved after a reopen, 0 resolved. Together
  ``bad`` = 1 - (1 - wait)(1 - outcome).
* Answers. A latent satisfaction ``z`` = 0.93 - 0.7 x bad + normal(0, 0.1) (the respondent's
  mood) drives both scores, as real CSAT and NPS answers correlate: ``csat`` (always) =
  round(1 + 4z + normal(0, 0.4)) in 1..5; ``nps`` (70 % of the answers) = round(10z +
  normal(0, 1)) in 0..10. ``complaint``: true with probability 0.01 + 0.3 x bad, else false in
  half of the answers and absent in the others. ``servqual`` (40 % of the answers): 2-5
  dimensions drawn uniformly, each ``expected`` = round(person + offset + normal(0, 0.5)) with
  person ~ normal(5.5, 0.5) per respondent, ``perceived`` = round(that expectation + 0.15 -
  3.2 x bad_d + normal(0, 0.45)), both in 1..7, where bad_d = 1 - (1 - a x wait)(1 - b x
  outcome)::

      dimension       offset  a (wait)  b (outcome)
      reliability     +0.4    0.7       1.0
      responsiveness  +0.2    1.0       0.7
      assurance        0.0    0.8       0.9
      empathy         -0.2    0.9       0.9
      tangibles       -0.4    0.6       0.6

  So a healthy contact (answered within F, resolved) gives csat 4-5 in 98 % of the answers
  (mean about 4.6), nps 8-10 in 90 %, perception within a point of the expectation (about 5-6,
  mean gap about +0.1); a bad one (a wait of 1.5 x F or more, or failed) csat 1-3, nps 0-6, a
  complaint in 31 % and a gap of about -2.4 (-2 when abandoned and called back, -1.2 when
  resolved after a reopen). A healthy channel (with its few abandons, failures and reopens)
  comes out at csat about 4.3-4.5, NPS about +40..+55, complaints in 3-5 % of the answers and a
  mean gap of about -0.3..0; the contacts of a degraded chat (a quarter of them still answered
  within F, self-service unaffected) at csat about 2.9, NPS about -50 and a gap of about -1.6.
* ``ts``: RFC 3339 UTC with milliseconds, or integer epoch ms for a fraction ``epoch_ms_ratio``
  (default 0.2) of the events, since both are valid input.

Scenarios (``parse_scenario``):

* ``steady``: the table above, all run long.
* ``degrade:<channel>``: healthy for the first quarter of the run (``duration_s`` from
  ``start_ms``), degraded as a step for the middle half, then recovered. Degraded, the channel's
  queue works 4x slower (``Slowdown``: contacts already waiting at the onset are delayed too, so
  the first responses after it are late at once), long abandons wait 4x longer and are twice as
  likely. Chat's service level falls from about 0.89 to about 0.3; its surveys follow (a chat
  contact closes ~15 minutes after it opened, so its answers lag the onset by about that).

Rate: ``rate`` is the target number of *records per second* over the run, all event types
(``feedback`` included) plus the optional duplicates and garbage. Lifecycles are long next to a
demo run (a phone contact is closed ~5 minutes after it opened, an email one ~12 hours), so the
arrival rate of new contacts is ``rate / (mean records per contact that fall inside the run)``,
estimated once per model from a sample of 4000 lifecycles (with their surveys) drawn uniformly
over the run. The count over the run matches
``rate x duration_s``; the per-second rate starts lower and ends higher as closings catch up.

Determinism: everything comes from ``random.Random`` instances seeded from ``seed``; the emitted
sequence does not even depend on how ``events_until`` is stepped.
"""

from __future__ import annotations

import copy
import functools
import heapq
import math
import random
import time
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Final, NamedTuple

import orjson

from monitor.config import ChannelConfig
from monitor.domain.stream.events import ABANDONED, FAILED, OPENED, REOPENED, RESOLVED, RESPONDED
from monitor.domain.stream.feedback import DIMENSIONS, FEEDBACK

#: An emitted item: an event object, or raw garbage bytes (``garbage_ratio``).
Item = dict[str, Any] | bytes


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
DEGRADE_WAIT_FACTOR: Final = 4.0
DEGRADE_ABANDON_FACTOR: Final = 2.0
DEGRADE_FROM: Final = 0.25  # share of the run: a degraded channel is bad from here ...
DEGRADE_UNTIL: Final = 0.75  # ... to here, then recovers
CALIBRATION_SAMPLES: Final = 4000
RECENT_FOR_DUPLICATES: Final = 1024
SEGMENTS: Final = (("consumer", 0.75), ("business", 0.20), ("premium", 0.05))

# Surveys (SPEC 7.1; the model is in the module docstring).
SURVEY_DELAY_MEDIAN_S: Final = 180.0
SURVEY_DELAY_SIGMA: Final = 0.8
SURVEY_DELAY_CAP_S: Final = 900.0  # like a reopen: the answer stays inside a generated span
WAIT_BAD_FULL: Final = 1.5  # x first_response_target_s: a wait this long spoils the contact
ABANDONED_BAD: Final = 0.8  # gave up waiting, then called back
REOPENED_BAD: Final = 0.5  # the first resolution did not hold
SATISFACTION_TOP: Final = 0.93
SATISFACTION_DROP: Final = 0.7
MOOD_SIGMA: Final = 0.1
CSAT_NOISE: Final = 0.4
NPS_P: Final = 0.7
NPS_NOISE: Final = 1.0
COMPLAINT_P: Final = 0.01
COMPLAINT_BAD_P: Final = 0.3  # x Experience.bad
COMPLAINT_NO_P: Final = 0.5  # an explicit "no complaint" among the others
SERVQUAL_P: Final = 0.4
SERVQUAL_DIMENSIONS: Final = (2, 5)
EXPECTED_MEAN: Final = 5.5
EXPECTED_PERSON_SIGMA: Final = 0.5
EXPECTED_ITEM_SIGMA: Final = 0.5
GAP_BAD: Final = 3.2  # points of perception lost on a wholly bad dimension
GAP_GOOD: Final = 0.15  # a good contact meets the expectation, now and then beats it
GAP_NOISE: Final = 0.45
#: dimension: (expectation offset, weight of the wait, weight of the outcome); every dimension
#: feels both (the halo effect of a bad contact), responsiveness the wait most, reliability the
#: outcome most, tangibles least.
SERVQUAL_WEIGHTS: Final[dict[str, tuple[float, float, float]]] = {
    "reliability": (0.4, 0.7, 1.0),
    "responsiveness": (0.2, 1.0, 0.7),
    "assurance": (0.0, 0.8, 0.9),
    "empathy": (-0.2, 0.9, 0.9),
    "tangibles": (-0.4, 0.6, 0.6),
}


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


# --- scenarios -----------------------------------------------------------------------------


class Slowdown(NamedTuple):
    """A channel's queue serving ``factor`` times slower in event time ``[from_ms, until_ms)``,
    with abandons ``abandon_factor`` times as likely among the contacts opened then."""

    from_ms: float
    until_ms: float
    factor: float
    abandon_factor: float

    def active(self, ts_ms: float) -> bool:
        return self.from_ms <= ts_ms < self.until_ms

    def wait_ms(self, opened_ms: float, healthy_ms: float) -> float:
        """The wait of a contact that a healthy queue answers after ``healthy_ms``: the queue's
        work runs ``factor`` times slower while degraded, for the contacts already waiting at
        the onset too, so the first responses after the onset are late at once (as when a
        team drops out), and the ones still waiting at the recovery speed up again."""
        t, left = opened_ms, healthy_ms
        if t < self.from_ms:
            step = min(left, self.from_ms - t)
            t, left = t + step, left - step
        if left > 0 and t < self.until_ms:
            step = min(left, (self.until_ms - t) / self.factor)
            t, left = t + step * self.factor, left - step
        return t + left - opened_ms


@dataclass(frozen=True, slots=True)
class Scenario:
    """``steady`` (``degrade is None``) or one channel degraded in the middle of the run."""

    name: str
    degrade: str | None = None
    wait_factor: float = DEGRADE_WAIT_FACTOR
    abandon_factor: float = DEGRADE_ABANDON_FACTOR

    def slowdown(self, channel: str, start_ms: float, duration_s: float) -> Slowdown | None:
        """The degraded channel's step from ``DEGRADE_FROM`` to ``DEGRADE_UNTIL`` of the run: a
        step, so the onset is a moment an alert's delay can be measured from."""
        if self.degrade != channel:
            return None
        span_ms = duration_s * 1000.0
        return Slowdown(start_ms + DEGRADE_FROM * span_ms, start_ms + DEGRADE_UNTIL * span_ms,
                        self.wait_factor, self.abandon_factor)

    def __str__(self) -> str:
        return self.name if self.degrade is None else f"{self.name}:{self.degrade}"


STEADY: Final = Scenario("steady")


def parse_scenario(s: str, channels: Sequence[str]) -> Scenario:
    """``steady`` or ``degrade:<channel>`` with a configured channel; ValueError otherwise."""
    text = s.strip()
    kind, sep, arg = text.partition(":")
    kind, arg = kind.strip().lower(), arg.strip()
    if kind == "steady" and not sep:
        return STEADY
    if kind == "degrade":
        if not arg:
            raise ValueError(
                f"scenario {s!r}: name the channel to degrade, e.g. 'degrade:{_first(channels)}'"
                f" (channels: {', '.join(channels)})"
            )
        if arg not in channels:
            raise ValueError(
                f"scenario {s!r}: unknown channel {arg!r}; configured channels: "
                f"{', '.join(channels)}"
            )
        return Scenario("degrade", arg)
    raise ValueError(
        f"unknown scenario {s!r}; expected 'steady' or 'degrade:<channel>' "
        f"(channels: {', '.join(channels)})"
    )


def _first(channels: Sequence[str]) -> str:
    return channels[0] if channels else "phone"


# --- helpers -------------------------------------------------------------------------------


def format_ts(ts_ms: int) -> str:
    """``2026-11-21T10:00:00.123Z`` (RFC 3339, UTC, milliseconds)."""
    sec, milli = divmod(ts_ms, 1000)
    return f"{_second_prefix(sec)}.{milli:03d}Z"


@functools.lru_cache(maxsize=4096)
def _second_prefix(sec: int) -> str:
    t = time.gmtime(sec)
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}"
    )


def encode(item: Item) -> bytes:
    """One record value / JSON line (without the newline): garbage bytes go out unchanged."""
    return item if isinstance(item, bytes) else orjson.dumps(item)


def key_of(item: Item) -> bytes | None:
    """The record key: the ``interaction_id`` of an object that has a string one, else none.

    Raw bytes (garbage, replayed lines) follow the same rule once parsed, so a file written by
    ``sqm generate --out`` and replayed gives the same records as generating live.
    """
    if isinstance(item, bytes):
        try:
            parsed = orjson.loads(item)
        except orjson.JSONDecodeError:
            return None
        if not isinstance(parsed, dict):
            return None
        item = parsed
    iid = item.get("interaction_id")
    return iid.encode() if isinstance(iid, str) else None


def _lognormal(rng: random.Random, median: float, sigma: float) -> float:
    return rng.lognormvariate(math.log(max(median, 1e-6)), sigma)


def _capped(rng: random.Random, median: float, cap: float, sigma: float = WAIT_SIGMA) -> float:
    """A wait: lognormal, drawn again when beyond ``cap``. Agents take the oldest contact first,
    so a queue's waits have a bound; independent lognormal tails would make the oldest wait of a
    busy channel an extreme value and page for a healthy queue."""
    for _ in range(64):
        x = _lognormal(rng, median, sigma)
        if x <= cap:
            return x
    return cap


def _poisson(rng: random.Random, mean: float) -> int:
    if mean <= 0:
        return 0
    limit, k, p = math.exp(-mean), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def lifecycle(
    rng: random.Random,
    profile: Profile,
    channel: ChannelConfig,
    opened_ms: float = 0.0,
    slowdown: Slowdown | None = None,
) -> list[tuple[int, str, bool]]:
    """One contact's events as (offset ms from opened, type, done by an agent), in order."""
    big_f = channel.first_response_target_s
    big_r = channel.resolution_target_s
    short = channel.short_abandon_s
    degraded = slowdown is not None and slowdown.active(opened_ms)
    slower = slowdown.factor if slowdown is not None and degraded else 1.0
    out: list[tuple[int, str, bool]] = [(0, OPENED, False)]
    u = rng.random()
    abandon_mult = slowdown.abandon_factor if slowdown is not None and degraded else 1.0
    abandon_p = min(profile.abandon_p * abandon_mult, 0.9)
    if u < abandon_p:
        if short > 0 and rng.random() < profile.short_abandon_share:
            wait_s = rng.uniform(min(1.0, short / 2), short)
            at = min(_ms(wait_s), int(short * 1000))
        else:
            cap_s = max(WAIT_CAP * big_f * slower - short - 1, 1)
            at = _ms(short + 1.0 + _capped(rng, ABANDON_MEDIAN * big_f * slower, cap_s))
        out.append((at, ABANDONED, False))
        callback = at + _ms(_lognormal(rng, HANDLE_MEDIAN * big_r, HANDLE_SIGMA))
        out.append((callback, RESOLVED if rng.random() < CALLBACK_RESOLVED else FAILED, True))
        return out
    if u < abandon_p + profile.self_service_p:
        at = _ms(_capped(rng, WAIT_MEDIAN * big_f, WAIT_CAP * big_f))
        resolved = rng.random() < SELF_SERVICE_RESOLVED
        out.append((at, RESOLVED if resolved else FAILED, False))
        return out  # never reopened: it would wait again, counted from its first opened
    healthy_ms = _capped(rng, WAIT_MEDIAN * big_f, WAIT_CAP * big_f) * 1000.0
    if slowdown is not None:
        healthy_ms = slowdown.wait_ms(opened_ms, healthy_ms)
    wait = max(1, round(healthy_ms))
    resolved = rng.random() < profile.resolved_p
    handle = _lognormal(rng, HANDLE_MEDIAN * big_r, HANDLE_SIGMA)
    close = wait + _ms(handle if resolved else handle * FAILED_SLOWER)
    out.append((wait, RESPONDED, True))
    follow_ups = sorted(rng.randint(wait + 1, close - 1)
                        for _ in range(_poisson(rng, profile.follow_ups_mean)) if close - wait > 2)
    out.extend((at, RESPONDED, True) for at in follow_ups)
    out.append((close, RESOLVED if resolved else FAILED, True))
    if resolved and rng.random() < profile.reopen_p:
        _reopen(rng, big_r, out)
    return out


def _reopen(rng: random.Random, big_r: float, out: list[tuple[int, str, bool]]) -> None:
    at = out[-1][0] + _ms(rng.uniform(*REOPEN_AFTER_S))
    out.append((at, REOPENED, False))
    close = at + _ms(_lognormal(rng, REOPEN_CLOSE_MEDIAN * big_r, 0.6))
    if rng.random() < REOPEN_RESPONSE_P:
        reply = at + _ms(_lognormal(rng, REOPEN_RESPONSE_MEDIAN * big_r, 0.6))
        if reply < close:
            out.append((reply, RESPONDED, True))
    out.append((close, RESOLVED if rng.random() < REOPEN_RESOLVED else FAILED, True))



# --- surveys -------------------------------------------------------------------------------


class Experience(NamedTuple):
    """What a contact did to its customer, as a survey answer reflects it (0 fine .. 1 bad)."""

    wait_bad: float  # 0 within F, rising to 1 at WAIT_BAD_FULL x F
    outcome_bad: float  # 0 resolved, 0.5 resolved after a reopen, 0.8 abandoned, 1 failed

    @property
    def bad(self) -> float:
        """Both at once: either one alone spoils the contact."""
        return 1.0 - (1.0 - self.wait_bad) * (1.0 - self.outcome_bad)


def experience(steps: Sequence[tuple[int, str, bool]], first_response_target_s: float
               ) -> Experience:
    """The customer's view of one lifecycle: how long the first reaction took against F (the
    first response, the abandon or a self-service closing), and how the contact ended."""
    first_at = steps[1][0] / 1000.0
    ratio = first_at / first_response_target_s if first_response_target_s > 0 else 0.0
    wait_bad = min(max((ratio - 1.0) / (WAIT_BAD_FULL - 1.0), 0.0), 1.0)
    types = {etype for _, etype, _ in steps}
    if steps[-1][1] == FAILED:
        outcome_bad = 1.0
    elif ABANDONED in types:
        outcome_bad = ABANDONED_BAD
    elif REOPENED in types:
        outcome_bad = REOPENED_BAD
    else:
        outcome_bad = 0.0
    return Experience(wait_bad, outcome_bad)


def survey(
    rng: random.Random, profile: Profile, channel: ChannelConfig,
    steps: Sequence[tuple[int, str, bool]],
) -> tuple[int, dict[str, Any]] | None:
    """The post-contact survey of a closed lifecycle, if its customer answers one: (offset ms
    from opened, ``feedback`` object). Sent after the final closing; the answer lands a few
    minutes later, capped like a reopen so that it stays inside a generated span."""
    if steps[-1][1] not in (RESOLVED, FAILED) or rng.random() >= profile.survey_p:
        return None
    delay_s = _capped(rng, SURVEY_DELAY_MEDIAN_S, SURVEY_DELAY_CAP_S, SURVEY_DELAY_SIGMA)
    felt = experience(steps, channel.first_response_target_s)
    return steps[-1][0] + _ms(delay_s), answers(rng, felt)


def answers(rng: random.Random, exp: Experience) -> dict[str, Any]:
    """One respondent's ``feedback`` object (SPEC 7.1). A latent satisfaction (the experience
    plus the respondent's mood) drives CSAT and NPS together, as real answers correlate."""
    latent = SATISFACTION_TOP - SATISFACTION_DROP * exp.bad + rng.gauss(0.0, MOOD_SIGMA)
    out: dict[str, Any] = {"csat": _score(1.0 + 4.0 * latent + rng.gauss(0.0, CSAT_NOISE), 1, 5)}
    if rng.random() < NPS_P:
        out["nps"] = _score(10.0 * latent + rng.gauss(0.0, NPS_NOISE), 0, 10)
    if rng.random() < COMPLAINT_P + COMPLAINT_BAD_P * exp.bad:
        out["complaint"] = True
    elif rng.random() < COMPLAINT_NO_P:
        out["complaint"] = False
    if rng.random() < SERVQUAL_P:
        out["servqual"] = _servqual(rng, exp)
    return out


def _servqual(rng: random.Random, exp: Experience) -> dict[str, dict[str, int]]:
    """2-5 dimensions, in their canonical order: expectation about 5-6 on the 1-7 scale; the
    perception falls below it by how much the dimension felt the wait and the outcome."""
    rated = set(rng.sample(DIMENSIONS, rng.randint(*SERVQUAL_DIMENSIONS)))
    base = rng.gauss(EXPECTED_MEAN, EXPECTED_PERSON_SIGMA)
    out: dict[str, dict[str, int]] = {}
    for name in DIMENSIONS:
        if name not in rated:
            continue
        offset, by_wait, by_outcome = SERVQUAL_WEIGHTS[name]
        expected = base + offset + rng.gauss(0.0, EXPECTED_ITEM_SIGMA)
        bad = 1.0 - (1.0 - by_wait * exp.wait_bad) * (1.0 - by_outcome * exp.outcome_bad)
        perceived = expected + GAP_GOOD - GAP_BAD * bad + rng.gauss(0.0, GAP_NOISE)
        out[name] = {"expected": _score(expected, 1, 7), "perceived": _score(perceived, 1, 7)}
    return out


def _score(x: float, lo: int, hi: int) -> int:
    """A point on an answer scale: the nearest one, ends included."""
    return min(max(round(x), lo), hi)


# --- garbage -------------------------------------------------------------------------------

_GARBAGE_TEXT: Final = (b"hello kafka", b"<event type='opened'/>", b"opened,phone,2026-11-21",
                        b"{{not json}}", b"\x00\x01\x02\x03")
_NON_OBJECTS: Final = (b"[1,2,3]", b'"opened"', b"42", b"null", b"true", b"3.14")
_BAD_TS: Final = ("yesterday", "2026-13-45T25:61:00Z", "2026-11-21T10:00:00",
                  "21/11/2026 10:00:00", "", "1763719200")


def garbage(rng: random.Random, tag: str, n: int, ts_ms: int, channel: str) -> bytes:
    """One malformed record, as the worker must dead-letter it (never blank, never multi-line)."""
    base: dict[str, Any] = {
        "event_id": f"g-{tag}-{n}",
        "interaction_id": f"gi-{tag}-{n}",
        "channel": channel,
        "type": OPENED,
        "ts": format_ts(ts_ms),
        "attrs": {"queue": "general", "segment": "consumer"},
    }
    kind = rng.randrange(10)
    if kind < 3:
        return _not_an_object(rng, kind, base)
    _spoil_one_field(rng, kind, base, ts_ms)
    return orjson.dumps(base)


def _not_an_object(rng: random.Random, kind: int, base: dict[str, Any]) -> bytes:
    """Kinds 0-2: bytes that never become an event object (cut-off or non-JSON text, or JSON
    of another shape), the records rejected before any field is looked at."""
    if kind == 0:  # malformed JSON: a cut-off object
        raw = orjson.dumps(base)
        return raw[: rng.randrange(2, len(raw) - 1)]
    if kind == 1:  # malformed JSON: not UTF-8 / not JSON at all
        return rng.choice((b'{"event_id": "\xff\xfe", "type": "opened"}', *_GARBAGE_TEXT))
    # JSON, but not an object
    return rng.choice((*_NON_OBJECTS, orjson.dumps([base])))


def _spoil_one_field(rng: random.Random, kind: int, base: dict[str, Any], ts_ms: int) -> None:
    """Kinds 3-9: an otherwise valid event with exactly one field spoiled in place, so each
    field-level reject reason is exercised on its own."""
    if kind == 3:  # a required field missing (or null)
        name = rng.choice(("event_id", "interaction_id", "channel", "type", "ts"))
        if rng.random() < 0.8:
            del base[name]
        else:
            base[name] = None
    elif kind == 4:  # a field of the wrong type
        name, value = rng.choice((
            ("event_id", 12345), ("interaction_id", ["i-1"]), ("channel", 7), ("type", True),
            ("ts", True), ("ts", 1.5e12), ("ts", {"ms": ts_ms}), ("attrs", "queue=billing"),
        ))
        base[name] = value
    elif kind == 5:  # a bad value
        base[rng.choice(("event_id", "interaction_id"))] = rng.choice(("", "x" * 200))
    elif kind == 6:
        base["type"] = rng.choice(("escalated", "transferred", "closed", "feedback!"))
    elif kind == 7:
        base["channel"] = rng.choice(("fax", "carrier-pigeon", "telex"))
    elif kind == 8:  # a bad timestamp
        base["ts"] = rng.choice((*_BAD_TS, -1, ts_ms + 86_400_000, format_ts(ts_ms + 86_400_000)))
    else:  # a bad timestamp of the integer kind or a mangled offset
        base["ts"] = rng.choice((10**16, format_ts(ts_ms)[:-1] + "+25:00"))

# --- the model -----------------------------------------------------------------------------


class _Pending(NamedTuple):
    n: int
    interaction_id: str
    channel: str
    type: str
    as_epoch: bool
    queue: str
    segment: str
    agent: str | None
    feedback: dict[str, Any] | None = None


@dataclass(slots=True)
class Stats:
    interactions: int = 0
    events: int = 0
    duplicates: int = 0
    garbage: int = 0

    @property
    def items(self) -> int:
        return self.events + self.duplicates + self.garbage


class TrafficModel:
    """Seeded multi-channel traffic; ``events_until`` hands out what became due.

    ``rate``: target records per second (see the module docstring). Degradation progress runs
    from ``start_ms`` (default: the first ``events_until`` call) over ``duration_s``.
    """

    def __init__(
        self,
        channels: Sequence[ChannelConfig],
        scenario: Scenario,
        seed: int,
        rate: float,
        *,
        start_ms: int | None = None,
        duration_s: float = 600.0,
        duplicate_ratio: float = 0.0,
        disorder_ms: int = 0,
        garbage_ratio: float = 0.0,
        epoch_ms_ratio: float = 0.2,
        id_tag: str | None = None,
    ) -> None:
        if not channels:
            raise ValueError("no channels configured")
        if not (rate > 0 and math.isfinite(rate)):
            raise ValueError(f"rate must be a positive number of events per second, got {rate!r}")
        if not (duration_s > 0 and math.isfinite(duration_s)):
            raise ValueError(f"duration_s must be positive, got {duration_s!r}")
        for name, ratio in (("duplicate_ratio", duplicate_ratio), ("garbage_ratio", garbage_ratio),
                            ("epoch_ms_ratio", epoch_ms_ratio)):
            if not 0.0 <= ratio <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, got {ratio!r}")
        if disorder_ms < 0:
            raise ValueError(f"disorder_ms must be 0 or more, got {disorder_ms!r}")
        names = [c.name for c in channels]
        if scenario.degrade is not None and scenario.degrade not in names:
            raise ValueError(f"scenario {scenario}: channel {scenario.degrade!r} is not configured")
        self.channels = tuple(channels)
        self.scenario = scenario
        self.seed = seed
        self.rate = rate
        self.start_ms = start_ms
        self.duration_s = duration_s
        self.duplicate_ratio = duplicate_ratio
        self.disorder_ms = disorder_ms
        self.garbage_ratio = garbage_ratio
        self.epoch_ms_ratio = epoch_ms_ratio
        self.tag = str(seed) if id_tag is None else id_tag
        self.stats = Stats()

        self._profiles = [PROFILES.get(c.name, DEFAULT_PROFILE) for c in self.channels]
        total_share = sum(p.share for p in self._profiles)
        self._cum_weights: list[float] = []
        acc = 0.0
        for p in self._profiles:
            acc += p.share / total_share
            self._cum_weights.append(acc)
        self._agents = [max(4, round(60 * p.share / total_share)) for p in self._profiles]

        #: Mean records per new contact that land inside the run, and contacts per second.
        self.records_per_interaction = self._calibrate() * (1.0 + duplicate_ratio + garbage_ratio)
        self.arrival_rate = rate / self.records_per_interaction

        self._rng = random.Random(seed)  # arrivals and lifecycles
        self._noise = random.Random(seed * 1_000_003 + 7)  # duplicates and garbage, in emit order
        self._jitter = random.Random(seed * 1_000_033 + 11)  # disorder: same events, reordered
        self._surveys = random.Random(seed * 1_000_037 + 13)  # surveys: lifecycles stay as they were
        self._next_arrival: float | None = None
        self._slowdowns: list[Slowdown | None] = []
        self._seq = 0
        self._n_event = 0
        self._n_garbage = 0
        self._heap: list[tuple[int, int, int, _Pending]] = []  # (emit, seq, ts, event)
        self._recent: deque[dict[str, Any]] = deque(maxlen=RECENT_FOR_DUPLICATES)

    # -- public ---------------------------------------------------------------------------

    @property
    def end_ms(self) -> int | None:
        return None if self.start_ms is None else self.start_ms + round(self.duration_s * 1000)

    @property
    def pending(self) -> int:
        """Events generated but not yet due (future closings, delayed emissions)."""
        return len(self._heap)

    def events_until(self, now_ms: int) -> list[Item]:
        """Every not yet returned item due at or before ``now_ms``, in emission order.

        An event is due at its event time, or up to ``disorder_ms`` later; its ``ts`` never
        changes. Duplicates and garbage come right after the event that triggered them.
        """
        self._arrivals_until(now_ms)
        out: list[Item] = []
        heap = self._heap
        while heap and heap[0][0] <= now_ms:
            self._emit(heapq.heappop(heap), out)
        return out

    def drain(self, end_ms: int) -> list[Item]:
        """Whatever has event time <= ``end_ms`` and is still held back by ``disorder_ms``."""
        out = self.events_until(end_ms)
        due = [entry for entry in self._heap if entry[2] <= end_ms]
        if due:
            self._heap = [entry for entry in self._heap if entry[2] > end_ms]
            heapq.heapify(self._heap)
            for entry in sorted(due):
                self._emit(entry, out)
        return out

    # -- internals ------------------------------------------------------------------------

    def _channel_index(self, rng: random.Random) -> int:
        u = rng.random()
        for i, w in enumerate(self._cum_weights):
            if u < w:
                return i
        return len(self._cum_weights) - 1

    def _calibrate(self) -> float:
        """Mean number of a new contact's events whose time falls inside the run."""
        rng = random.Random(self.seed * 7_919 + 13)
        span_ms = self.duration_s * 1000.0
        total = 0
        for _ in range(CALIBRATION_SAMPLES):
            i = self._channel_index(rng)
            position = rng.random()
            slowdown = self.scenario.slowdown(self.channels[i].name, 0.0, self.duration_s)
            left = (1.0 - position) * span_ms
            events = lifecycle(rng, self._profiles[i], self.channels[i], position * span_ms,
                               slowdown)
            total += sum(1 for at, _, _ in events if at <= left)
            answer = survey(rng, self._profiles[i], self.channels[i], events)
            total += int(answer is not None and answer[0] <= left)
        return max(total / CALIBRATION_SAMPLES, 1.0)

    def _arrivals_until(self, now_ms: int) -> None:
        rng = self._rng
        per_ms = self.arrival_rate / 1000.0
        if self._next_arrival is None:
            if self.start_ms is None:
                self.start_ms = now_ms
            self._slowdowns = [self.scenario.slowdown(c.name, self.start_ms, self.duration_s)
                               for c in self.channels]
            self._next_arrival = self.start_ms + rng.expovariate(per_ms)
        while self._next_arrival <= now_ms:
            self._spawn(int(self._next_arrival))
            self._next_arrival += rng.expovariate(per_ms)

    def _spawn(self, opened_ms: int) -> None:
        rng = self._rng
        i = self._channel_index(rng)
        ch, profile = self.channels[i], self._profiles[i]
        steps = lifecycle(rng, profile, ch, opened_ms, self._slowdowns[i])
        n = self.stats.interactions
        self.stats.interactions += 1
        interaction_id = f"i-{self.tag}-{n}"
        queue = rng.choice(profile.queues)
        u, segment = rng.random(), SEGMENTS[-1][0]
        for name, share in SEGMENTS:
            if u < share:
                segment = name
                break
            u -= share
        agent = f"{ch.name}-{rng.randrange(1, self._agents[i] + 1):03d}"
        last = -1
        for offset, etype, by_agent in steps:
            last = self._push(opened_ms + offset, last, _Pending(
                self._n_event, interaction_id, ch.name, etype, rng.random() < self.epoch_ms_ratio,
                queue, segment, agent if by_agent else None))
        answer = survey(self._surveys, profile, ch, steps)
        if answer is not None:  # the customer answers, not an agent: no agent attribute
            as_epoch = self._surveys.random() < self.epoch_ms_ratio
            self._push(opened_ms + answer[0], last, _Pending(
                self._n_event, interaction_id, ch.name, FEEDBACK, as_epoch, queue, segment, None,
                answer[1]))

    def _push(self, at_ms: int, last_ms: int, pending: _Pending) -> int:
        """Schedule one event of a contact (``pending.n`` is its number) at ``at_ms``, strictly
        after the contact's previous one at ``last_ms``; returns its event time."""
        ts_ms = max(at_ms, last_ms + 1)
        emit_ms = ts_ms + (self._jitter.randint(0, self.disorder_ms) if self.disorder_ms else 0)
        # The event object is built when it is emitted: many closings lie beyond the run.
        heapq.heappush(self._heap, (emit_ms, self._seq, ts_ms, pending))
        self._n_event += 1
        self._seq += 1
        return ts_ms

    def _emit(self, entry: tuple[int, int, int, _Pending], out: list[Item]) -> None:
        emit_ms, _, ts_ms, p = entry
        attrs: dict[str, Any] = {"queue": p.queue, "segment": p.segment}
        if p.agent is not None:
            attrs["agent"] = p.agent
        event: dict[str, Any] = {
            "event_id": f"e-{self.tag}-{p.n}",
            "interaction_id": p.interaction_id,
            "channel": p.channel,
            "type": p.type,
            "ts": ts_ms if p.as_epoch else format_ts(ts_ms),
        }
        if p.feedback is not None:
            event["feedback"] = p.feedback
        event["attrs"] = attrs
        out.append(event)
        self.stats.events += 1
        self._recent.append(event)
        noise = self._noise
        if self.duplicate_ratio and noise.random() < self.duplicate_ratio:
            original = noise.choice(self._recent)
            out.append(_copy(original))
            self.stats.duplicates += 1
        if self.garbage_ratio and noise.random() < self.garbage_ratio:
            ch = self.channels[self._channel_index(noise)].name
            out.append(garbage(noise, self.tag, self._n_garbage, emit_ms, ch))
            self._n_garbage += 1
            self.stats.garbage += 1


def _copy(event: dict[str, Any]) -> dict[str, Any]:
    """An independent copy of an emitted event (a duplicate shares no mutable part with it)."""
    out = {**event, "attrs": dict(event["attrs"])}
    if "feedback" in event:
        out["feedback"] = copy.deepcopy(event["feedback"])
    return out


def history(
    channels: Sequence[ChannelConfig],
    scenario: Scenario | str,
    seed: int,
    rate: float,
    start_ms: int,
    duration_s: float,
    *,
    step_ms: int = 1000,
    duplicate_ratio: float = 0.0,
    disorder_ms: int = 0,
    garbage_ratio: float = 0.0,
    epoch_ms_ratio: float = 0.2,
    id_tag: str | None = None,
) -> Iterator[Item]:
    """All items of ``[start_ms, start_ms + duration_s]`` at once (files, backfill, tests)."""
    if isinstance(scenario, str):
        scenario = parse_scenario(scenario, [c.name for c in channels])
    model = TrafficModel(
        channels, scenario, seed, rate, start_ms=start_ms, duration_s=duration_s,
        duplicate_ratio=duplicate_ratio, disorder_ms=disorder_ms, garbage_ratio=garbage_ratio,
        epoch_ms_ratio=epoch_ms_ratio, id_tag=id_tag,
    )
    yield from span(model, step_ms=step_ms)


def span(model: TrafficModel, *, step_ms: int = 1000) -> Iterator[Item]:
    """Step ``model`` from its start to its end, then drain what ``disorder_ms`` held back."""
    if model.start_ms is None or model.end_ms is None:
        raise ValueError("span() needs a model with start_ms")
    end = model.end_ms
    t = model.start_ms
    while t < end:
        t = min(t + step_ms, end)
        yield from model.events_until(t)
    yield from model.drain(end)
