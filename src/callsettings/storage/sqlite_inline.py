"""SQLite statements run on the event loop's own thread.

aiosqlite hands every call (execute, fetch, commit, cursor close) to a worker thread and
waits for the answer. Where waking a thread is slow (measured at 260 us a round trip on the
virtual machines this project is developed on; a warm SQLite statement takes a few
microseconds) a PUT made of ten such calls spends most of its time waiting for wake-ups.
This connection keeps aiosqlite's interface, which SQLAlchemy's aiosqlite dialect drives,
but runs each call inline. Only connecting, closing and SQLAlchemy's isolation-level change
still use aiosqlite's thread, once per pooled connection.

Running inline means a statement blocks the loop while it runs. That is acceptable because
every statement is an indexed single-row read or write, and because lock waits never
happen inline: the busy timeout is zero, and writers wait for the lock with asyncio (see
database.write_transaction).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import Any

import aiosqlite


class InlineConnection(aiosqlite.Connection):
    """An aiosqlite connection whose calls run in the caller's thread."""

    async def _execute(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        if not self._running or not self._connection:
            raise ValueError("Connection closed")
        return fn(*args, **kwargs)


def inline_creator(path: str) -> Callable[[], Any]:
    """Return the `async_creator` for create_async_engine that opens `path` inline."""

    async def connect() -> InlineConnection:
        def connector() -> sqlite3.Connection:
            # Created on aiosqlite's thread, used on the loop's: hence check_same_thread.
            return sqlite3.connect(path, check_same_thread=False)

        connection = InlineConnection(connector, iter_chunk_size=64)
        connection._thread.daemon = True
        await connection
        return connection

    return connect
