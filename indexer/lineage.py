"""Base and derived images, from layer lists alone.

An image is built on a base when the base's layer list is a proper prefix of
its own: ``FROM base`` copies the base's layers first, in order. So the bases
of an image are the images whose layers it starts with, and the images
derived from it those that start with all of its layers. An index compares
platform by platform (its ``platform_layers``); a single-platform image
compares with each platform of an index that has its platform, or with any
when its platform is unknown. Pure functions over tag documents; the
candidates come from the index (every image sharing a first layer).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from indexer.documents import TagDocument


@dataclass(frozen=True)
class Relative:
    """``image`` is a base of (or derived from) the image asked about, on ``platform`` ('' when unknown)."""

    image: TagDocument
    platform: str
    layers: int


def layer_lists(doc: TagDocument) -> dict[str, tuple[str, ...]]:
    """Platform ('' when unknown) -> layers in order: one entry per platform of an index."""
    if doc.platform_layers:
        return dict(doc.platform_layers)
    platform = str(doc.platforms[0]) if len(doc.platforms) == 1 else ""
    return {platform: doc.layers} if doc.layers else {}


def first_layers(doc: TagDocument) -> set[str]:
    """The first layer of each of ``doc``'s platforms: every relative shares one of them."""
    return {layers[0] for layers in layer_lists(doc).values() if layers}


def relatives(doc: TagDocument, candidates: Iterable[TagDocument], direction: Literal["base", "derived"]) -> list[Relative]:
    """The ``candidates`` that are bases of ``doc`` (or derived from it), once per platform,
    nearest first (the most layers in common for a base, the fewest added for a derived image)."""
    mine = layer_lists(doc)
    found: list[Relative] = []
    for other in candidates:
        if (other.registry, other.repository, other.tag) == (doc.registry, doc.repository, doc.tag):
            continue
        for platform, theirs in layer_lists(other).items():
            for my_platform, layers in mine.items():
                if not _same_platform(platform, my_platform):
                    continue
                shorter, longer = (theirs, layers) if direction == "base" else (layers, theirs)
                if 0 < len(shorter) < len(longer) and longer[: len(shorter)] == shorter:
                    found.append(Relative(other, platform or my_platform, len(theirs)))
                    break
    nearest = (lambda r: -r.layers) if direction == "base" else (lambda r: r.layers)
    return sorted(found, key=lambda r: (nearest(r), r.image.repository, r.image.tag, r.platform))


def _same_platform(a: str, b: str) -> bool:
    return not a or not b or a == b
