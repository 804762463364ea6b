"""The registry client's errors, and how registry answers map onto them.

The tree and what each branch asks of the caller is written out in
``indexer.registry``, which re-exports everything here.
"""

from __future__ import annotations

import hashlib

import requests

_NOT_FOUND_CODES = frozenset({"NAME_UNKNOWN", "MANIFEST_UNKNOWN", "BLOB_UNKNOWN"})


class RegistryError(Exception):
    """The registry call failed; ``status`` and ``code`` say how, when known."""

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class TransientError(RegistryError):
    """The registry is unreachable or overloaded: retry with backoff."""


class NotFound(RegistryError):
    """The repository, manifest or blob does not exist: unindex it."""


class InvalidContent(RegistryError):
    """The answer can never be indexed as it is: dead-letter the event."""


class Unauthorized(RegistryError):
    """The registry refused our credentials: stop and fix the named credential."""


def compute_digest(body: bytes, algorithm: str = "sha256") -> str:
    """The ``<algorithm>:<hex>`` digest of ``body``."""
    return f"{algorithm}:{hashlib.new(algorithm, body).hexdigest()}"


def verify_digest(body: bytes, expected: str) -> None:
    """Raise ``InvalidContent`` unless ``body`` hashes to ``expected``.

    Accepts ``sha256`` and ``sha512`` digests; any other algorithm is
    ``InvalidContent`` too, since the content cannot be verified.
    """
    algorithm, _, hex_part = expected.partition(":")
    if algorithm not in ("sha256", "sha512") or not hex_part:
        raise InvalidContent(f"cannot verify digest {expected!r}: unsupported algorithm")
    actual = compute_digest(body, algorithm)
    if actual != expected:
        raise InvalidContent(f"digest mismatch: expected {expected}, content is {actual}")


def error_code(response: requests.Response) -> str | None:
    """The first ``errors[].code`` of a registry error body, if any."""
    try:
        errors = response.json().get("errors")
        return str(errors[0]["code"])
    except (ValueError, AttributeError, LookupError, TypeError):
        return None


def raise_for_status(response: requests.Response, what: str) -> None:
    """Map a non-2xx answer to the error tree; 401/403 is ``Unauthorized``."""
    status = response.status_code
    if status < 300:
        return
    code = error_code(response)
    message = f"{what}: HTTP {status}" + (f" {code}" if code else "")
    if status == 404 or code in _NOT_FOUND_CODES:
        raise NotFound(message, status=status, code=code)
    if status in (401, 403):
        raise Unauthorized(message, status=status, code=code)
    if status in (408, 429) or status >= 500:
        raise TransientError(message, status=status, code=code)
    raise InvalidContent(message, status=status, code=code)
