"""Self-signed TLS certificates for tests that serve HTTPS on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID


def certificate_for(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, name: str,
                    hosts: tuple[str, ...] = ()) -> x509.Certificate:
    """A self-signed CA certificate for ``key`` named ``name``, valid for a day (from an hour ago);
    with ``hosts`` (names or IP addresses) as its subject alternative names."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    now = dt.datetime.now(dt.timezone.utc)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
    )
    if hosts:
        builder = builder.add_extension(x509.SubjectAlternativeName([_general_name(h) for h in hosts]), critical=False)
    return builder.sign(key, hashes.SHA256())


def _general_name(host: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(host))
    except ValueError:
        return x509.DNSName(host)


def self_signed(directory: Path, name: str = "regsearch-test") -> tuple[Path, Path]:
    """A P-256 key and a certificate for ``127.0.0.1`` and ``localhost``, as PEM files in
    ``directory``; returns ``(certificate, key)``. The certificate is its own trust anchor."""
    key = ec.generate_private_key(ec.SECP256R1())
    certificate = certificate_for(key, name, ("localhost", "127.0.0.1"))
    directory.mkdir(parents=True, exist_ok=True)
    cert_path, key_path = directory / f"{name}.crt", directory / f"{name}.key"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                           serialization.NoEncryption()))
    key_path.chmod(0o600)
    return cert_path, key_path
