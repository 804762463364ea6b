"""``POST /notifications`` through Flask's test client."""

from __future__ import annotations

import io
import logging
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import REGISTRY as METRICS
from werkzeug.test import TestResponse

from regsearch.logs.abstract import LogUnavailable
from webhooks.receiver import ReceiverPolicy, notifications_blueprint

from tests.webhooks.conftest import OLD_TOKEN, TOKEN
from tests.webhooks.fakes import MemoryDeadLetters, MemoryLog
from tests.webhooks.samples import (
    LAYER_PUSH,
    MANIFEST_PULL,
    MANIFEST_PUSH,
    REGISTRY,
    V1_MEDIA_TYPE,
    V2_INDEX_PUSH_BODY,
    V2_MEDIA_TYPE,
    edited,
    envelope,
)

AUTH = {"Authorization": f"Bearer {TOKEN}"}


def post(client: FlaskClient, body: bytes, content_type: str | None = V1_MEDIA_TYPE,
         headers: dict[str, str] | None = None) -> TestResponse:
    sent = dict(AUTH if headers is None else headers)
    if content_type is not None:
        sent["Content-Type"] = content_type
    return client.post("/notifications", data=body, headers=sent)


class EndlessStream(io.RawIOBase):
    """A request body that never ends, counting what the server reads."""

    def __init__(self) -> None:
        self.bytes_read = 0

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        buffer[:] = b"x" * len(buffer)
        self.bytes_read += len(buffer)
        return len(buffer)


def post_stream(client: FlaskClient, stream: io.RawIOBase | io.BytesIO,
                **environ: object) -> TestResponse:
    """POST a body read from ``stream``, with no Content-Length unless given."""
    return client.post(
        "/notifications",
        headers=AUTH | {"Content-Type": V1_MEDIA_TYPE},
        environ_overrides={"wsgi.input": stream} | environ,
    )


def counter(name: str, **labels: str) -> float:
    return METRICS.get_sample_value(name, labels) or 0.0


def test_v1_envelope_is_accepted_after_append(client: FlaskClient, event_log: MemoryLog) -> None:
    response = post(client, envelope(LAYER_PUSH, MANIFEST_PUSH, MANIFEST_PULL))

    assert response.status_code == 202
    assert response.get_json() == {"accepted": 2, "duplicates": 0, "dropped": 1,
                                   "dead_lettered": 0, "errors": []}
    assert [r.key for r in event_log.records] == [f"{REGISTRY}/demo/app"] * 2


def test_v2_envelope_is_accepted(client: FlaskClient, event_log: MemoryLog) -> None:
    response = post(client, V2_INDEX_PUSH_BODY, V2_MEDIA_TYPE)

    assert response.status_code == 202
    assert response.get_json()["accepted"] == 1
    assert event_log.records[0].key == f"{REGISTRY}/team/tools"


def test_retired_token_still_accepted(client: FlaskClient) -> None:
    retired = {"Authorization": f"Bearer {OLD_TOKEN}"}

    response = post(client, envelope(MANIFEST_PUSH), headers=retired)

    assert response.status_code == 202


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer not-the-token"},
     {"Authorization": "Basic cmVnaXN0cnk6cmVnaXN0cnktdG9rZW4tM2M5ZTcx"},
     {"Authorization": TOKEN}],
    ids=["missing", "wrong-token", "basic", "no-scheme"],
)
def test_unauthenticated_request_is_401(
    client: FlaskClient, event_log: MemoryLog, dead_letters: MemoryDeadLetters,
    headers: dict[str, str], caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.DEBUG, logger="webhooks"):
        response = post(client, envelope(MANIFEST_PUSH), headers=headers)

    assert response.status_code == 401
    assert response.get_json() == {"error": "missing or invalid bearer token"}
    assert response.headers["WWW-Authenticate"] == "Bearer"
    assert (event_log.append_calls, dead_letters.entries) == (0, [])
    assert TOKEN not in caplog.text and "not-the-token" not in caplog.text


def test_unauthenticated_garbage_is_not_dead_lettered(
    client: FlaskClient, dead_letters: MemoryDeadLetters
) -> None:
    response = post(client, b"garbage", headers={"Authorization": "Bearer guess"})

    assert response.status_code == 401
    assert dead_letters.entries == []


def test_oversize_content_length_is_413_without_reading(
    client: FlaskClient, policy: ReceiverPolicy, event_log: MemoryLog
) -> None:
    stream = EndlessStream()
    response = post_stream(client, stream, CONTENT_LENGTH=str(policy.max_body_bytes + 1))

    assert response.status_code == 413
    assert response.get_json() == {"error": f"body larger than {policy.max_body_bytes} bytes"}
    assert stream.bytes_read == 0
    assert event_log.append_calls == 0


def test_oversize_real_body_is_413(client: FlaskClient, policy: ReceiverPolicy) -> None:
    padding = "p" * policy.max_body_bytes
    body = envelope(edited(MANIFEST_PUSH, padding=padding))

    assert post(client, body).status_code == 413


def test_body_of_exactly_the_limit_is_read(client: FlaskClient, policy: ReceiverPolicy) -> None:
    body = envelope(MANIFEST_PUSH)
    body = body[:-1] + b" " * (policy.max_body_bytes - len(body)) + b"}"

    response = post(client, body)

    assert response.status_code == 202
    assert response.get_json()["accepted"] == 1


def test_endless_chunked_body_is_413_after_reading_just_past_the_limit(
    client: FlaskClient, policy: ReceiverPolicy
) -> None:
    stream = EndlessStream()
    # what a server that de-chunks the body (waitress) tells the app
    response = post_stream(client, stream, **{"wsgi.input_terminated": True})

    assert response.status_code == 413
    assert stream.bytes_read == policy.max_body_bytes + 1


def test_chunked_body_within_the_limit_is_accepted(client: FlaskClient) -> None:
    body = io.BytesIO(envelope(MANIFEST_PUSH))

    response = post_stream(client, body, **{"wsgi.input_terminated": True})

    assert response.status_code == 202
    assert response.get_json()["accepted"] == 1


@pytest.mark.parametrize("content_type", ["text/plain", None])
def test_unexpected_content_type_is_still_parsed(
    client: FlaskClient, content_type: str | None, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="webhooks"):
        response = post(client, envelope(MANIFEST_PUSH), content_type)

    assert response.status_code == 202
    assert response.get_json()["accepted"] == 1
    assert "Content-Type" in caplog.text


def test_json_content_type_with_charset_is_expected(
    client: FlaskClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="webhooks"):
        response = post(client, envelope(MANIFEST_PUSH), "application/json; charset=utf-8")

    assert response.status_code == 202
    assert "Content-Type" not in caplog.text


def test_redelivery_is_counted_as_duplicates(client: FlaskClient, event_log: MemoryLog) -> None:
    body = envelope(MANIFEST_PUSH, MANIFEST_PULL)
    post(client, body)

    response = post(client, body)

    assert response.status_code == 202
    assert response.get_json() | {"errors": []} == {
        "accepted": 0, "duplicates": 2, "dropped": 0, "dead_lettered": 0, "errors": []
    }
    assert len(event_log.records) == 2


def test_authenticated_garbage_is_202_and_dead_lettered(
    client: FlaskClient, dead_letters: MemoryDeadLetters
) -> None:
    response = post(client, b"<html>not an envelope</html>")

    assert response.status_code == 202
    body = response.get_json()
    assert (body["accepted"], body["dead_lettered"]) == (0, 1)
    assert body["errors"][0]["message"].startswith("body is not JSON")
    assert dead_letters.entries[0].raw == b"<html>not an envelope</html>"


def test_bad_event_is_202_and_named_in_errors(client: FlaskClient, event_log: MemoryLog) -> None:
    bad = edited(MANIFEST_PULL, id=None)

    response = post(client, envelope(MANIFEST_PUSH, bad))

    assert response.status_code == 202
    assert response.get_json()["errors"] == [
        {"index": 1, "id": None, "message": "id: Missing data for required field."}
    ]
    assert len(event_log.records) == 1


def test_unavailable_log_is_503(
    client: FlaskClient, event_log: MemoryLog, dead_letters: MemoryDeadLetters
) -> None:
    event_log.unavailable = True

    response = post(client, envelope(MANIFEST_PUSH))

    assert response.status_code == 503
    assert response.get_json() == {"error": "event log unavailable, retry later"}
    assert dead_letters.entries == []


def test_failing_dead_letters_is_503(client: FlaskClient, dead_letters: MemoryDeadLetters) -> None:
    dead_letters.failure = LogUnavailable("dead-letter table locked")

    assert post(client, b"not json").status_code == 503


def test_outcomes_and_statuses_are_counted(client: FlaskClient) -> None:
    before = {
        "accepted": counter("regsearch_webhook_events_total", outcome="accepted"),
        "dropped": counter("regsearch_webhook_events_total", outcome="dropped"),
        "duplicate": counter("regsearch_webhook_events_total", outcome="duplicate"),
        "dead_lettered": counter("regsearch_webhook_events_total", outcome="dead_lettered"),
        "202": counter("regsearch_webhook_requests_total", status="202"),
        "401": counter("regsearch_webhook_requests_total", status="401"),
    }
    body = envelope(LAYER_PUSH, MANIFEST_PUSH, edited(MANIFEST_PULL, action="purge"))

    post(client, body)
    post(client, body)
    post(client, body, headers={})

    assert counter("regsearch_webhook_events_total", outcome="accepted") - before["accepted"] == 1
    assert counter("regsearch_webhook_events_total", outcome="dropped") - before["dropped"] == 2
    assert counter("regsearch_webhook_events_total", outcome="duplicate") - before["duplicate"] == 1
    assert (counter("regsearch_webhook_events_total", outcome="dead_lettered")
            - before["dead_lettered"]) == 2
    assert counter("regsearch_webhook_requests_total", status="202") - before["202"] == 2
    assert counter("regsearch_webhook_requests_total", status="401") - before["401"] == 1


def test_get_is_not_allowed(client: FlaskClient) -> None:
    assert client.get("/notifications", headers=AUTH).status_code == 405


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"registry": ""}, "registry"),
        ({"tokens": ()}, "tokens"),
        ({"tokens": ("ok", "")}, "tokens"),
        ({"max_body_bytes": 0}, "max_body_bytes"),
    ],
)
def test_unsafe_policy_is_refused(changes: dict[str, object], message: str) -> None:
    settings: dict[str, object] = {"registry": REGISTRY, "tokens": (TOKEN,)} | changes

    with pytest.raises(ValueError, match=message):
        ReceiverPolicy(**settings)  # type: ignore[arg-type]


def test_each_named_registry_has_its_own_path_and_tokens(
    event_log: MemoryLog, dead_letters: MemoryDeadLetters, policy: ReceiverPolicy
) -> None:
    app = Flask(__name__)
    mirror = ReceiverPolicy(registry="mirror.example:5000", tokens=("mirror-token",))
    app.register_blueprint(notifications_blueprint(event_log, dead_letters, {"main": policy, "mirror": mirror}))
    client = app.test_client()
    body = envelope(MANIFEST_PUSH)
    as_mirror = {"Authorization": "Bearer mirror-token", "Content-Type": V1_MEDIA_TYPE}

    assert client.post("/notifications/mirror", data=body, headers=as_mirror).status_code == 202
    assert client.post("/notifications/main", data=body, headers=as_mirror).status_code == 401
    assert client.post("/notifications", data=body, headers=as_mirror).status_code == 401, "the first's path"
    assert client.post("/notifications/main", data=envelope(MANIFEST_PULL), headers=AUTH).status_code == 202
    assert [r.key for r in event_log.records] == ["mirror.example:5000/demo/app", f"{REGISTRY}/demo/app"]

    unknown = client.post("/notifications/elsewhere", data=body, headers=as_mirror)
    assert unknown.status_code == 404
    assert unknown.get_json() == {"error": "no registry named 'elsewhere'; known: main, mirror"}
    client.post("/notifications/mirror", data=b"{oops", headers=as_mirror)
    assert dead_letters.entries[-1].source == "webhook mirror.example:5000"
