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
]


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
        settings = build_settings(vars(args))
    except ConfigError as exc:
        print(f"regsearch: {exc}", file=sys.stderr)
        return 2
    if args.command == "serve":
        from regsearch.service import serve

        return serve(settings)
    if args.command == "crawl":
        from regsearch.crawl import crawl

        return crawl(settings)
    from regsearch.deadletters import dead_letters_command

    return dead_letters_command(settings, replay_all=args.replay)


if __name__ == "__main__":
    sys.exit(main())
