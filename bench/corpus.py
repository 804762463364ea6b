"""Real names and descriptions to push: the Debian packages this machine's apt knows.

A fixed seed picks the same packages on every run over the same apt lists,
so runs compare; repository names keep only what the registry accepts.
"""

from __future__ import annotations

import random
import re
import subprocess
from dataclasses import dataclass

# One path component of a repository name, as distribution's reference grammar
# allows; "-+" where the grammar says "[-]*", which backtracks badly on "+".
_NAME_COMPONENT = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$")
_WORD = re.compile(r"^[a-z]{4,}$")
_WANTED = ("Package: ", "Description: ", "Section: ")
APT_TIMEOUT_S = 120


@dataclass(frozen=True)
class Package:
    """One Debian package: a name usable as a repository component, its short description,
    and its Debian section (``misc`` when the stanza names none)."""

    name: str
    description: str
    section: str = "misc"


def debian_packages() -> list[Package]:
    """Every package in ``apt-cache dumpavail`` with a usable name, one per name, sorted by name.

    Raises ``RuntimeError`` when apt knows too few packages to benchmark with.
    """
    dump = subprocess.run(
        ["apt-cache", "dumpavail"], capture_output=True, text=True, check=True, timeout=APT_TIMEOUT_S
    ).stdout
    found = {p.name: p for p in parse_dumpavail(dump) if _NAME_COMPONENT.match(p.name)}
    if len(found) < 1000:
        raise RuntimeError(f"apt-cache dumpavail lists only {len(found)} usable packages; run apt-get update")
    return [found[name] for name in sorted(found)]


def parse_dumpavail(dump: str) -> list[Package]:
    """The ``Package:``, first-line ``Description:`` and ``Section:`` of each stanza of ``dump``."""
    packages = []
    for stanza in dump.split("\n\n"):
        fields = dict(_field(line) for line in stanza.splitlines() if line.startswith(_WANTED))
        if fields.get("Package") and fields.get("Description"):
            packages.append(Package(fields["Package"], fields["Description"], fields.get("Section") or "misc"))
    return packages


def pick(packages: list[Package], count: int, seed: int) -> list[Package]:
    """``count`` distinct packages chosen by ``random.Random(seed)``."""
    if count > len(packages):
        raise ValueError(f"asked for {count} packages, the corpus has {len(packages)}")
    return random.Random(seed).sample(packages, count)


def description_words(packages: list[Package]) -> list[str]:
    """Distinct lowercase words of four letters or more from the descriptions, in first-seen order."""
    words: dict[str, None] = {}
    for package in packages:
        for word in package.description.lower().split():
            if _WORD.match(word):
                words.setdefault(word, None)
    return list(words)


def _field(line: str) -> tuple[str, str]:
    key, _, value = line.partition(": ")
    return key, value.strip()
