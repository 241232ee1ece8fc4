"""Hostile input records for the end-to-end flood, each with the dead-letter reason SPEC sections 1
and 3 give it (the test's own reading of the rules, not the parser's code).

``catalogue``: one of every kind (random bytes, invalid UTF-8, truncated and deeply nested
JSON, numbers beyond a double or 64 bits, timestamps in 1970 and 9999, 1,000 distinct unknown
channels, null keys and values, records above ``max_event_bytes`` and near the broker's
message size limit). ``flood``: many records of the small kinds, for the memory measurement.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

import orjson

#: (key, value, expected reason)
Hostile = tuple[bytes | None, bytes | None, str]

MAX_EVENT_BYTES = 65536  # the default ``max_event_bytes``
DAY_MS = 86_400_000
#: the broker's default ``max.message.bytes`` (1 MiB + 12); a record near it still fits
BROKER_MAX_BYTES = 1_048_588


def _event(now_ms: int, n: int, **changes: Any) -> dict[str, Any]:
    d: dict[str, Any] = {"event_id": f"h-{n}", "interaction_id": f"h-{n}", "channel": "phone",
                         "type": "opened", "ts": now_ms - 600_000}
    d.update(changes)
    return d


def _raw(d: dict[str, Any]) -> bytes:
    return orjson.dumps(d)


def _channel_names(rng: random.Random, n: int) -> list[str]:
    """``n`` distinct strings that are not channels: label-breaking characters, any script."""
    alphabet = 'abcXYZ09_-."{}=,\\\n\t é中😀\u200b'
    names: set[str] = set()
    while len(names) < n:
        names.add("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 24))) + "#")
    return sorted(names)


def _numbers(now_ms: int) -> list[Hostile]:
    ok = _event(now_ms, 0)
    text = _raw(ok)
    fb = _event(now_ms, 1, type="feedback")
    return [
        (b"n1", text.replace(b'"ts":' + str(ok["ts"]).encode(), b'"ts":1e309'), "malformed_json"),
        (b"n2", _raw(_event(now_ms, 2, ts=2**63 - 1)), "bad_timestamp"),
        (b"n3", text.replace(b'"ts":' + str(ok["ts"]).encode(), b'"ts":%d' % 2**70), "bad_type"),
        (b"n4", text.replace(b'"ts":' + str(ok["ts"]).encode(), b'"ts":-%d' % 2**70), "bad_type"),
        (b"n5", _raw(_event(now_ms, 5, ts=1.5e12)), "bad_type"),
        (b"n6", _raw(_event(now_ms, 6, ts=-1)), "bad_timestamp"),
        (b"n7", text[:-1] + b',"attrs":{"n":1e309}}', "malformed_json"),
        (b"n8", text[:-1] + b',"x":-1e999}', "malformed_json"),
        (None, _raw(fb)[:-1] + b',"feedback":{"csat":%d}}' % 2**70, "bad_value"),
        (None, _raw(fb)[:-1] + b',"feedback":{"nps":1e309}}', "malformed_json"),
        (None, _raw(fb)[:-1] + b',"feedback":{"csat":4.0}}', "bad_value"),
        (None, _raw(_event(now_ms, 9, type="closed", attrs={"n": 1}))[:-2] + b'%d}}' % 2**70,
         "unknown_type"),
    ]


def _timestamps(now_ms: int) -> list[Hostile]:
    out: list[Hostile] = []
    for n, ts in enumerate(["9999-12-31T23:59:59Z", "9999-12-31T23:59:59.999+00:00",
                            253402300799999, 253402300800000, "1970-01-01T00:00:00Z", 0, 1,
                            "1970-01-01T01:00:00+01:00", "1969-12-31T23:59:59Z",
                            "0001-01-01T00:00:00+01:00", now_ms - 8 * DAY_MS,
                            now_ms + 3_600_000, "2026-02-30T00:00:00Z", "yesterday"]):
        for etype in ("opened", "responded", "feedback"):
            d = _event(now_ms, 100 + n, ts=ts, type=etype)
            if etype == "feedback":
                d["feedback"] = {"csat": 5}
            out.append((None if n % 2 else b"t", _raw(d), "bad_timestamp"))
    return out


def _utf8(now_ms: int) -> list[Hostile]:
    text = _raw(_event(now_ms, 200))
    return [
        (b"u1", text.replace(b'"h-200"', b'"h-\xff200"', 1), "malformed_json"),
        (b"u2", text[:-1] + b',"x":"\x80"}', "malformed_json"),  # in a field no one reads
        (b"u3", text[:-1] + b',"\x80x":1}', "malformed_json"),
        (b"u4", text[:-1] + b',"attrs":{"q":"\xc0\xaf"}}', "malformed_json"),  # overlong
        (b"u5", text[:-1] + b',"attrs":{"q":"\xed\xa0\x80"}}', "malformed_json"),  # surrogate
        (b"u6", text.replace(b'"h-200"', b'"h-\\ud800"', 1), "malformed_json"),
        (None, b"\xef\xbb\xbf" + text, "malformed_json"),  # byte order mark
        (None, text.decode().encode("utf-16"), "malformed_json"),
    ]


def _nesting(now_ms: int) -> list[Hostile]:
    base = _raw(_event(now_ms, 300))[:-1]
    return [
        (None, b"[" * 100_000, "too_large"),
        (None, b"[" * 65_000, "malformed_json"),
        (None, b"[" * 30_000 + b"]" * 30_000, "malformed_json"),
        (None, b'{"a":' * 13_000, "malformed_json"),
        (b"d1", base + b',"attrs":{"a":' + b"[" * 30_000 + b"]" * 30_000 + b"}}", "malformed_json"),
        (b"d2", base + b',"x":' + b"[" * 2_000 + b"]" * 2_000 + b"}", "malformed_json"),
        # deeper than msgspec goes, within orjson's limit: a valid shape but for the channel
        (b"d3", base.replace(b'"phone"', b'"fax"') + b',"attrs":{"a":' + b"[" * 1_010
         + b"]" * 1_010 + b"}}", "unknown_channel"),
    ]


def _shapes(now_ms: int) -> list[Hostile]:
    ok = _event(now_ms, 400)
    out: list[Hostile] = [
        (b"k", None, "malformed_json"),  # a tombstone
        (None, b"", "malformed_json"),
        (None, b"null", "not_an_object"), (None, b"[]", "not_an_object"),
        (None, b'"opened"', "not_an_object"), (None, b"42", "not_an_object"),
        (None, _raw({k: v for k, v in ok.items() if k != "ts"}), "missing_field"),
        (None, _raw({**ok, "interaction_id": None}), "missing_field"),
        (None, _raw({**ok, "event_id": 7}), "bad_type"),
        (None, _raw({**ok, "attrs": "queue=billing"}), "bad_type"),
        (None, _raw({**ok, "event_id": "x" * 129}), "bad_value"),
        (None, _raw({**ok, "interaction_id": ""}), "bad_value"),
        (None, _raw({**ok, "type": "feedback"}), "bad_value"),
        (None, _raw({**ok, "type": "feedback", "feedback": {}}), "bad_value"),
        (None, _raw({**ok, "type": "OPENED"}), "unknown_type"),
    ]
    return out


def _oversized(now_ms: int) -> list[Hostile]:
    d = _event(now_ms, 500, attrs={"pad": ""})
    d["attrs"]["pad"] = "x" * (MAX_EVENT_BYTES + 1 - len(_raw(d)))
    near = BROKER_MAX_BYTES - 9_000
    return [
        (b"o1", _raw(d), "too_large"),  # one byte over max_event_bytes
        (None, b'{"pad":"' + b"y" * near + b'"}', "too_large"),
        # the size in the key: the dead letter around it (its raw escaped: \u0001 is 6 bytes)
        # would not fit under the broker's limit unless the key is cut
        (b"K" * (near - 4_096), b"\x01" * 4_096, "malformed_json"),
    ]


def catalogue(now_ms: int, seed: int) -> list[Hostile]:
    """One of every hostile kind, plus 1,000 distinct unknown channels and 200 random records and
    200 truncated ones; about a third without a key."""
    rng = random.Random(seed)
    out = _numbers(now_ms) + _timestamps(now_ms) + _utf8(now_ms) + _nesting(now_ms)
    out += _shapes(now_ms) + _oversized(now_ms)
    for n, ch in enumerate(_channel_names(rng, 1_000)):
        key = None if n % 3 == 0 else f"h-c{n}".encode()
        out.append((key, _raw(_event(now_ms, 1_000 + n, channel=ch)), "unknown_channel"))
    out += list(_small(rng, now_ms, 400))
    return out


def _small(rng: random.Random, now_ms: int, n: int) -> Iterator[Hostile]:
    """Random bytes (never a JSON start), truncated events, unknown channels and bad times."""
    channels = _channel_names(random.Random(1), 1_000)
    for i in range(n):
        key = None if i % 3 == 0 else b"h-%d" % (i % 50_000)
        kind = i % 5
        if kind == 0:
            yield key, b"\xff" + rng.randbytes(rng.randint(0, 64)), "malformed_json"
        elif kind == 1:
            raw = _raw(_event(now_ms, 2_000 + i % 50_000))
            yield key, raw[:rng.randint(0, len(raw) - 1)], "malformed_json"
        elif kind == 2:
            yield key, _raw(_event(now_ms, i % 50_000, channel=channels[i % 1_000])), "unknown_channel"
        elif kind == 3:
            ts = (0, "9999-12-31T23:59:59Z", "1970-01-01T00:00:00Z", now_ms - 30 * DAY_MS)[i % 4]
            yield key, _raw(_event(now_ms, i % 50_000, ts=ts)), "bad_timestamp"
        else:
            yield key, _raw(_event(now_ms, i % 50_000))[:-1] + b',"x":"\xfe"}', "malformed_json"


def flood(now_ms: int, seed: int, n: int) -> list[Hostile]:
    """``n`` small hostile records (the memory measurement's load), one in 1,000 a large one."""
    rng = random.Random(seed)
    out = list(_small(rng, now_ms, n))
    big = _nesting(now_ms)[1]
    for i in range(500, n, 1_000):
        out[i] = big
    return out
