"""The outermost ASGI layer: tracking ids on every response, and the rate limit."""

from __future__ import annotations

import base64
import binascii
import functools
import hashlib
import random
import re
import time
from collections.abc import Callable
from typing import Any

from callsettings.server.errors import TRACKING_ID_KEY, ErrorKind, dialect_of, error_payload
from callsettings.server.ratelimit import RateLimitStore

Scope = dict[str, Any]
_TRACKING_ID = re.compile(r"[A-Za-z0-9_\-.:]{1,200}")


def new_tracking_id() -> str:
    """A random version-4 UUID after the prefix. It ties an answer to the logs and is no
    secret, so Python's generator serves (uuid4 reads the OS's: 2.7 us, against 0.8)."""
    h = f"{random.getrandbits(128):032x}"
    variant = "89ab"[int(h[16], 16) & 3]
    return f"CALLSETTINGS_{h[:8]}-{h[8:12]}-4{h[13:16]}-{variant}{h[17:20]}-{h[20:]}"


def _header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value)
    return None


def _tracking_id(scope: Scope) -> str:
    raw = _header(scope, b"trackingid")
    text = raw.decode("latin-1").strip() if raw else ""
    # Echo what the client sent when it is a sane id; never reflect arbitrary bytes.
    return text if _TRACKING_ID.fullmatch(text) else new_tracking_id()


def _rate_key(scope: Scope) -> str:
    auth = _header(scope, b"authorization")
    if auth and auth[:6].lower() == b"basic ":
        # Count password guesses per user name, not per guess (each guess is a new header).
        try:
            user = base64.b64decode(auth[6:].strip(), validate=True).partition(b":")[0]
        except (binascii.Error, ValueError):
            user = b""
        return "basic:" + hashlib.sha256(user.lower()).hexdigest()[:32]
    if auth:
        return _token_key(auth)
    client = scope.get("client") or ("unknown", 0)
    return f"ip:{client[0]}"


# Clients send the same header request after request: hashing it again cost about 1 us of
# every request's 25-35 (in process, warm GETs).
@functools.lru_cache(maxsize=1024)
def _token_key(authorization: bytes) -> str:
    """A token's counter key: its header hashed, so no secret goes to the counters (or to
    Redis)."""
    return hashlib.sha256(authorization).hexdigest()[:32]


# How long a worker must have answered nothing before background work counts it idle.
# Between two requests of a steady stream a worker is briefly without any (0.05-0.5 ms
# here), and the keeper's work done in those gaps took CPU from the requests and from the
# other workers on the same cores: under PUTs at 100,000 people, where every change
# forgets an answer, deciding them again was the largest part of what a PUT cost more
# than at 1,000 people (py-spy). A pause this long means spare time.
QUIET_SECONDS = 0.005


class InFlight:
    """How many requests this worker is answering now, and since when it answers none.
    Work done ahead in the background (warmup.answer_keeper) waits until the worker has
    been idle for `quiet` seconds: requests come first, and while they come steadily the
    work waits for a pause (deciding ahead costs the CPU a call would)."""

    __slots__ = ("_clock", "_quiet", "_since", "count")

    def __init__(
        self, quiet: float = QUIET_SECONDS, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.count = 0
        self._clock = clock
        self._quiet = quiet
        self._since = -float("inf")

    def started(self) -> None:
        self.count += 1

    def finished(self) -> None:
        self.count -= 1
        if self.count == 0:
            self._since = self._clock()

    def idle(self) -> bool:
        return self.count == 0 and self._clock() - self._since >= self._quiet


class EdgeMiddleware:
    def __init__(
        self,
        app: Any,
        store: RateLimitStore,
        limit: int,
        window: int,
        in_flight: InFlight | None = None,
    ) -> None:
        self.app = app
        self.store = store
        self.limit = limit
        self.window = window
        self.in_flight = InFlight() if in_flight is None else in_flight

    async def __call__(self, scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        self.in_flight.started()
        try:
            await self._answer(scope, receive, send)
        finally:
            self.in_flight.finished()

    async def _answer(self, scope: Scope, receive: Any, send: Any) -> None:
        tracking_id = _tracking_id(scope)
        scope[TRACKING_ID_KEY] = tracking_id
        decision = await self.store.hit(_rate_key(scope), self.limit, self.window)
        if not decision.allowed:
            await _too_many_requests(scope, send, tracking_id, decision.retry_after)
            return
        tracking_header = (b"trackingid", tracking_id.encode())

        async def send_tracked(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), tracking_header]
            await send(message)

        await self.app(scope, receive, send_tracked)


async def _too_many_requests(scope: Scope, send: Any, tracking_id: str, retry_after: int) -> None:
    body, media_type = error_payload(
        ErrorKind.RATE_LIMITED,
        f"Too many requests for this token; retry after {retry_after} seconds.",
        tracking_id,
        dialect_of(scope.get("path", ""), scope.get("query_string", b"")),
    )
    await send(
        {
            "type": "http.response.start",
            "status": 429,
            "headers": [
                (b"content-type", media_type.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"retry-after", str(retry_after).encode()),
                (b"trackingid", tracking_id.encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
