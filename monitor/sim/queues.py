"""Queues of a generated contact (SPEC section 9): where it opens, whether and when it moves.

Only for a channel that declares queues in the config: a channel without declared queues gets
no ``queue`` field and no transfers, and its records are exactly what they were before queues.
Every routing draw comes from a generator of its own (``TrafficModel`` seeds one), so routing
never moves a lifecycle's draws: with queues that keep the channel's targets, the same seed
gives the same lifecycles with or without queues.

* Opening queue: the channel's default queue first, then the other declared queues in config
  order, with shares proportional to 1, 1/2, 1/3, ... (a main queue, a few specialist ones and
  a tail), together 98 %; the other 2 % name a queue the config does not declare
  (``overflow``, or ``overflow-2``, ... when that is declared), measured under ``other``.
* Transfer: 8 % of the contacts that have a declared queue other than their own get one
  ``transferred`` to another declared queue (picked by the same shares among the others):
  60 % while waiting (strictly between ``opened`` and the answer or abandon, which then
  happens in the new queue), 40 % while open (strictly between the first response and the
  first closing, which then happens in the new queue). Never at the millisecond of another of
  the contact's events, so the order of its events does not rest on a tie-break. A contact
  whose lifecycle has no such phase (self-service never waits for an agent; an abandoned
  contact is never open after a response) keeps its queue, its lifecycle drawn again without
  the transfer so that its times scale with the queue it stays in.
* Targets: the wait and the abandon scale with the queue that answers (or is abandoned), the
  handling time with the queue that closes; an undeclared queue has the channel's targets, as
  ``other`` does.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable, Sequence
from typing import Final, NamedTuple

from monitor.config import ChannelConfig
from monitor.domain.stream.events import ABANDONED, FAILED, RESOLVED, RESPONDED
from monitor.sim.lifecycle import Step, lifecycle
from monitor.sim.profiles import Profile
from monitor.sim.scenario import Slowdown

UNDECLARED_P: Final = 0.02
UNDECLARED_NAME: Final = "overflow"
TRANSFER_P: Final = 0.08
WHILE_WAITING_P: Final = 0.6


class Mixed(NamedTuple):
    """The targets a contact's lifecycle scales with when it moves between queues."""

    first_response_target_s: float
    resolution_target_s: float
    short_abandon_s: float


class Route(NamedTuple):
    """One contact's queues: where it opens and, if it is transferred, where to and when."""

    opened_in: str
    moved_to: str | None = None
    while_waiting: bool = False
    #: where in its phase the transfer happens, 0 (start) .. 1 (end)
    position: float = 0.0

    @property
    def answered_in(self) -> str:
        """The queue of the first response or the abandon."""
        return self.moved_to if self.moved_to is not None and self.while_waiting else self.opened_in

    @property
    def closed_in(self) -> str:
        """The queue of the first closing (and of what follows it)."""
        return self.opened_in if self.moved_to is None else self.moved_to

    def targets(self, channel: ChannelConfig) -> Mixed:
        """F and S of the queue that answers, R of the one that closes: each measurement is
        the queue's it happens in (SPEC 9), so each part of the lifecycle keeps its pace."""
        answered, closed = channel.queue(self.answered_in), channel.queue(self.closed_in)
        return Mixed(answered.first_response_target_s, closed.resolution_target_s,
                     answered.short_abandon_s)

    def at(self, steps: Sequence[Step]) -> int | None:
        """The transfer's offset from ``opened``, strictly inside its phase of ``steps`` and on
        a millisecond of its own; None without a transfer or when the phase is not there."""
        if self.moved_to is None or len(steps) < 2:
            return None
        first_at, first_type, _ = steps[1]
        if self.while_waiting:
            if first_type not in (RESPONDED, ABANDONED):
                return None
            lo, hi = 0, first_at
        else:
            if first_type != RESPONDED:
                return None
            lo = first_at
            hi = next(at for at, etype, _ in steps if etype in (RESOLVED, FAILED))
        if hi - lo < 2:
            return None
        at = lo + 1 + min(int(self.position * (hi - lo - 1)), hi - lo - 2)
        return None if any(step[0] == at for step in steps) else at


class QueueMix:
    """The queues new contacts of one channel open in, and the transfers between them."""

    def __init__(self, channel: ChannelConfig) -> None:
        declared = [q.name for q in channel.queues]
        if not declared:
            raise ValueError(f"channel {channel.name!r} declares no queues")
        default = [name for name in declared if name == channel.default_queue]
        self.names: tuple[str, ...] = (*default, *(n for n in declared if n not in default))
        weights = [1.0 / (k + 1) for k in range(len(self.names))]
        total = sum(weights)
        self.shares: tuple[float, ...] = tuple((1.0 - UNDECLARED_P) * w / total for w in weights)
        self.undeclared = next(
            name for name in itertools.chain(
                (UNDECLARED_NAME,), (f"{UNDECLARED_NAME}-{k}" for k in itertools.count(2)))
            if name not in declared)

    def route(self, rng: random.Random) -> Route:
        opened = self._pick(rng, self.names, self.shares, self.undeclared)
        others = [(n, s) for n, s in zip(self.names, self.shares, strict=True) if n != opened]
        if not others or rng.random() >= TRANSFER_P:
            return Route(opened)
        names = [name for name, _ in others]
        total = sum(share for _, share in others)
        target = self._pick(rng, names, [share / total for _, share in others], names[-1])
        return Route(opened, target, rng.random() < WHILE_WAITING_P, rng.random())

    @staticmethod
    def _pick(rng: random.Random, names: Sequence[str], shares: Sequence[float],
              rest: str) -> str:
        u = rng.random()
        for name, share in zip(names, shares, strict=True):
            if u < share:
                return name
            u -= share
        return rest


def routed_lifecycle(
    rng: random.Random,
    profile: Profile,
    channel: ChannelConfig,
    route: Route,
    opened_ms: float,
    slowdown_of: Callable[[Route], Slowdown | None],
) -> tuple[list[Step], Route, int | None]:
    """A lifecycle with its route: (steps, the route as it happened, the transfer's offset).
    A transfer with no phase to happen in is dropped and the lifecycle drawn again from the
    same state, now with the targets of the queue the contact stays in."""
    state = rng.getstate() if route.moved_to is not None else None
    steps = lifecycle(rng, profile, route.targets(channel), opened_ms, slowdown_of(route))
    at = route.at(steps)
    if state is not None and at is None:
        rng.setstate(state)
        route = Route(route.opened_in)
        steps = lifecycle(rng, profile, route.targets(channel), opened_ms, slowdown_of(route))
    return steps, route, at
