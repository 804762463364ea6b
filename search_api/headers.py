"""Security headers on every response of a process: it serves JSON (and metrics), never a page
to frame, sniff or send a referrer from, so browsers are told exactly that."""

from __future__ import annotations

from flask import Flask, Response

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Resource-Policy": "same-origin",
}


def install_security_headers(app: Flask) -> None:
    """Add :data:`SECURITY_HEADERS` to every response ``app`` gives, errors included."""
    app.after_request(_add_headers)


def _add_headers(response: Response) -> Response:
    for name, value in SECURITY_HEADERS.items():
        response.headers.setdefault(name, value)
    return response
