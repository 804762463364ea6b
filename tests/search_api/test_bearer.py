"""A caller's Bearer token is accepted as the registry would accept it, and refused with a reason."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from search_api.bearer import BearerRefused, BearerVerifier, load_public_keys
from tests.search_api.fake_token_service import ISSUER, SERVICE, FakeTokenService, certificate_pem


@pytest.fixture
def fake() -> FakeTokenService:
    return FakeTokenService({}, {})


@pytest.fixture
def verifier(fake: FakeTokenService, tmp_path: Path) -> BearerVerifier:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "bundle.pem").write_bytes(certificate_pem(other) + certificate_pem(fake.key))
    return BearerVerifier(load_public_keys(tmp_path / "bundle.pem"), SERVICE, ISSUER)


def test_a_token_of_the_token_service_grants_what_it_says(fake: FakeTokenService, verifier: BearerVerifier) -> None:
    assert verifier.pullable(fake.token("alice", ["alice/app", "shared/base"])) == {"alice/app", "shared/base"}
    assert verifier.pullable(fake.token("alice", [])) == frozenset()


def test_any_key_of_the_bundle_may_have_signed_it(fake: FakeTokenService, tmp_path: Path) -> None:
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    (tmp_path / "both.pem").write_bytes(certificate_pem(fake.key) + certificate_pem(rsa_key))
    verifier = BearerVerifier(load_public_keys(tmp_path / "both.pem"), SERVICE)
    assert verifier.pullable(fake.token("bob", ["bob/db"], key=rsa_key, algorithm="RS256")) == {"bob/db"}
    assert verifier.pullable(fake.token("bob", ["bob/db"], issuer="anyone")) == {"bob/db"}, "no --token-issuer: any"


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"lifetime": -120}, "has expired"),
        ({"audience": "another-registry"}, "is for another service"),
        ({"issuer": "someone-else"}, "comes from another issuer"),
        ({"key": ec.generate_private_key(ec.SECP256R1())}, "is not signed by the registry's token service"),
        ({"key": "a shared secret of 32 bytes or so", "algorithm": "HS256"}, "algorithm is not one of"),
    ],
)
def test_a_token_the_registry_would_refuse_is_refused(
    fake: FakeTokenService, verifier: BearerVerifier, change: dict[str, object], reason: str
) -> None:
    with pytest.raises(BearerRefused, match=reason):
        verifier.pullable(fake.token("alice", ["alice/app"], **change))  # type: ignore[arg-type]


def test_unsigned_and_malformed_tokens_are_refused(verifier: BearerVerifier) -> None:
    unsigned = jwt.encode({"aud": SERVICE, "exp": 2**40, "access": []}, "", algorithm="none")
    for token in (unsigned, "abc", ""):
        with pytest.raises(BearerRefused):
            verifier.pullable(token)


def test_expiry_and_audience_are_required(fake: FakeTokenService, verifier: BearerVerifier) -> None:
    token = jwt.encode({"iss": ISSUER, "aud": SERVICE, "access": []}, fake.key, algorithm="ES256")
    with pytest.raises(BearerRefused, match="no 'exp' claim"):
        verifier.pullable(token)


def test_a_certificate_file_that_cannot_serve_is_named(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="--token-cert: cannot read"):
        load_public_keys(tmp_path / "missing.pem")
    (tmp_path / "junk.pem").write_text("not a certificate\n")
    with pytest.raises(ValueError, match="holds no PEM certificate"):
        load_public_keys(tmp_path / "junk.pem")
