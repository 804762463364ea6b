"""The ``regsearch`` command."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from regsearch.config import ENV, ConfigError, build_settings, env_default

log = logging.getLogger("regsearch")

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
    ("log_level", "DEBUG, INFO, WARNING or ERROR"),
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


def add_common_flags(parser: argparse.ArgumentParser) -> None:
    for name, text in COMMON_FLAGS:
        parser.add_argument(
            "--" + name.replace("_", "-"), dest=name, default=env_default(name),
            help=f"{text} (env {ENV[name]}; default {env_default(name)!s})",
        )


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
    logging.basicConfig(
        level=(args.log_level or "INFO").upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        return run(args)
    except ConfigError as exc:
        print(f"regsearch: {exc}", file=sys.stderr)
        return 2


def run(args: argparse.Namespace) -> int:
    settings = build_settings(vars(args))
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
