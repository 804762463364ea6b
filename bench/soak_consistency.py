"""After the soak: does the index hold what the registry holds, and every pull it was told of?

The registry is asked for the truth (``registry_truth``: every tag and its
digest) once the load has stopped; the service is asked for each repository
(``GET /api/v1/repositories/<name>``, its tag documents as search finds them)
until the two agree or the time runs out, since the indexer may still be
working through the last events. Agreement means: no tag missing from the
index, none pointing at another digest, none indexed that the registry no
longer has, the number of tags search counts equal to the registry's, and the
pulls counted in the repositories' documents equal to the pull notifications
the service acknowledged (each pull counted exactly once; a pull notification
whose answer was lost may or may not have counted).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import requests

from bench.soak_traffic import TaggedManifest, registry_truth
from bench.stack import BenchStack

REQUEST_TIMEOUT_S = 30
THREADS = 4
RETRY_PAUSE_S = 1.0
SHOWN = 10


@dataclass(frozen=True)
class IndexedRepository:
    """What the index holds for one repository: each tag's digest, and its pull count."""

    tags: Mapping[str, str]
    pulls: int


@dataclass(frozen=True)
class PullAccount:
    """Pull notifications the service answered 2xx (``acknowledged``) and those whose answer was
    an error (``uncertain``: they may have been logged all the same)."""

    acknowledged: int
    uncertain: int = 0


def index_view(service_url: str, repositories: Sequence[str]) -> dict[str, IndexedRepository | None]:
    """Each repository as ``GET /api/v1/repositories/<name>`` answers it; ``None`` when not indexed."""
    local = threading.local()

    def one(name: str) -> IndexedRepository | None:
        if not hasattr(local, "session"):
            local.session = requests.Session()
        response = local.session.get(f"{service_url}/api/v1/repositories/{quote(name)}", timeout=REQUEST_TIMEOUT_S)
        if response.status_code == 404:
            return None
        response.raise_for_status()
        document = response.json()
        return IndexedRepository({t["tag"]: t["digest"] for t in document["tags"]}, int(document.get("pulls", 0)))

    with ThreadPoolExecutor(THREADS) as pool:
        return dict(zip(repositories, pool.map(one, repositories)))


def compare(truth: Mapping[str, Mapping[str, TaggedManifest]], view: Mapping[str, IndexedRepository | None],
            indexed_tags: int, pulls: PullAccount, pulled: Sequence[str]) -> dict[str, Any]:
    """Differences between the registry's ``truth`` and the index's ``view``, and whether there are none.

    ``indexed_tags`` is how many tags search counts; ``pulled`` names the
    repositories whose pull counts add up to ``pulls``.
    """
    missing, wrong, unexpected = [], [], []
    for repository, tags in truth.items():
        held = view.get(repository)
        held_tags = held.tags if held is not None else {}
        missing += [f"{repository}:{tag}" for tag in tags if tag not in held_tags]
        wrong += [f"{repository}:{tag}" for tag, m in tags.items() if held_tags.get(tag, m.digest) != m.digest]
        unexpected += [f"{repository}:{tag}" for tag in held_tags if tag not in tags]
    expected_tags = sum(len(tags) for tags in truth.values())
    counted = sum(entry.pulls for name in pulled if (entry := view.get(name)) is not None)
    pulls_ok = pulls.acknowledged <= counted <= pulls.acknowledged + pulls.uncertain
    return {
        "repositories": len(truth), "registry_tags": expected_tags, "indexed_tags": indexed_tags,
        "missing": len(missing), "wrong_digest": len(wrong), "unexpected": len(unexpected),
        "examples": (missing + wrong + unexpected)[:SHOWN],
        "pulls": {"acknowledged": pulls.acknowledged, "uncertain": pulls.uncertain, "indexed": counted},
        "passed": not (missing or wrong or unexpected) and indexed_tags == expected_tags and pulls_ok,
    }


def check_consistency(stack: BenchStack, repositories: Sequence[str], pulled: Sequence[str],
                      pulls: PullAccount, timeout_s: float) -> dict[str, Any]:
    """``compare`` the registry with the index until they agree or ``timeout_s`` passes;
    the last comparison, with the seconds it took to agree (``converged_after_s``, ``None`` if never)."""
    truth = registry_truth(stack.registry.url, repositories)
    started = time.monotonic()
    while True:
        result = compare(truth, index_view(stack.service.url, repositories), stack.indexed("tag"), pulls, pulled)
        waited = time.monotonic() - started
        if result["passed"] or waited >= timeout_s:
            return {**result, "converged_after_s": round(waited, 1) if result["passed"] else None}
        time.sleep(RETRY_PAUSE_S)
