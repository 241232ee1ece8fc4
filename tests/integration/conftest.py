"""Integration-test fixtures: a real single-node Kafka 4.x broker for the whole session.

* ``kafka_bootstrap`` (session scope) starts a fresh broker via ``deploy/local/kafka.sh`` on a
  free port with its data in a pytest temporary directory, yields ``"127.0.0.1:PORT"`` and stops
  the broker at the end of the session. If ``SQM_TEST_BOOTSTRAP`` is set (e.g.
  ``SQM_TEST_BOOTSTRAP=127.0.0.1:9092``), that broker is used and nothing is started or stopped.
* Every test collected from ``tests/integration`` gets the ``integration`` marker, so
  ``pytest -m "not integration"`` skips them.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from kafka_broker import free_port, start_broker, stop_broker

_HERE = Path(__file__).resolve().parent

_START_ATTEMPTS = 3


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark the tests that live under tests/integration (this hook sees the whole session)."""
    for item in items:
        if item.path.resolve().is_relative_to(_HERE):
            item.add_marker(pytest.mark.integration)


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Bootstrap address of a running Kafka broker, ``"127.0.0.1:PORT"``."""
    external = os.environ.get("SQM_TEST_BOOTSTRAP", "").strip()
    if external:
        yield external
        return

    last_error: RuntimeError | None = None
    for _ in range(_START_ATTEMPTS):
        port = free_port()
        data_dir = tmp_path_factory.mktemp("kafka")
        try:
            bootstrap = start_broker(port, data_dir)
        except RuntimeError as exc:
            # Another process may have taken the port since free_port() checked it: retry.
            last_error = exc
            if "in use" in str(exc):
                continue
            raise
        try:
            yield bootstrap
        finally:
            stop_broker(port, data_dir)
        return
    assert last_error is not None
    raise last_error
