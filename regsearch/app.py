"""The one WSGI app of a process, made of the parts its roles serve."""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

from flask import Flask, Response, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from indexer.index import SearchIndex
from regsearch.access_settings import AccessSettings
from regsearch.resources import Resources
from search_api.access import AccessPolicy, HtpasswdAccess, OpenAccess, install_access
from search_api.bearer import BearerVerifier, load_public_keys
from search_api.htpasswd import Htpasswd
from search_api.token_access import GrantCache, TokenAccess
from search_api.token_service import TokenPolicy, TokenService
from search_api.app import healthz, init_app
from search_api.errors import register_error_handlers
from search_api.headers import install_security_headers
from search_api.limits import install_rate_limit
from webhooks.receiver import ReceiverPolicy, notifications_blueprint

Role = Literal["webhooks", "indexer", "search"]


def build_app(roles: frozenset[Role], resources: Resources, ready: Callable[[], bool]) -> Flask:
    """Health, readiness and metrics always; search and webhooks when the roles say so."""
    app = Flask("regsearch")
    register_error_handlers(app)
    install_security_headers(app)
    app.add_url_rule("/healthz", view_func=healthz)
    app.add_url_rule("/readyz", view_func=lambda: readiness(ready()))
    app.add_url_rule("/metrics", view_func=metrics)
    if "search" in roles:
        hosts = {host: r.address for r in resources.settings.registries for host in r.hosts}
        if resources.settings.rate_limit:  # first: a client past it costs no password check
            install_rate_limit(app, resources.settings.rate_limit)
        init_app(app, resources.index, hosts, resources.settings.query_budget_s)
        install_access(app, access_policy(resources.settings.access, resources.index))
    if "webhooks" in roles:
        settings = resources.settings
        policies = {
            registry.name: ReceiverPolicy(registry=registry.address, tokens=registry.webhook_tokens,
                                          max_body_bytes=settings.max_body_bytes)
            for registry in settings.registries
        }
        app.register_blueprint(notifications_blueprint(resources.events, resources.dead_letters, policies))
    return app


def access_policy(access: AccessSettings, index: Callable[[], SearchIndex]) -> AccessPolicy:
    """The search API's access policy for ``--auth``; ``index`` is the index getter, whose
    repository names the token mode asks the token service about."""
    if access.mode == "htpasswd" and access.htpasswd is not None and access.acl is not None:
        return HtpasswdAccess(Htpasswd(access.htpasswd), access.acl)
    if access.mode == "token" and access.token is not None:
        return token_access(access.token, index)
    return OpenAccess()


def token_access(policy: TokenPolicy, index: Callable[[], SearchIndex]) -> TokenAccess:
    """``--auth token``: the token service asked about every repository ``index`` holds."""
    bearer = None
    if policy.cert is not None:
        bearer = BearerVerifier(load_public_keys(policy.cert), policy.service, policy.issuer)
    return TokenAccess(TokenService(policy), lambda: index().repository_names(), GrantCache(policy.cache_seconds),
                       bearer)


def readiness(ready: bool) -> tuple[Response, int]:
    """200 once the process serves current results, 503 before."""
    return jsonify({"status": "ready" if ready else "catching up"}), 200 if ready else 503


def metrics() -> Response:
    return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)
