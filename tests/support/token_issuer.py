"""A token issuer for a registry configured with ``auth: token``.

Speaks the distribution token protocol: ``GET <realm>?service=..&scope=..``
with optional Basic credentials, answered by an RS256 JWT whose ``x5c``
header carries a self-signed certificate; the same certificate is the
registry's ``rootcertbundle``. Known users get every action they ask for on
repositories; ``registry:catalog:*`` only goes to admins; anonymous callers
get a token that grants nothing. Requests are counted per scope so tests can
assert that a client caches tokens.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
import uuid
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.certificates import certificate_for
from tests.support.ports import free_port

SERVICE = "regsearch-test-registry"
ISSUER = "regsearch-test-issuer"


@dataclass(frozen=True)
class TokenAuth:
    """The registry's ``auth.token`` section for one issuer."""

    realm: str
    service: str
    issuer: str
    rootcertbundle: Path

    def config(self) -> dict[str, Any]:
        return {
            "token": {
                "realm": self.realm,
                "service": self.service,
                "issuer": self.issuer,
                "rootcertbundle": str(self.rootcertbundle),
            }
        }


@dataclass(frozen=True)
class Access:
    """One entry of a token's ``access`` claim."""

    type: str
    name: str
    actions: tuple[str, ...]


def parse_scope(scope: str) -> Access | None:
    """``type:name:actions`` as an ``Access``; ``None`` when malformed."""
    kind, _, rest = scope.partition(":")
    name, _, actions = rest.rpartition(":")
    if not kind or not name:
        return None
    return Access(kind, name, tuple(a for a in actions.split(",") if a))


class TokenIssuer:
    """A threaded HTTP token endpoint on 127.0.0.1; start with ``start()`` or ``with``."""

    def __init__(
        self,
        directory: Path,
        users: Mapping[str, str],
        *,
        admins: frozenset[str] = frozenset({"admin"}),
        lifetime: int = 300,
    ) -> None:
        self.users = dict(users)
        self.admins = admins
        self.lifetime = lifetime
        self.requests_by_scope: Counter[str] = Counter()
        self.cert_path = directory / "token-issuer.crt"
        self._key, self._cert_der = _write_key_and_cert(self.cert_path)
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token"

    def registry_auth(self) -> TokenAuth:
        """The ``auth`` section a registry needs to trust this issuer."""
        return TokenAuth(self.realm, SERVICE, ISSUER, self.cert_path)

    def start(self) -> None:
        """Serve in a daemon thread until ``stop()``."""
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler_for(self))
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="token-issuer", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> TokenIssuer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def count(self, scopes: list[str]) -> None:
        with self._lock:
            for scope in scopes or [""]:
                self.requests_by_scope[scope] += 1

    def authenticate(self, authorization: str | None) -> tuple[bool, str]:
        """(accepted, subject): no header is anonymous, a wrong one is refused."""
        if not authorization:
            return True, ""
        scheme, _, encoded = authorization.partition(" ")
        try:
            username, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            return False, ""
        ok = scheme.lower() == "basic" and self.users.get(username) == password
        return ok, username

    def grant(self, subject: str, scopes: list[str]) -> list[Access]:
        """What ``subject`` may do of what it asked for."""
        if not subject:
            return []
        wanted = [a for a in map(parse_scope, scopes) if a is not None]
        return [a for a in wanted if a.type != "registry" or subject in self.admins]

    def issue(self, subject: str, service: str, access: list[Access]) -> dict[str, Any]:
        """The JSON answer of the token endpoint."""
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": subject,
            "aud": service,
            "exp": now + self.lifetime,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": [{"type": a.type, "name": a.name, "actions": list(a.actions)} for a in access],
        }
        x5c = [base64.b64encode(self._cert_der).decode()]
        token = jwt.encode(claims, self._key, algorithm="RS256", headers={"x5c": x5c})
        issued = dt.datetime.fromtimestamp(now, dt.timezone.utc).isoformat().replace("+00:00", "Z")
        return {"token": token, "access_token": token, "expires_in": self.lifetime, "issued_at": issued}


def _handler_for(issuer: TokenIssuer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            query = parse_qs(urlsplit(self.path).query)
            scopes = query.get("scope", [])
            issuer.count(scopes)
            accepted, subject = issuer.authenticate(self.headers.get("Authorization"))
            if not accepted:
                self._answer(401, {"errors": [{"code": "UNAUTHORIZED", "message": "bad credentials"}]})
                return
            service = query.get("service", [SERVICE])[0]
            self._answer(200, issuer.issue(subject, service, issuer.grant(subject, scopes)))

        def _answer(self, status: int, body: dict[str, Any]) -> None:
            raw = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(raw)))
            self.end_headers()
            self.wfile.write(raw)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return Handler


def _write_key_and_cert(cert_path: Path) -> tuple[rsa.RSAPrivateKey, bytes]:
    """A fresh RSA key and a self-signed certificate for it, written as PEM."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert = certificate_for(key, "regsearch test token issuer")
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return key, cert.public_bytes(serialization.Encoding.DER)
