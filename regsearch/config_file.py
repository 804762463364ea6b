"""The configuration file of ``--config PATH``: TOML (``.toml``) or YAML (``.yaml``, ``.yml``).

Its top-level keys are the settings' names (those of ``regsearch.config.ENV``,
``data_dir``, ``listen``, ``kafka_bootstrap``...); flags and ``REGSEARCH_*``
variables override them. It alone can list several registries::

    [[registries]]
    name = "main"                            # POST /notifications/main
    url = "https://registry.example.com"
    username = "indexer"                     # optional
    password_file = "/run/secrets/main"      # optional
    webhook_tokens = ["current", "previous"] # optional: else webhook_token, else generated
    hosts = ["registry.example.com"]         # optional: Host values of docker search
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from regsearch.config import ENV, ConfigError


@dataclass(frozen=True)
class ConfigFile:
    """A configuration file's settings (as the strings a flag would give) and registry tables."""

    values: dict[str, str] = field(default_factory=dict)
    registries: tuple[Mapping[str, object], ...] = ()


def load_config_file(path: Path) -> ConfigFile:
    """Read and check ``path``; a ``ConfigError`` names the file and what is wrong in it."""
    try:
        text = path.read_text()
    except OSError as exc:
        raise ConfigError(f"--config: cannot read {path}: {exc.strerror}") from exc
    try:
        if path.suffix == ".toml":
            data: object = tomllib.loads(text)
        elif path.suffix in (".yaml", ".yml"):
            data = yaml.safe_load(text) or {}
        else:
            raise ConfigError(f"--config: {path} must end in .toml, .yaml or .yml")
    except (tomllib.TOMLDecodeError, yaml.YAMLError) as exc:
        raise ConfigError(f"--config: {path} is not valid {path.suffix[1:].upper()}: {exc}") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"--config: {path} must hold a table of settings, not {type(data).__name__}")
    return _checked(path, data)


def _checked(path: Path, data: dict[str, object]) -> ConfigFile:
    unknown = sorted(set(data) - set(ENV) - {"registries"})
    if unknown:
        raise ConfigError(f"--config: {path}: unknown setting(s) {', '.join(unknown)}")
    registries = data.get("registries", [])
    if not isinstance(registries, list) or not all(isinstance(r, dict) for r in registries):
        raise ConfigError(f"--config: {path}: registries must be a list of tables")
    values = {}
    for key, value in data.items():
        if key == "registries" or value is None:
            continue
        if isinstance(value, list) and key == "webhook_token":
            value = ",".join(str(v) for v in value)
        if isinstance(value, (dict, list)):
            raise ConfigError(f"--config: {path}: {key} must be a single value, got {value!r}")
        values[key] = str(value).lower() if isinstance(value, bool) else str(value)
    return ConfigFile(values, tuple(registries))
