"""Fixtures shared by the whole suite: real registries, token issuers, OCI layouts.

Every service picks a free port on 127.0.0.1, is ready when the fixture
returns, and is stopped when the test ends, whatever the outcome.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import pytest

from tests.support.oci import OciBuilder
from tests.support.registry import USERS, HtpasswdAuth, Notifications, RegistryProcess
from tests.support.token_issuer import TokenIssuer

AuthKind = Literal["htpasswd", "token"] | None
RegistryFactory = Callable[..., RegistryProcess]


class _Services:
    """What one test started, stopped in reverse order at teardown."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.registries: list[RegistryProcess] = []
        self.issuers: list[TokenIssuer] = []

    def registry(
        self,
        *,
        notify_url: str | None = None,
        notify_token: str | None = None,
        auth: AuthKind = None,
        extra_config: dict[str, object] | None = None,
    ) -> RegistryProcess:
        directory = self.root / f"registry-{len(self.registries) + 1}"
        directory.mkdir(parents=True)
        notifications = Notifications(notify_url, notify_token) if notify_url else None
        issuer = self._issuer(directory) if auth == "token" else None
        registry_auth = issuer.registry_auth() if issuer else HtpasswdAuth(USERS) if auth == "htpasswd" else None
        registry = RegistryProcess(directory, notifications=notifications, auth=registry_auth, extra_config=extra_config)
        registry.issuer = issuer
        self.registries.append(registry)
        registry.start()
        return registry

    def _issuer(self, directory: Path) -> TokenIssuer:
        issuer = TokenIssuer(directory, USERS)
        self.issuers.append(issuer)
        issuer.start()
        return issuer

    def stop(self) -> None:
        for registry in reversed(self.registries):
            registry.stop()
        for issuer in reversed(self.issuers):
            issuer.stop()


@pytest.fixture
def registry_factory(tmp_path: Path) -> Iterator[RegistryFactory]:
    """``start(notify_url=None, notify_token=None, auth=None|"htpasswd"|"token", extra_config=None)``.

    Each call starts one more registry (with its own storage and port) and
    returns it running; ``auth="token"`` also starts an issuer, reachable as
    ``registry.issuer``. Users and passwords are ``tests.support.registry.USERS``.
    """
    services = _Services(tmp_path / "services")
    try:
        yield services.registry
    finally:
        services.stop()


@pytest.fixture
def registry(registry_factory: RegistryFactory) -> RegistryProcess:
    """A registry without authentication or notifications."""
    return registry_factory()


@pytest.fixture
def htpasswd_registry(registry_factory: RegistryFactory) -> RegistryProcess:
    """A registry with ``auth: htpasswd`` for ``USERS``."""
    return registry_factory(auth="htpasswd")


@pytest.fixture
def token_registry(registry_factory: RegistryFactory) -> RegistryProcess:
    """A registry with ``auth: token``; its issuer is ``token_registry.issuer``."""
    return registry_factory(auth="token")


@pytest.fixture
def oci_builder(tmp_path: Path) -> OciBuilder:
    """Builds OCI layouts under this test's temporary directory."""
    return OciBuilder(tmp_path / "layouts")


@pytest.fixture(scope="session")
def kafka_bootstrap(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """``HOST:PORT`` of a Kafka cluster shared by the session (see ``tests.support.kafka``)."""
    from tests.support.kafka import kafka_bootstrap as bootstrap

    with bootstrap(tmp_path_factory.mktemp("kafka")) as servers:
        yield servers
