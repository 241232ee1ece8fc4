"""Post-contact surveys (``feedback``, SPEC 7.1): who answers, when, and what they say.

* Who and when: after a contact's final closing (``resolved`` or ``failed``: an agent's, a
  self-service one or the callback of an abandoned contact; after a reopen, the second
  closing), its customer answers with probability ``survey p`` (``monitor.sim.profiles``),
  independent of the experience so the response rate is the table's. The answer comes at the
  closing + lognormal(median 3 min, sigma 0.8), drawn again beyond 15 minutes (like a reopen:
  inside a generated span; a real survey may come days later), same ``interaction_id`` and
  channel, an event id of the same ``e-<tag>-<n>`` sequence, the contact's ``attrs`` (no
  agent: the customer answers). Its draws come from a generator of their own, so surveys leave
  the lifecycles' random stream alone.
* What the customer felt, each 0 (fine) .. 1 (bad): ``wait`` = (first reaction / F - 1) / 0.5
  clipped to [0, 1], F being the target of the queue that answered, the first reaction the
  first response, the abandon or a self-service closing (within F: 0; 1.5 x F or longer: 1);
  ``outcome`` = 1 failed (last closing), 0.8 abandoned then called back, 0.5 resolved after a
  reopen, 0 resolved. Together ``bad`` = 1 - (1 - wait)(1 - outcome).
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
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any, Final, NamedTuple

from monitor.domain.stream.events import ABANDONED, FAILED, REOPENED, RESOLVED
from monitor.domain.stream.feedback import DIMENSIONS
from monitor.sim.draws import capped, ms
from monitor.sim.lifecycle import Step, Targets
from monitor.sim.profiles import Profile

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


class Experience(NamedTuple):
    """What a contact did to its customer, as a survey answer reflects it (0 fine .. 1 bad)."""

    wait_bad: float  # 0 within F, rising to 1 at WAIT_BAD_FULL x F
    outcome_bad: float  # 0 resolved, 0.5 resolved after a reopen, 0.8 abandoned, 1 failed

    @property
    def bad(self) -> float:
        """Both at once: either one alone spoils the contact."""
        return 1.0 - (1.0 - self.wait_bad) * (1.0 - self.outcome_bad)


def experience(steps: Sequence[Step], first_response_target_s: float) -> Experience:
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
    rng: random.Random, profile: Profile, targets: Targets, steps: Sequence[Step],
) -> tuple[int, dict[str, Any]] | None:
    """The post-contact survey of a closed lifecycle, if its customer answers one: (offset ms
    from opened, ``feedback`` object). Sent after the final closing; the answer lands a few
    minutes later, capped like a reopen so that it stays inside a generated span."""
    if steps[-1][1] not in (RESOLVED, FAILED) or rng.random() >= profile.survey_p:
        return None
    delay_s = capped(rng, SURVEY_DELAY_MEDIAN_S, SURVEY_DELAY_CAP_S, SURVEY_DELAY_SIGMA)
    felt = experience(steps, targets.first_response_target_s)
    return steps[-1][0] + ms(delay_s), answers(rng, felt)


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
