"""PostgreSQL writes that hold no transaction open: a save that writes only if nothing
changed since the document was read, and the locking read that orders the other writers."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.storage import repositories as repo
from callsettings.storage import tables as t
from callsettings.storage.database import write_transaction
from callsettings.storage.driver import first_alone
from callsettings.storage.records import Change, Feature
from tests.conftest import _truncate_postgres
from tests.factories import World

OFF = '{"enabled":false,"ringSplashEnabled":false}'
ON = '{"enabled":true,"ringSplashEnabled":false}'
SPLASH = '{"enabled":false,"ringSplashEnabled":true}'


@pytest.fixture
def database_url(postgres_url: str) -> str:
    """PostgreSQL only: SQLite has one writer at a time and takes the locking path."""
    asyncio.run(_truncate_postgres(postgres_url))
    return postgres_url


def _change(world: World, before: str | None, after: str) -> Change:
    return Change(
        person=world.ann,
        feature=Feature.DO_NOT_DISTURB,
        before=before,
        after=after,
        actor_id="test",
        actor_name="Test",
        token_id=None,
        tracking_id="t",
        dialect="webex",
    )


async def _stored(engine: AsyncEngine, world: World) -> tuple[str | None, list[str]]:
    """The stored doNotDisturb document and the `after` of its audit events, oldest first."""
    async with engine.connect() as conn:
        found = await repo.read_for_change(conn, world.ann.id, "doNotDisturb")
        events = await repo.list_audit_events(conn, world.org.id)
    assert found is not None
    return found[1], [e.after or "" for e in sorted(events, key=lambda e: e.id)]


async def _save_if(
    engine: AsyncEngine, world: World, change: Change, expected: str | None
) -> int | None:
    async with engine.connect() as conn:
        return await repo.save_feature_if(conn, change, expected, world.org)


async def test_a_missing_row_is_the_default_and_is_inserted(
    engine: AsyncEngine, world: World
) -> None:
    event_id = await _save_if(engine, world, _change(world, OFF, ON), expected=None)
    assert event_id is not None
    assert await _stored(engine, world) == (ON, [ON])


async def test_it_writes_over_the_expected_document_and_commits_on_its_own(
    engine: AsyncEngine, world: World
) -> None:
    await _save_if(engine, world, _change(world, OFF, ON), expected=None)
    event_id = await _save_if(engine, world, _change(world, ON, SPLASH), expected=ON)
    assert event_id is not None
    # Read on another connection: the statement was its own committed transaction.
    assert await _stored(engine, world) == (SPLASH, [ON, SPLASH])


@pytest.mark.parametrize("expected", [None, OFF, SPLASH])
async def test_another_stored_document_means_nothing_is_written(
    engine: AsyncEngine, world: World, expected: str | None
) -> None:
    await _save_if(engine, world, _change(world, OFF, ON), expected=None)
    assert await _save_if(engine, world, _change(world, OFF, SPLASH), expected) is None
    assert await _stored(engine, world) == (ON, [ON])


@pytest.mark.parametrize(
    "changed",
    [
        {"country": "GB"},
        {"system_max_rings": 6},
        {"ring_seconds": 5},
        {"diversion_cap": 2},
    ],
)
async def test_an_organization_changed_since_validation_means_nothing_is_written(
    engine: AsyncEngine, world: World, changed: dict[str, object]
) -> None:
    async with engine.begin() as conn:
        await conn.execute(t.organizations.update().values(**changed))
    assert await _save_if(engine, world, _change(world, OFF, ON), expected=None) is None
    assert await _stored(engine, world) == (None, [])


async def test_a_person_nobody_has_is_not_written(engine: AsyncEngine, world: World) -> None:
    nobody = replace(world.ann, id=uuid.uuid4())
    change = replace(_change(world, OFF, ON), person=nobody)
    assert await _save_if(engine, world, change, expected=None) is None
    async with engine.connect() as conn:
        assert await repo.read_for_change(conn, nobody.id, "doNotDisturb") is None


async def test_it_waits_for_a_writer_holding_the_person_and_then_sees_its_document(
    engine: AsyncEngine, world: World
) -> None:
    async with write_transaction(engine) as conn:
        await repo.lock_for_change(conn, world.ann.id, "doNotDisturb")
        # Started while the lock is held: it must wait, then find ON, not the default.
        waiting = asyncio.create_task(_save_if(engine, world, _change(world, OFF, SPLASH), None))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        await repo.save_feature(conn, _change(world, OFF, ON))
    assert await waiting is None
    assert await _stored(engine, world) == (ON, [ON])


async def test_a_locking_writer_that_waited_reads_what_the_one_before_it_committed(
    engine: AsyncEngine, world: World
) -> None:
    """One statement that locks and reads would return the row as it was before the wait
    (its snapshot is older than the commit it waited for): the other writer's change would
    be lost."""
    read: list[str | None] = []

    async def second_writer() -> None:
        async with write_transaction(engine) as conn:
            found = await repo.lock_for_change(conn, world.ann.id, "doNotDisturb")
            assert found is not None
            read.append(found[1])

    async with write_transaction(engine) as conn:
        await repo.lock_for_change(conn, world.ann.id, "doNotDisturb")
        waiting = asyncio.create_task(second_writer())
        await asyncio.sleep(0.2)
        assert read == []
        await repo.save_feature(conn, _change(world, OFF, ON))
    await waiting
    assert read == [ON]


async def test_a_statement_of_its_own_refuses_a_connection_in_a_transaction(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as conn:
        await conn.execute(sa.select(1))
        with pytest.raises(RuntimeError, match="outside a transaction"):
            await first_alone(conn, repo._FOR_CHANGE, {"id": "x", "feature": "y"})
