"""``make run``'s script (``deploy/local/run.sh``) stops everything it started, the broker
included, when its output is a pipe that closes first (``make run | head``): the foreground
``sqm watch`` then fails to write and the script exits; its cleanup must not die on the closed
pipe halfway through."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

from harness import poll
from kafka_broker import KAFKA_SH, REPO_ROOT, free_port


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_closing_the_output_pipe_stops_everything(tmp_path: Path) -> None:
    ports = {name: free_port() for name in ("KAFKA", "METRICS", "QUALITY_METRICS", "PROMETHEUS",
                                            "ALERTMANAGER")}
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
           "SQM_RUN_DIR": str(tmp_path / "run"), "SQM_KAFKA_DATA_DIR": str(tmp_path / "kafka"),
           "SQM_RATE": "20", "SQM_DURATION": "120",
           **{f"SQM_{name}_PORT": str(port) for name, port in ports.items()}}
    proc = subprocess.Popen(["bash", str(REPO_ROOT / "deploy" / "local" / "run.sh")],
                            cwd=REPO_ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert proc.stdout is not None
        for line in proc.stdout:  # read until the banner's last entry, as `head` would
            if line.strip().startswith(b"records"):
                break
        else:
            raise AssertionError(f"run.sh ended before its banner (exit {proc.wait()})")
        poll(lambda: all(_listening(ports[p]) for p in ("KAFKA", "METRICS", "QUALITY_METRICS")),
             120, "the broker, the worker and the quality stage listening")
        proc.stdout.close()  # the reader goes away: the next write of `sqm watch` fails
        proc.wait(timeout=120)
        poll(lambda: not any(_listening(p) for p in ports.values()), 60,
             f"every port closed: {ports}")
        status = subprocess.run(["bash", str(KAFKA_SH), "status", "--port", str(ports["KAFKA"]),
                                 "--data-dir", str(tmp_path / "kafka")],
                                capture_output=True, text=True, check=False)
        assert status.returncode != 0, status.stdout + status.stderr  # not running
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever the script left behind
            os.killpg(proc.pid, signal.SIGTERM)
        subprocess.run(["bash", str(KAFKA_SH), "stop", "--port", str(ports["KAFKA"]),
                        "--data-dir", str(tmp_path / "kafka")], capture_output=True, check=False)
