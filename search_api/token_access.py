"""``--auth token``: the registry's token service decides who sees what.

For a caller with Basic credentials (or none), the service asks the token
service to grant ``repository:<name>:pull`` for every repository in the
index, many scopes per request (:mod:`search_api.token_service`), and shows
the granted ones. What an identity was granted is remembered for
``cache_seconds``: one entry per identity, holding the names asked about
and those granted. A repository that appears in the index meanwhile is
asked about at that identity's next request and joins the entry, which
keeps its expiry, so no answer is older than ``cache_seconds``.

A caller with a Bearer token from that token service sees what the token
grants, once :mod:`search_api.bearer` has checked it.

Wrong credentials are a 401, never a downgrade to anonymous. A token
service that refuses anonymous callers (the distribution token-server
does) leaves them seeing nothing. A token service that cannot be asked
makes the search endpoints answer 503: never an error page, and never
everything.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from indexer.visibility import Visibility
from search_api.access import AccessUnavailable, Unauthenticated, basic_credentials
from search_api.bearer import BearerRefused, BearerVerifier
from search_api.token_service import Credentials, TokenRefused, TokenService, TokenServiceUnavailable

log = logging.getLogger(__name__)

MAX_IDENTITIES = 10_000  # cached identities; the oldest go first past this
_LOCK_STRIPES = 64


@dataclass(frozen=True)
class Grants:
    """What one identity may see: ``granted`` of the names ``asked`` about, until ``expires_at``."""

    expires_at: float
    asked: frozenset[str]
    granted: frozenset[str]
    visibility: Visibility

    @classmethod
    def of(cls, expires_at: float, asked: frozenset[str], granted: frozenset[str]) -> Grants:
        return cls(expires_at, asked, granted, Visibility(names=granted))

    def extended(self, candidates: frozenset[str], newly_granted: frozenset[str]) -> Grants:
        """These grants over ``candidates`` now, with what was granted of the names new among them;
        names gone from ``candidates`` are dropped (and asked about again if they come back)."""
        granted = (self.granted & candidates) | newly_granted
        if granted == self.granted:
            return Grants(self.expires_at, candidates, self.granted, self.visibility)
        return Grants.of(self.expires_at, candidates, granted)


class GrantCache:
    """Grants by identity, each for ``ttl`` seconds of ``clock``; at most ``max_identities``."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.monotonic,
                 max_identities: int = MAX_IDENTITIES) -> None:
        self.ttl = ttl
        self.clock = clock
        self._max = max_identities
        self._entries: dict[str, Grants] = {}
        self._lock = threading.Lock()

    def get(self, identity: str) -> Grants | None:
        """The identity's grants while they are fresh."""
        with self._lock:
            grants = self._entries.get(identity)
        return grants if grants is not None and grants.expires_at > self.clock() else None

    def put(self, identity: str, grants: Grants) -> None:
        if self.ttl <= 0:
            return
        with self._lock:
            self._entries.pop(identity, None)  # re-inserted last: the dict is oldest first
            self._entries[identity] = grants
            if len(self._entries) > self._max:
                self._prune()

    def forget(self, identity: str) -> None:
        with self._lock:
            self._entries.pop(identity, None)

    def _prune(self) -> None:
        now = self.clock()
        self._entries = {k: g for k, g in self._entries.items() if g.expires_at > now}
        while len(self._entries) > self._max:
            del self._entries[next(iter(self._entries))]


class TokenAccess:
    """``--auth token``: an :class:`~search_api.access.AccessPolicy` asking the token service.

    ``candidates`` returns the names of every repository in the index (see
    ``SearchIndex.repository_names``): the scopes asked for.
    """

    def __init__(self, service: TokenService, candidates: Callable[[], frozenset[str]], cache: GrantCache,
                 bearer: BearerVerifier | None = None) -> None:
        self._service = service
        self._candidates = candidates
        self._cache = cache
        self._bearer = bearer
        self._secret = secrets.token_bytes(32)
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]

    def visibility(self, authorization: str | None) -> Visibility | None:
        """What the caller may see; raises :class:`Unauthenticated` for credentials the token
        service refuses or a Bearer token it did not issue, and :class:`AccessUnavailable` when
        the token service cannot be asked."""
        scheme, _, value = (authorization or "").strip().partition(" ")
        if scheme.lower() == "bearer":
            return self._bearer_visibility(value.strip())
        credentials = basic_credentials(authorization) if authorization else None
        try:
            return self._grants(credentials).visibility
        except TokenServiceUnavailable as exc:
            log.warning("cannot decide what a caller may see: %s", exc)
            raise AccessUnavailable(f"{exc}; try again later") from exc

    def _bearer_visibility(self, token: str) -> Visibility:
        if self._bearer is None:
            raise Unauthenticated("Bearer tokens are not accepted here (the service has no certificate "
                                  "to check them with); send Basic credentials")
        try:
            return Visibility(names=self._bearer.pullable(token))
        except BearerRefused as exc:
            raise Unauthenticated(str(exc)) from exc

    def _grants(self, credentials: Credentials | None) -> Grants:
        identity = self._identity(credentials)
        # one asker per identity: concurrent first requests wait for its answer rather than ask too
        with self._locks[int(identity[:8], 16) % _LOCK_STRIPES]:
            candidates = self._candidates()
            cached = self._cache.get(identity)
            if cached is not None and cached.asked is candidates:
                return cached
            try:
                grants = self._refreshed(credentials, cached, candidates)
            except TokenRefused as exc:
                self._cache.forget(identity)
                if credentials is not None:
                    raise Unauthenticated("the registry's token service refused these credentials "
                                          "(wrong user name or password)") from exc
                grants = Grants.of(self._cache.clock() + self._cache.ttl, candidates, frozenset())
            self._cache.put(identity, grants)
            return grants

    def _refreshed(self, credentials: Credentials | None, cached: Grants | None,
                   candidates: frozenset[str]) -> Grants:
        if cached is None:
            granted = self._service.pullable(credentials, candidates)
            return Grants.of(self._cache.clock() + self._cache.ttl, candidates, granted)
        new = candidates - cached.asked
        return cached.extended(candidates, self._service.pullable(credentials, new) if new else frozenset())

    def _identity(self, credentials: Credentials | None) -> str:
        """A keyed hash of the credentials: the cache never holds a password, nor a plain hash
        of one that could be tried against guesses."""
        text = "" if credentials is None else f"basic {len(credentials[0])}:{credentials[0]}:{credentials[1]}"
        return hmac.new(self._secret, text.encode(), hashlib.sha256).hexdigest()
