"""Database engines and migrations: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from callsettings.storage.driver import plain
from callsettings.storage.sqlite_inline import inline_creator

if TYPE_CHECKING:
    from alembic.config import Config

MIGRATIONS = Path(__file__).parent / "migrations"


def async_url(url: str) -> str:
    """Return `url` with the async driver this project uses for its dialect."""
    parsed = make_url(url)
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+asyncpg"}.get(
        parsed.get_backend_name()
    )
    if driver is None:
        raise ValueError(f"unsupported database URL {url!r}: use sqlite:/// or postgresql://")
    return parsed.set(drivername=driver).render_as_string(hide_password=False)


def create_engine(
    url: str,
    *,
    sqlite_synchronous: str = "FULL",
    pool_size: int = 10,
    checkpoint_in_background: bool = False,
) -> AsyncEngine:
    """Return an async engine; SQLite gets WAL and the given synchronous mode.

    WAL with synchronous=FULL makes a committed write survive a process kill and a power
    loss; NORMAL survives a process kill only. The service acknowledges a write only after
    the commit returns, so FULL is the default. With `checkpoint_in_background`, SQLite's
    connections never checkpoint the log themselves: the caller runs WalCheckpoints.
    """
    full_url = async_url(url)
    parsed = make_url(full_url)
    if parsed.get_backend_name() == "sqlite":
        _ensure_parent(full_url)
        database = parsed.database or ":memory:"
        engine = create_async_engine(
            full_url,
            pool_size=pool_size,
            max_overflow=0,
            async_creator=inline_creator(database),
        )
        _install_sqlite_pragmas(engine, sqlite_synchronous, checkpoint_in_background)
        return engine
    # No overflow: a connection opened past the pool's size is closed again when returned,
    # so under load each one cost a connect (and its statements prepared afresh) for a
    # single request; waiting for a pooled connection is cheaper. Profiled: with overflow
    # connecting took 15 % of a PUT-loaded worker.
    return create_async_engine(full_url, pool_size=pool_size, max_overflow=0, pool_pre_ping=False)


class WalCheckpoints:
    """Copies SQLite's write-ahead log into the database file from a thread of its own.

    By default SQLite checkpoints in the connection whose commit takes the log past 1,000
    pages. The service's connections run on the event loop (`sqlite_inline.py`), so that
    checkpoint (writing back the pages the log holds, then syncing the file) stalled every
    request of the worker: in process, the slowest commit of a run took 13.7-19.8 ms with
    it and 3.1-4.3 ms without. The service's engine turns it off
    (`checkpoint_in_background`) and calls `run` from a thread of its own instead, often: a
    PASSIVE checkpoint never waits for readers or writers, copies what it can and gives
    up where another process is checkpointing, and the log starts again from its beginning
    at the next write once all of it was copied.
    """

    def __init__(self, database: str, synchronous: str) -> None:
        self._database = database
        self._synchronous = synchronous.upper()
        self._connection: sqlite3.Connection | None = None

    def run(self) -> tuple[int, int, int]:
        """Checkpoint what can be (blocking); return SQLite's answer: (1 if another
        checkpoint was in the way, pages in the log, pages copied)."""
        if self._connection is None:
            connection = sqlite3.connect(self._database)  # used on one thread only
            connection.execute(f"PRAGMA synchronous={self._synchronous}")
            self._connection = connection
        busy, logged, copied = self._connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
        return int(busy), int(logged), int(copied)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None


def wal_checkpoints(engine: AsyncEngine, synchronous: str) -> WalCheckpoints | None:
    """The engine's WalCheckpoints, or None on PostgreSQL."""
    database = engine.url.database
    if engine.dialect.name != "sqlite" or not database:
        return None
    return WalCheckpoints(database, synchronous)


def _ensure_parent(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_pragmas(
    engine: AsyncEngine, synchronous: str, checkpoint_in_background: bool
) -> None:
    if synchronous.upper() not in {"FULL", "NORMAL", "EXTRA"}:
        raise ValueError(f"sqlite synchronous must be FULL, NORMAL or EXTRA, got {synchronous!r}")

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        # Take transaction control from the driver so writes can BEGIN IMMEDIATE (below).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous.upper()}")
        cursor.execute("PRAGMA foreign_keys=ON")
        # 512 KB of pages per connection, not SQLite's 2 MB: the service keeps what it reads
        # in its own cache, the OS caches the file, and ten pooled connections filling 2 MB
        # each on a 100,000-person database added 20 MB to a worker.
        cursor.execute("PRAGMA cache_size=-512")
        # No waiting inside SQLite: statements run on the event loop (sqlite_inline.py), so
        # a lock wait there would stall every request; writers wait with asyncio instead.
        cursor.execute("PRAGMA busy_timeout=0")
        if checkpoint_in_background:
            cursor.execute("PRAGMA wal_autocheckpoint=0")  # see WalCheckpoints
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred transaction that reads, then writes, fails with SQLITE_BUSY when another
        # worker committed in between; taking the write lock up front makes writers queue.
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


WRITE_OPTION = "callsettings_write"


class _GroupCommit:
    """The SQLite writers of one event-loop turn, sharing one transaction and one commit.

    A durable commit (an fsync of the WAL) costs more than the statements of a settings
    change, and SQLite has one writer at a time anyway. Writers queue on an asyncio lock
    (left to SQLite's busy handler they would poll with sleeps of up to 100 ms); each runs
    its statements inside a SAVEPOINT of the open transaction, so a failing writer undoes
    only its own work; then it waits for the commit. The commit runs once the writers that
    were already queued have had their turn. No writer returns before the commit that
    holds its change, so an acknowledged write is as durable as with one commit each.
    """

    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine
        self.lock = asyncio.Lock()
        self.conn: AsyncConnection | None = None
        database = engine.url.database
        on_disk = bool(database) and database != ":memory:"
        self.turns = WriterTurns(f"{database}-turn") if on_disk else None
        self.turn: int | None = None  # the descriptor holding this process's turn
        self.waiting: list[asyncio.Future[None]] = []
        # The loop keeps only weak references to tasks: hold the pending flush here.
        self.flushing: set[asyncio.Task[None]] = set()

    async def connection(self) -> AsyncConnection:
        if self.conn is None:
            deadline = time.monotonic() + LOCK_WAIT_SECONDS
            if self.turns is not None:
                self.turn = await self.turns.take(LOCK_WAIT_SECONDS)
            try:
                conn = await self.engine.connect()
                try:
                    await conn.execution_options(**{WRITE_OPTION: True})
                    await _begin(conn, deadline)
                except BaseException:
                    await conn.close()
                    raise
            except BaseException:
                self.give_turn_back()
                raise
            self.conn = conn
        return self.conn

    def give_turn_back(self) -> None:
        turn, self.turn = self.turn, None
        if turn is not None:
            os.close(turn)  # closing the descriptor releases its flock

    def enqueue(self) -> asyncio.Future[None]:
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if not self.waiting:
            # Queued behind the writers already waiting for the lock: they join this commit.
            task = asyncio.get_running_loop().create_task(self.flush())
            self.flushing.add(task)
            task.add_done_callback(self.flushing.discard)
        self.waiting.append(done)
        return done

    async def abandon(self) -> None:
        """Roll back and close the open transaction (call with the lock held)."""
        conn, self.conn = self.conn, None
        if conn is not None:
            try:
                await conn.rollback()
            finally:
                await conn.close()
                self.give_turn_back()

    async def flush(self) -> None:
        # One loop turn's grace, as PostgreSQL's commit_delay: the requests that are ready
        # now run their writes into this transaction instead of each paying for an fsync.
        await asyncio.sleep(0)
        async with self.lock:
            waiting, self.waiting = self.waiting, []
            conn, self.conn = self.conn, None
            if conn is None:
                return
            try:
                await conn.commit()
            except BaseException as exc:
                for done in waiting:
                    done.set_exception(exc)
                await conn.rollback()
                return
            finally:
                await conn.close()
                self.give_turn_back()
            for done in waiting:
                done.set_result(None)


_sqlite_groups: dict[int, _GroupCommit] = {}


def _group(engine: AsyncEngine) -> _GroupCommit | None:
    if engine.dialect.name != "sqlite":
        return None
    key = id(engine.sync_engine)
    group = _sqlite_groups.get(key)
    if group is None or group.engine is not engine:
        group = _sqlite_groups[key] = _GroupCommit(engine)
    return group


# A connection to read on, given when first asked for: code that reads only sometimes
# takes one of these instead of a connection.
Connect = Callable[[], Awaitable[AsyncConnection]]


def given(conn: AsyncConnection) -> Connect:
    """`conn` itself, for code that takes a Connect (it is already in a transaction)."""

    async def connect() -> AsyncConnection:
        return conn

    return connect


@asynccontextmanager
async def on_demand(engine: AsyncEngine) -> AsyncIterator[Connect]:
    """A Connect that checks a connection out of the pool the first time it is called, and
    gives it back on leaving: most changes are validated without a read, and a checkout
    and its return cost more of the worker than validating does."""
    async with AsyncExitStack() as stack:
        found: list[AsyncConnection] = []

        async def connect() -> AsyncConnection:
            if not found:
                found.append(await stack.enter_async_context(engine.connect()))
            return found[0]

        yield connect


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Yield a connection in a transaction meant to write; return once it is committed."""
    group = _group(engine)
    if group is None:
        async with _transaction(engine) as conn:
            yield conn
        return
    async with group.lock:
        conn = await group.connection()
        await plain(conn, "SAVEPOINT writer")
        try:
            yield conn
        except BaseException:
            await plain(conn, "ROLLBACK TO SAVEPOINT writer")
            await plain(conn, "RELEASE SAVEPOINT writer")
            if not group.waiting:
                # Nobody else's change is in the transaction: end it now rather than hold
                # the database's write lock until some later writer's commit.
                await group.abandon()
            raise
        await plain(conn, "RELEASE SAVEPOINT writer")
        committed = group.enqueue()
    await committed


@asynccontextmanager
async def _transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    async with engine.connect() as conn:
        await conn.execution_options(**{WRITE_OPTION: True})
        await _begin(conn)
        try:
            yield conn
        except BaseException:
            await conn.rollback()
            raise
        await conn.commit()


# Bounds the wait for another process's write lock (SQLite) before giving up with a 503.
LOCK_WAIT_SECONDS = 5.0
# The longest pause between two tries for a write lock held by something that takes no
# turn (WriterTurns). A writer holds it for a few milliseconds, so a long pause mostly
# wastes the time after it is released: 50 ms here gave p99s of 0.4-1.2 s with 2 workers
# when the workers themselves waited this way.
MAX_LOCK_POLL_SECONDS = 0.004


async def _begin(conn: AsyncConnection, deadline: float | None = None) -> None:
    """Begin; on SQLite, wait for another process's write lock without blocking the loop.

    Writers of this service wait for their turn (WriterTurns) first, so this polls only
    when something that takes no turn holds the lock: Alembic's migrations, or a
    program other than the service (the sqlite3 shell).
    """
    if deadline is None:
        deadline = time.monotonic() + LOCK_WAIT_SECONDS
    delay = 0.001
    while True:
        try:
            await conn.begin()
            return
        except OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
            await conn.rollback()
        await asyncio.sleep(delay)
        delay = min(delay * 2, MAX_LOCK_POLL_SECONDS)


class WriterTurns:
    """Which process writes a SQLite database next: an flock on a file beside it.

    SQLite only answers "locked" to a writer that finds another process holding the write
    lock, so that writer has to try again after a pause, and the lock sits unused from its
    release to the next try: with two workers writing, each found the other holding it
    about once per group commit. A process blocked on an flock is woken by the kernel as the
    holder lets go. flock has no asynchronous form, so a contended wait runs on a thread;
    an uncontended turn costs an open, an flock and a close on the loop.

    Each turn opens its own descriptor: flock belongs to the open file, so two waits of one
    process on one descriptor would both be granted at once.
    """

    def __init__(self, path: str) -> None:
        self.path = path

    async def take(self, wait_seconds: float) -> int:
        """Wait up to `wait_seconds` for the turn; return the descriptor that holds it
        (close it to give the turn back). Raises OperationalError if the wait runs out."""
        # flock needs no write access: a reader of the database can open it too.
        fd = os.open(self.path, os.O_RDONLY | os.O_CREAT | os.O_CLOEXEC, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return fd
        except BlockingIOError:
            pass
        except BaseException:
            os.close(fd)
            raise
        claim = _Claim(fd)
        try:
            await asyncio.wait_for(asyncio.shield(asyncio.to_thread(claim.wait)), wait_seconds)
        except BaseException as exc:
            if claim.give_up():
                os.close(fd)
            if isinstance(exc, TimeoutError):
                raise _locked(f"no turn to write within {wait_seconds:g} s") from None
            raise
        return fd


class _Claim:
    """One thread's wait for a turn, which the loop may give up before it is granted."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._lock = threading.Lock()
        self._state = "waiting"  # then "granted", "failed" or "abandoned"

    def wait(self) -> None:
        try:
            fcntl.flock(self.fd, fcntl.LOCK_EX)
        except BaseException:
            with self._lock:
                self._state = "failed"
            raise
        with self._lock:
            if self._state == "abandoned":
                os.close(self.fd)  # nobody is waiting for it any more
            else:
                self._state = "granted"

    def give_up(self) -> bool:
        """Give up the wait; True if the thread is done with the descriptor, so the caller
        closes it (giving back a turn granted as the wait ran out)."""
        with self._lock:
            if self._state == "waiting":
                self._state = "abandoned"
                return False
            return True


def _locked(detail: str) -> OperationalError:
    # The error SQLite itself gives a writer that could not get the lock, so callers
    # (and the 503 it maps to) need not tell the two apart.
    return OperationalError(
        "BEGIN IMMEDIATE", None, sqlite3.OperationalError(f"database is locked: {detail}")
    )


def alembic_config(url: str) -> Config:
    """Return the Alembic configuration for the database at `url`."""
    # Imported here: Alembic (with Mako) costs every serving worker 11 MB it never uses.
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Apply the migrations up to `revision` (blocking; call it outside an event loop)."""
    from alembic import command

    _ensure_parent(async_url(url))
    command.upgrade(alembic_config(url), revision)


async def migrate_async(url: str, revision: str = "head") -> None:
    """Apply the migrations from async code, in a worker thread."""
    await asyncio.to_thread(migrate, url, revision)
