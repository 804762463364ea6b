"""Work of ``regsearch serve`` in processes of its own: the follower, and the indexer with the reconcilers.

Both are pure-Python work (Whoosh commits; parsing manifests and writing
documents), and in the serving process they competed for the GIL with
every HTTP thread: a commit of 60 ms alone took a second at 20 pushes/s,
and every push behind it waited; under the soak's mixed load the indexer
and its fetches held a tenth of the serving process's GIL time
(``bench/RESULTS.md``). In child processes they get their share of the
cores from the operating system instead. The serving process receives
notifications, answers searches and reads the index; it sees each commit
within ``indexer.index.REFRESH_SECONDS``.

A child opens the same resources from the same settings, runs its work
(:func:`follow`, :func:`index_events`) until the parent asks it to stop,
and sends its metrics (batch and commit times, whether the index has
settled) to the parent, whose ``/metrics`` shows them. It stops by itself
when the parent is gone. Restarts after a crash are the caller's:
:func:`run_in_child` raises when the child exits unasked, and
``supervision.supervised`` starts it again. With the embedded logs, an
append by another process wakes no one: the children look again every
``regsearch.logs.sqlite.RECHECK_S``.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from indexer import metrics
from regsearch.config import Settings
from regsearch.redaction import configure_logging
from regsearch.supervision import supervised

if TYPE_CHECKING:
    from regsearch.resources import Resources

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 30.0
WATCH_S = 0.5
_CONTEXT = multiprocessing.get_context("spawn")


Work = Callable[["Resources", threading.Event], None]


def follow(resources: Resources, stop: threading.Event) -> None:
    """The follower: the document log into the index."""
    resources.follower().run(stop)


def index_events(resources: Resources, stop: threading.Event, *, reconcile_now: bool) -> None:
    """The indexer consumer (events into documents) and each registry's reconciler, until ``stop``;
    each restarts alone after a crash. ``reconcile_now``: crawl at once (the index started empty)."""
    threads = [supervised("indexer", resources.consumer().run, stop)]
    names = (registry.name for registry in resources.settings.registries)
    for name, reconciler in zip(names, resources.reconcilers()):
        threads.append(supervised(f"reconciler {name}", partial(reconciler.run, run_now=lambda: reconcile_now), stop))
    for thread in threads:
        thread.join()


def run_in_child(name: str, work: Work, settings: Settings, stop: threading.Event) -> None:
    """Run ``work(resources, stop)`` in a child process until ``stop`` is set; raises if the child
    exits first. ``work`` is pickled to the child: a module-level function, or a ``partial`` of one."""
    observations: Any = _CONTEXT.Queue()
    child = _CONTEXT.Process(
        target=child_main, args=(name, work, settings, observations, os.getpid()),
        name=f"regsearch-{name}", daemon=True,
    )
    child.start()
    log.info("%s running in process %d", name, child.pid)
    try:
        while child.is_alive() and not stop.is_set():
            _record(observations, timeout_s=0.25)
    finally:
        if child.is_alive():
            # SIGTERM asks it to finish. Not a multiprocessing.Event: setting one waits for every
            # process that waited on it to wake, and a child killed while waiting never does.
            child.terminate()
        child.join(STOP_TIMEOUT_S)
        if child.is_alive():
            child.kill()
            child.join()
        _record_all(observations)
        observations.close()
    if not stop.is_set():
        raise RuntimeError(f"the {name} process exited with status {child.exitcode}")


def child_main(
    name: str, work: Work, settings: Settings, observations: Any, parent: int
) -> None:
    """The child: run ``work`` until SIGTERM (the parent's request, or anyone's) or orphaned.

    The work runs in a thread; this (main) thread watches for the parent's
    death and for SIGTERM, whose handler only sets a flag: a handler that
    set an Event could deadlock on the lock the interrupted thread holds.
    """
    terminated: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(signum))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    configure_logging(logging.INFO, f"%(asctime)s %(levelname)s %(name)s[{name}]: %(message)s", settings.secrets())
    from regsearch.resources import Resources

    metrics.report_to(lambda metric, value: observations.put((metric, value)))
    resources = Resources.open(settings)
    stop = threading.Event()
    worker = threading.Thread(target=work, args=(resources, stop), name=name)
    worker.start()
    try:
        while worker.is_alive() and not terminated:
            time.sleep(WATCH_S)
            if os.getppid() != parent:
                log.warning("the serving process is gone; the %s stops", name)
                break
    finally:
        stop.set()
        worker.join()
        resources.close()


def _record(observations: Any, timeout_s: float) -> None:
    try:
        name, value = observations.get(timeout=timeout_s)
    except queue.Empty:
        return
    metrics.record(name, value)


def _record_all(observations: Any) -> None:
    while True:
        try:
            name, value = observations.get_nowait()
        except (queue.Empty, OSError, ValueError):
            return
        metrics.record(name, value)
