"""A real CNCF distribution registry (Debian's ``docker-registry``) for tests.

``RegistryProcess`` writes a config into its directory, serves filesystem
storage from there on ``127.0.0.1:<free port>``, and can be stopped and
started again on the same port and storage. The config is JSON, which the
registry reads as YAML.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

from indexer.registry import Credentials
from tests.support.ports import free_port
from tests.support.token_issuer import TokenAuth, TokenIssuer
from tests.support.waiting import end_process

REGISTRY_BINARY = "/usr/bin/docker-registry"
START_TIMEOUT = 15.0
STOP_TIMEOUT = 5.0

USERS: Mapping[str, str] = {"alice": "alice-secret", "bob": "bob-secret", "admin": "admin-secret"}
"""The users every authenticated test registry (htpasswd or token) knows."""


def credentials(user: str) -> Credentials:
    """The right credentials of one of ``USERS``."""
    return Credentials(user, USERS[user])


@dataclass(frozen=True)
class HtpasswdAuth:
    """``auth: htpasswd`` with these users (bcrypt, written by ``htpasswd -B``)."""

    users: Mapping[str, str]
    realm: str = "regsearch-test"

    def config(self, directory: Path) -> dict[str, Any]:
        path = directory / "htpasswd"
        path.write_text("".join(htpasswd_line(u, p) for u, p in self.users.items()))
        return {"htpasswd": {"realm": self.realm, "path": str(path)}}


@dataclass(frozen=True)
class Notifications:
    """The notification endpoints, configured as ``regsearch serve`` prints them:
    one queue for pushes and deletes, one for pulls."""

    url: str
    token: str | None = None
    timeout: str = "1s"
    threshold: int = 3
    backoff: str = "1s"

    def config(self) -> dict[str, Any]:
        return {"endpoints": [
            self._endpoint("regsearch", ignored_actions=["pull"]),
            self._endpoint("regsearch-pulls", ignored_actions=["push", "delete", "mount"]),
        ]}

    def _endpoint(self, name: str, ignored_actions: list[str]) -> dict[str, Any]:
        endpoint: dict[str, Any] = {
            "name": name,
            "url": self.url,
            "timeout": self.timeout,
            "threshold": self.threshold,
            "backoff": self.backoff,
            "ignore": {"mediatypes": ["application/octet-stream"], "actions": ignored_actions},
        }
        if self.token:
            endpoint["headers"] = {"Authorization": [f"Bearer {self.token}"]}
        return endpoint


class RegistryProcess:
    """One ``docker-registry serve`` subprocess; ``start()``/``stop()`` or ``with``."""

    def __init__(
        self,
        directory: Path,
        *,
        notifications: Notifications | None = None,
        auth: HtpasswdAuth | TokenAuth | None = None,
        extra_config: Mapping[str, Any] | None = None,
    ) -> None:
        self.directory = directory
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.log_path = directory / "registry.log"
        self.config_path = directory / "config.yml"
        directory.mkdir(parents=True, exist_ok=True)
        config = self._config(notifications, auth)
        config.update(extra_config or {})
        self.config_path.write_text(json.dumps(config, indent=2))
        self._process: subprocess.Popen[bytes] | None = None
        self.issuer: TokenIssuer | None = None
        """The token issuer this registry trusts, when the fixtures started one."""

    def _config(self, notifications: Notifications | None, auth: HtpasswdAuth | TokenAuth | None) -> dict[str, Any]:
        config: dict[str, Any] = {
            "version": "0.1",
            "log": {"level": "warn", "formatter": "text", "accesslog": {"disabled": True}},
            "storage": {
                "filesystem": {"rootdirectory": str(self.directory / "storage")},
                "delete": {"enabled": True},
                "maintenance": {"uploadpurging": {"enabled": False}},
            },
            "http": {"addr": self.host, "secret": "regsearch-test-secret"},
        }
        if notifications is not None:
            config["notifications"] = notifications.config()
        if isinstance(auth, HtpasswdAuth):
            config["auth"] = auth.config(self.directory)
        elif isinstance(auth, TokenAuth):
            config["auth"] = auth.config()
        return config

    @property
    def pid(self) -> int | None:
        """The registry process's id while it runs."""
        return self._process.pid if self.running and self._process is not None else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> None:
        """Start (or restart) on the same port and storage; return once it answers."""
        if self.running:
            return
        env = {k: v for k, v in os.environ.items() if not k.startswith("REGISTRY_")}
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(
                [REGISTRY_BINARY, "serve", str(self.config_path)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
            )
        self._wait_ready()

    def stop(self) -> None:
        """Terminate, then kill if it lingers. Queued notifications are lost."""
        process, self._process = self._process, None
        end_process(process, STOP_TIMEOUT)

    def log(self) -> str:
        """Everything the registry wrote to its log so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> RegistryProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"RegistryProcess({self.url!r}, running={self.running})"

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self._process is None or self._process.poll() is not None:
                self._fail("exited before answering")
            if self._answers():
                return
            time.sleep(0.05)
        self._fail(f"did not answer GET /v2/ within {START_TIMEOUT:.0f} s")

    def _answers(self) -> bool:
        try:
            return requests.get(f"{self.url}/v2/", timeout=1).status_code in (200, 401)
        except requests.RequestException:
            return False

    def _fail(self, why: str) -> None:
        self.stop()
        raise RuntimeError(f"registry at {self.url} {why}; its log:\n{self.log()}")


def htpasswd_line(user: str, password: str) -> str:
    """``user``'s line of an htpasswd file, bcrypt as the registry and the token-server want it."""
    result = subprocess.run(
        ["htpasswd", "-Bbn", user, password], check=True, capture_output=True, text=True, timeout=30
    )
    return result.stdout.strip() + "\n"
