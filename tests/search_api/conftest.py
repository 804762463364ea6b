"""A search API over a real index in a temporary directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient

from indexer.documents import Platform, RepositoryDocument, TagDocument
from indexer.index import SearchIndex
from search_api.app import create_app

REGISTRY = "registry.example:5000"

NGINX = RepositoryDocument(
    registry=REGISTRY,
    name="library/nginx",
    tags=("1.25", "latest"),
    platforms=(Platform("linux", "amd64"), Platform("linux", "arm", "v7")),
    title="NGINX",
    description="Official build of Nginx.",
    labels={"org.opencontainers.image.vendor": "NGINX Inc."},
    pushed="2024-05-01T00:00:00Z",
    size=4096,
    pulls=3,
)
REDIS = RepositoryDocument(
    registry=REGISTRY,
    name="cache/redis",
    platforms=(Platform("linux", "amd64"),),
    title="Redis",
    pushed="2024-06-01T00:00:00Z",
)
UNTITLED = RepositoryDocument(registry=REGISTRY, name="tools/nginx-untitled", pushed="2023-01-01T00:00:00Z")
NGINX_LATEST = TagDocument(
    registry=REGISTRY,
    repository="library/nginx",
    tag="latest",
    digest="sha256:" + "a" * 64,
    media_type="application/vnd.oci.image.index.v1+json",
    platforms=(Platform("linux", "amd64"), Platform("linux", "arm", "v7")),
    size=4096,
    created="2024-04-30T00:00:00Z",
    pushed="2024-05-01T00:00:00Z",
    labels={"maintainer": "NGINX Docker Maintainers"},
    annotations={"org.opencontainers.image.version": "1.25.5"},
    title="NGINX",
    description="Official build of Nginx.",
    layers=("sha256:" + "b" * 64,),
    configs=("sha256:" + "c" * 64,),
    children=("sha256:" + "d" * 64,),
)
NGINX_125 = TagDocument(
    registry=REGISTRY,
    repository="library/nginx",
    tag="1.25",
    digest="sha256:" + "e" * 64,
    media_type="application/vnd.oci.image.manifest.v1+json",
    platforms=(Platform("linux", "amd64"),),
    pushed="2024-03-01T00:00:00Z",
)
DOCUMENTS = (NGINX, REDIS, UNTITLED, NGINX_LATEST, NGINX_125)


@pytest.fixture
def index(tmp_path: Path) -> Iterator[SearchIndex]:
    opened = SearchIndex.open(tmp_path / "index")
    opened.apply([(doc.doc_id, doc) for doc in DOCUMENTS], {0: len(DOCUMENTS)})
    yield opened
    opened.close()


@pytest.fixture
def app(index: SearchIndex) -> Flask:
    return create_app(lambda: index, {"TESTING": True})


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()
