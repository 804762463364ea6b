"""Fixtures of the webhook tests: in-memory logs and a Flask app around the
notifications blueprint."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient

from webhooks.receiver import ReceiverPolicy, notifications_blueprint

from tests.webhooks.fakes import MemoryDeadLetters, MemoryLog
from tests.webhooks.samples import REGISTRY

TOKEN = "registry-token-3c9e71"
OLD_TOKEN = "registry-token-retired-08aa"


@pytest.fixture
def event_log() -> MemoryLog:
    return MemoryLog()


@pytest.fixture
def dead_letters() -> MemoryDeadLetters:
    return MemoryDeadLetters()


@pytest.fixture
def policy() -> ReceiverPolicy:
    return ReceiverPolicy(registry=REGISTRY, tokens=(TOKEN, OLD_TOKEN), max_body_bytes=64 * 1024)


@pytest.fixture
def client(
    event_log: MemoryLog, dead_letters: MemoryDeadLetters, policy: ReceiverPolicy
) -> FlaskClient:
    app = Flask(__name__)
    app.config["TESTING"] = True
    app.register_blueprint(notifications_blueprint(event_log, dead_letters, {"default": policy}))
    return app.test_client()
