"""Checking HTTP Basic credentials against the registry's own htpasswd file.

The registry's ``auth: htpasswd`` accepts bcrypt entries only, and so does
this. The file is read again when it changes, so a user added to the
registry can search at once. A bcrypt check costs milliseconds by design;
a successful one is remembered for ``remember_s`` seconds (keyed by a
SHA-256 of the password, never the password itself), so a client sending
credentials on every request pays it once.
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from pathlib import Path

import bcrypt

log = logging.getLogger(__name__)

REMEMBER_S = 60.0


class Htpasswd:
    """The users of one htpasswd file and a check of their passwords."""

    def __init__(self, path: Path, remember_s: float = REMEMBER_S) -> None:
        self._path = path
        self._remember_s = remember_s
        self._lock = threading.Lock()
        self._stamp: tuple[int, int] | None = None
        self._hashes: dict[str, bytes] = {}
        self._verified: dict[tuple[str, bytes, bytes], float] = {}
        self._load()

    def check(self, user: str, password: str) -> bool:
        """Whether ``password`` is ``user``'s."""
        self._reload_if_changed()
        stored = self._hashes.get(user)
        if stored is None:
            return False
        key = (user, stored, hashlib.sha256(password.encode()).digest())
        now = time.monotonic()
        if self._verified.get(key, 0.0) > now:
            return True
        if not bcrypt.checkpw(password.encode(), stored):
            return False
        with self._lock:
            if len(self._verified) > 10_000:
                self._verified = {k: t for k, t in self._verified.items() if t > now}
            self._verified[key] = now + self._remember_s
        return True

    def _reload_if_changed(self) -> None:
        try:
            stat = self._path.stat()
        except OSError:
            return  # keep the users we have; _load said what was wrong at start
        if (stat.st_mtime_ns, stat.st_size) != self._stamp:
            self._load()

    def _load(self) -> None:
        """Read the file; raises ``OSError`` when it cannot be read at all."""
        stat = self._path.stat()
        hashes: dict[str, bytes] = {}
        for number, line in enumerate(self._path.read_text().splitlines(), start=1):
            if not line.strip() or line.lstrip().startswith("#"):
                continue
            user, colon, stored = line.strip().partition(":")
            if not colon or not user or not stored.startswith(("$2y$", "$2b$", "$2a$")):
                log.warning("%s, line %d: not a 'user:bcrypt-hash' entry; ignored", self._path, number)
                continue
            hashes[user] = stored.encode()
        with self._lock:
            self._hashes, self._stamp, self._verified = hashes, (stat.st_mtime_ns, stat.st_size), {}
