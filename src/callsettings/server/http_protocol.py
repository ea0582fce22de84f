"""uvicorn's HTTP protocol, with what one event-loop turn writes sent in one write.

uvicorn writes a response's status line and headers when the app sends
`http.response.start`, and its body when the app sends `http.response.body`: two writes,
so two system calls and, on a connection with TCP_NODELAY, two TCP segments, each taken
through the network stack and each waking the client. Under GET load, py-spy put 45-47 %
of a worker's samples in those writes (`RequestResponseCycle.send`, 1,000 people, 64
connections). Here the connection's transport holds what is written during one turn of
the event loop and writes it once at the end of that turn: a response sent whole (as every
JSON answer of the service is) leaves in one write, and nothing waits for a later turn.

Run with uvicorn's `--http callsettings.server.http_protocol:HttpProtocol` (what
`callsettings serve` does).
"""

from __future__ import annotations

import asyncio
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol


class CoalescingTransport:
    """Forwards to `transport`, except that writes made in one loop turn are joined and
    written at the end of that turn (before the transport closes, when it is closed)."""

    __slots__ = ("_loop", "_pending", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._pending: list[bytes] = []

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if not data:
            return
        if not self._pending:
            self._loop.call_soon(self._flush)
        self._pending.append(bytes(data))

    def writelines(self, chunks: Any) -> None:
        for chunk in chunks:
            self.write(chunk)

    def _flush(self) -> None:
        pending, self._pending = self._pending, []
        if pending and not self._transport.is_closing():
            self._transport.write(pending[0] if len(pending) == 1 else b"".join(pending))

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._pending = []
        self._transport.abort()

    def get_write_buffer_size(self) -> int:
        held = sum(len(chunk) for chunk in self._pending)
        return int(self._transport.get_write_buffer_size()) + held

    def __getattr__(self, name: str) -> Any:
        # Everything else (reading, flow control, extra info, set_protocol) is the
        # transport's own.
        return getattr(self._transport, name)


class HttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol on a CoalescingTransport."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        coalescing = CoalescingTransport(transport, self.loop)
        super().connection_made(coalescing)  # type: ignore[arg-type]


HTTP_PROTOCOL = f"{__name__}:HttpProtocol"
