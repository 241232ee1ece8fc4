"""Customer feedback (SPEC 7.1): what a survey may say, and what a window sums of it.

A ``feedback`` event carries one survey: a CSAT score (1-5), an NPS answer (0-10), a complaint
flag and, per SERVQUAL dimension, the expectation and the perception (1-7). The structs below
are the rules: ``monitor.contract.input`` decodes a record straight into them (msgspec checks every
range in C), and ``validate`` applies the same rules to an object the general path decoded, so
both paths agree on what is valid. Anything else in a survey is ``bad_value``.

A window keeps integer sums only (``SIZE`` counters, layout below), so partial accumulators
from any partition or worker add up exactly; means and ratios are derived once, when the
window is final (``monitor.domain.stream.indicators``).
"""

from __future__ import annotations

from typing import Annotated, Any, Final

import msgspec
from msgspec import UNSET, UnsetType

FEEDBACK: Final = "feedback"
DIMENSIONS: Final = ("reliability", "responsiveness", "assurance", "empathy", "tangibles")

_Csat = Annotated[int, msgspec.Meta(ge=1, le=5)]
_Nps = Annotated[int, msgspec.Meta(ge=0, le=10)]
_Point = Annotated[int, msgspec.Meta(ge=1, le=7)]


class Rating(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """One SERVQUAL dimension of one survey, on the instrument's 1-7 scale."""

    expected: _Point
    perceived: _Point


class Servqual(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """The dimensions a survey rated (at least one)."""

    reliability: Rating | UnsetType = UNSET
    responsiveness: Rating | UnsetType = UNSET
    assurance: Rating | UnsetType = UNSET
    empathy: Rating | UnsetType = UNSET
    tangibles: Rating | UnsetType = UNSET


class Feedback(msgspec.Struct, frozen=True, forbid_unknown_fields=True, gc=False):
    """One survey (at least one field). ``UNSET`` rather than None: an explicit ``null`` is not
    an answer, it is a malformed survey."""

    csat: _Csat | UnsetType = UNSET
    nps: _Nps | UnsetType = UNSET
    complaint: bool | UnsetType = UNSET
    servqual: Servqual | UnsetType = UNSET


def complete(fb: Feedback) -> bool:
    """A survey that answers something: the structs cannot say "at least one field"."""
    sq = fb.servqual
    if sq is not UNSET and all(getattr(sq, d) is UNSET for d in DIMENSIONS):
        return False
    return not (fb.csat is UNSET and fb.nps is UNSET and fb.complaint is UNSET and sq is UNSET)


def validate(value: Any) -> Feedback | str:
    """The survey of a ``feedback`` event decoded by the general path, or why it is not one
    (a detail naming the field, for a ``bad_value`` dead letter)."""
    if value is None:
        return "feedback is missing: a feedback event carries a feedback object"
    try:
        fb = msgspec.convert(value, Feedback, strict=True)
    except msgspec.ValidationError as exc:
        return _detail(str(exc))
    if not complete(fb):
        return ("feedback: needs at least one of csat, nps, complaint, servqual "
                "(servqual: at least one dimension)")
    return fb


def _detail(message: str) -> str:
    """msgspec's ``Expected `int` <= 5 - at `$.csat``` as ``feedback.csat: expected int <= 5``."""
    what, _, where = message.rpartition(" - at `")
    path = "feedback" + where.rstrip("`")[1:] if what else "feedback"
    what = (what or message).replace("`", "")
    return f"{path}: {what[:1].lower()}{what[1:200]}"


# --- the window's sums --------------------------------------------------------------------

RESPONSES, CSAT_N, CSAT_SUM, CSAT_SATISFIED = 0, 1, 2, 3
NPS_N, NPS_SUM, NPS_PROMOTERS, NPS_DETRACTORS = 4, 5, 6, 7
COMPLAINTS = 8
#: per dimension ``k``: responses at ``SQ + 3k``, sum of expectations at ``+1``, perceptions ``+2``
SQ: Final = 9
SIZE: Final = SQ + 3 * len(DIMENSIONS)
_DIM_AT: Final = tuple((d, SQ + 3 * k) for k, d in enumerate(DIMENSIONS))


def add(sums: list[int], fb: Feedback) -> None:
    """Count one survey into a window's ``SIZE`` sums."""
    sums[RESPONSES] += 1
    csat = fb.csat
    if csat is not UNSET:
        sums[CSAT_N] += 1
        sums[CSAT_SUM] += csat
        if csat >= 4:
            sums[CSAT_SATISFIED] += 1
    nps = fb.nps
    if nps is not UNSET:
        sums[NPS_N] += 1
        sums[NPS_SUM] += nps
        if nps >= 9:
            sums[NPS_PROMOTERS] += 1
        elif nps <= 6:
            sums[NPS_DETRACTORS] += 1
    if fb.complaint is True:
        sums[COMPLAINTS] += 1
    sq = fb.servqual
    if sq is not UNSET:
        for dim, i in _DIM_AT:
            r = getattr(sq, dim)
            if r is not UNSET:
                sums[i] += 1
                sums[i + 1] += r.expected
                sums[i + 2] += r.perceived
