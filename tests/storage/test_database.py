"""Storage set-up: durable SQLite settings, migrations, and the driver choice."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.pool import QueuePool

from callsettings.storage.database import (
    async_url,
    create_engine,
    given,
    migrate_async,
    on_demand,
    wal_checkpoints,
)


async def test_sqlite_connections_use_wal_and_full_synchronous(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    async with engine.connect() as conn:
        journal = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
        synchronous = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
        foreign_keys = (await conn.exec_driver_sql("PRAGMA foreign_keys")).scalar()
    await engine.dispose()
    # 2 is FULL: a committed transaction survives a process kill and a power loss.
    assert (journal, synchronous, foreign_keys) == ("wal", 2, 1)


def test_an_unknown_synchronous_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="synchronous must be"):
        create_engine(f"sqlite:///{tmp_path}/x.db", sqlite_synchronous="OFF")


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("sqlite:///./var/x.db", "sqlite+aiosqlite:///./var/x.db"),
        ("postgresql://u:p@h/db", "postgresql+asyncpg://u:p@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_urls_get_the_async_driver(url: str, expected: str) -> None:
    assert async_url(url) == expected


def test_other_databases_are_refused_clearly() -> None:
    with pytest.raises(ValueError, match="unsupported database URL"):
        async_url("mysql://root@localhost/test")


async def test_migrations_are_idempotent_and_create_every_table(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/nested/dir/m.db"
    await migrate_async(url)
    await migrate_async(url)
    engine = create_engine(url)
    async with engine.connect() as conn:
        names = await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names())
    await engine.dispose()
    assert {"organizations", "people", "feature_settings", "tokens", "audit_events"} <= set(names)


async def test_a_writer_waits_for_another_process_lock_without_blocking_the_loop(
    sqlite_url: str,
) -> None:
    from callsettings.storage import tables
    from callsettings.storage.database import write_transaction

    holder, waiter = create_engine(sqlite_url), create_engine(sqlite_url)  # two "processes"
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await asyncio.sleep(0.005)

    running = asyncio.create_task(ticker())
    async with write_transaction(holder) as conn:
        await conn.execute(tables.demo_credentials.insert().values(name="a", document="{}"))
        second = asyncio.create_task(_write(waiter, "b"))
        await asyncio.sleep(0.2)
        assert not second.done()
    await second
    running.cancel()
    assert ticks >= 20  # the loop kept running while the second writer waited
    async with waiter.connect() as conn:
        names = (await conn.execute(sa.select(tables.demo_credentials.c.name))).scalars().all()
    assert sorted(names) == ["a", "b"]
    await holder.dispose()
    await waiter.dispose()


async def _write(engine: Any, name: str) -> None:
    from callsettings.storage import tables
    from callsettings.storage.database import write_transaction

    async with write_transaction(engine) as conn:
        await conn.execute(tables.demo_credentials.insert().values(name=name, document="{}"))


async def test_a_writer_gives_up_after_the_lock_wait_bound(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy.exc import OperationalError

    from callsettings.storage import database
    from callsettings.storage.database import write_transaction

    monkeypatch.setattr(database, "LOCK_WAIT_SECONDS", 0.05)
    holder, waiter = create_engine(sqlite_url), create_engine(sqlite_url)
    async with write_transaction(holder):
        with pytest.raises(OperationalError, match="locked"):
            await _write(waiter, "late")
    await holder.dispose()
    await waiter.dispose()


async def test_a_writer_waiting_for_another_worker_is_woken_by_its_turn_not_by_polling(
    sqlite_url: str,
) -> None:
    from sqlalchemy import event

    from callsettings.storage import tables
    from callsettings.storage.database import write_transaction

    holder, waiter = create_engine(sqlite_url), create_engine(sqlite_url)
    begins = 0

    @event.listens_for(waiter.sync_engine, "before_cursor_execute")
    def _count(_conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        nonlocal begins
        begins += statement == "BEGIN IMMEDIATE"

    async with write_transaction(holder) as conn:
        await conn.execute(tables.demo_credentials.insert().values(name="a", document="{}"))
        second = asyncio.create_task(_write(waiter, "b"))
        await asyncio.sleep(0.2)  # a poller would have tried the lock dozens of times
        assert not second.done()
    await second
    # Only once the holder's commit gave the turn back did the waiter try SQLite's lock.
    assert begins == 1
    await holder.dispose()
    await waiter.dispose()


async def test_a_writer_waits_for_another_program_holding_the_lock(sqlite_url: str) -> None:
    import sqlite3

    from callsettings.storage import tables

    engine = create_engine(sqlite_url)
    async with engine.connect():
        pass  # the database is in WAL mode from here on, as the service leaves it
    # sqlite3 outside the service takes no turn: SQLite's lock is still waited for.
    other = sqlite3.connect(sqlite_url.removeprefix("sqlite:///"), isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    writing = asyncio.create_task(_write(engine, "after"))
    await asyncio.sleep(0.05)
    assert not writing.done()
    other.execute("COMMIT")
    await writing
    other.close()
    async with engine.connect() as conn:
        names = (await conn.execute(sa.select(tables.demo_credentials.c.name))).scalars().all()
    assert names == ["after"]
    await engine.dispose()


@pytest.mark.parametrize("ending", ["the wait bound", "cancelled"])
async def test_a_writer_that_stops_waiting_leaves_no_turn_held(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, ending: str
) -> None:
    from sqlalchemy.exc import OperationalError

    from callsettings.storage import database, tables
    from callsettings.storage.database import write_transaction

    monkeypatch.setattr(database, "LOCK_WAIT_SECONDS", 0.05)
    holder, quitter, later = (create_engine(sqlite_url) for _ in range(3))
    async with write_transaction(holder):
        waiting = asyncio.create_task(_write(quitter, "never"))
        if ending == "cancelled":
            await asyncio.sleep(0.01)
            waiting.cancel()
        with pytest.raises((OperationalError, asyncio.CancelledError)):
            await waiting
    monkeypatch.setattr(database, "LOCK_WAIT_SECONDS", 5.0)
    # The quitter's thread gets the turn once the holder lets go, and must let go of it too:
    # else the next writers would wait out their bound and fail.
    await asyncio.wait_for(_write(later, "next"), 2)
    await asyncio.wait_for(_write(quitter, "again"), 2)
    async with later.connect() as conn:
        names = (await conn.execute(sa.select(tables.demo_credentials.c.name))).scalars().all()
    assert sorted(names) == ["again", "next"]
    for engine in (holder, quitter, later):
        await engine.dispose()


async def test_concurrent_writers_share_commits_and_each_returns_only_once_committed(
    sqlite_url: str,
) -> None:
    from sqlalchemy import event

    from callsettings.storage import tables

    engine = create_engine(sqlite_url)
    commits = 0

    @event.listens_for(engine.sync_engine, "commit")
    def _count(_conn: Any) -> None:
        nonlocal commits
        commits += 1

    async def write_then_read_elsewhere(name: str) -> bool:
        await _write(engine, name)
        # Returned from write_transaction: another connection must already see the row.
        reader = create_engine(sqlite_url)
        async with reader.connect() as conn:
            query = sa.select(tables.demo_credentials.c.name).where(
                tables.demo_credentials.c.name == name
            )
            seen = (await conn.execute(query)).scalar() == name
        await reader.dispose()
        return seen

    results = await asyncio.gather(*(write_then_read_elsewhere(f"w{i}") for i in range(20)))
    assert all(results)
    assert 1 <= commits < 20  # writers of one loop turn shared a commit
    await engine.dispose()


async def test_a_failing_writer_in_a_shared_commit_undoes_only_its_own_work(
    sqlite_url: str,
) -> None:
    from callsettings.storage import tables
    from callsettings.storage.database import write_transaction

    engine = create_engine(sqlite_url)

    async def failing() -> None:
        async with write_transaction(engine) as conn:
            await conn.execute(tables.demo_credentials.insert().values(name="bad", document="{}"))
            raise RuntimeError("validation failed after a write")

    outcomes = await asyncio.gather(
        _write(engine, "before"), failing(), _write(engine, "after"), return_exceptions=True
    )
    assert outcomes[0] is None
    assert outcomes[2] is None
    assert isinstance(outcomes[1], RuntimeError)
    async with engine.connect() as conn:
        names = (await conn.execute(sa.select(tables.demo_credentials.c.name))).scalars().all()
    assert sorted(names) == ["after", "before"]
    await engine.dispose()


async def test_a_failing_writer_alone_releases_the_write_lock_at_once(sqlite_url: str) -> None:
    from callsettings.storage import tables
    from callsettings.storage.database import write_transaction

    engine, other_process = create_engine(sqlite_url), create_engine(sqlite_url)

    async def refused() -> None:
        async with write_transaction(engine) as conn:
            await conn.execute(tables.demo_credentials.insert().values(name="bad", document="{}"))
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        await refused()
    # Another process can write straight away: the failed transaction holds no lock.
    await _write(other_process, "next")
    async with other_process.connect() as conn:
        names = (await conn.execute(sa.select(tables.demo_credentials.c.name))).scalars().all()
    assert names == ["next"]
    await engine.dispose()
    await other_process.dispose()


async def _autocheckpoint(engine: Any) -> int:
    async with engine.connect() as conn:
        return int((await conn.exec_driver_sql("PRAGMA wal_autocheckpoint")).scalar_one())


async def test_in_background_mode_connections_leave_checkpoints_to_wal_checkpoints(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'ckpt.db'}"
    own, background = create_engine(url), create_engine(url, checkpoint_in_background=True)
    try:
        assert await _autocheckpoint(own) == 1000  # SQLite's own, in the committing connection
        assert await _autocheckpoint(background) == 0
        async with background.begin() as conn:
            await conn.exec_driver_sql("CREATE TABLE t (x TEXT)")
            for _ in range(600):
                await conn.exec_driver_sql("INSERT INTO t VALUES (randomblob(8000))")
        checkpoints = wal_checkpoints(background, "FULL")
        assert checkpoints is not None
        busy, logged, copied = checkpoints.run()
        # Nothing had copied the log back (SQLite's own would have at 1,000 pages): it
        # holds the pages of 4.8 MB, now all copied.
        assert (busy, copied) == (0, logged)
        assert logged > 1000
        checkpoints.close()
    finally:
        await own.dispose()
        await background.dispose()


def test_postgresql_has_no_wal_checkpoints_to_run() -> None:
    postgres = create_engine("postgresql://nobody@127.0.0.1:1/none")
    assert wal_checkpoints(postgres, "FULL") is None


def checked_out(engine: AsyncEngine) -> int:
    pool = engine.pool
    assert isinstance(pool, QueuePool)
    return pool.checkedout()


async def test_an_on_demand_connection_is_checked_out_only_when_asked_for(
    engine: AsyncEngine,
) -> None:
    async with on_demand(engine) as connect:
        assert checked_out(engine) == 0  # validating without a read takes none
    async with on_demand(engine) as connect:
        first = await connect()
        assert await connect() is first  # one for all the reads of one change
        assert (await first.execute(sa.text("SELECT 1"))).scalar() == 1
        assert checked_out(engine) == 1
    assert checked_out(engine) == 0  # given back on leaving


async def test_a_given_connection_is_the_one_given(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        assert await given(conn)() is conn
