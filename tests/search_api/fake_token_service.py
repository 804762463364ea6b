"""A token service as a requests transport: the distribution token protocol, no sockets.

``FakeTokenService`` answers ``GET <realm>?service=..&scope=..`` as the
distribution token-server does: Basic credentials of ``users`` required
(anonymous too only with ``anonymous`` grants), and of the scopes asked,
those ``grants`` allow, in an ES256 JWT. ``failure`` makes it answer that
status, or raise that exception, instead; ``delay_s`` slows every answer.
Every request is recorded.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
import requests
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID
from requests.adapters import BaseAdapter

REALM = "http://tokens.test/token/"
SERVICE = "registry.test"
ISSUER = "tokens.test"


@dataclass(frozen=True)
class Asked:
    """One request the fake answered: who asked (None: anonymous) for which repository names."""

    user: str | None
    names: tuple[str, ...]
    params: Mapping[str, list[str]]


class FakeTokenService(BaseAdapter):
    """Grants pull on the names of ``grants[user]`` (``grants[None]``: anonymous, who is
    refused with 401 when absent) to the ``users`` with their passwords."""

    def __init__(self, users: Mapping[str, str], grants: Mapping[str | None, set[str]]) -> None:
        super().__init__()
        self.users = dict(users)
        self.grants = {user: set(names) for user, names in grants.items()}
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.failure: int | Exception | None = None
        self.delay_s = 0.0
        self.asked: list[Asked] = []
        self._lock = threading.Lock()

    def session(self) -> requests.Session:
        """A session whose requests to ``REALM`` reach this fake."""
        session = requests.Session()
        session.mount(REALM, self)
        return session

    def send(self, request: requests.PreparedRequest, stream: bool = False, timeout: Any = None,
             verify: bool | str = True, cert: Any = None, proxies: Mapping[str, str] | None = None) -> requests.Response:
        time.sleep(self.delay_s)
        if isinstance(self.failure, Exception):
            raise self.failure
        params = parse_qs(urlsplit(request.url or "").query)
        user, known = self._user(request.headers.get("Authorization"))
        names = tuple(s.split(":")[1] for s in params.get("scope", []))
        with self._lock:
            self.asked.append(Asked(user, names, params))
        if self.failure is not None:
            return _response(request, self.failure, {"errors": [{"code": "UNAVAILABLE"}]})
        if not known or (user is None and None not in self.grants):
            return _response(request, 401, {"errors": [{"code": "UNAUTHORIZED"}]})
        granted = [n for n in names if n in self.grants.get(user, set())]
        return _response(request, 200, {"access_token": self.token(user or "", granted), "expires_in": 900})

    def close(self) -> None:
        pass

    def token(self, subject: str, pullable: list[str], *, audience: str = SERVICE, issuer: str = ISSUER,
              lifetime: int = 900, key: Any = None, algorithm: str = "ES256") -> str:
        """A token as the service issues it (``key`` and ``algorithm`` to sign otherwise)."""
        now = int(time.time())
        claims = {"iss": issuer, "sub": subject, "aud": audience, "exp": now + lifetime, "nbf": now, "iat": now,
                  "jti": str(now), "access": [{"type": "repository", "name": n, "actions": ["pull"]} for n in pullable]}
        return jwt.encode(claims, key if key is not None else self.key, algorithm=algorithm)

    def _user(self, authorization: str | None) -> tuple[str | None, bool]:
        """The user named (None: anonymous), and whether the password is theirs."""
        if not authorization:
            return None, True
        user, _, password = base64.b64decode(authorization.partition(" ")[2]).decode().partition(":")
        return user, self.users.get(user) == password


def certificate_pem(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    """A self-signed certificate of ``key``, as a registry's ``rootcertbundle`` holds it."""
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "fake token service")])
    now = dt.datetime.now(dt.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - dt.timedelta(hours=1))
            .not_valid_after(now + dt.timedelta(days=1)).sign(key, hashes.SHA256()))
    return cert.public_bytes(serialization.Encoding.PEM)


def _response(request: requests.PreparedRequest, status: int, body: dict[str, Any]) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode()
    response.headers["Content-Type"] = "application/json"
    response.request = request
    response.url = request.url or ""
    return response
