"""Authentication of the registry that sends notifications.

The registry can only send static headers (no signature), so the receiver
shares a bearer token with it: the endpoint's ``headers`` in the registry's
configuration carry ``Authorization: Bearer <token>``. Several tokens may be
valid at once, so that a token can be rotated without losing events.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence


def bearer_token_matches(header: str | None, tokens: Sequence[str]) -> bool:
    """Whether ``header`` is ``Bearer <t>`` with ``t`` one of ``tokens``.

    The scheme is matched case-insensitively (RFC 9110); the token exactly,
    in constant time against every configured token, so that neither the
    time taken nor which token matched says anything about the tokens.
    Empty tokens never match, whether sent or configured.
    """
    presented = _bearer_credentials(header)
    if not presented:
        return False
    candidate = presented.encode()
    matches = [hmac.compare_digest(candidate, token.encode()) for token in tokens if token]
    return any(matches)


def _bearer_credentials(header: str | None) -> str | None:
    if header is None:
        return None
    scheme, _, credentials = header.strip().partition(" ")
    if scheme.lower() != "bearer":
        return None
    return credentials.strip()
