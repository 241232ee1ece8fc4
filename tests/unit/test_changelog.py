"""Reading a changelog back keeps each key's latest value and forgets deleted keys."""

from __future__ import annotations

import random

from monitor.state.changelog import OFFSET_KEY, Compacted, encode_offset, take_offset


def test_compacted_keeps_the_latest_value_of_live_keys_only() -> None:
    rng = random.Random(13)
    records: list[tuple[bytes, bytes | None]] = []
    for i in range(5000):
        key = b"k%d" % rng.randrange(200)
        records.append((key, None if rng.random() < 0.3 else b"v%d" % i))
    kept = Compacted()
    for k, v in records:
        kept.add(k, v)
    # reference: scan backwards; a key's first record seen is its latest
    expected: dict[bytes, bytes] = {}
    seen: set[bytes] = set()
    for k, v in reversed(records):
        if k in seen:
            continue
        seen.add(k)
        if v is not None:
            expected[k] = v
    assert kept.live == expected
    assert kept.read == 5000
    assert 0 < len(expected) < len(seen) <= 200


def test_a_key_written_after_its_tombstone_is_live_again() -> None:
    kept = Compacted()
    for k, v in [(b"a", b"1"), (b"a", None), (b"a", b"2"), (b"b", b"x"), (b"b", None)]:
        kept.add(k, v)
    assert kept.live == {b"a": b"2"}


def test_the_resume_offset_is_taken_out_of_the_live_records() -> None:
    live = {b"d:0000000000000001": b"{}", OFFSET_KEY: encode_offset(1234)}
    assert take_offset(live) == 1234
    assert live == {b"d:0000000000000001": b"{}"}  # the state's own records, for its restore
    assert take_offset(live) is None  # a changelog of a release before it was recorded
