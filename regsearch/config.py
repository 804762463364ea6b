"""Configuration: the one place that reads ``REGSEARCH_*`` variables.

Every command-line flag has an environment twin; a flag given on the command
line wins over the variable, and the variable over the default.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from regsearch.logs.kafka_settings import KafkaSettings

DEFAULT_REGISTRY = "http://localhost:5000"
DEFAULT_DATA_DIR = "./regsearch-data"
DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_MAX_BODY = 4 * 1024 * 1024
TOKEN_FILE = "webhook-token"

ENV = {
    "registry": "REGSEARCH_REGISTRY",
    "data_dir": "REGSEARCH_DATA_DIR",
    "listen": "REGSEARCH_LISTEN",
    "webhook_token": "REGSEARCH_WEBHOOK_TOKEN",
    "registry_username": "REGSEARCH_REGISTRY_USERNAME",
    "registry_password_file": "REGSEARCH_REGISTRY_PASSWORD_FILE",
    "max_body_bytes": "REGSEARCH_MAX_BODY_BYTES",
    "reconcile_interval": "REGSEARCH_RECONCILE_INTERVAL",
    "public_url": "REGSEARCH_PUBLIC_URL",
    "threads": "REGSEARCH_THREADS",
    "log_level": "REGSEARCH_LOG_LEVEL",
    "kafka_bootstrap": "REGSEARCH_KAFKA_BOOTSTRAP",
    "topic_prefix": "REGSEARCH_TOPIC_PREFIX",
    "kafka_partitions": "REGSEARCH_KAFKA_PARTITIONS",
    "kafka_replication_factor": "REGSEARCH_KAFKA_REPLICATION_FACTOR",
    "kafka_security_protocol": "REGSEARCH_KAFKA_SECURITY_PROTOCOL",
    "kafka_sasl_mechanism": "REGSEARCH_KAFKA_SASL_MECHANISM",
    "kafka_sasl_username": "REGSEARCH_KAFKA_SASL_USERNAME",
    "kafka_sasl_password_file": "REGSEARCH_KAFKA_SASL_PASSWORD_FILE",
    "kafka_ssl_cafile": "REGSEARCH_KAFKA_SSL_CAFILE",
    "kafka_ssl_certfile": "REGSEARCH_KAFKA_SSL_CERTFILE",
    "kafka_ssl_keyfile": "REGSEARCH_KAFKA_SSL_KEYFILE",
}

DEFAULTS: dict[str, str | None] = {
    "registry": DEFAULT_REGISTRY,
    "data_dir": DEFAULT_DATA_DIR,
    "listen": DEFAULT_LISTEN,
    "webhook_token": None,
    "registry_username": None,
    "registry_password_file": None,
    "max_body_bytes": str(DEFAULT_MAX_BODY),
    "reconcile_interval": "600",
    "public_url": None,
    "threads": "8",
    "log_level": "INFO",
    "kafka_bootstrap": None,
    "topic_prefix": "regsearch",
    "kafka_partitions": "6",
    "kafka_replication_factor": "1",
    "kafka_security_protocol": "PLAINTEXT",
    "kafka_sasl_mechanism": None,
    "kafka_sasl_username": None,
    "kafka_sasl_password_file": None,
    "kafka_ssl_cafile": None,
    "kafka_ssl_certfile": None,
    "kafka_ssl_keyfile": None,
}


class ConfigError(ValueError):
    """A setting is unusable; the message names it and says what to change."""


def env_default(name: str, environ: Mapping[str, str] = os.environ) -> str | None:
    """The default of setting ``name``: its variable when set, else the built-in."""
    return environ.get(ENV[name]) or DEFAULTS[name]


@dataclass(frozen=True)
class Settings:
    """Everything a Registry Search process needs to know, validated."""

    registry_url: str = DEFAULT_REGISTRY
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    webhook_tokens: tuple[str, ...] = ()
    registry_username: str | None = None
    registry_password: str | None = None
    max_body_bytes: int = DEFAULT_MAX_BODY
    reconcile_interval_s: float = 600.0
    public_url: str | None = None
    threads: int = 8
    kafka: KafkaSettings | None = None

    @property
    def notifications_url(self) -> str:
        """Where the registry should POST its notifications."""
        base = self.public_url or f"http://{self.listen_host}:{self.listen_port}"
        return base.rstrip("/") + "/notifications"


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) as a host and a port."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--listen/REGSEARCH_LISTEN must be HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def check_registry_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"--registry/REGSEARCH_REGISTRY must be an http(s) URL, got {url!r}")
    return url.rstrip("/")


def read_password(path: str | None, flag: str = "--registry-password-file") -> str | None:
    """A password from its file (first line), so it never sits in argv."""
    if not path:
        return None
    try:
        text = Path(path).read_text()
    except OSError as exc:
        raise ConfigError(f"{flag}: cannot read {path}: {exc.strerror}") from exc
    return text.splitlines()[0] if text else ""


def ensure_webhook_token(data_dir: Path) -> str:
    """The token kept in the data directory, generated (mode 0600) on first use."""
    path = data_dir / TOKEN_FILE
    if path.exists():
        return path.read_text().strip()
    data_dir.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(32)
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(token + "\n")
    os.replace(tmp, path)
    return token


def to_number(name: str, value: str | None, kind: type[int] | type[float]) -> float:
    try:
        number = kind(value or "")
    except ValueError as exc:
        raise ConfigError(f"{ENV[name]} / --{name.replace('_', '-')} must be a number, got {value!r}") from exc
    if number <= 0:
        raise ConfigError(f"--{name.replace('_', '-')} must be positive, got {value!r}")
    return number


def build_settings(values: Mapping[str, str | None]) -> Settings:
    """Settings from raw flag/environment values keyed like ``ENV``; missing ones take their defaults."""
    values = {**DEFAULTS, **{k: v for k, v in values.items() if v is not None}}
    data_dir = Path(values.get("data_dir") or DEFAULT_DATA_DIR)
    host, port = parse_listen(values.get("listen") or DEFAULT_LISTEN)
    token = values.get("webhook_token")
    tokens = tuple(t.strip() for t in token.split(",") if t.strip()) if token else ()
    return Settings(
        registry_url=check_registry_url(values.get("registry") or DEFAULT_REGISTRY),
        data_dir=data_dir,
        listen_host=host,
        listen_port=port,
        webhook_tokens=tokens or (ensure_webhook_token(data_dir),),
        registry_username=values.get("registry_username") or None,
        registry_password=read_password(values.get("registry_password_file")),
        max_body_bytes=int(to_number("max_body_bytes", values.get("max_body_bytes"), int)),
        reconcile_interval_s=to_number("reconcile_interval", values.get("reconcile_interval"), float),
        public_url=values.get("public_url") or None,
        threads=int(to_number("threads", values.get("threads"), int)),
        kafka=kafka_options(values),
    )


def kafka_options(values: Mapping[str, str | None]) -> KafkaSettings | None:
    """The Kafka settings, or None for the embedded SQLite logs."""
    if not values.get("kafka_bootstrap"):
        return None
    try:
        return kafka_settings(values)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def kafka_settings(values: Mapping[str, str | None]) -> KafkaSettings:
    return KafkaSettings(
        bootstrap=values["kafka_bootstrap"] or "",
        topic_prefix=values.get("topic_prefix") or "regsearch",
        partitions=int(to_number("kafka_partitions", values.get("kafka_partitions"), int)),
        replication_factor=int(to_number("kafka_replication_factor", values.get("kafka_replication_factor"), int)),
        security_protocol=(values.get("kafka_security_protocol") or "PLAINTEXT").upper(),
        sasl_mechanism=values.get("kafka_sasl_mechanism") or None,
        sasl_username=values.get("kafka_sasl_username") or None,
        sasl_password=read_password(values.get("kafka_sasl_password_file"), "--kafka-sasl-password-file"),
        ssl_cafile=values.get("kafka_ssl_cafile") or None,
        ssl_certfile=values.get("kafka_ssl_certfile") or None,
        ssl_keyfile=values.get("kafka_ssl_keyfile") or None,
    )


def notifications_block(settings: Settings) -> str:
    """The ``notifications:`` section to paste into the registry's config.yml.

    Two endpoints, because the registry delivers each endpoint's events one
    at a time: pulls (many, and some caused by our own fetches) get their
    own queue, so pushes and deletes never wait behind them.
    """
    endpoint = f"""      url: {settings.notifications_url}
      headers:
        Authorization: [Bearer {settings.webhook_tokens[0]}]
      timeout: 1s
      threshold: 5
      backoff: 1s"""
    return f"""notifications:
  endpoints:
    - name: regsearch
{endpoint}
      ignore:
        mediatypes: [application/octet-stream]
        actions: [pull]
    - name: regsearch-pulls
{endpoint}
      ignore:
        mediatypes: [application/octet-stream]
        actions: [push, delete, mount]
"""
