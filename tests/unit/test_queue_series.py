"""A hostile flood of random queue names leaves the set of exported series unchanged (SPEC 9).

Label values come from the config only: an event that names a queue the config does not
declare is measured under ``other`` (or under the default queue of a channel that declares
none) and counted in ``sqm_events_unlisted_queue_total{channel}``; it never adds a series.

Stage one, stage two, ``Stats`` and the collector run as the worker wires them; every expected
value (the series the config implies, where each event is measured, the unlisted count) is
computed here from the config's text and the generated events, not by the code under test.
"""

from __future__ import annotations

import json
import random
import re
import string
from collections import Counter
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families
from stream_harness import final_window

from monitor.config import domain_params, from_mapping, window_rules
from monitor.config.summary import series_bound
from monitor.contract import partials
from monitor.domain.stream.sketch import Summary
from monitor.metrics.exporter import SqmCollector
from monitor.metrics.stats import Snapshot, Stats
from monitor.stages.aggregate.aggregator import Aggregator
from monitor.stages.interactions.outputs import BatchResult
from monitor.stages.interactions.processor import PartitionProcessor

RAW: dict[str, Any] = {
    "channels": {
        "phone": {"queues": {"billing": {"first_response_target_s": 30}, "sales": {}}},
        "chat": {},  # no queues declared: its one queue is its default, "main"
    },
    "alerts": [
        {"indicator": "service_level", "op": "<", "warning": 0.8, "critical": 0.6},
        {"indicator": "service_level", "channels": ["phone"], "queues": ["*"], "op": "<",
         "warning": 0.5},
    ],
}
CFG = from_mapping(RAW, env={})
TOPIC = "sqm.interactions.v1"
#: the queue names each channel declares (phone's default "main" implicitly)
DECLARED = {"phone": {"main", "billing", "sales"}, "chat": {"main"}}
#: every ``queue`` label value of each channel: the declared ones and phone's "other"
LABELS = {"phone": ("main", "billing", "sales", "other"), "chat": ("main",)}
T0 = 1_800_000_000_000
NOW_MS = T0 + 1_800_000  # half an hour after the first event: every window is final
INTERACTIONS = 3_000

#: sample names exported per configured (channel, queue), zeros included
PER_QUEUE = {
    "sqm_events_total", "sqm_events_duplicate_total", "sqm_events_late_total",
    *(f"sqm_{f}_total" for f in (
        "opened", "answered", "answered_within_target", "abandoned", "short_abandoned",
        "resolved", "resolved_within_target", "failed", "reopened")),
    *(f"{h}_{part}" for h in ("sqm_first_response_seconds", "sqm_resolution_seconds")
      for part in ("bucket", "count", "sum")),
    "sqm_feedback_total", "sqm_complaints_total", "sqm_csat_satisfied_total",
    "sqm_nps_promoters_total", "sqm_nps_detractors_total",
    *(f"{s}_{part}" for s in ("sqm_csat_score", "sqm_nps_score") for part in ("count", "sum")),
    "sqm_servqual_responses_total", "sqm_servqual_expected_points_total",
    "sqm_servqual_perceived_points_total",
    "sqm_backlog_waiting", "sqm_backlog_open",
}
#: gauges of the latest final window: per queue that has one, and per channel (queue "")
WINDOW = {
    "sqm_service_level_ratio", "sqm_abandonment_ratio", "sqm_resolution_ratio",
    "sqm_on_time_resolution_ratio", "sqm_reopen_ratio", "sqm_first_response_window_seconds",
    "sqm_resolution_window_seconds", "sqm_window_end_timestamp_seconds",
}

Key = tuple[str, tuple[tuple[str, str], ...]]


def garbage(rng: random.Random) -> str:
    """A queue name nobody declared: 1..64 characters of anything a JSON string may hold
    (quotes, backslashes, braces, control and non-ASCII characters), or a near miss."""
    if rng.random() < 0.2:
        return rng.choice(['other', 'Main', 'main ', ' billing', 'billing"', 'sales\n',
                           'a="b",c="d"', '*', '', '../billing', 'x' * 64, '\u0000', 'é'])[:64] or '?'
    alphabet = string.printable + "éü日本語\u2028\u00a0😀\u0000\ufeff"
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 64)))


def flood() -> tuple[list[dict[str, Any]], Counter[str], Counter[tuple[str, str, str]]]:
    """Interactions that open, move and are answered, most naming garbage queues; with the
    reference: events that name an undeclared queue by channel, and ``(channel, queue, what)``
    counts where each measurement belongs."""
    rng = random.Random(21)
    events: list[dict[str, Any]] = []
    unlisted: Counter[str] = Counter()
    measured: Counter[tuple[str, str, str]] = Counter()

    def named(channel: str) -> str | None:
        r = rng.random()
        if r < 0.1:
            return None
        if r < 0.25:
            return rng.choice(sorted(DECLARED[channel]))
        return garbage(rng)

    def resolved(channel: str, name: str | None) -> str:
        if name is not None and name not in DECLARED[channel]:
            unlisted[channel] += 1
            return "other" if channel == "phone" else "main"
        return "main" if name is None else name

    for i in range(INTERACTIONS):
        channel = "phone" if i % 3 else "chat"
        iid, t = f"I{i}", T0 + i * 100
        opened, moved = named(channel), named(channel) or "main"
        wait_ms = 2_000 + (i % 50) * 1_000
        for k, (etype, ts, queue) in enumerate((("opened", t, opened),
                                                ("transferred", t + 1_000, moved),
                                                ("responded", t + wait_ms, None))):
            e: dict[str, Any] = {"event_id": f"{iid}-{k}", "interaction_id": iid,
                                 "channel": channel, "type": etype, "ts": ts}
            if queue is not None:
                e["queue"] = queue
            events.append(e)
        measured[(channel, resolved(channel, opened), "opened")] += 1
        at_answer = resolved(channel, moved)
        measured[(channel, at_answer, "answered")] += 1
        target_ms = 30_000 if at_answer == "billing" else 20_000 if channel == "phone" else 60_000
        measured[(channel, at_answer, "answered_within_target")] += wait_ms <= target_ms
    events.sort(key=lambda e: (e["ts"], e["event_id"]))
    return events, unlisted, measured


class Worker:
    """Stage one on the one input partition feeding stage two, as ``sqm worker`` runs them."""

    def __init__(self) -> None:
        params = domain_params(CFG)
        self.params = params
        self.proc = PartitionProcessor(params, TOPIC, 0)
        self.agg = Aggregator(params, partition=0, partitions=1, sources=1,
                              rules=window_rules(CFG))
        self.stats = Stats(CFG.queue_labels, [20, 30, 60], [600, 1800])
        self.offset = 0

    def send(self, events: list[dict[str, Any]]) -> None:
        batch = []
        for e in events:
            batch.append((self.offset, e["interaction_id"].encode(), json.dumps(e).encode()))
            self.offset += 1
        self._forward(self.proc.process(batch, NOW_MS))

    def flush(self) -> None:
        self._forward(self.proc.advance(NOW_MS, idle=True))

    def _forward(self, r: BatchResult) -> None:
        """Count the batch, and hand its partials to stage two through their encoding."""
        self.stats.add_batch(r)
        values = [partials.encode_partial(0, q, w, acc) for (q, w), acc in r.partials.items()]
        if r.mark is not None:
            values.append(partials.encode_mark(r.mark))
        out = self.agg.process([partials.decode(v, self.params.queues) for v in values], NOW_MS)
        self.stats.add_late(out.late)

    def snapshot(self) -> Snapshot:
        """What the worker publishes: the counters and the stages' gauges."""
        b = self.proc.backlog
        return self.stats.snapshot(
            backlog_waiting={(q.channel, q.name): b.waiting[q] for q in b.queues},
            backlog_open={(q.channel, q.name): b.open[q] for q in b.queues},
            oldest_waiting_ts_ms={(q.channel, q.name): b.oldest_waiting_ts(q) for q in b.queues},
            windows=dict(self.agg.latest), alerts=self.agg.active_alerts())


def exported(snapshot: Snapshot) -> dict[Key, float]:
    """Every sample of a scrape, by (name, labels)."""
    reg = CollectorRegistry()
    reg.register(SqmCollector(CFG.queue_labels, lambda: snapshot, clock=lambda: NOW_MS / 1000,
                              blocks=lambda: 1))
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for fam in text_string_to_metric_families(generate_latest(reg).decode())
            for s in fam.samples}


def rows(samples: dict[Key, float], names: set[str]) -> set[tuple[str, str, str | None]]:
    """``(name, channel, queue)`` of the samples of ``names`` (queue None: no such label)."""
    out = set()
    for name, labels in samples:
        d = dict(labels)
        if name in names and "channel" in d:
            out.add((name, d["channel"], d.get("queue")))
    return out


def implied() -> set[tuple[str, str, str | None]]:
    """The ``(name, channel, queue)`` the config implies for all but the window gauges."""
    out: set[tuple[str, str, str | None]] = set()
    for ch, queues in LABELS.items():
        out |= {(name, ch, q) for name in PER_QUEUE for q in queues}
        out |= {("sqm_oldest_wait_seconds", ch, q) for q in ("", *queues)}
        out.add(("sqm_events_unlisted_queue_total", ch, None))
        out.add(("sqm_alert_active", ch, ""))
    out |= {("sqm_alert_active", "phone", q) for q in LABELS["phone"]}
    return out


def chunks(events: list[dict[str, Any]], n: int) -> Iterator[list[dict[str, Any]]]:
    for i in range(0, len(events), n):
        yield events[i:i + n]


def test_a_hostile_flood_of_random_queue_names_leaves_the_exported_series_unchanged() -> None:
    assert CFG.queue_labels == LABELS
    worker = Worker()
    before = exported(worker.snapshot())
    not_window = {k for k in before if k[0] not in WINDOW}
    assert rows(before, PER_QUEUE | {"sqm_oldest_wait_seconds", "sqm_events_unlisted_queue_total",
                                     "sqm_alert_active"}) == implied()
    assert not rows(before, WINDOW)

    events, unlisted, measured = flood()
    assert unlisted["phone"] > 1_000 and unlisted["chat"] > 500  # a flood, on both channels
    for batch in chunks(events, 500):
        worker.send(batch)
    worker.flush()
    after = exported(worker.snapshot())

    # the same series but for the window gauges, which now exist for the queues with events
    assert {k for k in after if k[0] not in WINDOW} == not_window
    queues_used = {(ch, q) for ch, q, _what in measured}
    assert rows(after, {"sqm_window_end_timestamp_seconds"}) == {
        ("sqm_window_end_timestamp_seconds", ch, q)
        for ch, q in queues_used | {(ch, "") for ch in LABELS}}
    assert rows(after, WINDOW) <= {(name, ch, q) for name in WINDOW
                                  for ch, q in queues_used | {(ch, "") for ch in LABELS}}
    for _name, labels in after:
        d = dict(labels)
        if "channel" in d:
            assert d["channel"] in LABELS and d.get("queue", "") in ("", *LABELS[d["channel"]])

    # every event was applied, and measured where the config puts it
    assert sum(v for (name, _l), v in after.items() if name == "sqm_events_total") == len(events)
    assert sum(v for (name, _l), v in after.items() if name == "sqm_events_rejected_total") == 0
    for ch in LABELS:
        assert after[("sqm_events_unlisted_queue_total", (("channel", ch),))] == unlisted[ch]
        for q in LABELS[ch]:
            for what in ("opened", "answered", "answered_within_target"):
                got = after[(f"sqm_{what}_total", (("channel", ch), ("queue", q)))]
                assert got == measured[(ch, q, what)], (ch, q, what)


def test_check_config_bounds_the_series_a_full_scrape_exports() -> None:
    """``sqm check-config``'s bound is what a worker that owns every partition and has every
    window and alert exports, a histogram or summary counted once per label set."""
    every = [(ch, q) for ch, qs in LABELS.items() for q in qs]
    ones = Summary(1_000.0, 1_000.0, 1_000.0, 1_000.0, 1_000)
    full = Worker().stats.snapshot(
        backlog_waiting=dict.fromkeys(every, 1), backlog_open=dict.fromkeys(every, 1),
        oldest_waiting_ts_ms=dict.fromkeys(every, T0),
        windows={(ch, q): final_window(ch, T0, queue=q or None, service_level=1.0,
                                       abandonment_rate=0.0, resolution_rate=1.0,
                                       on_time_resolution_rate=1.0, reopen_rate=0.0,
                                       first_response=ones, resolution=ones)
                 for ch in LABELS for q in ("", *LABELS[ch])},
        alerts=Worker().agg.active_alerts(), watermark_ms=T0)
    reg = CollectorRegistry()
    reg.register(SqmCollector(CFG.queue_labels, lambda: full, clock=lambda: NOW_MS / 1000,
                              blocks=lambda: 1))
    label_sets = 0
    for fam in text_string_to_metric_families(generate_latest(reg).decode()):
        if fam.type in ("histogram", "summary"):
            label_sets += sum(1 for s in fam.samples if s.name == f"{fam.name}_count")
        else:
            label_sets += len(fam.samples)
    bound = re.search(r"at most (\d+) series per worker", series_bound(CFG))
    assert bound is not None
    assert int(bound.group(1)) == label_sets
