"""Memory-mapped Whoosh storage reads exactly what Whoosh's own storage reads."""

from __future__ import annotations

from array import array
from pathlib import Path

from whoosh.fields import ID, Schema
from whoosh.filedb.filestore import FileStorage

import indexer.storage
from indexer.storage import MappedFile, MappedFileStorage, committed_after


def write_sample(folder: Path) -> None:
    storage = FileStorage(str(folder))
    out = storage.create_file("sample")
    out.write_varint(300)
    out.write_string(b"posting")
    out.write_array(array("I", [1, 70000, 3]))
    out.write_int(-5)
    out.close()
    storage.create_file("empty").close()


def test_a_mapped_file_reads_what_whoosh_wrote(tmp_path: Path) -> None:
    write_sample(tmp_path)
    plain = FileStorage(str(tmp_path)).open_file("sample")
    mapped = MappedFileStorage(str(tmp_path)).open_file("sample")
    assert isinstance(mapped, MappedFile)
    for reader in (plain, mapped):
        assert reader.read_varint() == 300
        assert reader.read_string() == b"posting"
        position = reader.tell()
        assert list(reader.read_array("I", 3)) == [1, 70000, 3]
        assert reader.read_int() == -5
        assert list(reader.get_array(position, "I", 3)) == [1, 70000, 3]
        assert reader.get(position, 4) == (1).to_bytes(4, "big")
        assert reader.get_int(position + 12) == -5
        assert reader.tell() == position + 16  # after what the last positioned read read
        assert reader.get(position + 12, 100) == (-5).to_bytes(4, 'big', signed=True)  # short at the end
        reader.close()


def test_an_empty_file_opens_unmapped(tmp_path: Path) -> None:
    write_sample(tmp_path)
    empty = MappedFileStorage(str(tmp_path)).open_file("empty")
    assert empty.read() == b""
    empty.close()


def test_an_unused_file_is_deleted_only_after_the_grace_period(tmp_path: Path) -> None:
    write_sample(tmp_path)
    now = [1000.0]
    storage = MappedFileStorage(str(tmp_path), clock=lambda: now[0])

    storage.delete_file("sample")  # Whoosh's commit found it unused: noted, kept
    assert (tmp_path / "sample").exists()
    now[0] += indexer.storage.RETIRED_GRACE_S - 1
    storage.delete_file("sample")  # the next commit, still within the grace period
    assert (tmp_path / "sample").exists()
    now[0] += 1
    storage.delete_file("sample")
    assert not (tmp_path / "sample").exists()
    storage.delete_file("sample")  # asked again after it is gone: nothing to do, no error
    storage.delete_file("sample")


def test_committed_after_agrees_with_whoosh_listing_the_directory(tmp_path: Path) -> None:
    now = [1000.0]
    storage = MappedFileStorage(str(tmp_path), clock=lambda: now[0])
    ix = storage.create_index(Schema(id=ID(stored=True)))
    assert ix.reader().generation() is None  # an empty index's reader: always read again, as Whoosh would
    assert committed_after(ix, None) is True

    generations = []
    for number in range(6):
        with ix.writer() as writer:
            writer.add_document(id=str(number))
        generations.append(ix.latest_generation())
        if number == 3:
            now[0] += indexer.storage.RETIRED_GRACE_S  # the tables of contents so far are deleted next
    assert not (tmp_path / f"_MAIN_{generations[1]}.toc").exists()  # the case listing is needed for

    latest = ix.latest_generation()
    for generation in [-1, *generations]:
        assert committed_after(ix, generation) is (generation != latest), generation
