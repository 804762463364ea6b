"""``--config``: a TOML or YAML file of settings and registries, below flags and variables."""

from __future__ import annotations

from pathlib import Path

import pytest

from regsearch.cli import build_parser, main, resolve_settings
from regsearch.config import ConfigError, RegistrySettings, Settings, notifications_block

TOML = """
listen = "0.0.0.0:9100"
threads = 4
webhook_token = "shared"

[[registries]]
name = "main"
url = "https://Registry.Example.com"
username = "indexer"
password_file = "{pw}"
webhook_tokens = ["current", "previous"]
hosts = ["registry.example.com", "Registry.Example.com:443"]

[[registries]]
name = "mirror"
url = "http://mirror:5000"
"""

YAML = """
listen: 0.0.0.0:9100
threads: 4
webhook_token: shared
registries:
  - name: main
    url: https://Registry.Example.com
    username: indexer
    password_file: {pw}
    webhook_tokens: [current, previous]
    hosts: [registry.example.com, "Registry.Example.com:443"]
  - name: mirror
    url: http://mirror:5000
"""


def settings_from(tmp_path: Path, name: str, text: str, *flags: str, environ: dict[str, str] | None = None) -> Settings:
    (tmp_path / "pw").write_text("s3cret\n")
    path = tmp_path / name
    path.write_text(text.format(pw=tmp_path / "pw"))
    args = build_parser().parse_args(["serve", "--config", str(path), "--data-dir", str(tmp_path / "data"), *flags])
    return resolve_settings(args, environ or {})


@pytest.mark.parametrize(("name", "text"), [("regsearch.toml", TOML), ("regsearch.yaml", YAML)])
def test_a_file_lists_registries_and_settings(tmp_path: Path, name: str, text: str) -> None:
    s = settings_from(tmp_path, name, text)
    assert (s.listen_host, s.listen_port, s.threads) == ("0.0.0.0", 9100, 4)
    assert s.registries == (
        RegistrySettings(name="main", url="https://Registry.Example.com", username="indexer", password="s3cret",
                         webhook_tokens=("current", "previous"),
                         hosts=("registry.example.com", "registry.example.com:443")),
        RegistrySettings(name="mirror", url="http://mirror:5000", webhook_tokens=("shared",), hosts=("mirror:5000",)),
    )
    assert s.registries[0].address == "registry.example.com"


def test_flags_beat_variables_beat_the_file(tmp_path: Path) -> None:
    s = settings_from(tmp_path, "c.toml", TOML, environ={"REGSEARCH_THREADS": "6", "REGSEARCH_LISTEN": "127.0.0.1:1"})
    assert (s.threads, s.listen_port) == (6, 1)
    s = settings_from(tmp_path, "c.toml", TOML, "--threads", "2", environ={"REGSEARCH_THREADS": "6"})
    assert s.threads == 2


def test_each_registry_gets_its_own_webhook_path(tmp_path: Path) -> None:
    s = settings_from(tmp_path, "c.toml", TOML, "--public-url", "https://search.example")
    block = notifications_block(s)
    assert block.count("url: https://search.example/notifications/main") == 2
    assert block.count("url: https://search.example/notifications/mirror") == 2
    assert "Authorization: [Bearer current]" in block and "Authorization: [Bearer shared]" in block


def test_registries_without_tokens_share_the_generated_one(tmp_path: Path) -> None:
    s = settings_from(tmp_path, "c.toml", TOML.replace('webhook_token = "shared"', ""))
    generated = (tmp_path / "data" / "webhook-token").read_text().strip()
    assert s.registries[1].webhook_tokens == (generated,)
    assert s.registries[0].webhook_tokens == ("current", "previous")


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ('colour = "blue"', r"c.toml: unknown setting\(s\) colour"),
        ('[[registries]]\nname = "Main Registry"\nurl = "http://r:5000"', r"registries\[0\].name"),
        ('[[registries]]\nname = "a"\nurl = "r:5000"', r"registries\[0\].url must be an http\(s\) URL"),
        ('[[registries]]\nname = "a"\nurl = "http://r:5000"\nport = 1', r"registries\[0\]: unknown key\(s\) port"),
        ('[[registries]]\nname = "a"\nurl = "http://r:5000"\nhosts = "x"\n[[registries]]\nname = "a"\nurl = "http://s:5000"',
         "same name 'a'"),
        ('[[registries]]\nname = "a"\nurl = "http://r:5000"\n[[registries]]\nname = "b"\nurl = "https://r:5000"',
         "same address 'r:5000'"),
        ('[[registries]]\nname = "a"\nurl = "http://r:5000"\nwebhook_tokens = [""]', r"webhook_tokens must be a list"),
        ('listen = ["a", "b"]', "listen must be a single value"),
        ("listen = ", "not valid TOML"),
    ],
)
def test_a_bad_file_names_what_is_wrong(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        settings_from(tmp_path, "c.toml", text)


def test_registry_flags_and_a_registry_list_do_not_mix(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--registry name one registry"):
        settings_from(tmp_path, "c.toml", TOML, "--registry", "http://other:5000")
    with pytest.raises(ConfigError, match="--registry-username name one registry"):
        settings_from(tmp_path, "c.toml", TOML, environ={"REGSEARCH_REGISTRY_USERNAME": "u"})


def test_a_file_without_registries_configures_the_flags_one(tmp_path: Path) -> None:
    s = settings_from(tmp_path, "c.yml", "registry: http://reg:5000\nreconcile_interval: 30\n")
    assert (s.registry.name, s.registry.url, s.reconcile_interval_s) == ("default", "http://reg:5000", 30)


def test_the_command_reports_a_bad_file_and_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "c.ini").write_text("[x]")
    assert main(["crawl", "--config", str(tmp_path / "c.ini")]) == 2
    assert "must end in .toml, .yaml or .yml" in capsys.readouterr().err
    assert main(["crawl", "--config", str(tmp_path / "missing.toml")]) == 2
    assert "cannot read" in capsys.readouterr().err
