"""A real Prometheus scrapes a real worker and quality stage over TLS with basic auth.

Prometheus is started with the same ``metrics_web_config`` file as its own ``--web.config.file``:
its exporter-toolkit reading the file is the check that the file is in that format. Three jobs
scrape the same targets: with the right password (up), a wrong one and none (down, 401).
"""

from __future__ import annotations

import base64
import json
import ssl
import subprocess
import tomllib
import urllib.parse
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import bcrypt
import yaml
from harness import QualityProcess, WorkerProcess, poll, reset_topics, stop_process, write_config
from kafka_broker import free_port
from observability import _exe
from tls_certs import make_certs

from monitor.contract.topics import TOPIC_INPUT, TOPIC_PARTIALS

TOPICS_TOML = Path(__file__).resolve().parents[2] / "monitor" / "topics" / "topics.toml"


def partitions(name: str) -> int:
    (t,) = [t for t in tomllib.loads(TOPICS_TOML.read_text())["topics"] if t["name"] == name]
    return int(t["partitions"])


class TlsClient:
    def __init__(self, ca: Path, user: str, password: str) -> None:
        self.context = ssl.create_default_context(cafile=str(ca))
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def get_json(self, url: str) -> Any:
        req = urllib.request.Request(url, headers={"Authorization": self.auth})
        with urllib.request.urlopen(req, timeout=5, context=self.context) as resp:
            return json.loads(resp.read())

    def ok(self, url: str) -> bool:
        try:
            req = urllib.request.Request(url, headers={"Authorization": self.auth})
            with urllib.request.urlopen(req, timeout=5, context=self.context) as resp:
                return bool(resp.status == 200)
        except OSError:
            return False


def test_prometheus_scrapes_worker_and_quality_stage_over_tls_with_basic_auth(
        kafka_bootstrap: str, tmp_path: Path) -> None:
    reset_topics(kafka_bootstrap)
    certs = make_certs(tmp_path / "certs")
    password = f"pw-{uuid.uuid4().hex}"
    web = tmp_path / "web.yml"
    web.write_text(yaml.safe_dump({
        "tls_server_config": {"cert_file": str(certs.server_cert), "key_file": str(certs.server_key),
                              "min_version": "TLS12"},
        "basic_auth_users": {"prometheus": bcrypt.hashpw(password.encode(),
                                                         bcrypt.gensalt(10)).decode()},
    }), encoding="utf-8")
    (tmp_path / "password").write_text(password, encoding="utf-8")
    group = f"it-tls-{uuid.uuid4().hex[:8]}"
    cfg = write_config(tmp_path / "sqm.toml", kafka_bootstrap, group, metrics_bind="127.0.0.1",
                       metrics_web_config=str(web))
    worker_port, quality_port, prom_port = free_port(), free_port(), free_port()
    worker = WorkerProcess(cfg, worker_port, tmp_path / "worker.log")
    quality = QualityProcess(cfg, quality_port, tmp_path / "quality.log")
    targets = [f"127.0.0.1:{worker_port}", f"127.0.0.1:{quality_port}"]
    tls = {"ca_file": str(certs.ca)}
    jobs = [
        {"job_name": "right", "scheme": "https", "tls_config": tls,
         "basic_auth": {"username": "prometheus", "password_file": str(tmp_path / "password")}},
        {"job_name": "wrong", "scheme": "https", "tls_config": tls,
         "basic_auth": {"username": "prometheus", "password": "not-it"}},
        {"job_name": "anonymous", "scheme": "https", "tls_config": tls},
    ]
    prom_cfg = tmp_path / "prometheus.yml"
    prom_cfg.write_text(yaml.safe_dump({
        # 2 s: a first check of a wrong password costs a bcrypt, slow on a loaded machine
        "global": {"scrape_interval": "2s", "scrape_timeout": "2s"},
        "scrape_configs": [{**j, "static_configs": [{"targets": targets}]} for j in jobs],
    }), encoding="utf-8")
    log = (tmp_path / "prometheus.log").open("ab")
    prom = subprocess.Popen([_exe("prometheus"), f"--config.file={prom_cfg}",
                             f"--storage.tsdb.path={tmp_path / 'prom-data'}",
                             f"--web.listen-address=127.0.0.1:{prom_port}",
                             f"--web.config.file={web}"], stdout=log, stderr=subprocess.STDOUT)
    client = TlsClient(certs.ca, "prometheus", password)
    api = f"https://127.0.0.1:{prom_port}"
    try:
        poll(lambda: prom.poll() is None and client.ok(f"{api}/-/ready"), 60,
             "Prometheus to serve over TLS with the same web config")

        def query(promql: str) -> list[dict[str, Any]]:
            body = client.get_json(f"{api}/api/v1/query?query={urllib.parse.quote(promql)}")
            result: list[dict[str, Any]] = body["data"]["result"]
            return result

        expected_up = {(job, t): 1.0 if job == "right" else 0.0
                       for job in ("right", "wrong", "anonymous") for t in targets}

        def up() -> dict[tuple[str, str], float] | None:
            got = {(r["metric"]["job"], r["metric"]["instance"]): float(r["value"][1])
                   for r in query("up")}
            return got if got == expected_up else None

        poll(up, 120, f"up to be {expected_up}")

        def refused() -> list[str] | None:
            errors = [t["lastError"] for t in
                      client.get_json(f"{api}/api/v1/targets")["data"]["activeTargets"]
                      if t["labels"]["job"] != "right"]
            return errors if errors == ["server returned HTTP status 401 Unauthorized"] * 4 else None

        poll(refused, 60, "the scrapes with a wrong password or none to be refused with 401")
        total = {"interactions": partitions(TOPIC_INPUT), "aggregate": partitions(TOPIC_PARTIALS)}

        def assigned() -> dict[str, float] | None:
            got = {r["metric"]["stage"]: float(r["value"][1])
                   for r in query('sqm_assigned_partitions{job="right"}')}
            return got if got == total else None

        poll(assigned, 120, f"the scraped worker to own {total}")
        # the quality stage's own series came through the authenticated TLS scrape too
        (rejected,) = query(f'sqm_quality_records_rejected_total{{job="right",reason='
                            f'"malformed_json",instance="127.0.0.1:{quality_port}"}}')
        assert rejected["value"][1] == "0"
    finally:
        stop_process(prom, log, 30)
        worker.stop()
        quality.stop()
