"""Database engines and migrations: SQLite by default, PostgreSQL by URL."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import event
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

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
    url: str, *, sqlite_synchronous: str = "FULL", pool_size: int = 10
) -> AsyncEngine:
    """Return an async engine; SQLite gets WAL and the given synchronous mode.

    WAL with synchronous=FULL makes a committed write survive a process kill and a power
    loss; NORMAL survives a process kill only. The service acknowledges a write only after
    the commit returns, so FULL is the default.
    """
    full_url = async_url(url)
    if make_url(full_url).get_backend_name() == "sqlite":
        _ensure_parent(full_url)
        engine = create_async_engine(full_url, pool_size=pool_size, max_overflow=0)
        _install_sqlite_pragmas(engine, sqlite_synchronous)
        return engine
    return create_async_engine(
        full_url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=False
    )


def _ensure_parent(url: str) -> None:
    database = make_url(url).database
    if database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)


def _install_sqlite_pragmas(engine: AsyncEngine, synchronous: str) -> None:
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
        # Writers from several workers wait for the lock instead of failing at once.
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(connection: Connection) -> None:
        # A deferred transaction that reads, then writes, fails with SQLITE_BUSY when another
        # worker committed in between; taking the write lock up front makes writers queue.
        immediate = connection.get_execution_options().get(WRITE_OPTION, False)
        connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


WRITE_OPTION = "callsettings_write"


@asynccontextmanager
async def write_transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """Yield a connection in a transaction meant to write; it commits on success."""
    async with engine.connect() as conn:
        await conn.execution_options(**{WRITE_OPTION: True})
        async with conn.begin():
            yield conn


def alembic_config(url: str) -> Config:
    """Return the Alembic configuration for the database at `url`."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("sqlalchemy.url", async_url(url).replace("%", "%%"))
    return config


def migrate(url: str, revision: str = "head") -> None:
    """Apply the migrations up to `revision` (blocking; call it outside an event loop)."""
    _ensure_parent(async_url(url))
    command.upgrade(alembic_config(url), revision)


async def migrate_async(url: str, revision: str = "head") -> None:
    """Apply the migrations from async code, in a worker thread."""
    await asyncio.to_thread(migrate, url, revision)
