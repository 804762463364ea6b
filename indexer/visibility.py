"""Which repositories a caller may see: the ones it may pull, as globs over repository names
or as exact names.

Search must not be a way around the registry's access control, so every
answer (results, counts, facets, suggestions, digests, lineage) is computed
over the visible repositories only. ``None`` where a ``Visibility`` is
expected means "everything" (no access control).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from fnmatch import translate
from functools import cached_property


@dataclass(frozen=True)
class Visibility:
    """The repositories whose name matches one of ``patterns`` or is one of ``names``.

    A pattern is a shell-style glob matched against the whole name, case
    sensitive: ``*`` matches any run of characters, ``/`` included, so
    ``team-a/*`` covers ``team-a/app`` and ``team-a/tools/cli``; ``?`` one
    character; ``[...]`` a set. A name without wildcards grants that
    repository alone.

    ``names`` are exact repository names, visible as written (no character
    in them is a wildcard): what a token service granted, which can be
    thousands of names, kept as a set rather than compiled into a pattern.
    """

    patterns: tuple[str, ...] = ()
    names: frozenset[str] = field(default_factory=frozenset)

    @cached_property
    def _regex(self) -> re.Pattern[str] | None:
        if not self.patterns:
            return None
        return re.compile("|".join(f"(?:{translate(p)})" for p in sorted(set(self.patterns))))

    def allows(self, repository: str) -> bool:
        """Whether ``repository`` is visible."""
        if repository in self.names:
            return True
        regex = self._regex
        return regex is not None and regex.match(repository) is not None

    def key(self) -> tuple[str, ...]:
        """The patterns in a canonical order, then a digest of the names when there are any:
        what caches of visible documents are keyed by."""
        return self._key

    @cached_property
    def _key(self) -> tuple[str, ...]:
        patterns = tuple(sorted(set(self.patterns)))
        if not self.names:
            return patterns
        digest = hashlib.sha256("\n".join(sorted(self.names)).encode()).hexdigest()
        # no pattern starts with a line break (ACL entries are stripped), so this never equals one
        return (*patterns, f"\nnames:{len(self.names)}:{digest}")


def visible(visibility: Visibility | None, repository: str) -> bool:
    """Whether ``repository`` is visible under ``visibility`` (None: everything is)."""
    return visibility is None or visibility.allows(repository)
