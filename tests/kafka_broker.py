"""Start and stop the real local Kafka broker from Python (tests, scripts).

Thin wrapper around ``deploy/local/kafka.sh``: a single-node Apache Kafka 4.x broker in KRaft
mode (combined broker + controller) whose jars are fetched from Maven Central and cached in
``${SQM_CACHE_DIR:-~/.cache/sqm-monitor}``. The broker listens on ``127.0.0.1:<port>``; its
controller listener uses ``<port> + 1``.

This module deliberately does not import pytest so that scripts can use it too.
"""

from __future__ import annotations

import os
import random
import socket
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

__all__ = ["KAFKA_SH", "REPO_ROOT", "free_port", "restart_broker", "start_broker", "stop_broker"]

REPO_ROOT = Path(__file__).resolve().parents[1]
KAFKA_SH = REPO_ROOT / "deploy" / "local" / "kafka.sh"
HOST = "127.0.0.1"

# Generous: a cold `start` may first download the jars (usually well under a minute).
_START_TIMEOUT_S = 900.0
_STOP_TIMEOUT_S = 120.0


def _port_is_free(port: int) -> bool:
    """Return True if ``port`` can be bound on 127.0.0.1 (with SO_REUSEADDR, like the broker)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _ephemeral_range() -> tuple[int, int]:
    """The kernel's ephemeral (outgoing connection) port range, or Linux's default."""
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32768, 60999


def free_port() -> int:
    """Return a port ``P`` such that both ``P`` (broker) and ``P + 1`` (controller) are free.

    Ports are drawn below the kernel's ephemeral range where possible, so that an outgoing
    connection cannot grab the port between this check and the broker binding it.
    """
    low, _high = _ephemeral_range()
    candidates_top = min(low, 65535) - 2
    rng = random.SystemRandom()
    for _ in range(200):
        port = rng.randrange(20000, candidates_top) if candidates_top > 20000 else 0
        if port == 0:
            with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
                sock.bind((HOST, 0))
                port = int(sock.getsockname()[1])
            if port >= 65535:
                continue
        if _port_is_free(port) and _port_is_free(port + 1):
            return port
    raise RuntimeError("could not find two adjacent free TCP ports on 127.0.0.1")


def _run_kafka_sh(args: list[str], timeout: float) -> subprocess.CompletedProcess[str]:
    """Run ``kafka.sh`` with ``args``; the probe uses the current interpreter."""
    env = dict(os.environ)
    env.setdefault("SQM_PYTHON", sys.executable)
    return subprocess.run(
        ["bash", str(KAFKA_SH), *args],
        cwd=REPO_ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def start_broker(port: int, data_dir: Path, *, extra_config: Path | None = None,
                 add_scram: Sequence[str] = ()) -> str:
    """Start a fresh broker on ``127.0.0.1:port`` with its data in ``data_dir``.

    Runs ``deploy/local/kafka.sh start --port PORT --data-dir DATA_DIR --clean``: any broker
    already using ``data_dir`` is stopped and the directory is wiped first (kafka.sh only wipes
    directories it created itself, or empty ones). Returns once the broker answers metadata
    requests. ``extra_config``: lines appended to the broker's server.properties (e.g. more
    listeners); ``add_scram``: SCRAM users created at format time (``kafka.sh --add-scram``).

    Returns:
        The bootstrap address ``"127.0.0.1:PORT"``.

    Raises:
        RuntimeError: the broker did not start; the message carries kafka.sh's output,
            including the tail of ``data_dir/kafka.log``.
    """
    args = ["start", "--port", str(port), "--data-dir", str(data_dir), "--clean"]
    if extra_config is not None:
        args += ["--extra-config", str(extra_config)]
    for spec in add_scram:
        args += ["--add-scram", spec]
    proc = _run_kafka_sh(args, _START_TIMEOUT_S)
    bootstrap = f"{HOST}:{port}"
    lines = proc.stdout.strip().splitlines()
    if proc.returncode != 0 or not lines or lines[-1] != bootstrap:
        raise RuntimeError(
            f"kafka.sh {' '.join(args)} failed (exit {proc.returncode})\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
    return bootstrap


def restart_broker(port: int, data_dir: Path) -> str:
    """Start again, with its data, a broker stopped by ``stop_broker(port, data_dir)`` (the
    outage tests): ``kafka.sh start`` without ``--clean``. Returns the bootstrap address."""
    args = ["start", "--port", str(port), "--data-dir", str(data_dir)]
    proc = _run_kafka_sh(args, _START_TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(f"kafka.sh {' '.join(args)} failed (exit {proc.returncode})\n"
                           f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}")
    return f"{HOST}:{port}"


def stop_broker(port: int, data_dir: Path) -> None:
    """Stop the broker started with ``start_broker(port, data_dir)``; a no-op if none runs.

    SIGTERM first, SIGKILL after 30 s. The data directory is left in place.

    Raises:
        RuntimeError: kafka.sh stop failed.
    """
    args = ["stop", "--port", str(port), "--data-dir", str(data_dir)]
    proc = _run_kafka_sh(args, _STOP_TIMEOUT_S)
    if proc.returncode != 0:
        raise RuntimeError(
            f"kafka.sh {' '.join(args)} failed (exit {proc.returncode})\n"
            f"--- stdout ---\n{proc.stdout}\n--- stderr ---\n{proc.stderr}"
        )
