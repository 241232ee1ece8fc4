"""The quality stage's bookkeeping without Faust: periods (idempotent merge, closing, a period
begun mid-way), the cross-channel merge and result, the alerts fed per period, the tables' keys
and byte formats (which existing changelogs hold), and the parameters from the config."""

from __future__ import annotations

import random

import pytest

from monitor.config import from_mapping
from monitor.config.params import quality_params
from monitor.domain.alerts import AlertState, Rule, Span
from monitor.domain.quality.index import SCORES, Sums, scores
from monitor.domain.quality.params import QualityParams
from monitor.quality import alerting, combine, periods
from monitor.state import periods as stored
from monitor.state.periods import AlertEntry, Closure, Meta, PeriodAcc

W = 60_000  # window length
P = 300_000  # period length
T0 = 1_796_196_000_000  # a period start (divisible by P)


def sums(n: int) -> Sums:
    """A window with ``n`` of everything, so totals show what was counted."""
    return Sums(opened=n, answered=n, answered_within_target=n, csat_responses=n, csat_sum=4 * n,
                servqual_responses=[n, 0, 0, 0, 0], servqual_expected_sum=[6 * n, 0, 0, 0, 0])


class Collector:
    """The ``collect`` agent's logic over a dict instead of a Faust table."""

    def __init__(self) -> None:
        self.table: dict[str, bytes] = {}
        self.sent: list[Closure] = []

    def add(self, channel: str, window_start_ms: int, s: Sums) -> None:
        period_start_ms = periods.period_start(window_start_ms, P)
        k = stored.channel_period_key(channel, period_start_ms)
        raw = self.table.get(k)
        acc = periods.merge(None if raw is None else stored.decode_acc(raw), window_start_ms, s)
        self.table[k] = stored.encode_acc(acc)
        last = periods.is_last_window(window_start_ms, W, P)
        opened = stored.channel_period_starts(list(self.table), channel)
        for closed_start_ms in periods.closing(opened, period_start_ms, last):
            ck = stored.channel_period_key(channel, closed_start_ms)
            windows = stored.decode_acc(self.table[ck]).windows
            raw_closure = stored.encode_closure(Closure(channel, closed_start_ms, windows))
            self.sent.append(stored.decode_closure(raw_closure))
            del self.table[ck]


def test_period_of_a_window_and_its_last_window() -> None:
    assert periods.period_start(T0, P) == T0
    assert periods.period_start(T0 + 4 * W + 59_999, P) == T0
    assert periods.period_start(T0 + 5 * W, P) == T0 + P
    assert [periods.is_last_window(T0 + i * W, W, P) for i in range(6)] == [
        False, False, False, False, True, False]


def test_the_same_window_twice_counts_once() -> None:
    acc = periods.merge(None, T0, sums(2))
    acc = periods.merge(acc, T0 + W, sums(3))
    again = periods.merge(acc, T0, sums(2))
    assert periods.total(again.windows) == periods.total(acc.windows) == Sums(
        opened=5, answered=5, answered_within_target=5, csat_responses=5, csat_sum=20,
        servqual_responses=[5, 0, 0, 0, 0], servqual_expected_sum=[30, 0, 0, 0, 0])
    assert len(acc.windows) == 2


def test_merge_does_not_change_its_input() -> None:
    acc = periods.merge(None, T0, sums(1))
    periods.merge(acc, T0 + W, sums(1))
    assert list(acc.windows) == [T0]


def test_total_does_not_depend_on_the_order_or_copies() -> None:
    windows = [(T0 + i * W, sums(i + 1)) for i in range(5)]
    rng = random.Random(3)
    want = periods.total(dict(windows))
    for _ in range(20):
        feed = windows + rng.sample(windows, 3)
        rng.shuffle(feed)
        acc: PeriodAcc | None = None
        for w, s in feed:
            acc = periods.merge(acc, w, s)
        assert acc is not None and periods.total(acc.windows) == want


def test_a_period_closes_on_its_last_window() -> None:
    c = Collector()
    for i in range(5):
        assert not c.sent
        c.add("phone", T0 + i * W, sums(1))
    (closure,) = c.sent
    assert (closure.channel, closure.period_start_ms, len(closure.windows)) == ("phone", T0, 5)
    assert c.table == {}


def test_a_period_begun_mid_way_closes_with_the_windows_it_has() -> None:
    c = Collector()
    for i in (2, 3, 4):  # the first window that saw any event is the period's third
        c.add("chat", T0 + i * W, sums(i))
    (closure,) = c.sent
    assert sorted(closure.windows) == [T0 + 2 * W, T0 + 3 * W, T0 + 4 * W]
    assert periods.total(closure.windows).opened == 9


def test_a_re_emitted_window_is_not_counted_twice() -> None:
    """A worker that crashed re-emits windows it had published: same values, once."""
    c = Collector()
    for i in (0, 1, 2, 1, 2, 3, 4):
        c.add("phone", T0 + i * W, sums(i + 1))
    (closure,) = c.sent
    assert periods.total(closure.windows).opened == 1 + 2 + 3 + 4 + 5


def test_a_later_period_closes_what_is_still_open() -> None:
    c = Collector()
    c.add("email", T0 + 1 * W, sums(1))
    c.add("email", T0 + 2 * W, sums(1))
    c.add("email", T0 + P + 0 * W, sums(1))  # the last window of T0 never came
    (closure,) = c.sent
    assert (closure.period_start_ms, sorted(closure.windows)) == (T0, [T0 + W, T0 + 2 * W])
    assert list(c.table) == [stored.channel_period_key("email", T0 + P)]


def test_a_late_copy_of_a_closed_period_closes_again_with_what_it_has() -> None:
    """A copy arriving after its period closed re-opens it; the next record closes it again.
    The cross-channel step merges it per window, or ignores it once published."""
    c = Collector()
    for i in range(6):
        c.add("phone", T0 + i * W, sums(1))
    c.add("phone", T0 + 3 * W, sums(1))
    c.add("phone", T0 + P + W, sums(1))
    assert [(x.period_start_ms, len(x.windows)) for x in c.sent] == [(T0, 5), (T0, 1)]
    pending = combine.merge(combine.merge(None, c.sent[0]), c.sent[1])
    assert pending.channels["phone"] == c.sent[0].windows


def test_channels_are_kept_apart() -> None:
    c = Collector()
    for i in range(5):
        c.add("phone", T0 + i * W, sums(1))
        if i < 4:
            c.add("chat", T0 + i * W, sums(2))
    assert [x.channel for x in c.sent] == ["phone"]
    assert stored.channel_period_starts(list(c.table), "chat") == [T0]
    assert stored.channel_period_starts(list(c.table), "phone") == []
    assert stored.channel_period_starts(["phone/1", "phone-x/2", "chat/3"], "phone") == [1]


def test_closing_order() -> None:
    assert periods.closing([T0 + P, T0, T0 + 2 * P], T0 + 2 * P, last_window=False) == [T0, T0 + P]
    assert periods.closing([T0], T0, last_window=True) == [T0]
    assert periods.closing([], T0, last_window=False) == []


# --- the tables' keys and values (monitor.state.periods) --------------------------------------
#
# Existing changelogs hold these bytes: a change here is a change of the stored format.

SUMS_JSON = (b'{"opened":2,"answered":1,"answered_within_target":0,"abandoned":0,"resolved":0,'
             b'"resolved_within_target":0,"failed":0,"reopened":0,"feedback_responses":0,'
             b'"csat_responses":0,"csat_sum":0,"nps_responses":0,"nps_net":0,"complaints":0,'
             b'"servqual_responses":[0,0,0,0,0],"servqual_expected_sum":[0,0,0,0,0],'
             b'"servqual_perceived_sum":[0,0,0,0,0]}')


def test_table_keys_keep_their_format() -> None:
    assert stored.CLOSED_KEY == b"periods"
    assert stored.META_KEY == "meta"
    assert stored.channel_period_key("phone", T0) == "phone/1796196000000"
    assert stored.pending_key(T0) == "p/1796196000000"
    assert stored.parse_pending_key("p/1796196000000") == T0
    assert stored.parse_pending_key(stored.META_KEY) is None
    assert stored.history_key(T0) == "1796196000000"
    assert stored.parse_history_key("1796196000000") == T0
    assert stored.alert_key("phone", "quality_index") == "phone/quality_index"


def test_table_values_keep_their_format() -> None:
    one = Sums(opened=2, answered=1)
    acc = b'{"windows":{"1796196000000":' + SUMS_JSON + b"}}"
    assert stored.encode_acc(PeriodAcc({T0: one})) == acc
    assert stored.decode_acc(acc) == PeriodAcc({T0: one})
    closed = (b'{"channel":"phone","period_start_ms":1796196000000,"windows":{"1796196060000":'
              + SUMS_JSON + b"}}")
    assert stored.encode_closure(Closure("phone", T0, {T0 + W: one})) == closed
    assert stored.decode_closure(closed) == Closure("phone", T0, {T0 + W: one})
    pending = b'{"channels":{"chat":{"1796196000000":' + SUMS_JSON + b"}}}"
    assert stored.encode_pending(stored.Pending({"chat": {T0: one}})) == pending
    assert stored.decode_pending(pending) == stored.Pending({"chat": {T0: one}})
    rows = b'{"phone":{"nps":null,"csat_mean":0.5}}'
    assert stored.encode_rows({"phone": {"nps": None, "csat_mean": 0.5}}) == rows
    assert stored.decode_rows(rows) == {"phone": {"nps": None, "csat_mean": 0.5}}
    assert stored.encode_meta(Meta()) == b'{"published_through":null,"latest":null}'
    assert stored.decode_meta(None) == Meta()
    assert stored.decode_meta(b'{"published_through":1796196000000,"latest":null}') == Meta(T0)
    entry = (b'{"state":{"severity":null,"since_ms":null,"warn_run":0,"crit_run":0,"clear_run":0,'
             b'"crit_clear_run":0,"last_active_ms":null},"through_ms":1796196000000,'
             b'"transition":null}')
    assert stored.encode_alert(AlertEntry(AlertState(), T0)) == entry
    assert stored.decode_alert(entry) == AlertEntry(AlertState(), T0)


# --- the parameters ---------------------------------------------------------------------------------


def test_quality_params_are_lengths_in_milliseconds() -> None:
    cfg = from_mapping({"window_s": 60, "channels": {"phone": {}, "chat": {}},
                        "quality": {"period_s": 300, "method": "entropy", "entropy_periods": 6}},
                       env={})
    assert quality_params(cfg) == QualityParams(
        channels=("phone", "chat"), window_ms=W, period_ms=P, entropy_periods=6,
        method="entropy", static_weights=None)
    expert = quality_params(from_mapping({"quality": {"method": "expert"}}, env={}))
    assert expert.period_ms == 3_600_000 and expert.static_weights is not None
    assert sum(expert.static_weights.values()) == pytest.approx(1.0)


# --- the cross-channel step ---------------------------------------------------------------------


def closure(channel: str, period_start_ms: int, n: int, per: int = 1) -> Closure:
    return Closure(channel, period_start_ms,
                   {period_start_ms + i * W: sums(per) for i in range(n)})


def test_pending_merges_copies_per_window_and_completes() -> None:
    pending = combine.merge(None, closure("phone", T0, 5))
    assert not combine.complete(pending, ("phone", "chat"))
    pending = combine.merge(pending, closure("phone", T0, 5))
    pending = combine.merge(pending, closure("chat", T0, 2))
    assert combine.complete(pending, ("phone", "chat"))
    assert {ch: len(ws) for ch, ws in pending.channels.items()} == {"phone": 5, "chat": 2}
    raw = stored.encode_pending(pending)
    assert stored.decode_pending(raw) == pending


def test_result_and_records() -> None:
    pending = combine.merge(combine.merge(None, closure("phone", T0, 5, per=2)),
                            Closure("chat", T0, {T0: Sums()}))
    weights = {name: 1.0 / len(SCORES) for name in SCORES}
    result = combine.compute(("phone", "chat"), T0, T0 + P, pending, "expert", weights, [])
    phone, chat = result.channels
    assert phone.has_volume and not chat.has_volume
    assert chat.quality_index is None
    assert phone.scores == scores(periods.total(pending.channels["phone"]))
    # service level 1, no abandons 1, csat (4 - 1) / 4, servqual gap -6 -> 0; the rest missing
    assert phone.quality_index == pytest.approx(100 * (1 + 1 + 0.75 + 0) / 4)
    assert result.consistency["service_level"] is not None
    assert result.consistency["service_level"].best_channel == "phone"
    assert result.consistency["nps"] is None
    assert result.volume_rows() == {"phone": phone.scores}
    recs = combine.records(result)
    assert [k for k, _v in recs] == [b"phone", b"chat", b"*"]
    assert stored.decode_meta(stored.encode_meta(Meta(T0, result))) == Meta(T0, result)
    assert stored.decode_rows(stored.encode_rows(result.volume_rows())) == result.volume_rows()


def test_entropy_weights_use_the_history() -> None:
    pending = combine.merge(None, closure("phone", T0, 1))
    history = [{"service_level": 0.2, "csat_mean": 0.75}, {"service_level": 0.9, "csat_mean": 0.75}]
    result = combine.compute(("phone",), T0, T0 + P, pending, "entropy", None, history)
    # only service_level differs across the three rows
    assert result.weights["service_level"] == pytest.approx(1.0)
    assert result.weights["csat_mean"] == 0.0
    alone = combine.compute(("phone",), T0, T0 + P, pending, "entropy", None, [])
    assert alone.weights != result.weights
    assert combine.lookback_start(T0, P, 24) == T0 - 23 * P


# --- alerts per period ------------------------------------------------------------------------------

RULE = Rule("quality_index", "<", warning=70.0, critical=50.0, for_windows=1, clear_windows=1)


def test_alert_fires_and_resolves_per_period() -> None:
    entry: AlertEntry | None = None
    states = []
    for i, value in enumerate([80.0, 60.0, None, 40.0, 90.0]):
        s = alerting.step(RULE, entry, Span("phone", T0 + i * P, T0 + (i + 1) * P), value)
        assert not s.replayed
        entry = s.entry
        states.append(None if s.transition is None else (s.transition.state, s.transition.severity))
    assert states == [None, ("firing", "warning"), None, ("firing", "critical"),
                      ("resolved", "critical")]


def test_a_period_fed_twice_changes_nothing_and_returns_its_transition() -> None:
    first = alerting.step(RULE, None, Span("phone", T0, T0 + P), 40.0)
    assert first.transition is not None and first.entry.state.severity == "critical"
    kept = stored.decode_alert(stored.encode_alert(first.entry))
    again = alerting.step(RULE, kept, Span("phone", T0, T0 + P), 40.0)
    assert again.replayed and again.transition == first.transition
    assert again.entry.state == first.entry.state
    older = alerting.step(RULE, kept, Span("phone", T0 - P, T0), 10.0)
    assert older.replayed and older.transition is None


def test_step_does_not_change_the_stored_state() -> None:
    entry = AlertEntry(AlertState(), None, None)
    alerting.step(RULE, entry, Span("phone", T0, T0 + P), 40.0)
    assert entry.state == AlertState()


def test_alert_active_per_configured_severity() -> None:
    entry = alerting.step(RULE, None, Span("phone", T0, T0 + P), 60.0).entry
    got = alerting.active({"phone": (RULE,), "chat": (RULE,)},
                          {stored.alert_key("phone", "quality_index"): entry})
    assert got == {("phone", "quality_index", "warning"): 1,
                   ("phone", "quality_index", "critical"): 0,
                   ("chat", "quality_index", "warning"): 0,
                   ("chat", "quality_index", "critical"): 0}
