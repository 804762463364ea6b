"""Pure checks of the registry client: digests, status mapping, manifest bodies."""

from __future__ import annotations

import hashlib
import json

import pytest
import requests

from indexer.registry import (
    Credentials,
    FetchedManifest,
    InvalidContent,
    NotFound,
    RegistryError,
    TransientError,
    Unauthorized,
    compute_digest,
    raise_for_status,
    verify_digest,
)


def make_response(status: int, body: object = None) -> requests.Response:
    response = requests.Response()
    response.status_code = status
    response._content = json.dumps(body).encode() if body is not None else b""
    return response


class TestDigests:
    def test_matching_sha256_and_sha512(self) -> None:
        body = b'{"schemaVersion":2}'
        verify_digest(body, "sha256:" + hashlib.sha256(body).hexdigest())
        verify_digest(body, "sha512:" + hashlib.sha512(body).hexdigest())
        assert compute_digest(body) == "sha256:" + hashlib.sha256(body).hexdigest()

    def test_one_changed_byte_is_rejected(self) -> None:
        digest = compute_digest(b"original")
        with pytest.raises(InvalidContent, match="digest mismatch") as caught:
            verify_digest(b"originaL", digest)
        assert digest in str(caught.value)

    @pytest.mark.parametrize("digest", ["md5:abc", "sha256:", "nocolon", ""])
    def test_unverifiable_digest_is_invalid(self, digest: str) -> None:
        with pytest.raises(InvalidContent, match="cannot verify"):
            verify_digest(b"x", digest)


class TestStatusMapping:
    @pytest.mark.parametrize(
        ("status", "body", "error", "code"),
        [
            (404, {"errors": [{"code": "MANIFEST_UNKNOWN", "message": "m"}]}, NotFound, "MANIFEST_UNKNOWN"),
            (404, None, NotFound, None),
            (400, {"errors": [{"code": "NAME_UNKNOWN"}]}, NotFound, "NAME_UNKNOWN"),
            (401, None, Unauthorized, None),
            (403, {"errors": [{"code": "DENIED"}]}, Unauthorized, "DENIED"),
            (429, {"errors": [{"code": "TOOMANYREQUESTS"}]}, TransientError, "TOOMANYREQUESTS"),
            (500, None, TransientError, None),
            (503, None, TransientError, None),
            (400, {"errors": [{"code": "PAGINATION_NUMBER_INVALID"}]}, InvalidContent, "PAGINATION_NUMBER_INVALID"),
            (406, None, InvalidContent, None),
        ],
    )
    def test_status_to_error(self, status: int, body: object, error: type[RegistryError], code: str | None) -> None:
        with pytest.raises(error) as caught:
            raise_for_status(make_response(status, body), "tags of x")
        assert type(caught.value) is error
        assert caught.value.status == status
        assert caught.value.code == code
        assert str(caught.value).startswith(f"tags of x: HTTP {status}")

    @pytest.mark.parametrize("status", [200, 202, 204])
    def test_success_passes(self, status: int) -> None:
        raise_for_status(make_response(status), "ping")

    def test_every_error_is_a_registry_error(self) -> None:
        for error in (TransientError, NotFound, InvalidContent, Unauthorized):
            assert issubclass(error, RegistryError)


class TestFetchedManifest:
    def test_json_object(self) -> None:
        manifest = FetchedManifest("sha256:x", "application/vnd.oci.image.manifest.v1+json", b'{"a": 1}')
        assert manifest.json() == {"a": 1}

    @pytest.mark.parametrize("body", [b"not json", b"[1, 2]", b"\xff"])
    def test_not_an_object_is_invalid(self, body: bytes) -> None:
        with pytest.raises(InvalidContent):
            FetchedManifest("sha256:x", "m", body).json()


def test_credentials_repr_hides_the_password() -> None:
    text = repr(Credentials("alice", "s3cret-value"))
    assert "alice" in text
    assert "s3cret-value" not in text
