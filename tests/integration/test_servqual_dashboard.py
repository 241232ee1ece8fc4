"""The SERVQUAL dashboard end to end: the real worker and the real quality stage on synthetic
traffic with surveys (ten minutes of history, then live), a real Prometheus scraping both (jobs
``sqm-worker`` and ``sqm-quality``) with the generated rules. Every panel query of the generated
dashboard returns data, and the quality stage's ``quality_index`` alert reaches Prometheus as
``SqmQualityIndexLow`` (its threshold is set so that any index breaches it)."""

from __future__ import annotations

import subprocess
import sys
import uuid
from pathlib import Path

from harness import QualityProcess, WorkerProcess, poll, reset_topics
from kafka_broker import free_port
from observability import Prometheus, dashboard_queries

CONFIG = """\
broker_url = "kafka://{bootstrap}"
group_id = "{group}"
window_s = 10
grace_s = 2
idle_timeout_s = 1

[channels.phone]
first_response_target_s = 4
resolution_target_s = 30
short_abandon_s = 1

[channels.chat]
first_response_target_s = 8
resolution_target_s = 40
short_abandon_s = 1

[quality]
period_s = 30

[[alerts]]
indicator = "service_level"
op = "<"
warning = 0.8

[[alerts]]
indicator = "csat_mean"
op = "<"
warning = 3.5
min_volume = 1

[[alerts]]
indicator = "nps"
op = "<"
warning = 0
min_volume = 1

[[alerts]]
indicator = "quality_index"
op = "<"
warning = 101
for_windows = 1
"""


def _cli(cfg: Path, *args: str) -> None:
    done = subprocess.run([sys.executable, "-m", "monitor.cli", "--config", str(cfg), *args],
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr


def test_every_servqual_panel_shows_data_from_the_worker_and_the_quality_stage(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    reset_topics(kafka_bootstrap)
    cfg = tmp_path / "sqm.toml"
    cfg.write_text(CONFIG.format(bootstrap=kafka_bootstrap, group=f"it-{uuid.uuid4().hex[:8]}"))
    rules, boards = tmp_path / "rules.yml", tmp_path / "dashboards"
    _cli(cfg, "rules", "--out", str(rules))
    _cli(cfg, "dashboards", "--out", str(boards))
    (servqual,) = boards.glob("sqm-servqual.json")
    for other in boards.glob("*.json"):
        if other != servqual:
            other.unlink()
    worker_port, quality_port = free_port(), free_port()
    prom = Prometheus(tmp_path, rules, [worker_port], None, quality_port=quality_port)
    worker = WorkerProcess(cfg, worker_port, tmp_path / "worker.log")
    quality = QualityProcess(cfg, quality_port, tmp_path / "quality.log")
    traffic = subprocess.Popen(
        [sys.executable, "-m", "monitor.cli", "--config", str(cfg), "generate", "--rate", "150",
         "--history", "600", "--duration", "240", "--scenario", "steady", "--seed", "11"],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        def gap_per_dimension() -> bool:
            got = {(r["metric"]["channel"], r["metric"]["dimension"])
                   for r in prom.query("sqm_servqual_gap")}
            return len(got) >= 8 and bool(prom.query("sqm_channel_consistency_cv"))

        poll(gap_per_dimension, 200, "the quality stage's gaps and consistency in Prometheus")
        queries = dashboard_queries(boards)
        assert len(queries) >= 12

        def missing() -> list[str]:
            return [q for q in queries if not prom.query(q)]

        try:
            poll(lambda: not missing(), 60, "every SERVQUAL panel to show data")
        except AssertionError:
            raise AssertionError(f"panels without data: {missing()}") from None
        firing = poll(lambda: prom.query('ALERTS{alertname="SqmQualityIndexLow",'
                                         'alertstate="firing"}'), 60,
                      "SqmQualityIndexLow from the quality stage's sqm_alert_active")
        assert {r["metric"]["channel"] for r in firing} <= {"phone", "chat"}
        assert all(r["metric"]["severity"] == "warning" for r in firing)
        up = prom.query('up{job="sqm-quality"}')
        assert [r["value"][1] for r in up] == ["1"]
    finally:
        traffic.kill()
        traffic.wait()
        assert quality.stop() == 0, quality.log_tail()
        worker.stop()
        prom.stop()
