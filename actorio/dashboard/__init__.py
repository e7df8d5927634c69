"""A live dashboard of this process's actors, as a plain ASGI app (no framework needed).

Mount it in a FastAPI/Starlette app (``app.mount("/actorio", actorio.dashboard.app())``) or
any ASGI server, or run it on its own thread with ``serve()`` (uvicorn, loopback by
default). Routes, relative to where it is mounted:

- ``/``: one HTML page (no build step, no CDN) polling the JSON below;
- ``/api/actors``: the state API's snapshot, as JSON;
- ``/metrics``: the same numbers in the Prometheus text format.

Read-only on purpose: GET and HEAD only, JSON and text out, nothing pickled, nothing to post.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from importlib.resources import files
from typing import Any

from ..exceptions import InvalidOptionsError, MissingDependencyError
from ..util.metrics import prometheus_text
from ..util.state import list_actors

__all__ = ["DashboardServer", "app", "serve"]

Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]


def snapshot() -> dict[str, Any]:
    """What ``/api/actors`` answers."""
    actors = list_actors(limit=1 << 62)
    return {"time": time.time(), "pid": os.getpid(), "actors": [a.asdict() for a in actors]}


class Dashboard:
    """The ASGI app; see the module docstring for its routes."""

    def __init__(self) -> None:
        self.page = files(__package__).joinpath("page.html").read_bytes()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":  # when run as the whole app: nothing to set up
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["type"] != "http":
            return
        path, root = scope["path"], scope.get("root_path", "")
        if root and path.startswith(root):  # mounted: routes are relative to the mount point
            path = path[len(root) :]
        if scope["method"] not in ("GET", "HEAD"):
            await _respond(scope, send, 405, "text/plain", b"read-only\n", [(b"allow", b"GET")])
        elif path == "":  # the mount point itself: the page's relative links need the slash
            target = (root + "/").encode()
            await _respond(scope, send, 307, "text/plain", b"", [(b"location", target)])
        elif path == "/":
            await _respond(scope, send, 200, "text/html; charset=utf-8", self.page)
        elif path == "/api/actors":
            body = json.dumps(snapshot()).encode()
            await _respond(scope, send, 200, "application/json", body)
        elif path == "/metrics":
            body = prometheus_text().encode()
            await _respond(scope, send, 200, "text/plain; version=0.0.4; charset=utf-8", body)
        else:
            await _respond(scope, send, 404, "text/plain", b"not found\n")


async def _respond(
    scope: Scope,
    send: Send,
    status: int,
    content_type: str,
    body: bytes,
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [
        (b"content-type", content_type.encode()),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *(extra or []),
    ]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def app() -> Dashboard:
    """A dashboard ASGI app, to mount or serve."""
    return Dashboard()


class DashboardServer:
    """A dashboard served by uvicorn on its own daemon thread and event loop, so it keeps
    answering while the program's own loop is busy."""

    def __init__(self, host: str, port: int) -> None:
        try:
            import uvicorn
        except ImportError:
            raise MissingDependencyError(
                "actorio.dashboard.serve() needs uvicorn: pip install 'actorio[web]' (or mount "
                "actorio.dashboard.app() in the ASGI server you already run)"
            ) from None
        config = uvicorn.Config(app(), host=host, port=port, log_level="warning", lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, name="actorio-dashboard", daemon=True
        )
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise InvalidOptionsError(
                    f"the dashboard could not listen on {host}:{port} (port in use?); pick "
                    f"another port, or port=0 for any free one"
                )
            time.sleep(0.01)
        sock = self._server.servers[0].sockets[0]
        self.host, self.port = sock.getsockname()[:2]
        self.url = f"http://{self.host}:{self.port}/"

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)


def serve(host: str = "127.0.0.1", port: int = 8265) -> DashboardServer:
    """Serve the dashboard now, on loopback unless ``host`` says otherwise (8265 is Ray's
    dashboard port; ``port=0`` picks a free one). Returns the server: ``.url``, ``.stop()``."""
    return DashboardServer(host, port)
