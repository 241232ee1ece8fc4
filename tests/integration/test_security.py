"""Every Kafka client of the product through a secured listener of a real broker.

A separate broker (``tests/secured_broker.py``; the session's plain broker is left alone) has a
SASL_SSL listener (SCRAM-SHA-512, a user created at format time, certificates made by the test)
and an SSL listener that requires client certificates. Through SASL_SSL: ``sqm topics apply``,
``sqm replay`` of a seeded scenario, ``sqm worker`` and ``sqm quality``, then ``sqm report``;
the indicator records (read back through SASL_SSL too) equal the reference field by field, the
quality stage's service-level scores and the report's volumes equal sums of them. A wrong
password, a CA that did not sign the broker and a missing client certificate each stop the
command at start-up with one line, exit code 1, and the password in no output.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from harness import QualityProcess, WorkerProcess, poll
from kafka_broker import free_port
from reference import compute, iso, ts_ms
from reference_report import count
from secured_broker import PASSWORD, USER, SecuredBroker, start_secured_broker, stop_secured_broker
from test_pipeline import assert_records, indicator_map, scenario
from test_report import md_tables, row

from monitor.config.kafka import parse_kafka
from monitor.contract.topics import TOPIC_INDICATORS, TOPIC_QUALITY
from monitor.kafka.reader import read_range_sync
from monitor.kafka.security import client_options

WINDOW_MS = 60_000
PERIOD_MS = 300_000
DURATION_S = 600
WRONG_PASSWORD = "not-the-Pa55word-of-the-user"


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredBroker]:
    broker = start_secured_broker(tmp_path_factory.mktemp("secured-kafka"),
                                  tmp_path_factory.mktemp("certs"))
    try:
        yield broker
    finally:
        stop_secured_broker(broker)


def sasl_config(path: Path, broker: SecuredBroker, password: str, **top: str | int) -> Path:
    """A config whose every Kafka client uses SASL_SSL with SCRAM-SHA-512, the password in a
    file next to it."""
    pw = path.with_suffix(".password")
    pw.write_text(password + "\n")
    lines = [f'broker_url = "kafka://{broker.sasl_ssl}"',
             *(f"{k} = {v!r}".replace("'", '"') for k, v in top.items()),
             "[kafka]", 'security_protocol = "SASL_SSL"', 'sasl_mechanism = "SCRAM-SHA-512"',
             f'sasl_username = "{USER}"', f'sasl_password_file = "{pw}"',
             f'ssl_cafile = "{broker.certs.ca}"']
    path.write_text("\n".join(lines) + "\n")
    return path


def sqm(cfg: Path, *args: str, timeout_s: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(cfg), *args],
                          capture_output=True, text=True, timeout=timeout_s, check=False)


def read_secured(broker: SecuredBroker, topic: str) -> list[dict[str, Any]]:
    """Every record of ``topic``, read through SASL_SSL with the product's own reader."""
    import orjson

    k = parse_kafka({"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512",
                     "sasl_username": USER, "sasl_password_env": "P",
                     "ssl_cafile": str(broker.certs.ca)}, {"P": PASSWORD})
    recs = read_range_sync(broker.sasl_ssl, topic, 0, 0, slack_ms=0, from_beginning=True,
                           security=client_options(k))
    return [orjson.loads(r.value) for r in recs]


def expected_service_levels(records: dict[tuple[str, int], dict[str, Any]], start: int, end: int
                            ) -> dict[tuple[str, str], float]:
    """Per (channel, period start) of the whole periods in [start, end): the period's service
    level from the sums of its windows (SPEC 7.2), where it has volume."""
    sums: dict[tuple[str, str], list[int]] = {}
    for (ch, _w), r in records.items():
        w = ts_ms(r["window_start"])
        if start <= w < end:
            s = sums.setdefault((ch, iso(w - w % PERIOD_MS)), [0, 0])
            s[0] += r["answered_within_target"]
            s[1] += r["answered"] + r["abandoned"]
    return {k: good / total for k, (good, total) in sums.items() if total}


def test_the_pipeline_runs_through_sasl_ssl(secured: SecuredBroker, tmp_path: Path) -> None:
    now = int(time.time() * 1000)
    start = now - now % PERIOD_MS - 4 * PERIOD_MS
    items, valid, _reasons = scenario(start, DURATION_S, rate=3.0, seed=17)
    last = start + DURATION_S * 1000 + 2 * WINDOW_MS
    ref = compute(valid, last_window_ms=last - last % WINDOW_MS)
    cfg = sasl_config(tmp_path / "sqm.toml", secured, PASSWORD,
                      group_id=f"sec-{uuid.uuid4().hex[:8]}", idle_timeout_s=2,
                      orphan_timeout_s=600)
    with cfg.open("a") as f:
        f.write("[quality]\nperiod_s = 300\n")

    applied = sqm(cfg, "topics", "apply")
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert applied.stdout.count("created") == applied.stdout.count("\n") > 5, applied.stdout
    worker = WorkerProcess(cfg, free_port(), tmp_path / "worker.log")
    quality = QualityProcess(cfg, free_port(), tmp_path / "quality.log")
    try:
        poll(lambda: (worker.try_metrics() or {}).get(
            ("sqm_assigned_partitions", (("stage", "interactions"),))) == 4, 90,
            "the worker to own the input partitions")
        lines = tmp_path / "scenario.jsonl"
        lines.write_bytes(b"".join(value + b"\n" for _key, value in items))
        replay = sqm(cfg, "replay", str(lines))
        assert replay.returncode == 0, replay.stdout + replay.stderr
        assert f"replayed {len(items):,} lines" in replay.stdout

        keys = {(ch, exp["window_start"]) for (ch, _w), exp in ref.records.items()}

        def windows() -> dict[tuple[str, str], list[dict[str, Any]]] | None:
            assert worker.alive(), worker.log_tail()
            got = indicator_map(read_secured(secured, TOPIC_INDICATORS))
            return got if keys <= set(got) else None

        got = poll(windows, 240, "every expected window record", every_s=1.0)
        assert_records(ref.records, got)
        assert all(len(v) == 1 for v in got.values()), "a window was emitted twice"

        # the quality stage (Faust) through SASL_SSL: each whole period's service-level score
        want = expected_service_levels(ref.records, start, start + DURATION_S * 1000)
        assert len(want) >= 10, want  # two whole periods; email may have no volume

        def periods() -> dict[tuple[str, str], float] | None:
            assert quality.alive(), quality.log_tail()
            recs = [r for r in read_secured(secured, TOPIC_QUALITY) if r["kind"] == "channel"]
            found = {(r["channel"], r["period_start"]): r["scores"]["service_level"] for r in recs}
            return found if set(want) <= set(found) else None

        found = poll(periods, 240, "the quality records of every whole period", every_s=1.0)
        for key, level in want.items():
            assert found[key] == pytest.approx(level, rel=1e-9), key

        report = tmp_path / "report.md"
        done = sqm(cfg, "report", "--from", iso(start), "--to", iso(start + DURATION_S * 1000),
                   "--format", "md", "--out", str(report))
        assert done.returncode == 0, done.stdout + done.stderr
        tables = md_tables(report.read_text(encoding="utf-8"))
        for ch in {ch for ch, _w in ref.records}:
            opened = sum(r["opened"] for (c, _w), r in ref.records.items() if c == ch
                         and start <= ts_ms(r["window_start"]) < start + DURATION_S * 1000)
            assert row(tables, "Summary", Channel=ch)["Opened"] == count(opened), ch
    finally:
        assert quality.stop() == 0, quality.log_tail()
        assert worker.stop() == 0, worker.log_tail()
    for log in (worker.log, quality.log):
        assert PASSWORD not in log.read_text(errors="replace")


def _one_line_failure(proc: subprocess.CompletedProcess[str], command: str, starts: str) -> None:
    out = proc.stdout + proc.stderr
    assert proc.returncode == 1, out
    assert proc.stderr.startswith(f"sqm {command}: {starts}"), out
    assert proc.stderr.count("\n") == 1 and "Traceback" not in out, out


@pytest.mark.parametrize("args", [("topics", "apply"), ("worker", "--metrics-port", "0"),
                                  ("replay", "-"), ("report", "--from=-1h", "--to", "now")])
def test_a_wrong_password_stops_start_up_with_one_message(
        secured: SecuredBroker, tmp_path: Path, args: tuple[str, ...]) -> None:
    cfg = sasl_config(tmp_path / "sqm.toml", secured, WRONG_PASSWORD)
    proc = sqm(cfg, *args, timeout_s=60)
    _one_line_failure(proc, args[0], f"Kafka at {secured.sasl_ssl} refused the login of user "
                                     f"'{USER}' (SCRAM-SHA-512 over SASL_SSL): ")
    assert "check kafka.sasl_username, kafka.sasl_mechanism and the password in " \
           "kafka.sasl_password_file" in proc.stderr
    assert WRONG_PASSWORD not in proc.stdout + proc.stderr


def test_mutual_tls_and_its_failures(secured: SecuredBroker, tmp_path: Path) -> None:
    c = secured.certs

    def config(name: str, **kafka: Path) -> Path:
        path = tmp_path / f"{name}.toml"
        path.write_text(f'broker_url = "kafka://{secured.mtls}"\n[kafka]\n'
                        'security_protocol = "SSL"\n'
                        + "".join(f'{k} = "{v}"\n' for k, v in kafka.items()))
        return path

    ok = sqm(config("ok", ssl_cafile=c.ca, ssl_certfile=c.client_cert, ssl_keyfile=c.client_key),
             "topics", "apply")
    assert ok.returncode == 0, ok.stdout + ok.stderr
    no_cert = sqm(config("no-cert", ssl_cafile=c.ca), "topics", "apply", timeout_s=60)
    _one_line_failure(no_cert, "topics", f"Kafka at {secured.mtls} closed the connection while "
                                         "setting up SSL")
    assert "client certificate (kafka.ssl_certfile, kafka.ssl_keyfile)" in no_cert.stderr
    other_ca = sqm(config("other-ca", ssl_cafile=c.other_ca, ssl_certfile=c.client_cert,
                          ssl_keyfile=c.client_key), "topics", "apply", timeout_s=60)
    _one_line_failure(other_ca, "topics", f"the TLS handshake with Kafka at {secured.mtls} failed "
                                          "(self-signed certificate in certificate chain)")
