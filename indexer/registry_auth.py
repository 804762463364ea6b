"""Authentication pieces of the registry client: challenges, links, tokens.

Pure parsing (``WWW-Authenticate`` challenges, ``Link`` headers, token
answers) plus a thread-safe cache of bearer tokens. Nothing here does I/O;
the client in ``indexer.registry`` drives the round trips.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

Scheme = Literal["basic", "bearer"]

DEFAULT_TOKEN_LIFETIME = 60.0
"""Seconds a token lives when the token answer names no ``expires_in``."""

TOKEN_MARGIN = 10.0
"""Seconds before expiry at which a cached token is no longer handed out."""

_AUTH_PARAM = re.compile(r'\s*([A-Za-z0-9_.\-]+)\s*=\s*("(?:[^"\\]|\\.)*"|[^,\s]*)\s*,?')
_AUTH_SCHEME = re.compile(r"\s*,?\s*([A-Za-z0-9_.\-]+)(?=\s|$|,)")
_LINK_PART = re.compile(r"<([^>]*)>\s*((?:;\s*[^;,]+)*)")
_REL_NEXT = re.compile(r'rel\s*=\s*"?([^";]*)"?')


@dataclass(frozen=True)
class Challenge:
    """One challenge from a ``WWW-Authenticate`` header.

    ``scheme`` is lower-cased; ``params`` keeps parameter names lower-cased
    and values unquoted.
    """

    scheme: str
    params: Mapping[str, str] = field(default_factory=dict)

    @property
    def realm(self) -> str:
        return self.params.get("realm", "")

    @property
    def service(self) -> str | None:
        return self.params.get("service")

    @property
    def scope(self) -> str | None:
        return self.params.get("scope")


def parse_challenges(header: str) -> list[Challenge]:
    """Every challenge in a ``WWW-Authenticate`` value, in order.

    Quoted values may hold commas (``scope="repository:a:pull,push"``) and
    backslash escapes. Text that is not a challenge is skipped.
    """
    challenges: list[Challenge] = []
    pos = 0
    while pos < len(header):
        scheme = _AUTH_SCHEME.match(header, pos)
        if scheme is None:
            break
        params, pos = _parse_params(header, scheme.end())
        challenges.append(Challenge(scheme.group(1).lower(), params))
    return challenges


def _parse_params(header: str, pos: int) -> tuple[dict[str, str], int]:
    params: dict[str, str] = {}
    while (match := _AUTH_PARAM.match(header, pos)) is not None:
        params[match.group(1).lower()] = _unquote(match.group(2))
        pos = match.end()
    return params, pos


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] == '"':
        return re.sub(r"\\(.)", r"\1", value[1:-1])
    return value


def pick_challenge(header: str | None) -> Challenge | None:
    """The challenge the client should answer: Bearer before Basic.

    ``None`` when the header is missing or names neither scheme.
    """
    known = [c for c in parse_challenges(header or "") if c.scheme in ("bearer", "basic")]
    known.sort(key=lambda c: c.scheme != "bearer")
    return known[0] if known else None


def parse_next_link(header: str | None) -> str | None:
    """The target of the ``rel="next"`` link in a ``Link`` header, as written.

    The target may be relative; the caller resolves it against the URL of
    the response that carried it.
    """
    for match in _LINK_PART.finditer(header or ""):
        rel = _REL_NEXT.search(match.group(2))
        if rel is not None and "next" in rel.group(1).split():
            return match.group(1).strip()
    return None


@dataclass(frozen=True)
class Token:
    """A bearer token and the monotonic time after which it is not used."""

    value: str
    use_until: float


def parse_token_answer(data: Any, now: float) -> Token:
    """The token in a token endpoint's JSON answer (``token`` or ``access_token``).

    Raises ``ValueError`` when the answer holds no token. The token is used
    until ``expires_in`` (default 60 s) less a margin, and for at least
    half its lifetime.
    """
    if not isinstance(data, dict):
        raise ValueError("token answer is not a JSON object")
    value = data.get("token") or data.get("access_token")
    if not isinstance(value, str) or not value:
        raise ValueError("token answer has neither 'token' nor 'access_token'")
    lifetime = _lifetime(data.get("expires_in"))
    return Token(value, now + max(lifetime - TOKEN_MARGIN, lifetime / 2))


def _lifetime(expires_in: Any) -> float:
    if isinstance(expires_in, (int, float)) and not isinstance(expires_in, bool) and expires_in > 0:
        return float(expires_in)
    return DEFAULT_TOKEN_LIFETIME


class TokenCache:
    """Bearer tokens by scope, shared by the threads of one client.

    At most one fetch per key runs at a time: threads that miss the cache
    together wait for the first one's token instead of each asking the
    token endpoint.
    """

    _PRUNE_ABOVE = 1024

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        self._tokens: dict[str, Token] = {}

    def get_or_fetch(self, key: str, fetch: Callable[[float], Token]) -> str:
        """The cached token for ``key``, or the one ``fetch(now)`` returns."""
        with self._lock:
            key_lock = self._key_locks.setdefault(key, threading.Lock())
        with key_lock:
            cached = self._fresh(key)
            if cached is not None:
                return cached
            token = fetch(self._clock())
            self._store(key, token)
            return token.value

    def drop(self, key: str) -> None:
        """Forget the token for ``key`` (the registry refused it)."""
        with self._lock:
            self._tokens.pop(key, None)

    def _fresh(self, key: str) -> str | None:
        with self._lock:
            token = self._tokens.get(key)
        if token is None or token.use_until <= self._clock():
            return None
        return token.value

    def _store(self, key: str, token: Token) -> None:
        with self._lock:
            self._tokens[key] = token
            if len(self._tokens) > self._PRUNE_ABOVE:
                now = self._clock()
                self._tokens = {k: t for k, t in self._tokens.items() if t.use_until > now}
