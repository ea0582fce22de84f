"""Writers that race or start from a stale copy keep every accepted change.

On PostgreSQL a PUT starts from the document its replica holds and saves it only if it is
still the stored one; otherwise it reads afresh. These tests make the held copy stale on
purpose: two replicas with the change feed off, so one never hears of the other's writes.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server import features
from callsettings.server.app import create_app
from callsettings.server.auth import TokenCache
from callsettings.server.cache import SettingsCache
from callsettings.server.features import Actor, Prepared, change_at_once
from callsettings.server.invalidation import Invalidator
from callsettings.server.ratelimit import MemoryRateLimitStore
from callsettings.server.services import Services
from callsettings.settings import CallForwarding
from callsettings.storage import database
from callsettings.storage import repositories as repo
from callsettings.storage.records import Feature
from tests.factories import World
from tests.server.conftest import make_config
from tests.server.test_call_forwarding_api import audit_count

Client = AsyncTestClient[Any]


def url(world: World) -> str:
    return f"/v1/people/{world.pid(world.ann)}/features/callForwarding"


@pytest.fixture
async def replicas(database_url: str, world: World) -> AsyncIterator[tuple[Client, Client]]:
    """Two replicas that never hear of each other's writes (no change feed, no Redis)."""
    apps = [create_app(make_config(database_url, change_poll_seconds=0)) for _ in range(2)]
    async with AsyncTestClient(app=apps[0]) as one, AsyncTestClient(app=apps[1]) as two:
        yield one, two


async def put(client: Client, world: World, forwarding: dict[str, Any]) -> int:
    body = {"callForwarding": forwarding}
    response = await client.put(url(world), json=body, headers=world.auth("full"))
    return response.status_code


async def forwarding(client: Client, world: World) -> dict[str, Any]:
    response = await client.get(url(world), headers=world.auth("full"))
    assert response.status_code == 200
    got: dict[str, Any] = response.json()["callForwarding"]
    return got


async def test_concurrent_partial_changes_of_one_person_are_all_kept(
    replicas: tuple[Client, Client], world: World, engine: AsyncEngine
) -> None:
    one, two = replicas
    for round_ in range(6):
        on = round_ % 2 == 0
        changes = [
            {"busy": {"enabled": on, "destination": "1002"}},
            {"noAnswer": {"numberOfRings": 2 + round_}},
            {"always": {"ringReminderEnabled": on}},
            {"noAnswer": {"enabled": on, "destination": "1002"}},
        ]
        clients = [one, two, one, two]
        statuses = await asyncio.gather(
            *(put(c, world, b) for c, b in zip(clients, changes, strict=True))
        )
        assert statuses == [204] * 4
    # Read on a third replica, which holds nothing of before.
    app = create_app(make_config(str(engine.url.render_as_string(hide_password=False))))
    async with AsyncTestClient(app=app) as fresh:
        got = await forwarding(fresh, world)
    assert got["busy"]["enabled"] is False
    assert got["noAnswer"]["numberOfRings"] == 7
    assert got["always"]["ringReminderEnabled"] is False
    assert got["noAnswer"]["enabled"] is False


async def test_a_replica_holding_an_old_copy_merges_into_the_stored_document(
    replicas: tuple[Client, Client], world: World
) -> None:
    one, two = replicas
    assert (await forwarding(two, world))["busy"]["enabled"] is False  # two holds the default
    assert await put(one, world, {"busy": {"enabled": True, "destination": "1002"}}) == 204
    assert await put(two, world, {"noAnswer": {"numberOfRings": 5}}) == 204
    got = await forwarding(two, world)  # two now holds what it committed
    assert (got["busy"]["enabled"], got["busy"]["destination"]) == (True, "1002")
    assert got["noAnswer"]["numberOfRings"] == 5


async def test_a_change_invalid_only_against_the_old_copy_is_accepted(
    replicas: tuple[Client, Client], world: World
) -> None:
    one, two = replicas
    assert "destination" not in (await forwarding(two, world))["busy"]
    assert await put(one, world, {"busy": {"destination": "1002"}}) == 204
    # Against two's copy busy has no destination, which enabling it would need.
    assert await put(two, world, {"busy": {"enabled": True}}) == 204
    got = await forwarding(two, world)
    assert (got["busy"]["enabled"], got["busy"]["destination"]) == (True, "1002")


async def test_a_change_that_is_no_change_only_to_the_old_copy_is_written(
    replicas: tuple[Client, Client], world: World, engine: AsyncEngine
) -> None:
    one, two = replicas
    assert (await forwarding(two, world))["busy"]["enabled"] is False
    assert await put(one, world, {"busy": {"enabled": True, "destination": "1002"}}) == 204
    assert await put(two, world, {"busy": {"enabled": False}}) == 204
    assert (await forwarding(one, world))["busy"]["enabled"] is True  # one's own copy
    assert (await forwarding(two, world))["busy"]["enabled"] is False
    assert await audit_count(engine) == 2


async def test_an_invalid_change_is_refused_against_the_stored_document(
    replicas: tuple[Client, Client], world: World, engine: AsyncEngine
) -> None:
    one, two = replicas
    await forwarding(two, world)
    assert await put(one, world, {"busy": {"destination": "1002"}}) == 204
    # Invalid against both copies: refused, and nothing more is written.
    assert await put(two, world, {"busy": {"destination": "1001"}}) == 400
    assert await audit_count(engine) == 1


async def test_without_the_person_stored_the_change_is_left_to_the_locking_path(
    engine: AsyncEngine, world: World
) -> None:
    """The locking path then answers 404; people are never deleted, so only a person the
    replica made up (or a database swapped under it) gets here."""
    config = make_config(str(engine.url.render_as_string(hide_password=False)))
    cache = SettingsCache(ttl=60)
    services = Services(
        config=config,
        engine=engine,
        tokens=TokenCache(engine, 0),
        rate_limits=MemoryRateLimitStore(),
        cache=cache,
        invalidator=Invalidator(cache),
    )
    nobody = replace(world.ann, id=uuid.uuid4())
    who = Actor(token=None, actor_id="test", name="Test", tracking_id="t")
    patch = {"callForwarding": {"busy": {"enabled": False}}}
    done = await change_at_once(
        services, nobody, world.org, Feature.CALL_FORWARDING, patch, who, lambda _: None
    )
    # SQLite always takes the locking path; PostgreSQL found nobody to change.
    assert done is False


async def test_a_first_change_from_the_held_default_is_one_statement_and_no_read(
    database_url: str, world: World, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ann never changed her forwarding: no row, held as the default document. Her first
    change is saved from that, in one statement (not a refused save, a read, a second)."""
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite takes the locking path, which always reads")
    reads: list[uuid.UUID] = []
    read_for_change = repo.read_for_change

    async def counted(conn: Any, person_id: uuid.UUID, feature: str) -> Any:
        reads.append(person_id)
        return await read_for_change(conn, person_id, feature)

    monkeypatch.setattr(repo, "read_for_change", counted)
    app = create_app(make_config(database_url, change_poll_seconds=0))
    async with AsyncTestClient(app=app) as client:
        assert "destination" not in (await forwarding(client, world))["busy"]  # held now
        saves = app.app.app.state.services.saves
        before = saves.statements

        assert await put(client, world, {"busy": {"enabled": True, "destination": "1002"}}) == 204

        assert (saves.statements - before, reads) == (1, [])
    assert await audit_count(engine) == 1
    async with engine.connect() as conn:
        found = await repo.read_for_change(conn, world.ann.id, "callForwarding")
    assert found is not None
    assert '"destination":"1002"' in (found[1] or "")


# (what is asked, the forwarding change): whether its validation ran while a writer held
# SQLite's write lock. A change from a held, current copy is validated before the lock;
# an "always" forward is checked for loops against what is stored, so under it.
UNDER_THE_LOCK = [
    ("busy to a colleague", {"busy": {"enabled": True, "destination": "1002"}}, [False]),
    ("rings", {"noAnswer": {"numberOfRings": 4}}, [False]),
    ("always to a colleague", {"always": {"enabled": True, "destination": "1002"}}, [True]),
]


@pytest.mark.parametrize(
    ("change", "locked"), [case[1:] for case in UNDER_THE_LOCK], ids=[c[0] for c in UNDER_THE_LOCK]
)
async def test_sqlite_validates_a_change_from_a_current_copy_before_the_write_lock(
    client: Client,
    world: World,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    change: dict[str, Any],
    locked: list[bool],
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL saves without a lock (change_at_once)")
    await forwarding(client, world)  # held from now
    seen = _validations_under_the_lock(monkeypatch)

    assert await put(client, world, change) == 204

    assert seen == locked
    stored = await forwarding(client, world)
    key = next(iter(change))
    assert {k: stored[key][k] for k in change[key]} == change[key]
    assert await audit_count(engine) == 1


async def test_sqlite_decides_again_under_the_lock_when_the_held_copy_is_stale(
    replicas: tuple[Client, Client], world: World, engine: AsyncEngine, monkeypatch: Any
) -> None:
    if engine.dialect.name != "sqlite":
        pytest.skip("PostgreSQL saves without a lock (change_at_once)")
    one, two = replicas
    await forwarding(two, world)  # two holds the default
    assert await put(one, world, {"busy": {"enabled": True, "destination": "1002"}}) == 204
    seen = _validations_under_the_lock(monkeypatch)

    assert await put(two, world, {"noAnswer": {"numberOfRings": 5}}) == 204

    assert seen == [False, True]  # before the lock from the stale copy, then from the row
    got = await forwarding(two, world)
    assert (got["busy"]["enabled"], got["noAnswer"]["numberOfRings"]) == (True, 5)


def _validations_under_the_lock(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record, for each forwarding validation from now on, whether the write lock was held."""
    seen: list[bool] = []
    validate = features.VALIDATORS[Feature.CALL_FORWARDING]

    async def recorded(*args: Any) -> Any:
        seen.append(any(group.lock.locked() for group in database._sqlite_groups.values()))
        return await validate(*args)

    monkeypatch.setitem(features.VALIDATORS, Feature.CALL_FORWARDING, recorded)
    return seen


# (what is stored now, the organization's maximum of rings now, whether a change prepared
# from the held copy can be stored as it is).
HELD = b'{"held":1}'
STILL_HOLDS = [
    ("the held copy", '{"held":1}', 20, True),
    ("another writer's document", '{"held":2}', 20, False),
    ("no row, held as the default", None, 20, True),
    ("the held copy, rings changed", '{"held":1}', 10, False),
]


@pytest.mark.parametrize(
    ("stored", "rings", "holds"), [c[1:] for c in STILL_HOLDS], ids=[c[0] for c in STILL_HOLDS]
)
def test_a_prepared_change_is_stored_as_is_only_if_nothing_moved(
    world: World, stored: str | None, rings: int, holds: bool
) -> None:
    org = replace(world.org, system_max_rings=20)
    document = CallForwarding()
    prepared = Prepared(HELD, True, org, document, document)
    assert prepared.still_holds(replace(org, system_max_rings=rings), stored) is holds
    not_default = replace(prepared, held_is_default=False)
    assert not_default.still_holds(org, None) is False
