"""Real Prometheus and Alertmanager (Debian's packages) as child processes, and a webhook
receiver that records what Alertmanager delivers, for end-to-end alerting tests."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml
from harness import poll, stop_process
from kafka_broker import free_port

from monitor.ops.rules.names import QUALITY_JOB

ROOT = Path(__file__).resolve().parents[2]
ALERTMANAGER_YML = ROOT / "deploy" / "alertmanager" / "alertmanager.yml"


def _exe(name: str) -> str:
    exe = shutil.which(name)
    assert exe, f"{name} is missing: `make setup` installs Debian's prometheus packages"
    return exe


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=5) as resp:
        return json.loads(resp.read())


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as resp:
            return bool(resp.status == 200)
    except OSError:
        return False


def dashboard_queries(directory: Path, channels: str = "phone|chat") -> list[str]:
    """Every panel query of the dashboards in ``directory``, Grafana's variables filled in as
    Grafana would (``$channel`` a regex of channels, ``$__rate_interval`` a duration)."""
    out = []
    for path in sorted(directory.glob("*.json")):
        d = json.loads(path.read_text(encoding="utf-8"))
        for p in d["panels"]:
            for t in p.get("targets", []):
                out.append(t["expr"].replace("$channel", channels)
                           .replace("$__rate_interval", "1m"))
    return out


class Webhook:
    """An HTTP server that keeps every JSON body posted to it, with the path it came to."""

    def __init__(self) -> None:
        self.received: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                with hook._lock:
                    hook.received.append((self.path, json.loads(body)))
                self.send_response(200)
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self._thread.start()

    def alerts(self) -> list[tuple[str, dict[str, Any]]]:
        """Every alert of every notification, in arrival order: (receiver path, alert)."""
        with self._lock:
            return [(path, a) for path, body in self.received for a in body["alerts"]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


class _Process:
    def __init__(self, args: list[str], log: Path, ready_url: str, what: str) -> None:
        self._fh = log.open("ab")
        self.log = log
        self.proc = subprocess.Popen(args, stdout=self._fh, stderr=subprocess.STDOUT)
        poll(lambda: self.proc.poll() is None and _ready(ready_url), 60, f"{what} to be ready")

    def stop(self) -> None:
        stop_process(self.proc, self._fh, 30)


class Alertmanager(_Process):
    """The committed ``alertmanager.yml`` with its receivers pointed at ``webhook`` and its
    waits shortened to a second; routing and inhibition are the committed ones."""

    def __init__(self, workdir: Path, webhook: Webhook) -> None:
        cfg = yaml.safe_load(ALERTMANAGER_YML.read_text(encoding="utf-8"))
        for receiver in cfg["receivers"]:
            for hook in receiver.get("webhook_configs", []):
                hook["url"] = f"{webhook.url}/{receiver['name']}"
        cfg["route"].update(group_wait="1s", group_interval="1s")
        path = workdir / "alertmanager.yml"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        (workdir / "am-data").mkdir()
        super().__init__(
            [_exe("prometheus-alertmanager"), f"--config.file={path}",
             f"--storage.path={workdir / 'am-data'}", f"--web.listen-address=127.0.0.1:{self.port}",
             "--cluster.listen-address="],
            workdir / "alertmanager.log", f"{self.url}/-/ready", "Alertmanager")

    def post(self, alerts: list[dict[str, Any]]) -> None:
        req = urllib.request.Request(f"{self.url}/api/v2/alerts", data=json.dumps(alerts).encode(),
                                     headers={"Content-Type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=5) as resp:
            assert resp.status == 200

    def alerts(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = get_json(f"{self.url}/api/v2/alerts")
        return result


class Prometheus(_Process):
    """Scrapes the workers (and a quality stage) every second, evaluates ``rules`` every
    second, sends alerts to ``alertmanager``."""

    def __init__(self, workdir: Path, rules: Path, worker_ports: list[int],
                 alertmanager: Alertmanager | None, job: str = "sqm-worker",
                 quality_port: int | None = None) -> None:
        """``quality_port``: also scrape a quality stage, as job ``sqm-quality``."""
        jobs = {job: worker_ports, **({} if quality_port is None else {QUALITY_JOB: [quality_port]})}
        cfg: dict[str, Any] = {
            "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
            "rule_files": [str(rules)],
            "scrape_configs": [{"job_name": name, "static_configs": [
                {"targets": [f"127.0.0.1:{p}" for p in ports]}]} for name, ports in jobs.items()],
        }
        if alertmanager is not None:
            cfg["alerting"] = {"alertmanagers": [
                {"static_configs": [{"targets": [f"127.0.0.1:{alertmanager.port}"]}]}]}
        path = workdir / "prometheus.yml"
        path.write_text(yaml.safe_dump(cfg), encoding="utf-8")
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        super().__init__(
            [_exe("prometheus"), f"--config.file={path}",
             f"--storage.tsdb.path={workdir / 'prom-data'}",
             f"--web.listen-address=127.0.0.1:{self.port}"],
            workdir / "prometheus.log", f"{self.url}/-/ready", "Prometheus")

    def query(self, promql: str) -> list[dict[str, Any]]:
        q = urllib.parse.quote(promql)
        body = get_json(f"{self.url}/api/v1/query?query={q}")
        assert body["status"] == "success", body
        result: list[dict[str, Any]] = body["data"]["result"]
        return result
