"""``--tls-cert``/``--tls-key``: the service answers over HTTPS directly, and only over HTTPS."""

from __future__ import annotations

import json
import socket
import ssl
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from tests.support.certificates import self_signed
from tests.support.oci import OciBuilder, push
from tests.support.registry import RegistryProcess
from tests.support.service import REPO_ROOT, ServiceProcess

pytestmark = pytest.mark.integration


def test_search_and_notifications_are_served_over_https(
    registry: RegistryProcess, oci_builder: OciBuilder, tmp_path: Path
) -> None:
    built = oci_builder.image(tag="1.0")
    push(built.path, "1.0", f"{registry.host}/secure/app:1.0")
    service = ServiceProcess(tmp_path / "data", registry.url, tls=self_signed(tmp_path / "tls"))
    service.start()  # waits for /healthz over HTTPS, trusting that certificate alone
    try:
        found = service.wait_for("/api/v1/search", lambda a: a["total"] == 1, q="secure")  # the first walk
        assert found["results"][0]["name"] == "secure/app"
        assert service.get("/v1/search", q="secure").json()["num_results"] == 1
        assert service.notify(json.dumps({"events": []})).status_code == 202  # the webhook too

        with pytest.raises(requests.exceptions.SSLError):  # a client that does not trust it refuses
            requests.get(f"{service.url}/healthz", timeout=5)
        with pytest.raises(requests.exceptions.ConnectionError):  # plain HTTP is not served
            requests.get(f"http://127.0.0.1:{service.port}/healthz", timeout=5)
        handshake = ssl.create_default_context(cafile=str(service.tls[0]))  # type: ignore[index]
        with handshake.wrap_socket(socket.create_connection(("127.0.0.1", service.port), timeout=5),
                                   server_hostname="127.0.0.1") as tls:
            assert tls.version() in ("TLSv1.2", "TLSv1.3")
        assert "serving on https://127.0.0.1" in service.log()
    finally:
        assert service.stop() == 0


def test_a_certificate_without_its_key_stops_the_service_at_start(tmp_path: Path) -> None:
    cert, _ = self_signed(tmp_path / "tls")
    _, other_key = self_signed(tmp_path / "other", name="other")
    for flags, message in (
        (["--tls-cert", str(cert)], "--tls-cert and --tls-key go together"),
        (["--tls-cert", str(cert), "--tls-key", str(other_key)], "cannot load them as a PEM certificate and its key"),
    ):
        done = subprocess.run([sys.executable, "-m", "regsearch.cli", "serve", "--data-dir", str(tmp_path / "d"),
                               *flags], capture_output=True, text=True, cwd=REPO_ROOT, timeout=60)
        assert done.returncode == 2
        assert message in done.stderr
