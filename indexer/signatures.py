"""Which tags are signed: the repository holds a signature for the tag's digest.

The convention is cosign's (and Notation's fallback): the signature of
``sha256:<hex>`` is the tag ``sha256-<hex>.sig`` in the same repository. A
tag's ``signed`` flag therefore changes when that other tag is pushed or
deleted, so the worker recomputes the flags of a repository's tags whenever
its tag set changes. The OCI referrers API is not consulted: the CNCF
distribution registry this project runs against (2.8) does not serve it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from indexer.documents import TagDocument


def signature_tag(digest: str) -> str:
    """The tag holding the signature of ``digest``: ``sha256:ab...`` -> ``sha256-ab....sig``."""
    algorithm, _, hex_part = digest.partition(":")
    return f"{algorithm}-{hex_part}.sig"


def with_signatures(tags: Mapping[str, TagDocument]) -> dict[str, TagDocument]:
    """The tag documents of one repository whose ``signed`` flag is wrong, corrected, by tag."""
    corrected = {}
    for name, doc in tags.items():
        signed = signature_tag(doc.digest) in tags
        if doc.signed != signed:
            corrected[name] = replace(doc, signed=signed)
    return corrected
