"""``TrafficModel``: seeded multi-channel traffic, handed out as it becomes due.

It puts together the arrivals, each contact's lifecycle (``monitor.sim.lifecycle``), queues
(``monitor.sim.queues``), survey (``monitor.sim.surveys``), the scenario's slowdown, and the
noise a real topic carries (duplicates, disorder, garbage).

* Arrivals: a Poisson process over all channels, split by the profiles' shares
  (``monitor.sim.profiles``).
* ``attrs``: ``queue`` (free metadata, one of the profile's names; only on the channels that
  declare no queues: on the others the top-level ``queue`` of ``opened`` and ``transferred``
  says it, SPEC 9), ``segment`` (consumer 75 %, business 20 %, premium 5 %), and ``agent`` on
  events done by an agent (never used as a label by the worker).
* ``ts``: RFC 3339 UTC with milliseconds, or integer epoch ms for a fraction ``epoch_ms_ratio``
  (default 0.2) of the events, since both are valid input.

Rate: ``rate`` is the target number of *records per second* over the run, all event types
(``feedback`` and ``transferred`` included) plus the optional duplicates and garbage. Lifecycles
are long next to a demo run (a phone contact is closed ~5 minutes after it opened, an email one
~12 hours), so the arrival rate of new contacts is ``rate / (mean records per contact that fall
inside the run)``, estimated once per model from a sample of 4000 lifecycles (with their
surveys and transfers) drawn uniformly over the run. The count over the run matches
``rate x duration_s``; the per-second rate starts lower and ends higher as closings catch up.

Calibration goal: with the shipped alert defaults (SPEC section 5.1) a healthy channel never
alerts, at any rate, from the first window on; a degraded one pages within three windows.

Determinism: everything comes from ``random.Random`` instances seeded from ``seed``, one per
concern, so that adding one (surveys, queues) leaves the others' draws alone; the emitted
sequence does not even depend on how ``events_until`` is stepped.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from typing import Final, NamedTuple

from monitor.config import ChannelConfig
from monitor.domain.stream.events import OPENED, TRANSFERRED
from monitor.domain.stream.feedback import FEEDBACK
from monitor.sim.emitter import Emitter, Pending
from monitor.sim.lifecycle import Step, Targets, lifecycle
from monitor.sim.profiles import DEFAULT_PROFILE, PROFILES, segment_of
from monitor.sim.queues import QueueMix, Route, routed_lifecycle
from monitor.sim.records import Item
from monitor.sim.scenario import Scenario, Slowdown
from monitor.sim.surveys import survey

CALIBRATION_SAMPLES: Final = 4000


class _Contact(NamedTuple):
    steps: list[Step]
    route: Route | None  # None: a channel without declared queues
    transfer_at: int | None  # offset of the transferred event


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
        _check(channels, scenario, rate, duration_s, disorder_ms, duplicate_ratio=duplicate_ratio,
               garbage_ratio=garbage_ratio, epoch_ms_ratio=epoch_ms_ratio)
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

        self._profiles = [PROFILES.get(c.name, DEFAULT_PROFILE) for c in self.channels]
        self._mixes = [QueueMix(c) if c.queues else None for c in self.channels]
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
        self._surveys = random.Random(seed * 1_000_037 + 13)  # surveys: lifecycles stay as they were
        self._routing = random.Random(seed * 1_000_039 + 17)  # queues: lifecycles stay as they were
        self._out = Emitter(seed, self.tag, lambda rng: self.channels[self._channel_index(rng)].name,
                            duplicate_ratio=duplicate_ratio, disorder_ms=disorder_ms,
                            garbage_ratio=garbage_ratio)
        self.stats = self._out.stats
        self._next_arrival: float | None = None
        self._slowdowns: list[Slowdown | None] = []

    # -- public ---------------------------------------------------------------------------

    @property
    def end_ms(self) -> int | None:
        return None if self.start_ms is None else self.start_ms + round(self.duration_s * 1000)

    @property
    def pending(self) -> int:
        """Events generated but not yet due (future closings, delayed emissions)."""
        return len(self._out)

    def events_until(self, now_ms: int) -> list[Item]:
        """Every not yet returned item due at or before ``now_ms``, in emission order.

        An event is due at its event time, or up to ``disorder_ms`` later; its ``ts`` never
        changes. Duplicates and garbage come right after the event that triggered them.
        """
        self._arrivals_until(now_ms)
        out: list[Item] = []
        self._out.due(now_ms, out)
        return out

    def drain(self, end_ms: int) -> list[Item]:
        """Whatever has event time <= ``end_ms`` and is still held back by ``disorder_ms``."""
        out = self.events_until(end_ms)
        self._out.drain(end_ms, out)
        return out

    # -- internals ------------------------------------------------------------------------

    def _channel_index(self, rng: random.Random) -> int:
        u = rng.random()
        for i, w in enumerate(self._cum_weights):
            if u < w:
                return i
        return len(self._cum_weights) - 1

    def _contact(self, rng: random.Random, routing: random.Random, i: int, opened_ms: float,
                 slow: Slowdown | None) -> _Contact:
        """One new contact of channel ``i``: its lifecycle from ``rng``, its queues from
        ``routing`` (a channel without declared queues draws nothing from it)."""
        mix = self._mixes[i]
        if mix is None:
            return _Contact(lifecycle(rng, self._profiles[i], self.channels[i], opened_ms, slow),
                            None, None)
        queue = self.scenario.queue

        def slowdown_of(route: Route) -> Slowdown | None:
            """A queue scenario slows the contacts answered in its queue only."""
            return slow if queue is None or route.answered_in == queue else None

        return _Contact(*routed_lifecycle(rng, self._profiles[i], self.channels[i],
                                          mix.route(routing), opened_ms, slowdown_of))

    def _calibrate(self) -> float:
        """Mean number of a new contact's records whose time falls inside the run."""
        rng = random.Random(self.seed * 7_919 + 13)
        routing = random.Random(self.seed * 7_927 + 19)
        span_ms = self.duration_s * 1000.0
        slowdowns = [self.scenario.slowdown(c.name, 0.0, self.duration_s) for c in self.channels]
        total = 0
        for _ in range(CALIBRATION_SAMPLES):
            i = self._channel_index(rng)
            position = rng.random()
            left = (1.0 - position) * span_ms
            steps, route, transfer_at = self._contact(rng, routing, i, position * span_ms,
                                                      slowdowns[i])
            total += sum(1 for at, _, _ in steps if at <= left)
            total += int(transfer_at is not None and transfer_at <= left)
            targets: Targets = self.channels[i] if route is None else route.targets(self.channels[i])
            answer = survey(rng, self._profiles[i], targets, steps)
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
        steps, route, transfer_at = self._contact(rng, self._routing, i, opened_ms,
                                                  self._slowdowns[i])
        n = self.stats.interactions
        self.stats.interactions += 1
        iid = f"i-{self.tag}-{n}"
        # attrs.queue: free metadata, drawn with queues too so that the stream stays as it
        # was; with queues, the top-level queue says it (SPEC 9) and attrs have none
        attrs_queue: str | None = rng.choice(profile.queues)
        segment = segment_of(rng.random())
        agent = f"{ch.name}-{rng.randrange(1, self._agents[i] + 1):03d}"
        if route is not None:
            attrs_queue = None
        last = -1
        for offset, etype, by_agent in steps:
            if transfer_at is not None and transfer_at < offset:
                assert route is not None
                last = self._out.push(opened_ms + transfer_at, last, Pending(
                    iid, ch.name, TRANSFERRED, self._routing.random() < self.epoch_ms_ratio,
                    None, segment, None if route.while_waiting else agent,
                    routed=route.moved_to), self._routing)
                transfer_at = None
            last = self._out.push(opened_ms + offset, last, Pending(
                iid, ch.name, etype, rng.random() < self.epoch_ms_ratio, attrs_queue, segment,
                agent if by_agent else None,
                routed=route.opened_in if route is not None and etype == OPENED else None))
        targets: Targets = ch if route is None else route.targets(ch)
        answer = survey(self._surveys, profile, targets, steps)
        if answer is not None:  # the customer answers, not an agent: no agent attribute
            as_epoch = self._surveys.random() < self.epoch_ms_ratio
            self._out.push(opened_ms + answer[0], last, Pending(
                iid, ch.name, FEEDBACK, as_epoch, attrs_queue, segment, None, answer[1]))


def _check(channels: Sequence[ChannelConfig], scenario: Scenario, rate: float, duration_s: float,
           disorder_ms: int, **ratios: float) -> None:
    """The model's arguments, each refused with a message naming it (ValueError)."""
    if not channels:
        raise ValueError("no channels configured")
    if not (rate > 0 and math.isfinite(rate)):
        raise ValueError(f"rate must be a positive number of events per second, got {rate!r}")
    if not (duration_s > 0 and math.isfinite(duration_s)):
        raise ValueError(f"duration_s must be positive, got {duration_s!r}")
    for name, ratio in ratios.items():
        if not 0.0 <= ratio <= 1.0:
            raise ValueError(f"{name} must be between 0 and 1, got {ratio!r}")
    if disorder_ms < 0:
        raise ValueError(f"disorder_ms must be 0 or more, got {disorder_ms!r}")
    by_name = {c.name: c for c in channels}
    if scenario.degrade is None:
        return
    if scenario.degrade not in by_name:
        raise ValueError(f"scenario {scenario}: channel {scenario.degrade!r} is not configured")
    declared = [q.name for q in by_name[scenario.degrade].queues]
    if scenario.queue is not None and scenario.queue not in declared:
        raise ValueError(f"scenario {scenario}: queue {scenario.queue!r} is not declared for "
                         f"channel {scenario.degrade!r} (its queues: {', '.join(declared) or 'none'})")
