"""Which repositories a caller may see: the ones it may pull, as globs over repository names.

Search must not be a way around the registry's access control, so every
answer (results, counts, facets, suggestions, digests, lineage) is computed
over the visible repositories only. ``None`` where a ``Visibility`` is
expected means "everything" (no access control).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from fnmatch import translate
from functools import cached_property


@dataclass(frozen=True)
class Visibility:
    """The repositories whose name matches one of ``patterns``.

    A pattern is a shell-style glob matched against the whole name, case
    sensitive: ``*`` matches any run of characters, ``/`` included, so
    ``team-a/*`` covers ``team-a/app`` and ``team-a/tools/cli``; ``?`` one
    character; ``[...]`` a set. A name without wildcards grants that
    repository alone.
    """

    patterns: tuple[str, ...] = ()

    @cached_property
    def _regex(self) -> re.Pattern[str] | None:
        if not self.patterns:
            return None
        return re.compile("|".join(f"(?:{translate(p)})" for p in sorted(set(self.patterns))))

    def allows(self, repository: str) -> bool:
        """Whether ``repository`` is visible."""
        regex = self._regex
        return regex is not None and regex.match(repository) is not None

    def key(self) -> tuple[str, ...]:
        """The patterns in a canonical order: what caches of visible documents are keyed by."""
        return tuple(sorted(set(self.patterns)))


def visible(visibility: Visibility | None, repository: str) -> bool:
    """Whether ``repository`` is visible under ``visibility`` (None: everything is)."""
    return visibility is None or visibility.allows(repository)
