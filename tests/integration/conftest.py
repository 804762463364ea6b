"""The stack most integration tests use: a real registry notifying a real ``regsearch serve``."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.integration.stack import Stack, running_stack
from tests.support.oci import OciBuilder
from tests.support.registry import RegistryProcess


@pytest.fixture
def stack(registry_factory: Callable[..., RegistryProcess], tmp_path: Path, oci_builder: OciBuilder) -> Iterator[Stack]:
    with running_stack(registry_factory, tmp_path, oci_builder) as s:
        yield s
