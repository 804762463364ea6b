"""Background work that keeps going: a crash is logged and the work started again."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

log = logging.getLogger("regsearch")

RESTART_DELAY_S = 5.0


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
