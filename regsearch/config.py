"""Configuration: the one place that reads ``REGSEARCH_*`` variables.

Every command-line flag has an environment twin and a key of the same name
in the configuration file (``--config``, see :mod:`regsearch.config_file`):
a flag given on the command line wins over the variable, the variable over
the file, and the file over the default.
"""

from __future__ import annotations

import os
import re
import secrets
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from urllib.parse import urlsplit

from limits import parse_many

from indexer.limits import DEFAULT_QUERY_BUDGET_S
from indexer.registry import registry_address
from regsearch.access_settings import AccessSettings, access_settings
from regsearch.logs.kafka_settings import KafkaSettings
from search_api.token_service import DEFAULT_CACHE_SECONDS, DEFAULT_SCOPES_PER_REQUEST

DEFAULT_REGISTRY = "http://localhost:5000"
DEFAULT_DATA_DIR = "./regsearch-data"
DEFAULT_LISTEN = "127.0.0.1:8080"
DEFAULT_MAX_BODY = 4 * 1024 * 1024
TOKEN_FILE = "webhook-token"
DEFAULT_REGISTRY_NAME = "default"
REGISTRY_NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
# the settings of the one registry given by flags; a configuration file's list replaces them
SINGLE_REGISTRY_KEYS = ("registry", "registry_username", "registry_password_file")

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
    "query_budget": "REGSEARCH_QUERY_BUDGET",
    "rate_limit": "REGSEARCH_RATE_LIMIT",
    "tls_cert": "REGSEARCH_TLS_CERT",
    "tls_key": "REGSEARCH_TLS_KEY",
    "log_level": "REGSEARCH_LOG_LEVEL",
    "auth": "REGSEARCH_AUTH",
    "htpasswd": "REGSEARCH_HTPASSWD",
    "acl": "REGSEARCH_ACL",
    "token_realm": "REGSEARCH_TOKEN_REALM",
    "token_service": "REGSEARCH_TOKEN_SERVICE",
    "token_cache_seconds": "REGSEARCH_TOKEN_CACHE_SECONDS",
    "token_scopes_per_request": "REGSEARCH_TOKEN_SCOPES_PER_REQUEST",
    "token_cert": "REGSEARCH_TOKEN_CERT",
    "token_issuer": "REGSEARCH_TOKEN_ISSUER",
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
    "query_budget": str(DEFAULT_QUERY_BUDGET_S),
    "rate_limit": None,
    "tls_cert": None,
    "tls_key": None,
    "log_level": "INFO",
    "auth": "none",
    "htpasswd": None,
    "acl": None,
    "token_realm": None,
    "token_service": None,
    "token_cache_seconds": str(int(DEFAULT_CACHE_SECONDS)),
    "token_scopes_per_request": str(DEFAULT_SCOPES_PER_REQUEST),
    "token_cert": None,
    "token_issuer": None,
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


@dataclass(frozen=True)
class RegistrySettings:
    """One registry: where it is, how to sign in, and how its notifications prove their origin.

    ``hosts`` are the ``Host`` header values (``host[:port]``, lower case)
    under which clients reach this registry; ``docker search`` sent to one of
    them is answered from this registry alone.
    """

    name: str = DEFAULT_REGISTRY_NAME
    url: str = DEFAULT_REGISTRY
    username: str | None = None
    password: str | None = None
    webhook_tokens: tuple[str, ...] = ()
    hosts: tuple[str, ...] = ()

    @property
    def address(self) -> str:
        """``host:port`` of the URL in lower case: how documents and events name this registry."""
        return registry_address(self.url)


@dataclass(frozen=True)
class TlsSettings:
    """HTTPS served directly (``--tls-cert``/``--tls-key``), for deployments without a proxy."""

    cert: Path
    key: Path


@dataclass(frozen=True)
class Settings:
    """Everything a Registry Search process needs to know, validated."""

    registries: tuple[RegistrySettings, ...] = field(default_factory=lambda: (RegistrySettings(),))
    data_dir: Path = Path(DEFAULT_DATA_DIR)
    listen_host: str = "127.0.0.1"
    listen_port: int = 8080
    max_body_bytes: int = DEFAULT_MAX_BODY
    reconcile_interval_s: float = 600.0
    public_url: str | None = None
    threads: int = 8
    # wall time one search request may spend in the index (see indexer.limits)
    query_budget_s: float = DEFAULT_QUERY_BUDGET_S
    # flask-limiter notation, e.g. "20/second;600/minute", per client address; None: no limit
    rate_limit: str | None = None
    tls: TlsSettings | None = None
    log_level: str = "INFO"
    access: AccessSettings = field(default_factory=lambda: AccessSettings())
    kafka: KafkaSettings | None = None

    @property
    def registry(self) -> RegistrySettings:
        """The first registry: the one ``POST /notifications`` (without a name) is for."""
        return self.registries[0]

    def secrets(self) -> tuple[str, ...]:
        """Every secret these settings hold, for the logs to redact (see :mod:`regsearch.redaction`)."""
        found = [token for r in self.registries for token in r.webhook_tokens]
        found += [r.password for r in self.registries if r.password]
        if self.kafka is not None and self.kafka.sasl_password:
            found.append(self.kafka.sasl_password)
        return tuple(found)

    def notifications_url(self, registry: RegistrySettings) -> str:
        """Where ``registry`` should POST its notifications.

        A registry configured by flags alone keeps the plain ``/notifications``.
        """
        base = self.public_url or f"http://{self.listen_host}:{self.listen_port}"
        path = "/notifications" if len(self.registries) == 1 and registry.name == DEFAULT_REGISTRY_NAME \
            else f"/notifications/{registry.name}"
        return base.rstrip("/") + path


def parse_listen(value: str) -> tuple[str, int]:
    """``HOST:PORT`` (``[v6]:PORT`` too) as a host and a port."""
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"--listen/REGSEARCH_LISTEN must be HOST:PORT, got {value!r}")
    return host.strip("[]"), int(port)


def check_registry_url(url: str, what: str = "--registry/REGSEARCH_REGISTRY") -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"{what} must be an http(s) URL, got {url!r}")
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


def split_tokens(value: str | Sequence[str] | None) -> tuple[str, ...]:
    """Tokens given comma-separated (a flag, a variable) or as a list (a file)."""
    if not value:
        return ()
    items = value.split(",") if isinstance(value, str) else value
    return tuple(t.strip() for t in items if t.strip())


def build_settings(
    values: Mapping[str, str | None], registries: Sequence[Mapping[str, object]] = ()
) -> Settings:
    """Settings from raw flag/environment values keyed like ``ENV``; missing ones take their defaults.

    ``registries`` are a configuration file's registry tables (see
    :mod:`regsearch.config_file`); without them the flags name one registry.
    """
    given = {k for k, v in values.items() if v}
    values = {**DEFAULTS, **{k: v for k, v in values.items() if v is not None}}
    data_dir = Path(values.get("data_dir") or DEFAULT_DATA_DIR)
    host, port = parse_listen(values.get("listen") or DEFAULT_LISTEN)
    shared_tokens = split_tokens(values.get("webhook_token"))
    if registries:
        clash = sorted(given & set(SINGLE_REGISTRY_KEYS))
        if clash:
            flags = ", ".join("--" + k.replace("_", "-") for k in clash)
            raise ConfigError(f"{flags} name one registry, and the configuration file lists registries: "
                              "give each registry's settings in the file")
        listed = tuple(registry_from_table(i, table) for i, table in enumerate(registries))
    else:
        listed = (RegistrySettings(
            url=check_registry_url(values.get("registry") or DEFAULT_REGISTRY),
            username=values.get("registry_username") or None,
            password=read_password(values.get("registry_password_file")),
        ),)
    check_unique(listed)
    fallback = shared_tokens
    if any(not r.webhook_tokens for r in listed) and not fallback:
        fallback = (ensure_webhook_token(data_dir),)
    return Settings(
        registries=tuple(
            replace(r, webhook_tokens=r.webhook_tokens or fallback, hosts=r.hosts or (r.address.lower(),))
            for r in listed
        ),
        data_dir=data_dir,
        listen_host=host,
        listen_port=port,
        max_body_bytes=int(to_number("max_body_bytes", values.get("max_body_bytes"), int)),
        reconcile_interval_s=to_number("reconcile_interval", values.get("reconcile_interval"), float),
        public_url=values.get("public_url") or None,
        threads=int(to_number("threads", values.get("threads"), int)),
        query_budget_s=to_number("query_budget", values.get("query_budget"), float),
        rate_limit=check_rate_limit(values.get("rate_limit")),
        tls=tls_settings(values.get("tls_cert"), values.get("tls_key")),
        log_level=check_log_level(values.get("log_level") or "INFO"),
        access=access_options(values, len(listed)),
        kafka=kafka_options(values),
    )


def access_options(values: Mapping[str, str | None], registries: int) -> AccessSettings:
    """The access mode and what it needs (see :mod:`regsearch.access_settings`), checked now."""
    try:
        return access_settings(values, registries)
    except ValueError as exc:  # AclError too: it names the ACL's line
        raise ConfigError(str(exc)) from exc


def check_rate_limit(value: str | None) -> str | None:
    """A flask-limiter rate limit (``N/second``, ``N per minute``, several joined by ``;``), checked now."""
    if not value:
        return None
    try:
        parse_many(value)
    except ValueError as exc:
        raise ConfigError(f"--rate-limit/REGSEARCH_RATE_LIMIT must read like '20/second' or "
                          f"'20/second;600/minute', got {value!r}") from exc
    return value


def tls_settings(cert: str | None, key: str | None) -> TlsSettings | None:
    """The certificate and key to serve HTTPS with, loaded once now so that a wrong pair stops
    the service at start rather than failing every handshake."""
    if not cert and not key:
        return None
    if not cert or not key:
        raise ConfigError("--tls-cert and --tls-key go together: give both (PEM files) or neither")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (OSError, ssl.SSLError) as exc:
        raise ConfigError(f"--tls-cert {cert} / --tls-key {key}: cannot load them as a PEM certificate "
                          f"and its key: {exc}") from exc
    return TlsSettings(Path(cert), Path(key))


def check_log_level(value: str) -> str:
    level = value.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        raise ConfigError(f"--log-level/REGSEARCH_LOG_LEVEL must be DEBUG, INFO, WARNING or ERROR, got {value!r}")
    return level


REGISTRY_KEYS = frozenset({"name", "url", "username", "password_file", "webhook_tokens", "hosts"})


def registry_from_table(position: int, table: Mapping[str, object]) -> RegistrySettings:
    """One ``[[registries]]`` table of a configuration file, validated."""
    where = f"registries[{position}]"
    unknown = sorted(set(table) - REGISTRY_KEYS)
    if unknown:
        raise ConfigError(f"{where}: unknown key(s) {', '.join(unknown)}; known: {', '.join(sorted(REGISTRY_KEYS))}")
    name = _string(table, "name", where)
    if name is None or not REGISTRY_NAME.fullmatch(name):
        raise ConfigError(f"{where}.name must be lower-case letters, digits, '.', '_' or '-' "
                          f"(up to 63, first a letter or digit), got {table.get('name')!r}")
    return RegistrySettings(
        name=name,
        url=check_registry_url(_string(table, "url", where) or "", f"{where}.url"),
        username=_string(table, "username", where),
        password=read_password(_string(table, "password_file", where), f"{where}.password_file"),
        webhook_tokens=_strings(table, "webhook_tokens", where),
        hosts=tuple(h.lower() for h in _strings(table, "hosts", where)),
    )


def _string(table: Mapping[str, object], key: str, where: str) -> str | None:
    value = table.get(key)
    if value is not None and not isinstance(value, str):
        raise ConfigError(f"{where}.{key} must be a string, got {value!r}")
    return value or None


def _strings(table: Mapping[str, object], key: str, where: str) -> tuple[str, ...]:
    value = table.get(key) or []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise ConfigError(f"{where}.{key} must be a list of non-empty strings, got {value!r}")
    return split_tokens(value)


def check_unique(registries: Sequence[RegistrySettings]) -> None:
    """Names pick a registry's webhook, addresses its documents, hosts its ``docker search``: each is one registry's."""
    for what, key in (("name", lambda r: [r.name]), ("address", lambda r: [r.address]), ("host", lambda r: list(r.hosts))):
        seen: dict[str, str] = {}
        for registry in registries:
            for value in key(registry):
                if value in seen:
                    raise ConfigError(f"registries {seen[value]!r} and {registry.name!r} have the same {what} {value!r}")
                seen[value] = registry.name


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


def notifications_block(settings: Settings, reveal: bool = True) -> str:
    """The ``notifications:`` section to paste into each registry's config.yml.

    Two endpoints per registry, because the registry delivers each
    endpoint's events one at a time: pulls (many, and some caused by our own
    fetches) get their own queue, so pushes and deletes never wait behind
    them. With several registries, one section per registry. Without
    ``reveal`` the token is replaced by where to find it: the block then
    goes to a log, and logs hold no secret.
    """
    sections = []
    for registry in settings.registries:
        token = registry.webhook_tokens[0] if reveal else (
            f"<your webhook token: --webhook-token, or the first line of {settings.data_dir / TOKEN_FILE}>")
        endpoint = f"""      url: {settings.notifications_url(registry)}
      headers:
        Authorization: [Bearer {token}]
      timeout: 1s
      threshold: 5
      backoff: 1s"""
        heading = "" if len(settings.registries) == 1 else f"# for registry {registry.name!r} ({registry.url})\n"
        sections.append(f"""{heading}notifications:
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
""")
    return "\n".join(sections)
