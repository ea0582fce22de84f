"""The edge counts the requests a worker is answering, so background work can wait for them."""

from __future__ import annotations

from typing import Any

import pytest

from callsettings.server.app import create_app
from callsettings.server.edge import EdgeMiddleware, InFlight
from callsettings.server.ratelimit import MemoryRateLimitStore
from tests.server.conftest import make_config


def _scope() -> dict[str, Any]:
    return {"type": "http", "method": "GET", "path": "/", "headers": [], "client": ("t", 1)}


async def _nothing_received() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


async def test_a_request_counts_while_it_is_answered_and_not_after() -> None:
    in_flight = InFlight(quiet=0)
    seen: list[tuple[int, bool]] = []

    async def app(_scope: Any, _receive: Any, send: Any) -> None:
        seen.append((in_flight.count, in_flight.idle()))
        await send({"type": "http.response.start", "status": 204, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    sent: list[dict[str, Any]] = []

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    edge = EdgeMiddleware(app, MemoryRateLimitStore(), 100, 60, in_flight)
    await edge(_scope(), _nothing_received, send)
    assert seen == [(1, False)]
    assert (in_flight.count, in_flight.idle()) == (0, True)
    assert sent[0]["status"] == 204


async def test_a_request_that_fails_stops_counting_too() -> None:
    in_flight = InFlight(quiet=0)

    async def app(_scope: Any, _receive: Any, _send: Any) -> None:
        raise RuntimeError("the handler broke")

    async def send(_message: dict[str, Any]) -> None:
        return None

    edge = EdgeMiddleware(app, MemoryRateLimitStore(), 100, 60, in_flight)
    with pytest.raises(RuntimeError, match="the handler broke"):
        await edge(_scope(), _nothing_received, send)
    assert in_flight.idle()


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("pause", "idle"),
    [
        (0.0, False),  # the next request of a steady stream is due any moment
        (0.004, False),
        (0.006, True),  # a pause: spare time for background work
        (1.0, True),
    ],
)
def test_a_worker_is_idle_only_after_a_pause_in_its_requests(pause: float, idle: bool) -> None:
    clock = FakeClock()
    in_flight = InFlight(quiet=0.005, clock=clock)
    assert in_flight.idle()  # nothing answered yet
    in_flight.started()
    in_flight.started()
    in_flight.finished()
    clock.now += 1.0
    assert not in_flight.idle()  # one still in flight, however long ago the other ended
    in_flight.finished()
    clock.now += pause
    assert in_flight.idle() is idle


def test_the_app_counts_at_its_edge_what_its_keeper_waits_for(database_url: str) -> None:
    app = create_app(make_config(database_url))
    litestar = app.app.app  # the edge, then the fast path, then the routes
    assert app.in_flight is litestar.state.in_flight
