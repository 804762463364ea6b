"""Asking a registry's token service which repositories an identity may pull.

This speaks the distribution token protocol, nothing specific to one token
service: ``GET <realm>?service=<service>&scope=repository:<name>:pull&...``
with the caller's Basic credentials (none for anonymous), answered by
``{"token": <JWT>}`` (or ``access_token``) whose ``access`` claim lists
what was granted of what was asked. A token service grants a subset of the
scopes asked for, so one request settles a whole batch of repositories.

Errors, and what each asks of the caller::

    TokenServiceError
     ├── TokenRefused             401/403: these credentials (or anonymity) get nothing;
     │                            a caller who sent credentials is told so (401)
     └── TokenServiceUnavailable  unreachable, any other non-2xx, or an answer that is no
                                  token: nothing can be decided, answer 503, never "everything"
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice
from pathlib import Path
from typing import Any

import jwt
import requests
from requests.adapters import HTTPAdapter

from indexer.registry_auth import parse_token_answer

CONNECT_TIMEOUT_S = 3.05
READ_TIMEOUT_S = 10.0
DEFAULT_THREADS = 4

Credentials = tuple[str, str]
"""A user name and password, sent to the token service as HTTP Basic."""


class TokenServiceError(Exception):
    """Asking the token service failed; see the module docstring for the branches."""


class TokenRefused(TokenServiceError):
    """The token service answered 401 or 403: it issues no token to these credentials."""


class TokenServiceUnavailable(TokenServiceError):
    """The token service could not be asked, or answered something that is not a token."""


DEFAULT_CACHE_SECONDS = 60.0
DEFAULT_SCOPES_PER_REQUEST = 50
MAX_SCOPES_PER_REQUEST = 1000  # ~40 KiB of query string at typical name lengths
MAX_CACHE_SECONDS = 3600.0  # a revoked grant stays visible in search this long


@dataclass(frozen=True)
class TokenPolicy:
    """The settings of ``--auth token``, validated (``ValueError`` names the flag at fault).

    ``realm`` and ``service`` are the registry's ``auth.token`` ones; ``cert``
    holds the certificates of the token service's signing keys (Bearer
    callers are accepted only with it); ``issuer`` is the ``iss`` a Bearer
    token must have (any when None). At most ``threads`` token requests of
    this process are under way at once.
    """

    realm: str
    service: str
    cache_seconds: float = DEFAULT_CACHE_SECONDS
    scopes_per_request: int = DEFAULT_SCOPES_PER_REQUEST
    cert: Path | None = None
    issuer: str | None = None
    threads: int = DEFAULT_THREADS

    def __post_init__(self) -> None:
        if not self.service:
            raise ValueError("--auth token needs --token-service: the registry's auth.token.service")
        if not 0 <= self.cache_seconds <= MAX_CACHE_SECONDS:
            raise ValueError(f"--token-cache-seconds must be between 0 and {MAX_CACHE_SECONDS:.0f} "
                             f"(a revoked grant stays visible that long), got {self.cache_seconds:g}")
        if not 1 <= self.scopes_per_request <= MAX_SCOPES_PER_REQUEST:
            raise ValueError(f"--token-scopes-per-request must be between 1 and {MAX_SCOPES_PER_REQUEST}, "
                             f"got {self.scopes_per_request}")


class TokenService:
    """The token service of one registry, asked by a few threads at once; thread-safe."""

    def __init__(self, policy: TokenPolicy, session: requests.Session | None = None) -> None:
        self.policy = policy
        self._session = session or _session(policy.threads)
        self._pool = ThreadPoolExecutor(policy.threads, thread_name_prefix="token-service")

    def pullable(self, credentials: Credentials | None, names: Iterable[str]) -> frozenset[str]:
        """Which of ``names`` the holder of ``credentials`` (None: anonymous) may pull.

        One request per ``scopes_per_request`` names, up to ``threads`` at a
        time. Raises :class:`TokenRefused` or :class:`TokenServiceUnavailable`
        (the first failure of any batch; nothing is granted then).
        """
        batches = list(scope_batches(names, self.policy.scopes_per_request))
        if len(batches) == 1:
            return self._pullable(credentials, batches[0])
        asked = [self._pool.submit(self._pullable, credentials, batch) for batch in batches]
        granted: set[str] = set()
        try:
            for answer in asked:
                granted |= answer.result()
        except TokenServiceError:
            for answer in asked:  # the answer is decided: ask no more
                answer.cancel()
            raise
        return frozenset(granted)

    def close(self) -> None:
        """Stop the threads and close the connections."""
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._session.close()

    def _pullable(self, credentials: Credentials | None, batch: Sequence[str]) -> frozenset[str]:
        token = self._token(credentials, batch)
        return granted_pulls(token_claims(token), batch)

    def _token(self, credentials: Credentials | None, batch: Sequence[str]) -> str:
        params = [("service", self.policy.service)]
        headers = {}
        if credentials is not None:
            params.append(("account", credentials[0]))
            headers["Authorization"] = basic_authorization(credentials)
        params += [("scope", pull_scope(name)) for name in batch]
        try:
            response = self._session.get(self.policy.realm, params=params, headers=headers,
                                         timeout=(CONNECT_TIMEOUT_S, READ_TIMEOUT_S))
        except requests.RequestException as exc:
            raise self._unavailable(f"cannot be reached ({type(exc).__name__})") from exc
        with response:
            return self._read(response)

    def _read(self, response: requests.Response) -> str:
        if response.status_code in (401, 403):
            raise TokenRefused(f"the token service answered {response.status_code}")
        if response.status_code != 200:
            raise self._unavailable(f"answered {response.status_code}")
        try:
            return parse_token_answer(response.json(), 0.0).value
        except ValueError as exc:  # requests' JSONDecodeError is one too
            raise self._unavailable(f"answered no token: {exc}") from exc

    def _unavailable(self, why: str) -> TokenServiceUnavailable:
        return TokenServiceUnavailable(f"the token service at {self.policy.realm} {why}")


def basic_authorization(credentials: Credentials) -> str:
    """The ``Authorization: Basic`` value of ``credentials``, in UTF-8 as docker sends it
    (requests' own Basic auth would encode them in Latin-1)."""
    user, password = credentials
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


def pull_scope(name: str) -> str:
    """The scope asking to pull repository ``name``."""
    return f"repository:{name}:pull"


def scope_batches(names: Iterable[str], size: int) -> Iterator[list[str]]:
    """``names`` in sorted order, ``size`` at a time (the last batch may be smaller)."""
    ordered = iter(sorted(set(names)))
    while batch := list(islice(ordered, size)):
        yield batch


def token_claims(token: str) -> Mapping[str, Any]:
    """The claims of a JWT, read without checking its signature.

    Only for tokens this service fetched itself, over its own connection to
    the configured realm: their origin is that connection, and the registry
    checks the signature of any token used against it. A token a caller
    presents is another matter (see :mod:`search_api.bearer`). Raises
    :class:`TokenServiceUnavailable` when ``token`` is no JWT.
    """
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError as exc:
        raise TokenServiceUnavailable(f"the token service answered a token that is not a JWT ({exc})") from exc
    return claims


def granted_pulls(claims: Mapping[str, Any], asked: Iterable[str] | None = None) -> frozenset[str]:
    """The repository names whose entry in the ``access`` claim includes ``pull``, of those
    ``asked`` when given.

    The action must be ``pull`` itself, as the registry checks it; entries
    of other types, for names not asked, or malformed are ignored.
    """
    access = claims.get("access")
    if not isinstance(access, list):
        return frozenset()
    wanted = None if asked is None else set(asked)
    granted = set()
    for entry in access:
        if not isinstance(entry, dict) or entry.get("type") != "repository":
            continue
        name, actions = entry.get("name"), entry.get("actions")
        if isinstance(name, str) and isinstance(actions, list) and "pull" in actions \
                and (wanted is None or name in wanted):
            granted.add(name)
    return frozenset(granted)


def _session(threads: int) -> requests.Session:
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=1, pool_maxsize=threads * 2)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session
