"""The change feed: replicas learn of each other's writes from the audit trail."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server import features, invalidation
from callsettings.server.cache import FEATURES, SettingsCache
from callsettings.server.invalidation import GAP_SECONDS, ChangeFeed
from callsettings.storage import tables
from callsettings.storage.database import create_engine, write_transaction
from callsettings.storage.records import Feature, Organization, utcnow
from tests.factories import World


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def insert_event(
    engine: AsyncEngine,
    world: World,
    event_id: int,
    person_id: uuid.UUID,
    feature: str = "doNotDisturb",
    after: str | None = None,
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
                feature=feature,
                dialect="webex",
                before=None,
                after=after,
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


async def test_a_feed_behind_reads_pages_and_catches_up_over_polls(
    engine: AsyncEngine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(invalidation, "FEED_PAGE", 2)
    monkeypatch.setattr(invalidation, "FEED_MAX_PER_POLL", 4)
    cache = Recording()
    feed = ChangeFeed(engine, cache, poll_seconds=0, clock=Clock())
    await feed.start()
    people = [world.ann.id, world.bob.id, world.cat.id]
    for event_id in range(1, 8):
        await insert_event(engine, world, event_id, people[event_id % 3])
    assert await feed.poll() == 4  # two full pages: a poll's worth
    assert await feed.poll() == 3  # a full page, then a short one
    assert await feed.poll() == 0
    assert cache.evicted == [people[event_id % 3] for event_id in range(1, 8)]


async def test_the_feed_reads_postgresql_by_its_key_while_statistics_are_stale(
    engine: AsyncEngine, world: World
) -> None:
    """Analyzed empty, then 100,000 events: the poll must not scan them all (with a page
    of 10,000 the planner chose a scan and a sort, 22 ms of PostgreSQL a poll)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("a PostgreSQL plan")
    async with engine.connect() as conn:
        await conn.execution_options(isolation_level="AUTOCOMMIT")
        await conn.exec_driver_sql("ANALYZE audit_events")
        await conn.execute(
            sa.text(
                "INSERT INTO audit_events (id, org_id, actor_id, actor_name, person_id,"
                " feature, dialect, tracking_id, created) SELECT n, CAST(:org AS uuid), 'test',"
                " 'test', CAST(:person AS uuid), 'doNotDisturb', 'webex', 't', now()"
                " FROM generate_series(1, 100000) AS n"
            ),
            {"org": str(world.org.id), "person": str(world.ann.id)},
        )
    executed: list[tuple[str, object]] = []

    def capture(_conn: object, _cursor: object, statement: str, params: object, *_: object) -> None:
        if "FROM audit_events" in statement and "max(" not in statement:
            executed.append((statement, params))

    sa.event.listen(engine.sync_engine, "before_cursor_execute", capture)
    try:
        feed = ChangeFeed(engine, Recording(), poll_seconds=0, clock=Clock())
        feed._cursor = 99_990
        assert await feed.poll() == 10
    finally:
        sa.event.remove(engine.sync_engine, "before_cursor_execute", capture)
    (statement, params), *_ = executed
    async with engine.connect() as conn:
        plan = "\n".join(
            str(row[0]) for row in await conn.exec_driver_sql("EXPLAIN " + statement, params)
        )
    assert "Index Scan" in plan, plan
    assert "Seq Scan" not in plan, plan


async def test_the_feed_keeps_no_postgresql_plan_made_while_the_table_was_small(
    database_url: str, world: World
) -> None:
    """asyncpg prepares the poll once per connection; a generic plan PostgreSQL keeps for
    it after five runs on a small table (a scan) would stay while the table grows: seen in
    the benchmark as polls of over a second."""
    own = create_engine(database_url, pool_size=1)  # one session: its statements and plans
    try:
        if own.dialect.name != "postgresql":
            pytest.skip("a PostgreSQL plan cache")
        feed = ChangeFeed(own, Recording(), poll_seconds=0, clock=Clock())
        await feed.start()
        for event_id in range(1, 9):
            await insert_event(own, world, event_id, world.ann.id)
            assert await feed.poll() == 1
        async with own.connect() as conn:
            plans = (
                await conn.exec_driver_sql(
                    "SELECT generic_plans, custom_plans FROM pg_prepared_statements"
                    " WHERE statement LIKE '%FROM audit_events%ORDER BY%'"
                    " AND statement NOT LIKE '%pg_prepared_statements%'"
                )
            ).all()
        assert len(plans) == 1  # the poll's statement, prepared in this session...
        assert plans[0][0] == 0, plans  # ...and planned for each poll's id
    finally:
        await own.dispose()


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


# ---- what another replica wrote, held without reading it back ---------------------------

DND_ON = '{"enabled":true,"ringSplashEnabled":false,"webexGoOverrideEnabled":false}'
DND_OFF = '{"enabled":false,"ringSplashEnabled":true,"webexGoOverrideEnabled":false}'


def holding(cache: SettingsCache, world: World) -> SettingsCache:
    """`cache` holding Ann with every document, and her organization."""
    cache.put_org(world.org)
    generation = cache.generation(world.ann.id)
    cache.put_person(world.ann, generation)
    for feature in FEATURES:
        cache.put_document(world.ann.id, feature, b"{}", generation)
    return cache


async def polled(
    engine: AsyncEngine,
    world: World,
    cache: SettingsCache,
    *events: tuple[uuid.UUID, str, str | None],
    applied: int | None = None,
) -> SettingsCache:
    """`cache` after a feed polled these events of (person, feature, written)."""
    feed = ChangeFeed(
        engine, cache, poll_seconds=0, clock=Clock(), served=features.served_as_written
    )
    await feed.start()
    for event_id, (person_id, feature, written) in enumerate(events, start=1):
        await insert_event(engine, world, event_id, person_id, feature, written)
    assert await feed.poll() == (len(events) if applied is None else applied)
    return cache


async def test_the_feed_holds_what_another_replica_wrote_without_reading_it_back(
    engine: AsyncEngine, world: World
) -> None:
    cache = await polled(
        engine, world, holding(SettingsCache(ttl=60), world), (world.ann.id, "doNotDisturb", DND_ON)
    )
    assert cache.document(world.ann.id, "doNotDisturb") == DND_ON.encode()
    assert cache.document(world.ann.id, "callWaiting") == b"{}"  # what it did not name stays
    assert cache.take_stale(10) == []  # nothing to read back


async def test_of_two_changes_to_one_person_in_a_read_the_newest_is_held(
    engine: AsyncEngine, world: World
) -> None:
    ann = world.ann.id
    events = [(ann, "doNotDisturb", DND_ON), (ann, "doNotDisturb", DND_OFF)]
    cache = await polled(engine, world, holding(SettingsCache(ttl=60), world), *events)
    assert cache.document(ann, "doNotDisturb") == DND_OFF.encode()


async def test_an_older_change_read_with_one_this_replica_wrote_does_not_undo_it(
    engine: AsyncEngine, world: World
) -> None:
    ann = world.ann.id
    cache = holding(SettingsCache(ttl=60), world)
    cache.replace_document(ann, "doNotDisturb", DND_OFF.encode())  # written here: event 2
    cache.wrote(2)
    events = [(ann, "doNotDisturb", DND_ON), (ann, "doNotDisturb", DND_OFF)]
    cache = await polled(engine, world, cache, *events, applied=1)
    assert cache.document(ann, "doNotDisturb") != DND_ON.encode()


class EvictedWhileReading(SettingsCache):
    """A change to someone committed here (or heard over Redis) while the feed read."""

    def __init__(self, someone: uuid.UUID) -> None:
        super().__init__(ttl=60)
        self.someone = someone

    def mark(self) -> tuple[int, int]:
        taken = super().mark()
        self.evict_person(self.someone, "doNotDisturb")
        return taken


@pytest.mark.parametrize(
    ("feature", "written", "why"),
    [
        ("doNotDisturb", DND_ON, "evicted while the events were read: what is held may be newer"),
        ("voicemail.busyGreeting", "greeting.wav", "not a feature document"),
        ("doNotDisturb", '{"enabled": "maybe"}', "a text this version does not read"),
        ("doNotDisturb", None, "an event that says nothing of what was written"),
    ],
)
async def test_the_feed_evicts_what_it_cannot_hold_as_certainly_the_newest(
    engine: AsyncEngine, world: World, feature: str, written: str | None, why: str
) -> None:
    ann = world.ann.id
    cache = EvictedWhileReading(ann) if "evicted" in why else SettingsCache(ttl=60)
    cache = await polled(engine, world, holding(cache, world), (ann, feature, written))
    assert cache.document(ann, "doNotDisturb") is None, why
    assert cache.take_stale(10) == [ann], why  # read back from the table instead


async def test_the_feed_holds_nothing_for_people_this_replica_does_not_hold(
    engine: AsyncEngine, world: World
) -> None:
    cache = await polled(
        engine, world, holding(SettingsCache(ttl=60), world), (world.bob.id, "doNotDisturb", DND_ON)
    )
    assert cache.person(world.bob.id) is None
    assert cache.document(world.bob.id, "doNotDisturb") is None


ACME = Organization(uuid.uuid4(), "Acme", "US", 20, 6, 5, datetime(2026, 1, 1, tzinfo=UTC))
WRITTEN_UNDER_TEN = features.encode(
    features.decode(Feature.CALL_FORWARDING, None, replace(ACME, system_max_rings=10))
).decode()


@pytest.mark.parametrize(
    ("name", "written", "served"),
    [
        ("doNotDisturb", DND_ON, DND_ON.encode()),
        # Read-only values are this replica's organization's, as a read-back would give.
        (
            "callForwarding",
            WRITTEN_UNDER_TEN,
            features.default_encoded(Feature.CALL_FORWARDING, ACME),
        ),
        ("voicemail.busyGreeting", "greeting.wav", None),
        ("doNotDisturb", "not json", None),
        ("doNotDisturb", '{"enabled": "maybe"}', None),
    ],
)
def test_what_an_event_wrote_is_served_as_a_read_back_would_serve_it(
    name: str, written: str, served: bytes | None
) -> None:
    assert features.served_as_written(name, written, ACME) == served
