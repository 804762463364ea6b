"""The settings of ``--auth``: who may see what in search, checked before the service starts.

A service must not start with another access policy than the one written:
a malformed ACL, a token service without its service name, or a Bearer
certificate that cannot be read stops it here. Problems are ``ValueError``
naming the flag; :mod:`regsearch.config` turns them into its ``ConfigError``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from search_api.acl import Acl, load_acl
from search_api.bearer import load_public_keys
from search_api.token_service import TokenPolicy

AUTH_MODES = ("none", "htpasswd", "token")
TOKEN_KEYS = ("token_realm", "token_service", "token_cert", "token_issuer")
"""The token settings without a default: given with another mode, they are a mistake to name."""


@dataclass(frozen=True)
class AccessSettings:
    """Who may see what in search: ``none`` (everyone everything), ``htpasswd`` (the
    registry's htpasswd file for users, ``acl`` for what each may pull) or ``token`` (the
    registry's token service decides, see ``token``)."""

    mode: str = "none"
    htpasswd: Path | None = None
    acl: Acl | None = None
    token: TokenPolicy | None = None


def access_settings(values: Mapping[str, str | None], registries: int = 1) -> AccessSettings:
    """The access mode and what it needs, from raw setting values keyed like ``regsearch.config.ENV``;
    ``registries`` is how many registries are configured. Raises ``ValueError``."""
    mode = (values.get("auth") or "none").lower()
    if mode not in AUTH_MODES:
        raise ValueError(f"--auth/REGSEARCH_AUTH must be one of {', '.join(AUTH_MODES)}, got {mode!r}")
    stray = [key for key in TOKEN_KEYS if values.get(key)]
    if mode != "token" and stray:
        flags = ", ".join("--" + key.replace("_", "-") for key in stray)
        raise ValueError(f"{flags} only apply with --auth token, and --auth is {mode!r}: "
                         "give --auth token, or remove them")
    if mode == "htpasswd":
        return htpasswd_settings(values)
    if mode == "token":
        return AccessSettings(mode, token=token_policy(values, registries))
    return AccessSettings()


def htpasswd_settings(values: Mapping[str, str | None]) -> AccessSettings:
    """``--auth htpasswd``: both files present, the ACL well formed (``AclError`` names its line)."""
    htpasswd, acl = values.get("htpasswd"), values.get("acl")
    if not htpasswd or not acl:
        raise ValueError("--auth htpasswd needs --htpasswd (the registry's htpasswd file) and --acl (who may pull what)")
    if not Path(htpasswd).is_file():
        raise ValueError(f"--htpasswd: {htpasswd} is not a readable file")
    return AccessSettings("htpasswd", Path(htpasswd), load_acl(Path(acl)))


def token_policy(values: Mapping[str, str | None], registries: int = 1) -> TokenPolicy:
    """``--auth token``: the realm and service of the registry's token service, the cache and
    batch sizes, and (for Bearer callers) the certificates of its signing keys."""
    if registries != 1:
        raise ValueError("--auth token asks one registry's token service, and repository names do not say "
                         f"which of the {registries} configured registries they are in: use it with one registry")
    realm = values.get("token_realm") or ""
    parts = urlsplit(realm)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ValueError(f"--auth token needs --token-realm, the http(s) URL of the registry's token service "
                         f"(its auth.token.realm), got {realm!r}")
    cert_path = values.get("token_cert")
    cert = Path(cert_path) if cert_path else None
    if cert is not None:
        load_public_keys(cert)  # read now, so that a bad file stops the start, not the first caller
    return TokenPolicy(
        realm=realm,
        service=values.get("token_service") or "",
        cache_seconds=_number(values, "token_cache_seconds", float),
        scopes_per_request=int(_number(values, "token_scopes_per_request", int)),
        cert=cert,
        issuer=values.get("token_issuer") or None,
    )


def _number(values: Mapping[str, str | None], key: str, kind: type[int] | type[float]) -> float:
    value = values.get(key)
    try:
        return kind(value or "")
    except ValueError as exc:
        raise ValueError(f"--{key.replace('_', '-')} must be a number, got {value!r}") from exc
