"""Statements run on the driver: same rows and counts as SQLAlchemy, inside its transaction."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.storage import driver
from callsettings.storage import repositories as repo
from callsettings.storage import tables as t
from callsettings.storage.database import create_engine, write_transaction
from callsettings.storage.driver import Statement, first, plain, run
from callsettings.storage.records import Change, Feature, Organization
from tests.factories import World

ORG = Statement(sa.select(t.organizations).where(t.organizations.c.id == sa.bindparam("id")))
RENAME = Statement(
    t.organizations.update()
    .where(t.organizations.c.id == sa.bindparam("id"))
    .values(display_name=sa.bindparam("name"))
)
INSERT = Statement(
    t.organizations.insert().values(
        {c.name: sa.bindparam(c.name, type_=c.type) for c in t.organizations.c}
    )
)
CREATED = datetime(2026, 11, 23, 12, 30, 15, 250000, tzinfo=UTC)


def _org_values(org_id: uuid.UUID, name: str = "Acme") -> dict[str, Any]:
    return {
        "id": str(org_id),
        "display_name": name,
        "country": "US",
        "system_max_rings": 20,
        "ring_seconds": 6,
        "diversion_cap": 5,
        "created": CREATED,
    }


async def _insert_then_fail(engine: AsyncEngine, org_id: uuid.UUID, *, begun: bool) -> None:
    async with write_transaction(engine) as conn:
        if begun:
            await conn.execute(sa.select(1))
        await run(conn, INSERT, _org_values(org_id))
        raise RuntimeError("the request failed after its write")


async def _insert_twice(engine: AsyncEngine, org_id: uuid.UUID) -> None:
    async with write_transaction(engine) as conn:
        await conn.execute(sa.select(1))
        await run(conn, INSERT, _org_values(org_id))
        await run(conn, INSERT, _org_values(org_id, "Duplicate"))


async def _release_unknown_savepoint(engine: AsyncEngine) -> None:
    async with write_transaction(engine) as conn:
        await plain(conn, "RELEASE SAVEPOINT nobody")


async def test_a_row_read_on_the_driver_equals_the_one_read_through_sqlalchemy(
    database_url: str,
) -> None:
    engine = create_engine(database_url)
    org_id = uuid.uuid4()
    try:
        async with write_transaction(engine) as conn:
            assert await driver._driver(conn) is not None
            assert await run(conn, INSERT, _org_values(org_id)) == 1
            on_driver = await first(conn, ORG, {"id": str(org_id)})
        async with engine.connect() as conn:
            assert await driver._driver(conn) is None  # no transaction: SQLAlchemy's path
            through_sqlalchemy = await first(conn, ORG, {"id": str(org_id)})
    finally:
        await engine.dispose()
    assert on_driver == through_sqlalchemy
    assert on_driver is not None
    # The result types' conversions ran: the timestamp is a datetime, not SQLite's text.
    assert isinstance(on_driver[-1], datetime)
    assert on_driver[-1].replace(tzinfo=UTC) == CREATED


@pytest.mark.parametrize(("name", "touched"), [("known", 1), ("unknown", 0)])
async def test_run_counts_the_rows_it_touched(database_url: str, name: str, touched: int) -> None:
    engine = create_engine(database_url)
    org_id = uuid.uuid4()
    try:
        async with write_transaction(engine) as conn:
            await conn.execute(sa.select(1))
            await run(conn, INSERT, _org_values(org_id))
            target = org_id if name == "known" else uuid.uuid4()
            assert await run(conn, RENAME, {"id": str(target), "name": "Renamed"}) == touched
    finally:
        await engine.dispose()


# begun=False: the driver's statement is the transaction's first. On PostgreSQL, SQLAlchemy's
# adapter begins its transaction lazily: sent straight to asyncpg, the statement would
# commit on its own and survive the rollback.
@pytest.mark.parametrize("begun", [True, False])
async def test_a_statement_is_undone_with_the_transaction(database_url: str, begun: bool) -> None:
    engine = create_engine(database_url)
    org_id = uuid.uuid4()
    try:
        with pytest.raises(RuntimeError):
            await _insert_then_fail(engine, org_id, begun=begun)
        async with engine.connect() as conn:
            assert await first(conn, ORG, {"id": str(org_id)}) is None
    finally:
        await engine.dispose()


async def test_driver_errors_are_raised_as_sqlalchemy_errors(database_url: str) -> None:
    engine = create_engine(database_url)
    org_id = uuid.uuid4()
    try:
        with pytest.raises(IntegrityError):
            await _insert_twice(engine, org_id)
        if engine.dialect.name == "sqlite":
            with pytest.raises(OperationalError, match="no such savepoint"):
                await _release_unknown_savepoint(engine)
    finally:
        await engine.dispose()


def test_each_dialect_compiles_its_own_placeholders_once() -> None:
    from sqlalchemy.dialects.postgresql.asyncpg import dialect as asyncpg_dialect
    from sqlalchemy.dialects.sqlite.aiosqlite import dialect as aiosqlite_dialect

    statement = Statement(RENAME.statement)
    sqlite, postgres = aiosqlite_dialect(), asyncpg_dialect()
    assert "?" in statement.compiled(sqlite).sql
    assert "$1" in statement.compiled(postgres).sql
    assert statement.compiled(sqlite) is statement.compiled(sqlite)
    assert statement.compiled(postgres).names == ("name", "id")


def test_organization_rows_unpack_in_table_order() -> None:
    from callsettings.storage.repositories import _organization

    org_id = uuid.uuid4()
    values = _org_values(org_id)
    org = _organization(tuple(values[c.name] for c in t.organizations.c))
    assert org == Organization(
        id=org_id,
        display_name="Acme",
        country="US",
        system_max_rings=20,
        ring_seconds=6,
        diversion_cap=5,
        created=CREATED,
    )


async def test_a_change_locks_and_reads_the_organization_and_the_stored_document(
    engine: AsyncEngine, world: World
) -> None:
    ann, change = world.ann, _change(world)
    async with write_transaction(engine) as conn:
        never_changed = await repo.lock_for_change(conn, ann.id, "doNotDisturb")
        event_id = await repo.save_feature(conn, change)  # on PostgreSQL, one statement
        changed = await repo.lock_for_change(conn, ann.id, "doNotDisturb")
        nobody = await repo.lock_for_change(conn, uuid.uuid4(), "doNotDisturb")
    async with engine.connect() as conn:
        events = await repo.list_audit_events(conn, world.org.id)
    assert never_changed == (world.org, None)
    assert changed == (world.org, change.after)
    assert nobody is None
    assert [(e.id, e.after) for e in events if e.feature == "doNotDisturb"] == [
        (event_id, change.after)
    ]


def _change(world: World) -> Change:
    return Change(
        person=world.ann,
        feature=Feature.DO_NOT_DISTURB,
        before=None,
        after='{"enabled":true,"ringSplashEnabled":false}',
        actor_id="test",
        actor_name="Test",
        token_id=None,
        tracking_id="t",
        dialect="webex",
    )
