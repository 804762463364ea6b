"""Every error the search API answers, as JSON.

The body is always ``{"error": {"status": <code>, "message": <text>}}``, with
``"field"`` naming the query parameter at fault when there is one. This
covers our own 4xx answers (:class:`ApiError`), Flask's 404 for unknown
routes and 405 for wrong methods, and any unexpected exception, which
becomes a 500 whose body says nothing about the failure (it is logged).
"""

from __future__ import annotations

from flask import Flask, Response, current_app, jsonify, request
from werkzeug.exceptions import HTTPException, MethodNotAllowed, NotFound


class ApiError(Exception):
    """An answer other than 200 that a view decides on, e.g. a bad parameter."""

    def __init__(
        self, status: int, message: str, field: str | None = None, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.field = field
        self.headers = headers or {}


def error_response(status: int, message: str, field: str | None = None) -> Response:
    """The JSON error body with ``status`` as the HTTP status."""
    error: dict[str, object] = {"status": status, "message": message}
    if field is not None:
        error["field"] = field
    response = jsonify({"error": error})
    response.status_code = status
    return response


def register_error_handlers(app: Flask) -> None:
    """Make every error ``app`` answers a JSON error body."""
    app.register_error_handler(ApiError, _api_error)
    app.register_error_handler(HTTPException, _http_error)
    app.register_error_handler(Exception, _unexpected_error)


def _api_error(error: ApiError) -> Response:
    response = error_response(error.status, error.message, error.field)
    response.headers.update(error.headers)
    return response


def _http_error(error: HTTPException) -> Response | HTTPException:
    if error.code is None:
        return error
    response = error_response(error.code, _http_message(error))
    if isinstance(error, MethodNotAllowed) and error.valid_methods:
        response.headers["Allow"] = ", ".join(error.valid_methods)
    return response


def _http_message(error: HTTPException) -> str:
    if isinstance(error, NotFound):
        return f"nothing here: {request.path}"
    if isinstance(error, MethodNotAllowed):
        return f"method {request.method} is not allowed on {request.path}"
    return error.description or error.name


def _unexpected_error(error: Exception) -> Response:
    current_app.logger.exception("unhandled error on %s %s", request.method, request.path)
    return error_response(500, "internal server error")
