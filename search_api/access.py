"""Who is asking, and so what they may see: the access modes of the search API.

``none`` shows everything. ``htpasswd`` checks HTTP Basic credentials
against the registry's htpasswd file and shows what the ACL file grants
that user (an anonymous caller gets what it grants anonymous). Wrong
credentials are a 401 with a ``WWW-Authenticate: Basic`` challenge, never a
quiet downgrade to anonymous. ``token`` asks the registry's token service
(:mod:`search_api.token_access`); when it cannot be asked, the guarded
endpoints answer 503 rather than guess. The search and docker endpoints read the
caller's :class:`~indexer.visibility.Visibility` through
:func:`current_visibility`; health, metrics and webhooks are not theirs.
"""

from __future__ import annotations

import base64
import binascii
from typing import Protocol

from flask import Flask, current_app, g, request

from indexer.visibility import Visibility
from search_api.acl import Acl
from search_api.errors import ApiError
from search_api.htpasswd import Htpasswd

REALM = "Registry Search"
RETRY_AFTER_S = 5
_POLICY = "regsearch.access"
GUARDED_BLUEPRINTS = frozenset({"api", "docker"})


class Unauthenticated(Exception):
    """Credentials were sent and are not good; the message says how, without echoing them."""


class AccessUnavailable(Exception):
    """What the caller may see cannot be decided now (what decides it is unreachable); the
    message names it. The caller gets a 503 and should try again."""


class AccessPolicy(Protocol):
    def visibility(self, authorization: str | None) -> Visibility | None:
        """What the caller sending ``authorization`` (the header, None when absent) may see;
        None for everything. Raises :class:`Unauthenticated` or :class:`AccessUnavailable`."""


class OpenAccess:
    """``--auth none``: everything is visible to everyone."""

    def visibility(self, authorization: str | None) -> Visibility | None:
        return None


class HtpasswdAccess:
    """``--auth htpasswd``: Basic credentials from the registry's htpasswd file, grants from the ACL."""

    def __init__(self, users: Htpasswd, acl: Acl) -> None:
        self._users = users
        self._acl = acl

    def visibility(self, authorization: str | None) -> Visibility | None:
        if not authorization:
            return self._acl.visibility(None)
        user, password = basic_credentials(authorization)
        if not self._users.check(user, password):
            raise Unauthenticated("wrong user name or password")
        return self._acl.visibility(user)


def basic_credentials(authorization: str) -> tuple[str, str]:
    """The user and password of an ``Authorization: Basic`` header; raises :class:`Unauthenticated`."""
    scheme, _, value = authorization.strip().partition(" ")
    if scheme.lower() != "basic":
        raise Unauthenticated(f"only Basic credentials are accepted here, not {scheme[:20]!r}")
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise Unauthenticated("the Basic credentials are not base64 of 'user:password'") from exc
    user, colon, password = decoded.partition(":")
    if not colon or not user:
        raise Unauthenticated("the Basic credentials are not base64 of 'user:password'")
    return user, password


def install_access(app: Flask, policy: AccessPolicy) -> None:
    """Decide, before every search and docker request of ``app``, what its caller may see."""
    app.extensions[_POLICY] = policy
    app.before_request(_identify)


def _identify() -> None:
    if request.blueprint not in GUARDED_BLUEPRINTS:
        return
    policy: AccessPolicy = current_app.extensions.get(_POLICY, OpenAccess())
    try:
        g.visibility = policy.visibility(request.headers.get("Authorization"))
    except Unauthenticated as exc:
        raise ApiError(401, str(exc), headers={"WWW-Authenticate": f'Basic realm="{REALM}"'}) from exc
    except AccessUnavailable as exc:
        raise ApiError(503, str(exc), headers={"Retry-After": str(RETRY_AFTER_S)}) from exc


def current_visibility() -> Visibility | None:
    """What the current request's caller may see (None: everything)."""
    return g.get("visibility")
