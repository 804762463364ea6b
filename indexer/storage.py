"""Whoosh file storage whose segment files are read through memory maps.

Whoosh's :class:`~whoosh.filedb.filestore.FileStorage` reads every file
through a buffered file object: each posting block, term-index probe or
length lookup is a ``seek`` and a ``read`` (about 3 us together; a prefix
query made ~580 of them at 1,000 repositories, most of its time). Its
compound segments are memory-mapped, but each part is then copied whole into
the heap (``BufferFile`` wraps the map in a ``BytesIO``): ~315 MiB per
searcher at 100,000 tags. Here each file is mapped and read in place: a
read is a slice of the map, nothing is copied, and the pages are the
kernel's page cache, shared and reclaimable, not the process's heap.
Only ``indexer/index.py`` uses this module. :func:`committed_after` tells a searcher
whether it is out of date without listing those files.
"""

from __future__ import annotations

import mmap
import time
from array import array
from collections.abc import Callable
from typing import Any

from whoosh.filedb.filestore import FileStorage
from whoosh.filedb.structfile import StructFile
from whoosh.index import TOC
from whoosh.system import IS_LITTLE


# How long a file Whoosh no longer needs (a merged-away segment's, an old table of contents)
# stays on disk after it was first found unused. Whoosh deletes them at the commit that retires
# them, but another process's searcher opened before that commit opens a segment's column files
# (stored fields, field lengths) only when it first needs them, and found them gone: a search
# answered 500 under the soak benchmark. A searcher is replaced within REFRESH_SECONDS of a new
# commit and a query is bounded by its time budget, so two minutes is ample.
RETIRED_GRACE_S = 120.0


class MappedFileStorage(FileStorage):
    """A Whoosh index directory whose files open as read-only memory maps, and whose unused files
    are deleted only :data:`RETIRED_GRACE_S` after they were first found unused."""

    def __init__(self, path: str, clock: Callable[[], float] = time.monotonic, **kwargs: Any) -> None:
        super().__init__(path, **kwargs)
        self._clock = clock
        self._retired: dict[str, float] = {}  # file name -> when it was first found unused

    def delete_file(self, name: str) -> None:
        """Delete ``name`` if it has been unused for the grace period; else note it. Whoosh finds
        unused files again at every commit (``clean_files``), so a later commit deletes it."""
        now = self._clock()
        if now - self._retired.setdefault(name, now) < RETIRED_GRACE_S:
            return
        del self._retired[name]
        try:
            super().delete_file(name)
        except FileNotFoundError:
            pass

    def open_file(self, name: str, **kwargs: Any) -> StructFile:
        """``name`` mapped into memory; an empty file (which cannot be mapped) opens as Whoosh would."""
        with open(self._fpath(name), "rb") as source:
            if source.seek(0, 2) == 0:
                return super().open_file(name, **kwargs)
            mapped = mmap.mmap(source.fileno(), 0, access=mmap.ACCESS_READ)
        return MappedFile(mapped, name=name, **kwargs)


class MappedFile(StructFile):
    """A :class:`StructFile` over a memory map: reads slice the map and copy only what they return.

    Positioned reads (``get``) leave the read position after what they read,
    as Whoosh's own ``seek`` then ``read`` does.
    """

    def __init__(self, mapped: mmap.mmap, name: str | None = None, onclose: Any = None) -> None:
        super().__init__(mapped, name=name, onclose=onclose)

    def get(self, position: int, length: int) -> bytes:
        """``length`` bytes at ``position``."""
        end = min(position + length, len(self.file))
        self.file.seek(end)
        return self.file[position:end]

    def get_array(self, position: int, typecode: str, length: int) -> array[Any]:
        """``length`` values of ``typecode`` at ``position``, as Whoosh stores them (big-endian)."""
        values = array(typecode)
        values.frombytes(self.get(position, length * values.itemsize))
        if IS_LITTLE:
            values.byteswap()
        return values


def committed_after(ix: Any, generation: int | None) -> bool:
    """Whether ``ix`` (a Whoosh file index) has a commit newer than ``generation``.

    One ``stat`` of the next generation's table of contents: Whoosh numbers
    commits one by one and renames a table into place whole. When that one
    is gone too (deleted :data:`RETIRED_GRACE_S` after a later commit), so
    is ``generation``'s own table, retired no later than it. Not
    ``ix.latest_generation()``, which lists the directory; with the files
    kept for :data:`RETIRED_GRACE_S` a busy index holds thousands (3,233 after
    two minutes of 200 notifications/s), 5 ms a listing, and every search
    process looks 20 times a second per index. An empty index's reader has
    no generation: then the listing it is.
    """
    if generation is None or generation < 0:
        return bool(ix.latest_generation() != generation)
    storage, name = ix.storage, ix.indexname
    return bool(storage.file_exists(TOC._filename(name, generation + 1))
                or not storage.file_exists(TOC._filename(name, generation)))
