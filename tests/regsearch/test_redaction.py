"""No secret reaches a log line: configured ones, and anything shaped like a credential."""

from __future__ import annotations

import io
import logging

import pytest

from regsearch.redaction import REDACTED, RedactingFormatter, redact

JWT = "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJlLWJ5dGVz"


@pytest.mark.parametrize(
    "line, secret",
    [
        ("GET /v2/ with Authorization: Basic YWxpY2U6YWxpY2Utc2VjcmV0", "YWxpY2U6YWxpY2Utc2VjcmV0"),
        ("header Authorization=Bearer s3cr3t-t0ken-value", "s3cr3t-t0ken-value"),
        ("cannot reach https://alice:hunter22@registry.example/v2/", "hunter22"),
        ("token endpoint answered {\"token\": \"abcdef123456\"}", "abcdef123456"),
        ("GET /token?account=bob&password=pa55word&scope=x", "pa55word"),
        (f"got access token {JWT}", JWT),
        ("kafka sasl_password='kafka-pass'", "kafka-pass"),
    ],
)
def test_credential_shapes_are_redacted(line: str, secret: str) -> None:
    cleaned = redact(line)
    assert secret not in cleaned
    assert REDACTED in cleaned


def test_configured_secrets_are_redacted_wherever_they_appear() -> None:
    assert redact("webhook from 10.0.0.1 sent qwerty-long-token in a body", ["qwerty-long-token"]) == (
        f"webhook from 10.0.0.1 sent {REDACTED} in a body"
    )
    assert redact("nothing secret here: pulls=3 tags=latest") == "nothing secret here: pulls=3 tags=latest"


def test_the_formatter_redacts_messages_arguments_and_tracebacks() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(RedactingFormatter("%(levelname)s %(message)s", ["the-webhook-token"]))
    logger = logging.getLogger("tests.redaction")
    logger.addHandler(handler)
    logger.propagate = False
    try:
        logger.warning("rejected %s", "Bearer the-webhook-token")
        try:
            raise RuntimeError("connect to http://admin:admin-secret@127.0.0.1:5000 failed")
        except RuntimeError:
            logger.exception("walk failed")
    finally:
        logger.removeHandler(handler)
    written = stream.getvalue()
    assert "the-webhook-token" not in written and "admin-secret" not in written
    assert "Traceback" in written and "RuntimeError" in written
