"""The catalog-walk peer against a real registry: every page walked, every match counted, names ranked."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from bench.images import RegistryPusher, RepositorySpec
from bench.peers import CatalogWalk, PeerAnswer
from tests.bench.test_peers import DOCUMENTS, NAMES, NGINX, NO_MATCH
from tests.support.registry import RegistryProcess

pytestmark = pytest.mark.integration

PAGE = 2
WALK_ANSWERS = {
    "proxy": PeerAnswer(1, ("bench/nginx-proxy",)),
    "nginx proxy": PeerAnswer(1, ("bench/nginx-proxy",)),
    "ngin*": PeerAnswer(3, NGINX),
    "nginx": PeerAnswer(3, NGINX),
    "redis": PeerAnswer(2, ("library/redis", "lab/redisx")),
    "library/redis": PeerAnswer(1, ("library/redis",)),
    "web_app": PeerAnswer(1, ("team/web_app",)),
    "web%app": NO_MATCH,
    "o'brien": NO_MATCH,
    '"bob': NO_MATCH,
    "server": NO_MATCH,
    "zzqxjvw": NO_MATCH,
    "": PeerAnswer(len(NAMES), ("lab/redisx", "team/web_app", "team/webxapp")),
}


@pytest.fixture
def walk(registry: RegistryProcess) -> Iterator[CatalogWalk]:
    """A catalog walk with pages of ``PAGE`` over a registry holding every repository of ``DOCUMENTS``."""
    pusher = RegistryPusher(registry.url)
    for doc in DOCUMENTS:
        pusher.push(RepositorySpec(doc.name, doc.title or "", doc.description or "", ("latest",)))
    peer = CatalogWalk(registry.url, page=PAGE)
    yield peer
    peer.close()


def test_the_walk_matches_names_only_ranks_them_and_follows_every_page(walk: CatalogWalk) -> None:
    answers = {q: walk.search(q, 3) for q in WALK_ANSWERS}
    assert answers == WALK_ANSWERS
    assert walk.pages_walked == -(-len(NAMES) // PAGE)
    assert sorted(walk.catalog()) == sorted(NAMES)
