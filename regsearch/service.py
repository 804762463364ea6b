"""Running the roles: ``regsearch serve`` runs them all, ``webhooks``/``indexer``/``search-api`` one each.

Without Kafka only ``serve`` makes sense (one process owns the SQLite logs);
with Kafka every role can run in as many processes as wanted.
"""

from __future__ import annotations

import ipaddress
import logging
import signal
import sys
import threading
from contextlib import ExitStack
from functools import partial
from types import FrameType

import cheroot.wsgi
import waitress
from cheroot.ssl.builtin import BuiltinSSLAdapter

from indexer.consumer import GROUP
from indexer.registry import RegistryError
from regsearch.app import Role, build_app
from regsearch.config import ConfigError, Settings, notifications_block
from regsearch.child_process import follow, index_events, run_in_child
from regsearch.logs import behind
from regsearch.logs.sqlite import SqliteLog
from regsearch.resources import Resources, lock_data_dir
from regsearch.retention import prune_periodically
from regsearch.supervision import supervised

log = logging.getLogger("regsearch")

JOIN_TIMEOUT_S = 30.0
ROLES: dict[str, frozenset[Role]] = {
    "serve": frozenset({"webhooks", "indexer", "search"}),
    "webhooks": frozenset({"webhooks"}),
    "indexer": frozenset({"indexer"}),
    "search-api": frozenset({"search"}),
}


def check_registries(resources: Resources) -> None:
    """Say in the log whether each registry answers; never fatal."""
    for registry, client in zip(resources.settings.registries, resources.clients):
        try:
            client.ping()
            log.info("registry %s (%s) is reachable", registry.name, registry.url)
        except RegistryError as exc:
            log.warning("registry %s (%s) is not usable yet (%s); serving what is indexed and retrying",
                        registry.name, registry.url, exc)


class Readiness:
    """Ready once the index holds every document that was in the log at start."""

    def __init__(self, resources: Resources) -> None:
        self._resources = resources
        self._target = resources.documents.end_offsets()
        self._ready = False

    def __call__(self) -> bool:
        if not self._ready:
            self._ready = behind(self._resources.index().applied_positions(), self._target) == 0
        return self._ready


def start_threads(command: str, roles: frozenset[Role], resources: Resources, stop: threading.Event) -> list[threading.Thread]:
    """The background work of the roles: the follower, in a process of its own; the indexer, in
    ``serve`` in a process of its own with the reconcilers (see :mod:`regsearch.child_process`);
    and the pruning of consumed events (:mod:`regsearch.retention`)."""
    threads = []
    settings = resources.settings
    if "search" in roles:
        resources.index()  # created here, before the follower process opens it too
    if command == "serve":
        empty = resources.index().is_empty() and not any(resources.documents.end_offsets().values())
        indexer = partial(index_events, reconcile_now=empty)
        threads.append(supervised("indexer", lambda s: run_in_child("indexer", indexer, settings, s), stop))
    elif "indexer" in roles:
        threads.append(supervised("indexer", resources.consumer().run, stop))
    if "search" in roles:
        threads.append(supervised("follower", lambda s: run_in_child("follower", follow, settings, s), stop))
    if isinstance(resources.events, SqliteLog) and "indexer" in roles:
        events = resources.events
        threads.append(supervised("event-log pruning", lambda s: prune_periodically(events, GROUP, s), stop))
    return threads


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or a name) is only reachable from this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def raise_exit(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(0)


def serve(settings: Settings, command: str = "serve") -> int:
    """Run ``command``'s roles until SIGTERM or SIGINT.

    Acknowledged events are already durable, so stopping loses none; the
    current indexer batch finishes or is replayed by the next owner.
    """
    roles = ROLES[command]
    if command != "serve" and settings.kafka is None:
        raise ConfigError(f"regsearch {command} needs --kafka-bootstrap; on one machine run regsearch serve")
    with ExitStack() as cleanup:
        if "search" in roles:
            cleanup.enter_context(lock_data_dir(settings.data_dir))
        resources = Resources.open(settings)
        cleanup.callback(resources.close)
        if "webhooks" in roles:
            # the token itself only on a terminal: stdout that is not one is a log
            block = notifications_block(settings, reveal=sys.stdout.isatty())
            sys.stdout.write("Add this to the registry's config.yml:\n\n" + block + "\n")
            sys.stdout.flush()
        if "indexer" in roles:
            check_registries(resources)
        ready = Readiness(resources) if "search" in roles else (lambda: True)
        stop = threading.Event()
        threads = start_threads(command, roles, resources, stop)
        run_http(settings, build_app(roles, resources, ready))
        stop.set()
        for thread in threads:
            thread.join(JOIN_TIMEOUT_S)
    log.info("stopped")
    return 0


def run_http(settings: Settings, app: object) -> None:
    """Serve ``app`` until SIGTERM or SIGINT: over HTTP with waitress, or over HTTPS with cheroot
    when ``--tls-cert``/``--tls-key`` are given (waitress has no TLS)."""
    signal.signal(signal.SIGTERM, raise_exit)
    scheme = "https" if settings.tls else "http"
    log.info("serving on %s://%s:%d (data in %s)", scheme, settings.listen_host, settings.listen_port,
             settings.data_dir)
    if settings.access.mode == "none" and not is_loopback(settings.listen_host):
        log.warning("SEARCH IS OPEN: --auth none on %s shows every repository name to anyone who can reach "
                    "this port; use --auth htpasswd or token, or listen on 127.0.0.1 behind a proxy", settings.listen_host)
    if settings.tls:
        _run_https(settings, app)
        return
    server = waitress.create_server(
        app, host=settings.listen_host, port=settings.listen_port,
        threads=settings.threads, ident="regsearch",
        # waitress buffers bodies before the app sees them: bound that too,
        # leaving the exact limit (and its JSON 413) to the receiver
        max_request_body_size=2 * settings.max_body_bytes,
    )
    try:
        server.run()
    finally:
        server.close()


def _run_https(settings: Settings, app: object) -> None:
    assert settings.tls is not None
    server = cheroot.wsgi.Server(
        (settings.listen_host, settings.listen_port), app,
        numthreads=settings.threads, server_name="regsearch",
    )
    server.max_request_body_size = 2 * settings.max_body_bytes
    server.ssl_adapter = BuiltinSSLAdapter(str(settings.tls.cert), str(settings.tls.key))
    try:
        server.safe_start()
    finally:
        server.stop()
