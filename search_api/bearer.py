"""Checking a Bearer token that a caller presents, as the registry would check it.

A caller may search with a token it got from the registry's token service
(as docker does before a pull). It is accepted when it is signed by a key
whose certificate is in ``--token-cert`` (the registry's
``rootcertbundle``), names this registry's service as its audience, has
not expired (with the registry's 60 s of leeway for clocks) and, when
``--token-issuer`` is set, comes from that issuer. What its ``access``
claim lets the caller pull is what the caller sees.

The signing key's own certificate must be in the bundle, as it is for the
distribution token-server and docker_auth; an ``x5c`` chain from the
signing key up to a root in the bundle is not followed.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from search_api.token_service import granted_pulls

# What libtrust (the registry's JOSE library) signs and verifies; never a shared-secret HS* one.
ALGORITHMS = ("ES256", "ES384", "ES512", "RS256", "RS384", "RS512")
LEEWAY_S = 60  # as the registry's own check allows (registry/auth/token: Leeway)

PublicKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


class BearerRefused(Exception):
    """The token is not one this registry would accept; the message says why, without the token."""


def load_public_keys(path: Path) -> tuple[PublicKey, ...]:
    """The EC and RSA public keys of the PEM certificates in ``path``; raises ``ValueError``
    naming the file when it cannot be read or holds no such certificate."""
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise ValueError(f"--token-cert: cannot read {path}: {exc.strerror}") from exc
    try:
        certificates = x509.load_pem_x509_certificates(data)
    except ValueError as exc:
        raise ValueError(f"--token-cert: {path} holds no PEM certificate ({exc})") from exc
    keys = tuple(key for key in (c.public_key() for c in certificates) if isinstance(key, PublicKey))
    if not keys:
        raise ValueError(f"--token-cert: no certificate in {path} has an EC or RSA key")
    return keys


@dataclass(frozen=True)
class BearerVerifier:
    """Accepts the tokens of one registry's token service: signed by one of ``keys``, for
    ``service``, from ``issuer`` (any when None)."""

    keys: tuple[PublicKey, ...]
    service: str
    issuer: str | None = None

    def pullable(self, token: str) -> frozenset[str]:
        """The repositories ``token`` grants pull on; raises :class:`BearerRefused`."""
        return granted_pulls(self.claims(token))

    def claims(self, token: str) -> dict[str, Any]:
        """The claims of ``token`` once its signature and claims check out."""
        algorithm = self._algorithm(token)
        for key in self.keys:
            if not isinstance(key, ec.EllipticCurvePublicKey if algorithm.startswith("ES") else rsa.RSAPublicKey):
                continue
            try:
                return self._decode(token, key, algorithm)
            except (jwt.InvalidSignatureError, jwt.InvalidKeyError):
                continue  # another key of the bundle may have signed it
            except jwt.InvalidTokenError as exc:
                raise BearerRefused(_reason(exc)) from exc
        raise BearerRefused("the Bearer token is not signed by the registry's token service")

    def _algorithm(self, token: str) -> str:
        try:
            algorithm = jwt.get_unverified_header(token).get("alg")
        except jwt.InvalidTokenError as exc:
            raise BearerRefused(_reason(exc)) from exc
        if algorithm not in ALGORITHMS:
            raise BearerRefused(f"the Bearer token's algorithm is not one of {', '.join(ALGORITHMS)}")
        return str(algorithm)

    def _decode(self, token: str, key: PublicKey, algorithm: str) -> dict[str, Any]:
        return jwt.decode(token, key, algorithms=[algorithm], audience=self.service, issuer=self.issuer,
                          leeway=LEEWAY_S, options={"require": ["exp", "aud"]})


def _reason(error: jwt.InvalidTokenError) -> str:
    if isinstance(error, jwt.ExpiredSignatureError):
        return "the Bearer token has expired"
    if isinstance(error, jwt.ImmatureSignatureError):
        return "the Bearer token is not valid yet"
    if isinstance(error, jwt.InvalidAudienceError):
        return "the Bearer token is for another service"
    if isinstance(error, jwt.InvalidIssuerError):
        return "the Bearer token comes from another issuer"
    if isinstance(error, jwt.MissingRequiredClaimError):
        return f"the Bearer token has no {error.claim!r} claim"
    return "the Bearer token is not a well-formed JWT"
