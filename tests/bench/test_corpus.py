"""Reading the Debian corpus the benchmarks name their images after."""

from __future__ import annotations

from bench.corpus import Package, parse_dumpavail


def test_each_stanza_gives_name_description_and_section_with_misc_when_unnamed() -> None:
    dump = (
        "Package: alpha\nSection: net\nDescription: the first one\n and more lines\n\n"
        "Package: beta\nDescription: no section here\n\n"
        "Package: gamma\nSection: libs\n"
    )
    assert parse_dumpavail(dump) == [
        Package("alpha", "the first one", "net"),
        Package("beta", "no section here", "misc"),
    ]
