"""Notification bodies as registries send them.

The 2.x events were captured from distribution 2.8.2 (Debian's
docker-registry) pushing, pulling and deleting with skopeo 1.9.3: that
release pretty-prints with three spaces and leaves ``actor`` empty for
anonymous clients. The 3.x event carries the OCI descriptor fields 3.x adds.
"""

from __future__ import annotations

import copy
import json
from typing import Any

V1_MEDIA_TYPE = "application/vnd.docker.distribution.events.v1+json"
V2_MEDIA_TYPE = "application/vnd.docker.distribution.events.v2+json"
REGISTRY = "registry.example:5000"

MANIFEST_DIGEST = "sha256:f5263fce1375e5bc7cee2a687d32c73f2c39c483514ff05b737b45838ff8e338"
LAYER_DIGEST = "sha256:1e93cf090ac787e2248b4e962d9496cd6ac868a58825a9ee0e318221969db529"
CONFIG_DIGEST = "sha256:8b88a4e5534281e1e57b433192bb2ae4ec93ea5b9a1fd3817f07300ae4812b91"
_SOURCE = {"addr": "vm:35123", "instanceID": "2dec38fa-22c9-4e0e-957a-925b9c6851d4"}


def _request(
    request_id: str, addr: str, method: str, agent: str = "skopeo/1.9.3"
) -> dict[str, str]:
    return {
        "id": request_id,
        "addr": addr,
        "host": "127.0.0.1:35123",
        "method": method,
        "useragent": agent,
    }


LAYER_PUSH: dict[str, Any] = {
    "id": "9fe7214e-f84a-4654-877f-9c8641dac1c3",
    "timestamp": "2026-11-28T13:32:07.659378386Z",
    "action": "push",
    "target": {
        "mediaType": "application/octet-stream",
        "size": 107,
        "digest": LAYER_DIGEST,
        "length": 107,
        "repository": "demo/app",
        "url": f"http://127.0.0.1:35123/v2/demo/app/blobs/{LAYER_DIGEST}",
    },
    "request": _request("06dca9e5-e6d9-498c-ba1b-04beb542f627", "127.0.0.1:43826", "PUT"),
    "actor": {},
    "source": _SOURCE,
}
CONFIG_PUSH: dict[str, Any] = {
    "id": "9808b4f6-4ef2-4748-a6ac-ccb4c494fe95",
    "timestamp": "2026-11-28T13:32:07.691723187Z",
    "action": "push",
    "target": {
        "mediaType": "application/octet-stream",
        "size": 231,
        "digest": CONFIG_DIGEST,
        "length": 231,
        "repository": "demo/app",
        "url": f"http://127.0.0.1:35123/v2/demo/app/blobs/{CONFIG_DIGEST}",
    },
    "request": _request("1d1609e3-4c69-400b-b3cf-e8d5363f993e", "127.0.0.1:43866", "PUT"),
    "actor": {},
    "source": _SOURCE,
}
MANIFEST_PUSH: dict[str, Any] = {
    "id": "f5033555-7597-42cc-87fe-14042c300870",
    "timestamp": "2026-11-28T13:32:07.709229052Z",
    "action": "push",
    "target": {
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "size": 418,
        "digest": MANIFEST_DIGEST,
        "length": 418,
        "repository": "demo/app",
        "url": f"http://127.0.0.1:35123/v2/demo/app/manifests/{MANIFEST_DIGEST}",
        "tag": "v1",
    },
    "request": _request("08c1fee6-91a5-467a-a391-8087d9e3e460", "127.0.0.1:43878", "PUT"),
    "actor": {},
    "source": _SOURCE,
}
MANIFEST_PULL: dict[str, Any] = {
    "id": "6646d059-db10-4541-9abc-50001be9eadc",
    "timestamp": "2026-11-28T13:32:07.741307885Z",
    "action": "pull",
    "target": dict(MANIFEST_PUSH["target"]),
    "request": _request("ad953cc8-47d5-4c00-951e-c70ec0f50847", "127.0.0.1:43894", "GET"),
    "actor": {},
    "source": _SOURCE,
}
DELETE_BY_DIGEST: dict[str, Any] = {
    "id": "7c5878e2-e9d9-4343-8dc2-91fa0c2fde81",
    "timestamp": "2026-11-28T13:32:14.536051156Z",
    "action": "delete",
    "target": {"digest": MANIFEST_DIGEST, "repository": "demo/app"},
    "request": _request("f95016b6-b497-4cea-b53e-75dfaeed3da7", "127.0.0.1:48428", "DELETE",
                        "curl/7.88.1"),
    "actor": {},
    "source": _SOURCE,
}
DELETE_TAG: dict[str, Any] = {
    "id": "02556816-cac4-43be-8879-a331c560ae31",
    "timestamp": "2026-11-28T13:32:14.539076389Z",
    "action": "delete",
    "target": {"repository": "demo/app", "tag": "v1"},
    "request": dict(DELETE_BY_DIGEST["request"]),
    "actor": {},
    "source": _SOURCE,
}

# distribution 3.x: one event per POST, an OCI index pushed by tag by a
# logged-in user, with the descriptor fields 3.x adds to the target.
V2_INDEX_PUSH_BODY = b"""{
   "events": [
      {
         "id": "0c7b1c1e-6a43-4c55-9b38-3d1f1b2f6a10",
         "timestamp": "2025-03-14T09:26:53.589793238Z",
         "action": "push",
         "target": {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "digest": "sha256:3b8ebd7b5d3b1e3a8f4ed3a8f6a1a1d0f4b7b3a6e5d4c3b2a1f0e9d8c7b6a5f4",
            "size": 1609,
            "artifactType": "application/vnd.example.sbom.v1",
            "annotations": {
               "org.opencontainers.image.description": "tools image"
            },
            "platform": {
               "architecture": "arm64",
               "os": "linux"
            },
            "length": 1609,
            "repository": "team/tools",
            "url": "https://registry.example:5000/v2/team/tools/manifests/sha256:3b8ebd7b5d3b1e3a8f4ed3a8f6a1a1d0f4b7b3a6e5d4c3b2a1f0e9d8c7b6a5f4",
            "tag": "1.4.2"
         },
         "request": {
            "id": "5d0f6f1c-2b1a-4f0e-8c39-6a9e2f3c4d51",
            "addr": "10.0.3.7:51234",
            "host": "registry.example:5000",
            "method": "PUT",
            "useragent": "containerd/v2.0.2"
         },
         "actor": {
            "name": "alice"
         },
         "source": {
            "addr": "registry-7f9c:5000",
            "instanceID": "7b1c0d8e-3f2a-4b5c-9d6e-0f1a2b3c4d5e"
         }
      }
   ]
}"""


def envelope(*events: object) -> bytes:
    """An envelope of ``events`` as distribution 2.x writes it."""
    return json.dumps({"events": list(events)}, indent=3).encode()


def edited(event: dict[str, Any], **changes: Any) -> dict[str, Any]:
    """A deep copy of ``event``; ``target_<field>=...`` edits the target,
    a value of ``None`` removes the field."""
    result = copy.deepcopy(event)
    for name, value in changes.items():
        holder, field = result, name
        if name.startswith("target_"):
            holder, field = result["target"], name.removeprefix("target_")
        if value is None:
            holder.pop(field, None)
        else:
            holder[field] = value
    return result
