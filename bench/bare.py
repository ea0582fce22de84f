"""The read baseline: a bare ASGI app (no framework) answering one pre-encoded JSON body.

Served by the same uvicorn, with the same worker count, as the service:
    python -m uvicorn bench.bare:create_app --factory --workers N
The body comes from BENCH_BARE_BODY: a real call-forwarding GET body of the median size.
"""

from __future__ import annotations

import os
from typing import Any

BODY_ENV = "BENCH_BARE_BODY"


def create_app() -> Any:
    body = os.environ[BODY_ENV].encode()
    start = {
        "type": "http.response.start",
        "status": 200,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    message = {"type": "http.response.body", "body": body, "more_body": False}

    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (await receive())["type"] != "lifespan.shutdown":
                await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        await send(start)
        await send(message)

    return app
