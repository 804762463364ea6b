"""The follower in a process of its own, so index commits do not share an interpreter.

A commit is pure-Python work (Whoosh), and in the serving process it
competes for the GIL with every HTTP thread, the indexer and its fetches: a
commit of 60 ms alone took a second at 20 pushes/s, and every push behind
it waited (``bench/RESULTS.md``). In a child process it gets a core's share
from the operating system instead. The serving process only reads the
index; it sees each commit within ``indexer.index.REFRESH_SECONDS``.

The child opens the same resources from the same settings, runs
:meth:`Follower.run` until the parent asks it to stop, and sends its
metrics (commit times, whether the index has settled) to the parent, whose
``/metrics`` shows them. It stops by itself when the parent is gone.
Restarts after a crash are the caller's: :func:`follow_in_child` raises
when the child exits unasked, and ``service.supervised`` starts it again.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import queue
import signal
import threading
from multiprocessing.synchronize import Event as ProcessEvent
from typing import Any

from indexer import metrics
from regsearch.config import Settings
from regsearch.redaction import configure_logging

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 30.0
WATCH_S = 0.5
_CONTEXT = multiprocessing.get_context("spawn")


def follow_in_child(settings: Settings, stop: threading.Event) -> None:
    """Run the follower in a child process until ``stop`` is set; raises if the child dies first."""
    child_stop = _CONTEXT.Event()
    observations: Any = _CONTEXT.Queue()
    child = _CONTEXT.Process(
        target=child_main, args=(settings, child_stop, observations, os.getpid()),
        name="regsearch-follower", daemon=True,
    )
    child.start()
    log.info("follower running in process %d", child.pid)
    try:
        while child.is_alive() and not stop.is_set():
            _record(observations, timeout_s=0.25)
    finally:
        child_stop.set()
        child.join(STOP_TIMEOUT_S)
        if child.is_alive():
            child.kill()
            child.join()
        _record_all(observations)
        observations.close()
    if not stop.is_set():
        raise RuntimeError(f"the follower process exited with status {child.exitcode}")


def child_main(settings: Settings, child_stop: ProcessEvent, observations: Any, parent: int) -> None:
    """The child: follow the document log into the index until told to stop or orphaned.

    The follower runs in a thread; this (main) thread watches for the
    parent's request, the parent's death and SIGTERM, which only sets a flag:
    a handler that set an Event could deadlock on the lock the interrupted
    thread holds.
    """
    terminated: list[int] = []
    signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(signum))
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole group: the parent decides
    configure_logging(logging.INFO, "%(asctime)s %(levelname)s %(name)s[follower]: %(message)s", settings.secrets())
    from regsearch.resources import Resources

    metrics.report_to(lambda name, value: observations.put((name, value)))
    resources = Resources.open(settings)
    stop = threading.Event()
    follower = threading.Thread(target=resources.follower().run, args=(stop,), name="follower")
    follower.start()
    try:
        while follower.is_alive() and not terminated and not child_stop.wait(WATCH_S):
            if os.getppid() != parent:
                log.warning("the serving process is gone; the follower stops")
                break
    finally:
        stop.set()
        follower.join()
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
