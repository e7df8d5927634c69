"""Actors from a sync web framework: Flask views (one thread per request) use actorio.get.

    python examples/web/flask_app.py [--port 8002]

The actors live on actorio's runtime loop (a daemon thread started on first use); each view
blocks its own request thread on ``actorio.get(...)``, never an event loop.
"""

from __future__ import annotations

import argparse

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue

import actorio


@actorio.remote
class Visits:
    def __init__(self) -> None:
        self.pages: dict[str, int] = {}

    def hit(self, page: str) -> int:
        self.pages[page] = self.pages.get(page, 0) + 1
        return self.pages[page]

    def all(self) -> dict[str, int]:
        return dict(self.pages)


app = Flask(__name__)
visits = Visits.options(name="visits").remote()


@app.post("/visit/<page>")
def visit(page: str) -> ResponseReturnValue:
    return jsonify(page=page, visits=actorio.get(visits.hit.remote(page), timeout=5))


@app.get("/visits")
def all_visits() -> ResponseReturnValue:
    return jsonify(actorio.get(visits.all.remote(), timeout=5))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="actorio from Flask views")
    parser.add_argument("--port", type=int, default=8002)
    args = parser.parse_args()
    app.run(host="127.0.0.1", port=args.port, threaded=True)
