"""A Kafka cluster for tests: the one in ``KAFKA_BOOTSTRAP_SERVERS``, or a local broker.

Without ``KAFKA_BOOTSTRAP_SERVERS``, ``scripts/kafka-local`` starts a
single-node broker in a run directory of the test session (fetching Kafka
with Maven the first time) and stops it when the session ends. Tests share
the cluster and keep apart by topic prefix (``unique_prefix()``).
"""

from __future__ import annotations

import os
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
KAFKA_LOCAL = REPO_ROOT / "scripts" / "kafka-local"
START_TIMEOUT_S = 900  # a cold Maven cache downloads ~45 MB of jars first


@contextmanager
def kafka_bootstrap(run_dir: Path) -> Iterator[str]:
    """``HOST:PORT[,...]`` of a running cluster for the length of the block."""
    configured = os.environ.get("KAFKA_BOOTSTRAP_SERVERS")
    if configured:
        yield configured
        return
    environment = {**os.environ, "REGSEARCH_KAFKA_RUN": str(run_dir)}
    try:
        yield _start(environment)
    finally:
        subprocess.run([str(KAFKA_LOCAL), "stop"], env=environment, check=False, timeout=60)


def _start(environment: dict[str, str]) -> str:
    started = subprocess.run(
        [str(KAFKA_LOCAL), "start"], env=environment, capture_output=True, text=True,
        timeout=START_TIMEOUT_S,
    )
    if started.returncode != 0:
        raise RuntimeError(f"scripts/kafka-local start failed:\n{started.stderr}")
    for line in started.stdout.splitlines():
        if line.startswith("BOOTSTRAP="):
            return line.removeprefix("BOOTSTRAP=")
    raise RuntimeError(f"scripts/kafka-local start printed no BOOTSTRAP= line:\n{started.stdout}")


def unique_prefix() -> str:
    """A topic prefix no other test uses."""
    return f"test-{uuid.uuid4().hex[:12]}"


class BrokerProcess:
    """A broker of a test's own, to stop and start again (same port, same data)."""

    def __init__(self, run_dir: Path) -> None:
        self._environment = {**os.environ, "REGSEARCH_KAFKA_RUN": str(run_dir)}
        self.bootstrap = ""

    def start(self) -> None:
        self.bootstrap = _start(self._environment)

    def stop(self) -> None:
        subprocess.run([str(KAFKA_LOCAL), "stop"], env=self._environment, check=True, timeout=60)

    def __enter__(self) -> BrokerProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        subprocess.run([str(KAFKA_LOCAL), "reset"], env=self._environment, check=False, timeout=60)
