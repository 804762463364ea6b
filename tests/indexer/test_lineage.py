"""Base and derived images from layer lists (pure logic)."""

from __future__ import annotations

from typing import Any

from indexer.documents import Platform, TagDocument
from indexer.lineage import first_layers, layer_lists, relatives

AMD64 = Platform("linux", "amd64")
ARM64 = Platform("linux", "arm64", "v8")


def image(repository: str, *layers: str, **kwargs: Any) -> TagDocument:
    return TagDocument(registry="r", repository=repository, tag="1", digest=f"sha256:{repository}",
                       media_type="m", layers=layers, platforms=kwargs.pop("platforms", (AMD64,)), **kwargs)


DEBIAN = image("debian", "d1")
PYTHON = image("python", "d1", "p1", "p2")
APP = image("app", "d1", "p1", "p2", "a1")
OTHER = image("other", "x1", "d1")
ARM_DEBIAN = image("arm-debian", "d1", platforms=(ARM64,))
MULTI = image("multi", "d1", "m-amd", "d1-arm", "m-arm", platforms=(AMD64, ARM64),
              platform_layers={"linux/amd64": ("d1", "m-amd"), "linux/arm64/v8": ("d1-arm", "m-arm")})


def names(found: list[Any]) -> list[str]:
    return [r.image.repository for r in found]


def test_bases_are_the_images_whose_layers_this_one_starts_with_nearest_first() -> None:
    everything = [DEBIAN, PYTHON, APP, OTHER, ARM_DEBIAN, MULTI]
    assert names(relatives(APP, everything, "base")) == ["python", "debian"]
    assert names(relatives(DEBIAN, everything, "base")) == []
    assert [r.layers for r in relatives(APP, everything, "base")] == [3, 1]


def test_derived_are_the_images_starting_with_all_of_this_ones_layers_nearest_first() -> None:
    everything = [DEBIAN, PYTHON, APP, OTHER, ARM_DEBIAN, MULTI]
    assert names(relatives(DEBIAN, everything, "derived")) == ["multi", "python", "app"]
    assert names(relatives(APP, everything, "derived")) == []


def test_an_index_compares_platform_by_platform() -> None:
    assert [(r.image.repository, r.platform) for r in relatives(MULTI, [DEBIAN, ARM_DEBIAN], "base")] == [
        ("debian", "linux/amd64")]  # arm-debian's d1 is not the arm platform's first layer
    assert layer_lists(MULTI) == {"linux/amd64": ("d1", "m-amd"), "linux/arm64/v8": ("d1-arm", "m-arm")}
    assert first_layers(MULTI) == {"d1", "d1-arm"}


def test_an_image_of_unknown_platform_compares_with_any() -> None:
    unknown = image("unknown", "d1", "u1", platforms=())
    assert layer_lists(unknown) == {"": ("d1", "u1")}
    assert names(relatives(unknown, [DEBIAN, ARM_DEBIAN], "base")) == ["arm-debian", "debian"]
