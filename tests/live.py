"""A real uvicorn server on an ephemeral 127.0.0.1 port, for clients that need a socket."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import uvicorn

from callsettings.server.app import create_app
from callsettings.server.config import ServerConfig


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def live_server(config: ServerConfig) -> Iterator[str]:
    """Serve `create_app(config)` in a thread; yield its base URL (no trailing slash)."""
    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(config), host="127.0.0.1", port=port, log_level="warning", lifespan="on"
        )
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def serve_for_test(database_url: str, **overrides: Any) -> Any:
    values: dict[str, Any] = {"database_url": database_url, "token_cache_seconds": 0}
    return live_server(ServerConfig(**{**values, **overrides}))
