"""The floor of the receiver's HTTP stack: Flask on waitress answering 202, doing nothing else.

    python -m bench.floor_receiver PORT [THREADS]

The ingest benchmark loads it exactly as it loads ``regsearch webhooks``:
what this sustains on the machine bounds what any receiver written on the
same stack (Flask, waitress, one CPython process) can sustain, before
parsing, validating or storing a single event.
"""

from __future__ import annotations

import sys

import waitress
from flask import Flask, Response, jsonify, request


def create_app() -> Flask:
    """One ``POST /notifications`` that reads the body and answers 202 ``{"accepted": 1}``."""
    app = Flask(__name__)

    @app.post("/notifications")
    def notifications() -> Response:
        request.get_data()
        response = jsonify({"accepted": 1})
        response.status_code = 202
        return response

    return app


def main(argv: list[str]) -> None:
    port = int(argv[0])
    threads = int(argv[1]) if len(argv) > 1 else 8
    waitress.serve(create_app(), host="127.0.0.1", port=port, threads=threads, ident="floor")


if __name__ == "__main__":
    main(sys.argv[1:])
