"""Client for the registry HTTP API (distribution v2 / OCI distribution).

Read-only: ping, catalog, tags, manifests and blobs. Every manifest and blob
is checked against the digest it was fetched by (content addressability is
verified). The client makes one attempt per call, plus the authentication
round trip; retrying with backoff is the caller's policy.

Errors say what the caller should do:

RegistryError          -- base class; anything else the registry answered that fits no branch
 ├── TransientError     -- 5xx, 429, timeout, connection refused or reset: retry with backoff
 ├── NotFound           -- 404 / NAME_UNKNOWN / MANIFEST_UNKNOWN / BLOB_UNKNOWN: unindex
 ├── InvalidContent     -- digest mismatch, unparseable body, unsupported media type,
 │                         a request the registry will never accept (other 4xx): dead-letter
 └── Unauthorized       -- 401/403 after authenticating: stop and say which credential

Authentication: a call goes out anonymously until a ``401`` names the scheme
in ``WWW-Authenticate``. ``Basic`` is answered with the configured
credentials; ``Bearer`` with a token from the challenge's realm for the
call's scope (``repository:<name>:pull``, ``registry:catalog:*``), cached
per scope until it expires. The scheme is remembered, so later calls send
authentication up front.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from requests.adapters import HTTPAdapter

from indexer.registry_auth import Challenge, Token, TokenCache, parse_next_link, parse_token_answer, pick_challenge
from indexer.registry_errors import (
    InvalidContent,
    NotFound,
    RegistryError,
    TransientError,
    Unauthorized,
    compute_digest,
    error_code,
    raise_for_status,
    verify_digest,
)
from regsearch import USER_AGENT

__all__ = [
    "DOCKER_MANIFEST",
    "DOCKER_MANIFEST_LIST",
    "MANIFEST_MEDIA_TYPES",
    "OCI_INDEX",
    "OCI_MANIFEST",
    "Credentials",
    "FetchedManifest",
    "InvalidContent",
    "NotFound",
    "RegistryClient",
    "RegistryError",
    "TransientError",
    "USER_AGENT",
    "Unauthorized",
    "compute_digest",
    "raise_for_status",
    "verify_digest",
]

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"

MANIFEST_MEDIA_TYPES: tuple[str, ...] = (OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST)
"""The manifest media types the indexer understands, in ``Accept`` order."""

_ACCEPT_MANIFESTS = ", ".join(MANIFEST_MEDIA_TYPES)
_DIGEST_HEADER = "Docker-Content-Digest"
_CATALOG_SCOPE = "registry:catalog:*"


@dataclass(frozen=True)
class FetchedManifest:
    """A manifest as fetched: its verified digest, media type and exact bytes."""

    digest: str
    media_type: str
    body: bytes

    def json(self) -> dict[str, Any]:
        """The body parsed; ``InvalidContent`` when it is not a JSON object."""
        try:
            data = json.loads(self.body)
        except ValueError as exc:
            raise InvalidContent(f"manifest {self.digest} is not JSON: {exc}") from exc
        if not isinstance(data, dict):
            raise InvalidContent(f"manifest {self.digest} is not a JSON object")
        return data


@dataclass(frozen=True)
class Credentials:
    """A registry user; the password never appears in reprs or messages."""

    username: str
    password: str = field(repr=False)


def registry_address(url: str) -> str:
    """``host:port`` of a registry URL in lower case, without credentials: how documents and
    events name that registry."""
    return urlsplit(url).netloc.rpartition("@")[2].lower()


class RegistryClient:
    """One registry, shared by the indexer's worker threads.

    Thread-safe: one pooled ``requests.Session`` and a locked token cache.
    ``name`` is the ``host:port`` the documents use as the registry name.
    """

    def __init__(
        self,
        url: str,
        *,
        credentials: Credentials | None = None,
        timeout: float = 10.0,
        pool_size: int = 16,
    ) -> None:
        self.url = url.rstrip("/")
        self.name = registry_address(self.url)
        self._credentials = credentials
        self._timeout = timeout
        self._session = environment_session(self.url)
        self._session.headers["User-Agent"] = USER_AGENT
        adapter = HTTPAdapter(pool_connections=pool_size, pool_maxsize=pool_size)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._tokens = TokenCache()
        self._challenge: Challenge | None = None

    def __repr__(self) -> str:
        user = self._credentials.username if self._credentials else None
        return f"RegistryClient({self.url!r}, user={user!r})"

    def __enter__(self) -> RegistryClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Release pooled connections."""
        self._session.close()

    # -- the API -----------------------------------------------------------

    def ping(self) -> None:
        """Check that the registry speaks v2 and accepts our credentials."""
        self._get("/v2/", scope=None, what="ping")

    def catalog(self, page_size: int = 100) -> Iterator[str]:
        """Every repository name, page by page, following ``Link: rel="next"``."""
        url: str | None = f"{self.url}/v2/_catalog?n={page_size}"
        while url is not None:
            response = self._get(url, scope=_CATALOG_SCOPE, what="catalog")
            yield from _string_list(_json_object(response, "catalog"), "repositories", "catalog")
            url = self._next_url(response)

    def tags(self, repository: str) -> list[str]:
        """Every tag of ``repository``; ``NotFound`` when the repository is unknown."""
        what = f"tags of {repository}"
        url: str | None = f"{self.url}/v2/{repository}/tags/list"
        tags: list[str] = []
        while url is not None:
            response = self._get(url, scope=_pull_scope(repository), what=what)
            tags.extend(_string_list(_json_object(response, what), "tags", what))
            url = self._next_url(response)
        return tags

    def head_manifest(self, repository: str, reference: str) -> str:
        """The digest ``repository:reference`` points at, without its body."""
        response = self._request(
            "HEAD",
            f"/v2/{repository}/manifests/{reference}",
            scope=_pull_scope(repository),
            what=f"manifest {repository}:{reference}",
            headers={"Accept": _ACCEPT_MANIFESTS},
        )
        digest = response.headers.get(_DIGEST_HEADER)
        if digest:
            return digest
        return self.get_manifest(repository, reference).digest

    def get_manifest(self, repository: str, reference: str) -> FetchedManifest:
        """The manifest, verified against the digest it was fetched by.

        That digest is ``reference`` itself when it is a digest, otherwise
        the ``Docker-Content-Digest`` the registry answered with.
        """
        what = f"manifest {repository}:{reference}"
        response = self._get(
            f"/v2/{repository}/manifests/{reference}",
            scope=_pull_scope(repository),
            what=what,
            headers={"Accept": _ACCEPT_MANIFESTS},
        )
        media_type = _manifest_media_type(response, what)
        digest = _expected_manifest_digest(response, reference, what)
        verify_digest(response.content, digest)
        return FetchedManifest(digest=digest, media_type=media_type, body=response.content)

    def get_blob(self, repository: str, digest: str, max_bytes: int = 8 * 1024 * 1024) -> bytes:
        """The blob's bytes, verified; ``InvalidContent`` when larger than ``max_bytes``.

        Redirects (to object storage) are followed; credentials are not sent
        to another host.
        """
        what = f"blob {repository}@{digest}"
        response = self._request(
            "GET", f"/v2/{repository}/blobs/{digest}", scope=_pull_scope(repository), what=what, stream=True
        )
        with response:
            body = _read_limited(response, max_bytes, what)
        verify_digest(body, digest)
        return body

    # -- requests and authentication ---------------------------------------

    def _get(self, path: str, *, scope: str | None, what: str, headers: Mapping[str, str] | None = None) -> requests.Response:
        return self._request("GET", path, scope=scope, what=what, headers=headers)

    def _request(
        self,
        method: str,
        path: str,
        *,
        scope: str | None,
        what: str,
        headers: Mapping[str, str] | None = None,
        stream: bool = False,
    ) -> requests.Response:
        """One call, authenticated as the registry demands, status checked."""
        url = path if path.startswith(("http://", "https://")) else self.url + path
        challenge = self._challenge
        auth = self._authorization(challenge, scope) if challenge else None
        response = self._send(method, url, headers, auth, stream, what)
        if response.status_code == 401:
            _finish(response)
            if challenge is not None and auth is not None:
                self._forget(challenge, scope, response, what)
            response = self._answer_challenge(method, url, headers, stream, scope, response, what)
        raise_for_status(response, what)
        return response

    def _forget(self, challenge: Challenge, scope: str | None, refused: requests.Response, what: str) -> None:
        """After up-front auth was refused: a token may have expired, so drop it; a password won't, so raise."""
        if challenge.scheme == "basic":
            raise self._refused(challenge, refused, what)
        self._tokens.drop(_token_key(challenge, scope))

    def _answer_challenge(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        stream: bool,
        scope: str | None,
        refused: requests.Response,
        what: str,
    ) -> requests.Response:
        challenge = pick_challenge(refused.headers.get("WWW-Authenticate"))
        if challenge is None:
            raise Unauthorized(f"{what}: HTTP 401 without a Basic or Bearer challenge", status=401)
        self._challenge = challenge
        if challenge.scheme == "basic" and self._credentials is None:
            raise self._refused(challenge, refused, what)
        auth = self._authorization(challenge, challenge.scope or scope)
        response = self._send(method, url, headers, auth, stream, what)
        if response.status_code in (401, 403):
            _finish(response)
            raise self._refused(challenge, response, what)
        return response

    def _authorization(self, challenge: Challenge, scope: str | None) -> str | None:
        if challenge.scheme == "basic":
            return self._basic() if self._credentials else None
        key = _token_key(challenge, scope)
        return "Bearer " + self._tokens.get_or_fetch(key, lambda now: self._fetch_token(challenge, scope, now))

    def _basic(self) -> str:
        assert self._credentials is not None
        pair = f"{self._credentials.username}:{self._credentials.password}".encode()
        return "Basic " + base64.b64encode(pair).decode("ascii")

    def _fetch_token(self, challenge: Challenge, scope: str | None, now: float) -> Token:
        """A token from the challenge's realm for ``scope``."""
        account = self._credentials.username if self._credentials else None
        params = {k: v for k, v in (("service", challenge.service), ("scope", scope), ("account", account)) if v}
        what = f"token from {challenge.realm}"
        headers = {"Authorization": self._basic()} if self._credentials else None
        response = self._send("GET", challenge.realm, headers, None, False, what, params=params)
        if response.status_code in (401, 403):
            raise self._refused(challenge, response, what)
        raise_for_status(response, what)
        try:
            return parse_token_answer(response.json(), now)
        except ValueError as exc:
            raise Unauthorized(f"{what}: {exc}", status=response.status_code) from exc

    def _refused(self, challenge: Challenge, response: requests.Response, what: str) -> Unauthorized:
        who = f"user {self._credentials.username!r}" if self._credentials else "anonymous access"
        realm = challenge.realm or "(no realm)"
        return Unauthorized(
            f"{what}: registry {self.name} refused {who} (HTTP {response.status_code}, "
            f"{challenge.scheme} realm {realm})",
            status=response.status_code,
            code=error_code(response),
        )

    def _send(
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        auth: str | None,
        stream: bool,
        what: str,
        params: Mapping[str, str] | None = None,
    ) -> requests.Response:
        """Exactly one HTTP exchange; transport failures become ``TransientError``."""
        all_headers = dict(headers or {})
        if auth:
            all_headers["Authorization"] = auth
        try:
            return self._session.request(
                method, url, headers=all_headers, params=params, timeout=self._timeout, stream=stream
            )
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(f"{what}: {type(exc).__name__}: {exc}") from exc
        except requests.RequestException as exc:
            raise RegistryError(f"{what}: {type(exc).__name__}: {exc}") from exc

    def _next_url(self, response: requests.Response) -> str | None:
        link = parse_next_link(response.headers.get("Link"))
        if link is None:
            return None
        url = urljoin(response.url, link)
        return None if url == response.url else url


def environment_session(url: str) -> requests.Session:
    """A session for ``url`` that takes its proxy and CA bundle from the environment once, now.

    requests otherwise reads the proxy variables, looks for ``~/.netrc`` and
    stats the CA bundle on every request: about a tenth of the indexer's CPU
    during a backfill (py-spy). ``~/.netrc`` is not used: the client sends
    its own Authorization header, which a netrc entry would have replaced.
    """
    session = requests.Session()
    settings = session.merge_environment_settings(url, {}, None, None, None)
    session.trust_env = False
    session.proxies = settings["proxies"]
    if url.startswith("https:"):
        session.verify = settings["verify"]
    return session


def _finish(response: requests.Response) -> None:
    """Read a (small) refusal body so it can be quoted, and free the connection."""
    try:
        response.content
    except requests.RequestException:
        pass
    response.close()


def _pull_scope(repository: str) -> str:
    return f"repository:{repository}:pull"


def _token_key(challenge: Challenge, scope: str | None) -> str:
    return f"{challenge.realm} {challenge.service or ''} {scope or ''}"


def _json_object(response: requests.Response, what: str) -> dict[str, Any]:
    try:
        data = response.json()
    except ValueError as exc:
        raise InvalidContent(f"{what}: answer is not JSON: {exc}") from exc
    if not isinstance(data, dict):
        raise InvalidContent(f"{what}: answer is not a JSON object")
    return data


def _string_list(data: Mapping[str, Any], key: str, what: str) -> list[str]:
    """``data[key]`` as a list of strings; a missing or null list is empty."""
    values = data.get(key) or []
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise InvalidContent(f"{what}: {key!r} is not a list of strings")
    return values


def _manifest_media_type(response: requests.Response, what: str) -> str:
    media_type = response.headers.get("Content-Type", "").split(";")[0].strip()
    if media_type not in MANIFEST_MEDIA_TYPES:
        raise InvalidContent(f"{what}: unsupported media type {media_type or '(none)'}")
    return media_type


def _expected_manifest_digest(response: requests.Response, reference: str, what: str) -> str:
    header = response.headers.get(_DIGEST_HEADER)
    if ":" in reference:
        if header and header != reference:
            raise InvalidContent(f"{what}: registry answered with digest {header}")
        return reference
    return header or compute_digest(response.content)


def _read_limited(response: requests.Response, max_bytes: int, what: str) -> bytes:
    declared = response.headers.get("Content-Length")
    if declared and declared.isdigit() and int(declared) > max_bytes:
        raise InvalidContent(f"{what}: {declared} bytes is more than the limit of {max_bytes}")
    chunks: list[bytes] = []
    size = 0
    try:
        for chunk in response.iter_content(chunk_size=64 * 1024):
            size += len(chunk)
            if size > max_bytes:
                raise InvalidContent(f"{what}: more than the limit of {max_bytes} bytes")
            chunks.append(chunk)
    except (requests.ConnectionError, requests.Timeout) as exc:
        raise TransientError(f"{what}: {type(exc).__name__}: {exc}") from exc
    except requests.RequestException as exc:
        raise TransientError(f"{what}: body cut short: {exc}") from exc
    return b"".join(chunks)
