"""Retrying what fails for a while: a registry or a log that is down."""

from __future__ import annotations

import logging
import threading

import tenacity

from indexer.policies import RetryPolicy
from indexer.registry import TransientError, Unauthorized
from regsearch.logs import LogUnavailable

log = logging.getLogger(__name__)

RETRYABLE = (TransientError, Unauthorized, LogUnavailable)


def retrying(policy: RetryPolicy, stop: threading.Event, what: str) -> tenacity.Retrying:
    """Retry transient failures with exponential backoff until they pass or ``stop`` is set."""

    def warn(state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        delay = state.next_action.sleep if state.next_action else 0
        log.warning("%s failed (%s); retrying in %.1fs", what, exc, delay)

    def pause(seconds: float) -> None:
        stop.wait(seconds)  # a stop cuts the pause short

    return tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(RETRYABLE),
        wait=tenacity.wait_exponential(multiplier=policy.initial_s, max=policy.max_s),
        stop=lambda _state: stop.is_set(),
        sleep=pause,
        before_sleep=warn,
        reraise=True,
    )
