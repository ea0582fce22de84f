"""The change feed: replicas learn of each other's writes from the audit trail."""

from __future__ import annotations

import uuid

from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server.cache import SettingsCache
from callsettings.server.invalidation import GAP_SECONDS, ChangeFeed
from callsettings.storage import tables
from callsettings.storage.database import write_transaction
from callsettings.storage.records import utcnow
from tests.factories import World


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def insert_event(
    engine: AsyncEngine, world: World, event_id: int, person_id: uuid.UUID
) -> None:
    async with write_transaction(engine) as conn:
        await conn.execute(
            tables.audit_events.insert().values(
                id=event_id,
                org_id=str(world.org.id),
                actor_id="test",
                actor_name="test",
                token_id=None,
                person_id=str(person_id),
                feature="doNotDisturb",
                dialect="webex",
                before=None,
                after=None,
                tracking_id="t",
                created=utcnow(),
            )
        )


class Recording(SettingsCache):
    def __init__(self) -> None:
        super().__init__(ttl=60)
        self.evicted: list[uuid.UUID] = []
        self.features: list[str | None] = []

    def evict_person(self, person_id: uuid.UUID, feature: str | None = None) -> None:
        self.evicted.append(person_id)
        self.features.append(feature)
        super().evict_person(person_id, feature)


async def test_the_feed_evicts_people_of_new_events_once(engine: AsyncEngine, world: World) -> None:
    cache = Recording()
    feed = ChangeFeed(engine, cache, poll_seconds=0, clock=Clock())
    await feed.start()
    await insert_event(engine, world, 1, world.ann.id)
    await insert_event(engine, world, 2, world.bob.id)
    assert await feed.poll() == 2
    assert cache.evicted == [world.ann.id, world.bob.id]
    assert cache.features == ["doNotDisturb", "doNotDisturb"]  # only what the events name
    assert await feed.poll() == 0  # nothing new: nothing evicted again


async def test_an_event_that_commits_after_a_later_one_is_still_seen(
    engine: AsyncEngine, world: World
) -> None:
    # On PostgreSQL ids are taken at insert: id 2 can commit after id 3 was read.
    clock = Clock()
    cache = Recording()
    feed = ChangeFeed(engine, cache, poll_seconds=0, clock=clock)
    await feed.start()
    await insert_event(engine, world, 1, world.ann.id)
    await insert_event(engine, world, 3, world.cat.id)
    assert await feed.poll() == 2
    await insert_event(engine, world, 2, world.bob.id)
    assert await feed.poll() == 1
    assert cache.evicted[-1] == world.bob.id


async def test_a_gap_that_never_fills_is_forgotten(engine: AsyncEngine, world: World) -> None:
    clock = Clock()
    feed = ChangeFeed(engine, Recording(), poll_seconds=0, clock=clock)
    await feed.start()
    await insert_event(engine, world, 5, world.ann.id)
    await feed.poll()
    assert sorted(feed._gaps) == [1, 2, 3, 4]
    clock.now += GAP_SECONDS + 1
    await feed.poll()
    assert feed._gaps == {}


async def test_a_replica_starts_after_the_events_it_could_not_have_cached(
    engine: AsyncEngine, world: World
) -> None:
    await insert_event(engine, world, 1, world.ann.id)
    cache = Recording()
    feed = ChangeFeed(engine, cache, poll_seconds=0, clock=Clock())
    await feed.start()
    assert await feed.poll() == 0
    assert cache.evicted == []


async def test_a_feed_started_without_the_database_finds_its_cursor_later(
    engine: AsyncEngine, world: World
) -> None:
    from callsettings.storage.database import create_engine

    offline = create_engine("postgresql://postgres@127.0.0.1:9/nowhere")
    feed = ChangeFeed(offline, Recording(), poll_seconds=0, clock=Clock())
    await feed.start()  # does not raise: the service must start and answer 503s
    await offline.dispose()
    await insert_event(engine, world, 1, world.ann.id)
    cache = Recording()
    feed = ChangeFeed(engine, cache, poll_seconds=0, clock=Clock())
    feed._cursor = None  # as if started while the database was away
    assert await feed.poll() == 0  # first contact: cursor found, everything forgotten
    await insert_event(engine, world, 2, world.bob.id)
    assert await feed.poll() == 1
    assert cache.evicted == [world.bob.id]


async def test_the_feed_skips_changes_this_replica_applied_when_it_committed(
    engine: AsyncEngine, world: World
) -> None:
    cache = Recording()
    feed = ChangeFeed(engine, cache, poll_seconds=0, clock=Clock())
    await feed.start()
    await insert_event(engine, world, 1, world.ann.id)
    await insert_event(engine, world, 2, world.bob.id)
    cache.wrote(1)  # Ann's change was written, and applied, here
    assert await feed.poll() == 1
    assert cache.evicted == [world.bob.id]
    assert not cache.own_change(1)  # passed: forgotten
