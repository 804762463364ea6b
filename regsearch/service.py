"""``regsearch serve``: webhooks, indexer, follower, reconciler and search API in one process."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from collections.abc import Callable
from types import FrameType

import waitress
from flask import Flask, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from indexer.registry import RegistryError
from regsearch.config import Settings, notifications_block
from regsearch.embedded import Embedded, lock_data_dir
from search_api.app import create_app
from webhooks.receiver import ReceiverPolicy, notifications_blueprint

log = logging.getLogger("regsearch")

RESTART_DELAY_S = 5.0
JOIN_TIMEOUT_S = 30.0


def supervised(name: str, target: Callable[[threading.Event], None], stop: threading.Event) -> threading.Thread:
    """Run ``target(stop)`` in a thread that logs a crash and restarts it, so the service keeps serving."""

    def loop() -> None:
        while not stop.is_set():
            try:
                target(stop)
            except Exception:
                log.exception("%s failed; restarting in %.0fs", name, RESTART_DELAY_S)
                stop.wait(RESTART_DELAY_S)

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    return thread


def build_app(resources: Embedded) -> Flask:
    """The one WSGI app: search API, notification receiver and metrics."""
    settings = resources.settings
    app = create_app(resources.index)
    policy = ReceiverPolicy(
        registry=resources.registry,
        tokens=settings.webhook_tokens,
        max_body_bytes=settings.max_body_bytes,
    )
    app.register_blueprint(notifications_blueprint(resources.events, resources.dead_letters, policy))
    app.add_url_rule("/metrics", "metrics", lambda: Response(generate_latest(), content_type=CONTENT_TYPE_LATEST))
    return app


def check_registry(resources: Embedded) -> None:
    """Say in the log whether the registry answers; never fatal."""
    try:
        resources.client.ping()
        log.info("registry %s is reachable", resources.settings.registry_url)
    except RegistryError as exc:
        log.warning("registry %s is not usable yet (%s); serving what is indexed and retrying",
                    resources.settings.registry_url, exc)


def start_workers(resources: Embedded, stop: threading.Event) -> list[threading.Thread]:
    """The background roles: indexer, follower and reconciler."""
    consumer = resources.consumer()
    follower = resources.follower()
    reconciler = resources.reconciler()
    index_empty = resources.index().is_empty() and not any(resources.documents.end_offsets().values())
    return [
        supervised("indexer", consumer.run, stop),
        supervised("follower", follower.run, stop),
        supervised("reconciler", lambda s: reconciler.run(s, run_now=lambda: index_empty), stop),
    ]


def raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(settings: Settings) -> int:
    """Run until SIGTERM or SIGINT; acknowledged events are already durable, so stopping loses none."""
    lock = lock_data_dir(settings.data_dir)
    resources = Embedded.open(settings)
    stop = threading.Event()
    sys.stdout.write("Add this to the registry's config.yml:\n\n" + notifications_block(settings) + "\n")
    sys.stdout.flush()
    check_registry(resources)
    threads = start_workers(resources, stop)
    server = waitress.create_server(
        build_app(resources), host=settings.listen_host, port=settings.listen_port,
        threads=settings.threads, ident="regsearch",
        # waitress buffers bodies before the app sees them: bound that too,
        # leaving the exact limit (and its JSON 413) to the receiver
        max_request_body_size=2 * settings.max_body_bytes,
    )
    signal.signal(signal.SIGTERM, raise_exit)
    log.info("serving on http://%s:%d (data in %s)", settings.listen_host, settings.listen_port, settings.data_dir)
    try:
        server.run()
    finally:
        server.close()
        stop.set()
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)
        resources.close()
        lock.close()
        log.info("stopped")
    return 0
