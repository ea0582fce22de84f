"""The HTTP protocol's transport writes what one loop turn wrote in one write, and uvicorn
serves over it as over its own."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import httpx
import pytest
import uvicorn

from callsettings.server.http_protocol import CoalescingTransport, HttpProtocol
from tests.live import free_port


class Recorded:
    """A real transport, with what reaches its write() kept in order."""

    def __init__(self, transport: asyncio.Transport) -> None:
        self.transport = transport
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(data)
        self.transport.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.transport, name)


async def _turns(count: int = 2) -> None:
    for _ in range(count):
        await asyncio.sleep(0)


RESPONSE = b"HTTP/1.1 200 OK\r\n\r\n{}"


async def _one_turn(t: CoalescingTransport) -> None:
    t.write(RESPONSE[:-2])
    t.write(memoryview(RESPONSE[-2:]))


async def _two_turns(t: CoalescingTransport) -> None:
    t.write(b"head")
    await _turns()
    t.write(b"body")


async def _close(t: CoalescingTransport) -> None:
    t.write(b"last words")
    t.close()


async def _writelines(t: CoalescingTransport) -> None:
    t.writelines([b"a", b"b", b"c"])


async def _empty(t: CoalescingTransport) -> None:
    t.write(b"")


async def _abort(t: CoalescingTransport) -> None:
    t.write(b"never sent")
    t.abort()


# (what is written how, what the transport is given to write, what the peer receives)
WRITES: list[tuple[str, Callable[[CoalescingTransport], Awaitable[None]], list[bytes], bytes]] = [
    ("head and body in one turn", _one_turn, [RESPONSE], RESPONSE),
    ("a write in each of two turns", _two_turns, [b"head", b"body"], b"headbody"),
    ("closed after a write", _close, [b"last words"], b"last words"),
    ("writelines in one turn", _writelines, [b"abc"], b"abc"),
    ("nothing", _empty, [], b""),
    ("aborted after a write", _abort, [], b""),
]


@pytest.fixture
async def peers() -> AsyncIterator[tuple[Recorded, CoalescingTransport, socket.socket]]:
    ours, theirs = socket.socketpair()
    loop = asyncio.get_running_loop()
    transport, _ = await loop.connect_accepted_socket(asyncio.Protocol, ours)
    recorded = Recorded(transport)  # type: ignore[arg-type]
    theirs.setblocking(False)
    yield recorded, CoalescingTransport(recorded, loop), theirs  # type: ignore[arg-type]
    transport.abort()
    theirs.close()


@pytest.mark.parametrize(
    ("act", "writes", "received"), [w[1:] for w in WRITES], ids=[w[0] for w in WRITES]
)
async def test_what_one_turn_writes_is_written_once(
    peers: tuple[Recorded, CoalescingTransport, socket.socket],
    act: Callable[[CoalescingTransport], Awaitable[None]],
    writes: list[bytes],
    received: bytes,
) -> None:
    recorded, coalescing, theirs = peers
    await act(coalescing)
    await _turns()
    assert recorded.writes == writes
    assert await _read_available(theirs) == received


async def test_held_bytes_count_in_the_write_buffer_size(
    peers: tuple[Recorded, CoalescingTransport, socket.socket],
) -> None:
    _, coalescing, _ = peers
    coalescing.write(b"12345")
    assert coalescing.get_write_buffer_size() == 5
    await _turns()
    assert coalescing.get_write_buffer_size() == 0


async def _until(condition: Callable[[], bool]) -> None:
    """Wait for uvicorn's `started` flag, which it sets without an event to wait on."""
    for _ in range(500):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the server did not start in 5 s")


async def _read_available(sock: socket.socket) -> bytes:
    loop = asyncio.get_running_loop()
    chunks = []
    while True:
        try:
            chunk = await asyncio.wait_for(loop.sock_recv(sock, 65536), 0.2)
        except TimeoutError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


async def _app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """JSON in one piece at /json; at /stream two body parts with a pause between."""
    if scope["type"] != "http":
        return
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"first,", "more_body": True})
        await asyncio.sleep(0.01)
        await send({"type": "http.response.body", "body": b"second", "more_body": False})
        return
    body = b'{"path":"' + scope["path"].encode() + b'"}'
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})


@pytest.fixture
async def server() -> AsyncIterator[str]:
    port = free_port()
    config = uvicorn.Config(_app, host="127.0.0.1", port=port, http=HttpProtocol, log_level="error")
    served = uvicorn.Server(config)
    task = asyncio.create_task(served.serve())
    await _until(lambda: served.started)
    yield f"http://127.0.0.1:{port}"
    served.should_exit = True
    await task


async def test_uvicorn_answers_over_it_kept_alive_streamed_and_closed(server: str) -> None:
    async with httpx.AsyncClient(base_url=server) as client:
        answers = [await client.get(f"/json/{n}") for n in range(5)]
        streamed = await client.get("/stream")
        closing = await client.get("/json/last", headers={"connection": "close"})
    assert [a.json() for a in answers] == [{"path": f"/json/{n}"} for n in range(5)]
    assert streamed.content == b"first,second"
    assert closing.json() == {"path": "/json/last"}
    assert closing.headers.get("connection") == "close"
