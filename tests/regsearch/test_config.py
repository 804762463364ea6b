from __future__ import annotations

import stat
from pathlib import Path

import pytest

from regsearch.cli import build_parser, main, resolve_settings
from regsearch.config import ConfigError, Settings, build_settings, notifications_block


def settings_for(tmp_path: Path, **values: str) -> Settings:
    return build_settings({"data_dir": str(tmp_path / "data"), **values})


def test_defaults(tmp_path: Path) -> None:
    s = settings_for(tmp_path)
    assert (s.registry.url, s.listen_host, s.listen_port) == ("http://localhost:5000", "127.0.0.1", 8080)
    assert (s.registry.name, s.registry.hosts) == ("default", ("localhost:5000",))
    assert s.max_body_bytes == 4 * 1024 * 1024 and s.reconcile_interval_s == 600


def test_generated_token_is_kept_private_and_reused(tmp_path: Path) -> None:
    first = settings_for(tmp_path).registry.webhook_tokens
    token_file = tmp_path / "data" / "webhook-token"
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert settings_for(tmp_path).registry.webhook_tokens == first and len(first[0]) >= 32


def test_given_tokens_win_and_may_be_several(tmp_path: Path) -> None:
    assert settings_for(tmp_path, webhook_token="new, old").registry.webhook_tokens == ("new", "old")
    assert not (tmp_path / "data" / "webhook-token").exists()


def test_environment_twins_fill_what_flags_leave(tmp_path: Path) -> None:
    environ = {"REGSEARCH_LISTEN": "0.0.0.0:9000", "REGSEARCH_REGISTRY": "https://reg.example",
               "REGSEARCH_DATA_DIR": str(tmp_path)}
    s = resolve_settings(build_parser().parse_args(["serve"]), environ)
    assert (s.listen_host, s.listen_port, s.registry.url) == ("0.0.0.0", 9000, "https://reg.example")
    s = resolve_settings(build_parser().parse_args(["serve", "--listen", "127.0.0.1:1"]), environ)
    assert s.listen_port == 1


@pytest.mark.parametrize(
    ("values", "named"),
    [
        ({"listen": "8080"}, "--listen"),
        ({"listen": "host:99999"}, "--listen"),
        ({"registry": "localhost:5000"}, "--registry"),
        ({"max_body_bytes": "lots"}, "max-body-bytes"),
        ({"reconcile_interval": "-1"}, "reconcile-interval"),
        ({"registry_password_file": "/nonexistent/pw"}, "--registry-password-file"),
    ],
)
def test_bad_settings_name_the_flag(tmp_path: Path, values: dict[str, str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        settings_for(tmp_path, **values)


def test_password_comes_from_the_first_line_of_its_file(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("s3cret\nignored\n")
    assert settings_for(tmp_path, registry_password_file=str(tmp_path / "pw")).registry.password == "s3cret"


def test_notifications_block_names_url_and_token(tmp_path: Path) -> None:
    s = settings_for(tmp_path, webhook_token="tok", public_url="https://search.example/")
    block = notifications_block(s)
    assert "url: https://search.example/notifications" in block
    assert "Authorization: [Bearer tok]" in block
    assert "application/octet-stream" in block
    assert block.count("url: https://search.example/notifications") == 2, "pulls have their own queue"
    assert "actions: [pull]" in block and "actions: [push, delete, mount]" in block
    for_a_log = notifications_block(s, reveal=False)
    assert "tok" not in for_a_log.replace("token", "")
    assert f"Authorization: [Bearer <your webhook token: --webhook-token, or the first line of {tmp_path}" in for_a_log


@pytest.mark.parametrize("role", ["webhooks", "indexer", "search-api"])
def test_single_roles_need_kafka(role: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main([role, "--data-dir", str(tmp_path / "data"), "--webhook-token", "t"]) == 2
    assert "needs --kafka-bootstrap" in capsys.readouterr().err


def test_kafka_options_come_from_flags(tmp_path: Path) -> None:
    (tmp_path / "sasl").write_text("pw\n")
    s = settings_for(tmp_path, kafka_bootstrap="k1:9092,k2:9092", kafka_security_protocol="sasl_ssl",
                     kafka_sasl_mechanism="SCRAM-SHA-512", kafka_sasl_username="u",
                     kafka_sasl_password_file=str(tmp_path / "sasl"), kafka_partitions="12")
    assert s.kafka is not None
    assert (s.kafka.bootstrap, s.kafka.security_protocol, s.kafka.sasl_password, s.kafka.partitions) == (
        "k1:9092,k2:9092", "SASL_SSL", "pw", 12)
    assert settings_for(tmp_path).kafka is None


def test_auth_htpasswd_needs_its_files_and_a_well_formed_acl(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert settings_for(tmp_path).access.mode == "none"
    with pytest.raises(ConfigError, match="needs --htpasswd"):
        settings_for(tmp_path, auth="htpasswd")
    with pytest.raises(ConfigError, match="must be one of none, htpasswd"):
        settings_for(tmp_path, auth="ldap")
    (tmp_path / "htpasswd").write_text("")
    (tmp_path / "acl.yaml").write_text("anonymous: [public/*]\nusers:\n  alice: team-a/*\n")
    data = str(tmp_path / "data")
    assert main(["crawl", "--data-dir", data, "--auth", "htpasswd", "--htpasswd", str(tmp_path / "htpasswd"),
                 "--acl", str(tmp_path / "acl.yaml")]) == 2
    assert "line 3: users.alice must be a list" in capsys.readouterr().err
    (tmp_path / "acl.yaml").write_text("anonymous: [public/*]\n")
    s = settings_for(tmp_path, auth="htpasswd", htpasswd=str(tmp_path / "htpasswd"), acl=str(tmp_path / "acl.yaml"))
    assert s.access.acl is not None and s.access.acl.visibility(None).patterns == ("public/*",)


TOKEN = {"auth": "token", "token_realm": "https://auth.example/token", "token_service": "registry.example"}


def test_auth_token_takes_its_settings_from_flags_variables_and_the_file(tmp_path: Path) -> None:
    s = settings_for(tmp_path, **TOKEN)
    assert s.access.mode == "token" and s.access.token is not None
    assert (s.access.token.realm, s.access.token.service) == ("https://auth.example/token", "registry.example")
    assert (s.access.token.cache_seconds, s.access.token.scopes_per_request) == (60, 50)
    assert (s.access.token.cert, s.access.token.issuer) == (None, None)
    (tmp_path / "regsearch.yaml").write_text("auth: token\ntoken_realm: http://file/token\ntoken_service: svc\n"
                                             "token_cache_seconds: 5\ntoken_scopes_per_request: 10\n")
    environ = {"REGSEARCH_DATA_DIR": str(tmp_path), "REGSEARCH_TOKEN_SERVICE": "from-env",
               "REGSEARCH_TOKEN_ISSUER": "issuer"}
    args = build_parser().parse_args(["serve", "--config", str(tmp_path / "regsearch.yaml"),
                                      "--token-cache-seconds", "0"])
    token = resolve_settings(args, environ).access.token
    assert token is not None
    assert (token.realm, token.service, token.issuer) == ("http://file/token", "from-env", "issuer")
    assert (token.cache_seconds, token.scopes_per_request) == (0, 10)


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({**TOKEN, "token_realm": ""}, "--auth token needs --token-realm"),
        ({**TOKEN, "token_realm": "auth.example/token"}, "--auth token needs --token-realm"),
        ({**TOKEN, "token_service": ""}, "--auth token needs --token-service"),
        ({**TOKEN, "token_cache_seconds": "-1"}, "--token-cache-seconds must be between 0 and 3600"),
        ({**TOKEN, "token_cache_seconds": "soon"}, "--token-cache-seconds must be a number"),
        ({**TOKEN, "token_scopes_per_request": "5000"}, "--token-scopes-per-request must be between 1 and 1000"),
        ({**TOKEN, "token_cert": "/nonexistent.pem"}, "--token-cert: cannot read /nonexistent.pem"),
        ({"token_realm": "https://auth.example/token"}, "--token-realm only apply with --auth token"),
        ({"auth": "htpasswd", "token_service": "x", "token_issuer": "y"},
         "--token-service, --token-issuer only apply with --auth token, and --auth is 'htpasswd'"),
    ],
)
def test_auth_token_refuses_what_it_cannot_work_with(tmp_path: Path, values: dict[str, str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        settings_for(tmp_path, **values)


def test_auth_token_is_for_one_registry(tmp_path: Path) -> None:
    tables = [{"name": "a", "url": "http://a:5000"}, {"name": "b", "url": "http://b:5000"}]
    with pytest.raises(ConfigError, match="--auth token asks one registry's token service"):
        build_settings({"data_dir": str(tmp_path), **TOKEN}, tables)
