"""The ``regsearch`` command."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from regsearch.config import DEFAULTS, ENV, ConfigError, Settings, build_settings
from regsearch.config_file import ConfigFile, load_config_file
from regsearch.redaction import configure_logging

log = logging.getLogger("regsearch")
LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

COMMON_FLAGS: list[tuple[str, str]] = [
    ("registry", "registry base URL"),
    ("data_dir", "directory for the logs, the index and the generated token"),
    ("listen", "HOST:PORT to serve HTTP on"),
    ("webhook_token", "token(s) the registry sends as 'Authorization: Bearer'; comma-separated"),
    ("registry_username", "user for the registry (Basic or token auth)"),
    ("registry_password_file", "file whose first line is that user's password"),
    ("max_body_bytes", "largest notification body accepted"),
    ("reconcile_interval", "seconds between catalog walks"),
    ("public_url", "URL the registry uses to reach this service (for the printed config)"),
    ("threads", "HTTP worker threads"),
    ("query_budget", "seconds one search request may spend in the index before a 400"),
    ("rate_limit", "search requests allowed per client address, e.g. 20/second;600/minute (429 past it)"),
    ("tls_cert", "PEM certificate (chain) to serve HTTPS directly, with --tls-key"),
    ("tls_key", "PEM private key of --tls-cert"),
    ("log_level", "DEBUG, INFO, WARNING or ERROR"),
    ("auth", "who sees what in search: none, htpasswd (with --htpasswd and --acl), or token "
             "(with --token-realm and --token-service)"),
    ("htpasswd", "the registry's htpasswd file (bcrypt), for --auth htpasswd"),
    ("acl", "YAML file granting pull on repository globs to anonymous, users and groups"),
    ("token_realm", "URL of the registry's token service (its auth.token.realm), for --auth token"),
    ("token_service", "the registry's auth.token.service: the service the token service issues tokens for"),
    ("token_cache_seconds", "seconds an identity's grants are remembered (0 to 3600)"),
    ("token_scopes_per_request", "repository scopes asked for in one token request (1 to 1000)"),
    ("token_cert", "PEM certificate(s) of the token service's signing keys (the registry's rootcertbundle); "
                   "without it Bearer tokens are refused"),
    ("token_issuer", "the issuer (iss) a caller's Bearer token must name; any when unset"),
    ("kafka_bootstrap", "HOST:PORT[,...] of Kafka; without it the logs are SQLite files in the data dir"),
    ("topic_prefix", "prefix of the Kafka topics (<prefix>.events, .docs, .state, .deadletter)"),
    ("kafka_partitions", "partitions of the events and state topics when created"),
    ("kafka_replication_factor", "replication factor of the topics when created"),
    ("kafka_security_protocol", "PLAINTEXT, SSL, SASL_PLAINTEXT or SASL_SSL"),
    ("kafka_sasl_mechanism", "PLAIN, SCRAM-SHA-256 or SCRAM-SHA-512"),
    ("kafka_sasl_username", "SASL user"),
    ("kafka_sasl_password_file", "file whose first line is the SASL password"),
    ("kafka_ssl_cafile", "CA bundle for TLS to Kafka"),
    ("kafka_ssl_certfile", "client certificate for TLS to Kafka"),
    ("kafka_ssl_keyfile", "client key for TLS to Kafka"),
]


ROLE_HELP = {
    "webhooks": "receive registry notifications into the event log (with Kafka)",
    "indexer": "turn events into documents, one member of the indexer group (with Kafka)",
    "search-api": "follow the document log into a local index and serve search (with Kafka)",
}


CONFIG_ENV = "REGSEARCH_CONFIG"


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    """The settings' flags; they default to None so that the variable, then the file, can fill them."""
    parser.add_argument(
        "--config", default=None, metavar="PATH",
        help=f"TOML or YAML file of settings and registries; flags and variables override it (env {CONFIG_ENV})",
    )
    for name, text in COMMON_FLAGS:
        parser.add_argument(
            "--" + name.replace("_", "-"), dest=name, default=None,
            help=f"{text} (env {ENV[name]}; default {DEFAULTS[name]!s})",
        )


def resolve_settings(args: argparse.Namespace, environ: Mapping[str, str] = os.environ) -> Settings:
    """Settings from the flags, else the ``REGSEARCH_*`` variables, else the file, else the defaults."""
    path = args.config or environ.get(CONFIG_ENV)
    file = load_config_file(Path(path)) if path else ConfigFile()
    values = {
        name: getattr(args, name) or environ.get(env) or file.values.get(name)
        for name, env in ENV.items()
    }
    return build_settings(values, file.registries)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="regsearch", description="Search for container registries.")
    commands = parser.add_subparsers(dest="command", required=True)
    add_common_flags(commands.add_parser("serve", help="run everything in one process"))
    for role, text in ROLE_HELP.items():
        add_common_flags(commands.add_parser(role, help=text))
    add_common_flags(commands.add_parser("crawl", help="reconcile with the registry once and exit"))
    dead = commands.add_parser("dead-letters", help="list (or replay) input that could not be used")
    add_common_flags(dead)
    dead.add_argument("--replay", action="store_true", help="feed every dead letter back in")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = resolve_settings(args)
        configure_logging(settings.log_level, LOG_FORMAT, settings.secrets())
        return run(args, settings)
    except ConfigError as exc:
        print(f"regsearch: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace, settings: Settings) -> int:
    if args.command == "serve" or args.command in ROLE_HELP:
        from regsearch.service import serve

        return serve(settings, args.command)
    if args.command == "crawl":
        from regsearch.crawl import crawl

        return crawl(settings)
    from regsearch.deadletters import dead_letters_command

    return dead_letters_command(settings, replay_all=args.replay)


if __name__ == "__main__":
    sys.exit(main())
