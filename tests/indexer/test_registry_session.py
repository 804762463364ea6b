"""The registry client's session reads proxy and CA settings from the environment once, not per request."""

from __future__ import annotations

import pytest

from indexer.registry import environment_session


def test_proxies_come_from_the_environment_when_the_session_is_made(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.delenv("NO_PROXY", raising=False)
    monkeypatch.delenv("no_proxy", raising=False)
    session = environment_session("https://registry.example:5000")
    monkeypatch.setenv("HTTPS_PROXY", "http://changed.example:3128")
    assert session.trust_env is False
    assert session.proxies.get("https") == "http://proxy.example:3128"


def test_no_proxy_is_honoured(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HTTP_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    assert "http" not in environment_session("http://127.0.0.1:5000").proxies


def test_the_ca_bundle_variable_applies_to_https_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
    assert environment_session("https://registry.example").verify == "/etc/ssl/certs/ca-certificates.crt"
    assert environment_session("http://127.0.0.1:5000").verify is True
