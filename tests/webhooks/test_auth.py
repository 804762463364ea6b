"""Bearer token check of the notification receiver."""

from __future__ import annotations

import pytest

from webhooks.auth import bearer_token_matches

TOKENS = ("current-token-5f1d", "previous-token-9a2c")


@pytest.mark.parametrize(
    "header",
    ["Bearer current-token-5f1d", "Bearer previous-token-9a2c", "bearer current-token-5f1d",
     "BEARER  current-token-5f1d ", " Bearer current-token-5f1d"],
)
def test_configured_tokens_match(header: str) -> None:
    assert bearer_token_matches(header, TOKENS)


@pytest.mark.parametrize(
    "header",
    [
        None,
        "",
        "Bearer",
        "Bearer ",
        "Bearer wrong-token",
        "Bearer current-token-5f1",
        "Bearer current-token-5f1dX",
        "Bearer Current-Token-5f1d",
        "current-token-5f1d",
        "Basic Y3VycmVudC10b2tlbi01ZjFkOg==",
        "Basic current-token-5f1d",
        "Token current-token-5f1d",
        "Bearer tökén",
    ],
)
def test_anything_else_does_not_match(header: str | None) -> None:
    assert not bearer_token_matches(header, TOKENS)


def test_empty_configured_token_never_matches() -> None:
    assert not bearer_token_matches("Bearer ", ("",))
    assert not bearer_token_matches("Bearer x", ("", "y"))


def test_no_configured_tokens_matches_nothing() -> None:
    assert not bearer_token_matches("Bearer current-token-5f1d", ())
