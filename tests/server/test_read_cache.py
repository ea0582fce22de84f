"""The read path's cache: fresh after writes, bounded staleness, and replicas kept in step."""

from __future__ import annotations

import asyncio
import os
import uuid
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from callsettings.server.app import create_app
from callsettings.server.auth import TokenCache
from callsettings.server.cache import SettingsCache
from callsettings.storage import repositories as repo
from callsettings.storage.database import create_engine, write_transaction
from tests.conftest import REDIS_ENV
from tests.factories import World, build_world, seed_world
from tests.server.conftest import make_config


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_entries_expire_after_the_ttl() -> None:
    clock = FakeClock()
    cache = SettingsCache(ttl=2.0, clock=clock)
    person_id = uuid.uuid4()
    cache.put_document(person_id, "callForwarding", b"{}", cache.generation(person_id))
    assert cache.documents.get((person_id, "callForwarding")) == b"{}"
    clock.now += 2.0
    assert cache.documents.get((person_id, "callForwarding")) is None


def test_a_read_that_raced_a_write_does_not_store_the_old_value() -> None:
    cache = SettingsCache(ttl=60)
    person_id = uuid.uuid4()
    before_read = cache.generation(person_id)
    cache.evict_person(person_id)  # a write committed while the read was in flight
    cache.put_document(person_id, "callForwarding", b"old", before_read)
    assert cache.documents.get((person_id, "callForwarding")) is None
    cache.put_document(person_id, "callForwarding", b"new", cache.generation(person_id))
    assert cache.documents.get((person_id, "callForwarding")) == b"new"


def test_evict_all_refuses_values_read_before_it() -> None:
    cache = SettingsCache(ttl=60)
    person_id = uuid.uuid4()
    before = cache.generation(person_id)
    cache.evict_all()
    cache.put_document(person_id, "voicemail", b"old", before)
    assert cache.documents.get((person_id, "voicemail")) is None


def test_a_full_cache_forgets_its_oldest_tenth_and_keeps_the_rest() -> None:
    cache = SettingsCache(ttl=60, max_people=100)
    people = [uuid.uuid4() for _ in range(101)]
    for person_id in people:
        cache.put_document(person_id, "voicemail", b"{}", cache.generation(person_id))
    # documents hold two per person: the bound is 200 entries, so nobody was dropped yet.
    assert len(cache.documents) == 101
    for person_id in people[:100]:
        cache.subscribers.put(person_id, object())  # type: ignore[arg-type]
    cache.subscribers.put(people[100], object())  # type: ignore[arg-type]
    assert len(cache.subscribers) == 91
    assert cache.subscribers.get(people[0]) is None  # the oldest went first
    assert cache.subscribers.get(people[99]) is not None


def test_a_zero_ttl_caches_nothing() -> None:
    cache = SettingsCache(ttl=0)
    person_id = uuid.uuid4()
    cache.put_document(person_id, "callForwarding", b"{}", cache.generation(person_id))
    assert cache.documents.get((person_id, "callForwarding")) is None


async def test_a_revoked_token_stops_working_within_the_token_ttl(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    world = await build_world(engine)
    clock = FakeClock()
    tokens = TokenCache(engine, ttl=2.0, clock=clock)
    secret = world.tokens["full"]
    first = await tokens.lookup(secret)
    assert first is not None
    async with write_transaction(engine) as conn:
        assert await repo.revoke_token(conn, first.id)
    clock.now += 1.0
    still_cached = await tokens.lookup(secret)
    assert still_cached is not None
    assert still_cached.revoked is None
    clock.now += 1.0
    refreshed = await tokens.lookup(secret)
    assert refreshed is not None
    assert refreshed.revoked is not None
    await engine.dispose()


def _path(world: World) -> str:
    return f"/v1/people/{world.pid(world.ann)}/features/doNotDisturb"


async def test_a_put_is_visible_at_once_on_the_same_replica_despite_a_long_ttl(
    database_url: str, world: World
) -> None:
    app = create_app(make_config(database_url, cache_seconds=300))
    async with AsyncTestClient(app=app) as client:
        before = await client.get(_path(world), headers=world.auth("full"))
        assert before.json()["enabled"] is False
        put = await client.put(_path(world), json={"enabled": True}, headers=world.auth("full"))
        assert put.status_code == 204
        after = await client.get(_path(world), headers=world.auth("full"))
    assert after.json()["enabled"] is True


async def test_without_redis_other_replicas_evict_through_the_change_feed(
    sqlite_url: str,
) -> None:
    world = await seed_world(sqlite_url)
    config = make_config(sqlite_url, cache_seconds=300, change_poll_seconds=0.05)
    async with (
        AsyncTestClient(app=create_app(config)) as one,
        AsyncTestClient(app=create_app(config)) as two,
    ):
        await two.get(_path(world), headers=world.auth("full"))
        await one.put(_path(world), json={"enabled": True}, headers=world.auth("full"))
        seen = False
        for _ in range(200):  # a generous deadline; the feed polls every 50 ms
            got = await two.get(_path(world), headers=world.auth("full"))
            if got.json()["enabled"] is True:
                seen = True
                break
            await asyncio.sleep(0.05)
    assert seen


async def test_with_the_feed_off_and_no_redis_another_replica_serves_its_cache_until_expiry(
    sqlite_url: str,
) -> None:
    world = await seed_world(sqlite_url)
    config = make_config(sqlite_url, cache_seconds=300, change_poll_seconds=0)
    async with (
        AsyncTestClient(app=create_app(config)) as one,
        AsyncTestClient(app=create_app(config)) as two,
    ):
        await two.get(_path(world), headers=world.auth("full"))
        await one.put(_path(world), json={"enabled": True}, headers=world.auth("full"))
        stale = await two.get(_path(world), headers=world.auth("full"))
    # Why the feed is on by default: documented in docs/operations.md.
    assert stale.json()["enabled"] is False


async def test_with_redis_other_replicas_evict_when_a_person_changes(sqlite_url: str) -> None:
    redis_url = os.environ.get(REDIS_ENV)
    if not redis_url:
        pytest.skip(f"replica invalidation needs {REDIS_ENV} (set by .ci/run)")
    world = await seed_world(sqlite_url)
    config = make_config(sqlite_url, cache_seconds=300, redis_url=redis_url)
    async with (
        AsyncTestClient(app=create_app(config)) as one,
        AsyncTestClient(app=create_app(config)) as two,
    ):
        cached = await two.get(_path(world), headers=world.auth("full"))
        assert cached.json()["enabled"] is False
        await one.put(_path(world), json={"enabled": True}, headers=world.auth("full"))
        fresh: Any = None
        for _ in range(50):
            fresh = (await two.get(_path(world), headers=world.auth("full"))).json()
            if fresh["enabled"]:
                break
            await asyncio.sleep(0.02)
    assert fresh["enabled"] is True


async def test_a_burst_of_misses_for_one_document_makes_one_database_read(
    database_url: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callsettings.server import features

    calls = 0
    real_read = features.read

    async def slow_read(*args: Any) -> Any:
        nonlocal calls
        calls += 1
        await asyncio.sleep(0.05)
        return await real_read(*args)

    monkeypatch.setattr(features, "read", slow_read)
    app = create_app(make_config(database_url))
    async with AsyncTestClient(app=app) as client:
        answers = await asyncio.gather(
            *(client.get(_path(world), headers=world.auth("full")) for _ in range(12))
        )
    assert {a.status_code for a in answers} == {200}
    assert calls == 1


async def test_a_failed_read_fails_every_waiter_and_is_not_remembered(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callsettings.server import features
    from callsettings.server.reads import CachedReader
    from callsettings.server.services import Services

    engine = create_engine(sqlite_url)
    world = await build_world(engine)

    async def broken(*_args: Any) -> Any:
        await asyncio.sleep(0.01)
        raise RuntimeError("disk on fire")

    cache = SettingsCache(ttl=60)
    services = Services(
        config=make_config(sqlite_url),
        engine=engine,
        tokens=None,  # type: ignore[arg-type]
        rate_limits=None,
        cache=cache,
        invalidator=None,
    )  # type: ignore[arg-type]
    async with CachedReader(services) as warmup:
        org = await warmup.org(world.org.id)
    assert org is not None
    monkeypatch.setattr(features, "read", broken)

    async def read() -> Any:
        async with CachedReader(services) as reader:
            return await reader.document(world.ann, org, features.Feature.VOICEMAIL)

    results = await asyncio.gather(*(read() for _ in range(3)), return_exceptions=True)
    assert all(isinstance(r, RuntimeError) for r in results)
    assert cache.flights == {}
    await engine.dispose()
