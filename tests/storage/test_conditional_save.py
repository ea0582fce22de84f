"""PostgreSQL writes that hold no transaction open: a save that writes only if nothing
changed since the document was read, the locking read that orders the other writers, and
concurrent saves grouped into one statement (several people at once, each with its own
outcome, a person's second change checked against the first, a failed statement's saves
retried alone)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callsettings.storage import repositories as repo
from callsettings.storage import tables as t
from callsettings.storage.database import write_transaction
from callsettings.storage.driver import first_alone
from callsettings.storage.records import Change, Feature, Person
from callsettings.storage.repositories import ConditionalSave
from callsettings.storage.saves import ConditionalSaves
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
    engine: AsyncEngine,
    world: World,
    change: Change,
    expected: str | None,
    or_absent: bool = False,
) -> int | None:
    async with engine.connect() as conn:
        (event_id,) = await repo.save_features_if(
            conn, [ConditionalSave(change, expected, world.org, or_absent)]
        )
        return event_id


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


# A replica holds a person who never changed a feature as its default document (OFF here),
# so its save expects that text "or no row". (stored before, or_absent, stored after)
OR_ABSENT = [
    (None, True, ON),  # no row: inserted, in the one statement
    (OFF, True, ON),  # a row holding the default text: updated, once
    (SPLASH, True, SPLASH),  # another document: nothing written
    (None, False, None),  # without or_absent, the default text is not "no row"
]


@pytest.mark.parametrize(("before", "or_absent", "after"), OR_ABSENT)
async def test_a_save_expecting_the_default_may_also_find_no_row(
    engine: AsyncEngine, world: World, before: str | None, or_absent: bool, after: str | None
) -> None:
    if before is not None:
        await _save_if(engine, world, _change(world, OFF, before), expected=None)
    events = [] if before is None else [before]

    written = await _save_if(engine, world, _change(world, OFF, ON), OFF, or_absent)

    assert (written is not None) == (after == ON)
    assert await _stored(engine, world) == (after, events + ([ON] if after == ON else []))


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


def _save(world: World, person: Person, expected: str | None, after: str) -> ConditionalSave:
    change = Change(
        person=person,
        feature=Feature.DO_NOT_DISTURB,
        before=expected or OFF,
        after=after,
        actor_id="test",
        actor_name="Test",
        token_id=None,
        tracking_id=f"t-{person.display_name}",
        dialect="webex",
    )
    return ConditionalSave(change, expected, world.org)


async def _document(engine: AsyncEngine, person: Person) -> str | None:
    async with engine.connect() as conn:
        found = await repo.read_for_change(conn, person.id, Feature.DO_NOT_DISTURB.value)
    assert found is not None
    return found[1]


async def _audited(engine: AsyncEngine, world: World) -> dict[uuid.UUID, list[str]]:
    async with engine.connect() as conn:
        events = await repo.list_audit_events(conn, world.org.id)
    found: dict[uuid.UUID, list[str]] = {}
    for event in sorted(events, key=lambda e: e.id):
        found.setdefault(event.person_id, []).append(event.after or "")
    return found


async def test_one_statement_saves_several_people_each_on_its_own_condition(
    engine: AsyncEngine, world: World
) -> None:
    async with engine.connect() as conn:
        await repo.save_features_if(conn, [_save(world, world.bob, None, ON)])
        event_ids = await repo.save_features_if(
            conn,
            [
                _save(world, world.ann, None, ON),  # no row yet: inserted
                _save(world, world.bob, ON, SPLASH),  # the stored one: written over
                _save(world, world.cat, OFF, ON),  # expects a row there is not: refused
            ],
        )
    assert event_ids[0] is not None
    assert event_ids[1] is not None
    assert event_ids[2] is None
    assert (await _document(engine, world.ann), await _document(engine, world.bob)) == (ON, SPLASH)
    assert await _document(engine, world.cat) is None
    audited = await _audited(engine, world)
    assert audited == {world.ann.id: [ON], world.bob.id: [ON, SPLASH]}


async def test_a_change_validated_against_an_older_organization_is_refused_alone(
    engine: AsyncEngine, world: World
) -> None:
    stale_org = replace(world.org, system_max_rings=world.org.system_max_rings + 1)
    stale = replace(_save(world, world.bob, None, ON), org=stale_org)
    async with engine.connect() as conn:
        event_ids = await repo.save_features_if(conn, [_save(world, world.ann, None, ON), stale])
    assert event_ids[0] is not None
    assert event_ids[1] is None
    assert await _audited(engine, world) == {world.ann.id: [ON]}


async def test_one_statement_refuses_two_changes_of_one_person(
    engine: AsyncEngine, world: World
) -> None:
    async with engine.connect() as conn:
        with pytest.raises(ValueError, match="one change per person"):
            await repo.save_features_if(
                conn, [_save(world, world.ann, None, ON), _save(world, world.ann, None, SPLASH)]
            )
    assert await _audited(engine, world) == {}


async def test_saves_that_arrive_together_share_statements(
    engine: AsyncEngine, world: World
) -> None:
    saves = ConditionalSaves(engine)
    people = [world.ann, world.bob, world.cat]
    event_ids = await asyncio.gather(
        *(saves.save(_save(world, person, None, ON)) for person in people)
    )
    assert all(event_id is not None for event_id in event_ids)
    assert len(set(event_ids)) == 3
    # All three were waiting when the statement was sent: one round trip, one commit.
    assert saves.statements == 1
    assert await _audited(engine, world) == {person.id: [ON] for person in people}


async def test_a_persons_second_change_waits_and_is_checked_against_the_first(
    engine: AsyncEngine, world: World
) -> None:
    saves = ConditionalSaves(engine)
    # Both merged into the same (default) document: only the first may be written.
    first, second, other = await asyncio.gather(
        saves.save(_save(world, world.ann, None, ON)),
        saves.save(_save(world, world.ann, None, SPLASH)),
        saves.save(_save(world, world.bob, None, SPLASH)),
    )
    assert first is not None
    assert other is not None
    assert second is None
    assert await _document(engine, world.ann) == ON
    assert await _audited(engine, world) == {world.ann.id: [ON], world.bob.id: [SPLASH]}


async def test_a_failed_statement_tries_each_save_alone(
    engine: AsyncEngine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = repo.save_features_if

    async def refuse_more_than_one(
        conn: AsyncConnection, group: list[ConditionalSave]
    ) -> list[int | None]:
        if len(group) > 1:
            raise RuntimeError("deadlock detected")
        if group[0].change.person.id == world.cat.id:
            raise RuntimeError("cat's own failure")
        return await real(conn, group)

    monkeypatch.setattr(repo, "save_features_if", refuse_more_than_one)
    saves = ConditionalSaves(engine)
    outcomes: list[Any] = await asyncio.gather(
        *(saves.save(_save(world, p, None, ON)) for p in (world.ann, world.bob, world.cat)),
        return_exceptions=True,
    )
    assert outcomes[0] is not None
    assert not isinstance(outcomes[0], BaseException)
    assert outcomes[1] is not None
    assert not isinstance(outcomes[1], BaseException)
    assert isinstance(outcomes[2], RuntimeError)
    assert "cat's own" in str(outcomes[2])
    assert await _audited(engine, world) == {world.ann.id: [ON], world.bob.id: [ON]}


async def test_a_cancelled_caller_leaves_the_others_answered(
    engine: AsyncEngine, world: World
) -> None:
    saves = ConditionalSaves(engine)
    first = asyncio.create_task(saves.save(_save(world, world.ann, None, ON)))
    second = asyncio.create_task(saves.save(_save(world, world.bob, None, ON)))
    third = asyncio.create_task(saves.save(_save(world, world.cat, None, ON)))
    await asyncio.sleep(0)
    second.cancel()
    assert await first is not None
    assert await third is not None
    with pytest.raises(asyncio.CancelledError):
        await second
    # Its statement may or may not have run; the others were written either way.
    audited = await _audited(engine, world)
    assert audited[world.ann.id] == [ON]
    assert audited[world.cat.id] == [ON]
