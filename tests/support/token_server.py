"""The distribution project's own token service (``contrib/token-server``) as a real process.

Its policy is fixed: every token request needs Basic credentials from its
htpasswd file (anonymous callers get a 401), a user is granted
``repository`` scopes only on names starting with ``<user>/``, and
``registry:catalog:*`` goes to anyone authenticated. It signs ES256 JWTs
with the key given here, whose self-signed certificate is what a registry
(``rootcertbundle``) and ``--token-cert`` trust. The binary is built by
``scripts/token-server`` from its Go module, once.
"""

from __future__ import annotations

import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

import jwt
import requests
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.support.certificates import certificate_for
from tests.support.ports import free_port
from tests.support.registry import htpasswd_line
from tests.support.token_issuer import TokenAuth
from tests.support.waiting import end_process

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "token-server"
BUILD_TIMEOUT = 600.0
START_TIMEOUT = 15.0
SERVICE = "regsearch-test-registry"
ISSUER = "regsearch-test-token-server"


def build_token_server() -> Path:
    """The token-server binary, built first when missing; raises (never skips) when it cannot be."""
    result = subprocess.run([str(SCRIPT), "--path"], capture_output=True, text=True, timeout=BUILD_TIMEOUT)
    if result.returncode != 0:
        raise RuntimeError(f"scripts/token-server could not build the token-server:\n{result.stderr}")
    return Path(result.stdout.strip())


class TokenServerProcess:
    """One token-server on 127.0.0.1 for ``users``; ``start()``/``stop()`` or ``with``."""

    def __init__(self, binary: Path, directory: Path, users: Mapping[str, str]) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        self.binary = binary
        self.port = free_port()
        self.realm = f"http://127.0.0.1:{self.port}/token/"
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.key_path = directory / "token-server.key"
        self.cert_path = directory / "token-server.crt"
        self.log_path = directory / "token-server.log"
        self.passwd_path = directory / "token-server.htpasswd"
        self.passwd_path.write_text("".join(htpasswd_line(u, p) for u, p in users.items()))
        # libtrust reads "EC PRIVATE KEY" PEM, the traditional OpenSSL form
        self.key_path.write_bytes(self.key.private_bytes(serialization.Encoding.PEM,
                                                         serialization.PrivateFormat.TraditionalOpenSSL,
                                                         serialization.NoEncryption()))
        certificate = certificate_for(self.key, "regsearch test token-server")
        self.cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
        self._process: subprocess.Popen[bytes] | None = None

    def registry_auth(self) -> TokenAuth:
        """The ``auth`` section of a registry that trusts this token service."""
        return TokenAuth(self.realm, SERVICE, ISSUER, self.cert_path)

    def token(self, credentials: tuple[str, str] | None, *scopes: str, service: str = SERVICE) -> requests.Response:
        """Ask for a token as any client does."""
        params = [("service", service), *(("scope", scope) for scope in scopes)]
        return requests.get(self.realm, params=params, auth=credentials, timeout=10)

    def mint(self, pullable: list[str]) -> str:
        """A token granting pull on ``pullable``, signed with this service's key, as if issued by it:
        what the tests use to see everything while waiting for the index."""
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": "test", "aud": SERVICE, "exp": now + 300, "nbf": now, "iat": now,
                  "access": [{"type": "repository", "name": n, "actions": ["pull"]} for n in pullable]}
        return jwt.encode(claims, self.key, algorithm="ES256")

    def start(self) -> None:
        command = [str(self.binary), "-addr", f"127.0.0.1:{self.port}", "-realm", self.realm,
                   "-passwd", str(self.passwd_path), "-key", str(self.key_path), "-issuer", ISSUER]
        with self.log_path.open("ab") as log:
            self._process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        deadline = time.monotonic() + START_TIMEOUT
        while not self._answers():
            if self._process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the token-server did not start; its log:\n{self.log()}")
            time.sleep(0.05)

    def stop(self) -> None:
        process, self._process = self._process, None
        end_process(process, 5)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def __enter__(self) -> TokenServerProcess:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _answers(self) -> bool:
        try:
            return requests.get(self.realm, timeout=1).status_code == 401
        except requests.RequestException:
            return False
