"""``regsearch serve`` as a real process, for end-to-end tests."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import requests

from tests.support.ports import free_port

START_TIMEOUT = 30.0
REPO_ROOT = Path(__file__).resolve().parents[2]


class ServiceProcess:
    """One ``regsearch serve`` (or one role) on a free port; restartable on the same port and data."""

    def __init__(
        self, data_dir: Path, registry_url: str, *, token: str = "test-token",
        extra: list[str] | None = None, role: str = "serve", tls: tuple[Path, Path] | None = None,
    ) -> None:
        """``tls``: a certificate and its key, served with ``--tls-cert``/``--tls-key``; requests then
        go over HTTPS and trust that certificate alone."""
        self.data_dir = data_dir
        self.tls = tls
        self.registry_url = registry_url
        self.token = token
        self.role = role
        self.port = free_port()
        self.extra = list(extra or [])
        self.log_path = data_dir.parent / f"{data_dir.name}-{role}.log"
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"{'https' if self.tls else 'http'}://127.0.0.1:{self.port}"

    @property
    def verify(self) -> str | bool:
        """What ``requests`` should trust: the served certificate under TLS."""
        return str(self.tls[0]) if self.tls else True

    @property
    def notify_url(self) -> str:
        return f"{self.url}/notifications"

    def command(self) -> list[str]:
        return [
            sys.executable, "-m", "regsearch.cli", self.role,
            "--registry", self.registry_url, "--data-dir", str(self.data_dir),
            "--listen", f"127.0.0.1:{self.port}", "--webhook-token", self.token,
            *(["--tls-cert", str(self.tls[0]), "--tls-key", str(self.tls[1])] if self.tls else []),
            *self.extra,
        ]

    def start(self, wait: bool = True) -> None:
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        log = open(self.log_path, "ab")
        self._process = subprocess.Popen(self.command(), stdout=log, stderr=subprocess.STDOUT, cwd=REPO_ROOT, env=env)
        log.close()
        if wait:
            self.wait_ready()

    def wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"regsearch exited with {self._process.returncode}:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/healthz", timeout=1, verify=self.verify).status_code == 200:
                    return
            except requests.ConnectionError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"regsearch did not become ready:\n{self.log()}")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Send ``sig`` and wait; returns the exit code."""
        if self._process is None or self._process.poll() is not None:
            return self._process.returncode if self._process else 0
        self._process.send_signal(sig)
        try:
            return self._process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
            raise

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process else None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def notify(self, body: bytes | str, *, token: str | None = None, content_type: str = "application/vnd.docker.distribution.events.v1+json") -> requests.Response:
        headers = {"Content-Type": content_type, "Authorization": f"Bearer {token or self.token}"}
        return requests.post(self.notify_url, data=body, headers=headers, timeout=10, verify=self.verify)

    def get(self, path: str, auth: tuple[str, str] | None = None, **params: Any) -> requests.Response:
        """GET ``path`` with ``params`` (and Basic ``auth`` when given)."""
        return requests.get(self.url + path, params=params, auth=auth, timeout=10, verify=self.verify)

    def wait_for(self, path: str, predicate: Any, timeout: float = 60.0, auth: tuple[str, str] | None = None,
                 **params: Any) -> dict[str, Any]:
        """Poll ``path`` until ``predicate(json)`` holds; returns that answer."""
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            response = self.get(path, auth, **params)
            last = response.json()
            if response.status_code == 200 and predicate(last):
                return last
            time.sleep(0.1)
        raise AssertionError(f"{path} {params} never satisfied the condition; last answer {last}\n{self.log()[-4000:]}")

    def run_command(self, *args: str) -> subprocess.CompletedProcess[str]:
        """Another ``regsearch`` subcommand against the same data directory."""
        command = [sys.executable, "-m", "regsearch.cli", *args, "--registry", self.registry_url,
                   "--data-dir", str(self.data_dir), "--webhook-token", self.token]
        return subprocess.run(command, capture_output=True, text=True, cwd=REPO_ROOT, timeout=300)
