"""A warm start: a worker holds the people it serves before its first request."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import msgspec
import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server import features, services, warmup
from callsettings.server.app import create_app
from callsettings.server.cache import FEATURES, SettingsCache
from callsettings.server.warmup import AnswerKeeper, redecide, refresh, warm, warm_answers
from callsettings.settings import CallForwarding, apply_patch
from callsettings.storage import repositories as repo
from callsettings.storage import tables
from callsettings.storage.database import write_transaction
from callsettings.storage.records import utcnow
from tests.factories import World
from tests.server.conftest import make_config


def _path(world: World, feature: str = "callForwarding") -> str:
    return f"/v1/people/{world.pid(world.ann)}/features/{feature}"


async def test_after_a_warm_start_settings_are_read_without_the_database(
    database_url: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(make_config(database_url))
    async with AsyncTestClient(app=app) as client:

        async def no_database(*_args: Any) -> Any:
            raise AssertionError("read from the database after a warm start")

        monkeypatch.setattr(repo, "get_person", no_database)
        monkeypatch.setattr(features, "read", no_database)
        for feature in ("callForwarding", "doNotDisturb", "callWaiting", "voicemail"):
            got = await client.get(_path(world, feature), headers=world.auth("full"))
            assert got.status_code == 200, got.text
        decision = await client.get(
            "/v1/callsettings/treatment", params={"called": "1002"}, headers=world.auth("service")
        )
    assert decision.status_code == 200, decision.text
    assert decision.json()["called"]["displayName"] == "Bob Test"


async def test_after_a_warm_start_a_new_call_to_anyone_held_is_already_decided(
    engine: AsyncEngine, world: World
) -> None:
    cache = SettingsCache(ttl=60)
    await warm(engine, cache, max_people=1000)
    assert await warm_answers(cache) == 4  # two organizations, four people with extensions
    for person in (world.ann, world.bob, world.cat, world.zed):
        assert cache.answer(person.id) is not None
    assert cache.answers_kept() == 4
    assert await warm_answers(cache) == 0  # kept answers are not decided again


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def _forward_ann_outside(engine: AsyncEngine, world: World) -> None:
    outside = apply_patch(
        CallForwarding(),
        {"callForwarding": {"always": {"enabled": True, "destination": "+12025550199"}}},
    )
    async with write_transaction(engine) as conn:
        await conn.execute(
            tables.feature_settings.insert().values(
                person_id=str(world.ann.id),
                feature="callForwarding",
                document=msgspec.json.encode(outside).decode(),
                updated=utcnow(),
            )
        )


async def _warm_with_ann_forwarded_outside(
    engine: AsyncEngine, world: World
) -> tuple[SettingsCache, FakeClock]:
    """A warm cache on a clock of its own, where ann's answer met a number nobody has (so
    it expires after the cache's 60 s)."""
    await _forward_ann_outside(engine, world)
    clock = FakeClock()
    cache = SettingsCache(ttl=60, clock=clock, people_ttl=3600)
    await warm(engine, cache, max_people=1000)
    await warm_answers(cache, engine)
    return cache, clock


async def test_the_keeper_looks_an_outside_number_up_again_once_its_answer_expired(
    engine: AsyncEngine, world: World
) -> None:
    cache, clock = await _warm_with_ann_forwarded_outside(engine, world)
    clock.now += 60  # the answer expires, and what the cache knew of the number with it
    assert cache.answer(world.ann.id) is None
    assert await redecide(cache, engine) == 1
    assert cache.answer(world.ann.id) is not None


@pytest.mark.parametrize(
    ("asked", "decided_again"),
    [
        (True, 1),  # a proxy asked for ann since her answer was made: keep her warm
        (False, 0),  # nobody did: her answer goes, and waits for a call
    ],
)
async def test_the_keeper_decides_an_expired_answer_again_if_it_was_asked_for(
    engine: AsyncEngine, world: World, asked: bool, decided_again: int
) -> None:
    cache, clock = await _warm_with_ann_forwarded_outside(engine, world)
    assert await warm_answers(cache, engine) == 0  # looking for kept answers is not asking
    if asked:
        assert cache.answer(world.ann.id) is not None
    busy = True
    keeper = AnswerKeeper(cache, engine, idle=lambda: not busy)
    clock.now += 60  # ann's answer expires (it met a number nobody has)
    assert await keeper.step() == 0  # a request in flight: nothing is done
    busy = False
    assert await keeper.step() == decided_again
    assert (cache.answer(world.ann.id) is not None) == asked
    # The others consulted nobody: their answers never expire.
    assert cache.answer(world.bob.id) is not None
    clock.now += 30
    assert await keeper.step() == 0  # a new answer has 30 s to go; a dropped one stays so


async def test_an_answer_asked_for_is_decided_again_only_while_it_is_asked_for(
    engine: AsyncEngine, world: World
) -> None:
    cache, clock = await _warm_with_ann_forwarded_outside(engine, world)
    keeper = AnswerKeeper(cache, engine)
    assert cache.answer(world.ann.id) is not None
    clock.now += 60
    assert await keeper.step() == 1  # asked for in the first minute
    clock.now += 60
    assert await keeper.step() == 0  # not in the second: dropped, not decided
    assert cache.answers_kept() == 3
    assert cache.answer(world.ann.id) is None


async def test_a_forward_to_a_number_nobody_has_is_decided_ahead_too(
    engine: AsyncEngine, world: World
) -> None:
    await _forward_ann_outside(engine, world)
    cache = SettingsCache(ttl=60)
    await warm(engine, cache, max_people=1000)
    assert await warm_answers(cache) == 3  # ann's forward names a number not known here
    assert await warm_answers(cache, engine) == 1  # looked up: nobody has it
    shape = cache.answer(world.ann.id)
    assert shape is not None
    cache.evict_person(world.bob.id)  # a change elsewhere cannot give anyone that number
    assert cache.answer(world.ann.id) == shape


async def test_an_answer_a_change_forgot_is_decided_again_with_the_new_settings(
    engine: AsyncEngine, world: World
) -> None:
    cache = SettingsCache(ttl=60)
    await warm(engine, cache, max_people=1000)
    await warm_answers(cache)
    before = cache.answer(world.ann.id)
    cache.evict_person(world.ann.id, "doNotDisturb")
    assert await redecide(cache) == 0  # her documents are not all held again yet
    dnd_on = msgspec.json.encode({"enabled": True, "ringSplashEnabled": False})
    cache.put_document(world.ann.id, "doNotDisturb", dnd_on, cache.generation(world.ann.id))
    assert await redecide(cache) == 1
    after = cache.answer(world.ann.id)
    assert before is not None
    assert b'"action":"ring"' in before
    assert after == b'{"action":"reject","code":486,"reason":"do-not-disturb"}'


async def test_a_warm_start_holds_every_person_with_every_document(
    engine: AsyncEngine, world: World
) -> None:
    cache = SettingsCache(ttl=60)
    assert await warm(engine, cache, max_people=1000) == 4
    for person in (world.ann, world.bob, world.cat, world.zed):
        assert cache.person(person.id) == person
        assert cache.owner(person.org_id, person.extension or "") == person.id
        for feature in features.MODELS:
            assert cache.document(person.id, feature.value) is not None


async def test_a_warm_start_stops_at_the_bound(engine: AsyncEngine, world: World) -> None:
    cache = SettingsCache(ttl=60)
    assert await warm(engine, cache, max_people=2) == 2
    assert cache.people_held() == 2


async def test_a_change_evicted_while_a_page_loads_is_not_held_stale(
    engine: AsyncEngine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = SettingsCache(ttl=60)
    real = repo.features_of

    async def features_then_a_change(*args: Any) -> Any:
        found = await real(*args)
        cache.evict_person(world.ann.id)  # the change feed heard of a change meanwhile
        return found

    monkeypatch.setattr(repo, "features_of", features_then_a_change)
    await warm(engine, cache, max_people=1000)
    assert cache.person(world.ann.id) is None
    assert cache.person(world.bob.id) == world.bob


async def test_without_a_warm_start_nobody_is_held_until_read(
    database_url: str, world: World
) -> None:
    app = create_app(make_config(database_url, warm_start=False))
    async with AsyncTestClient(app=app) as client:
        cache = app.app.app.state.services.cache
        assert cache.people_held() == 0
        assert (await client.get(_path(world), headers=world.auth("full"))).status_code == 200
        assert cache.people_held() == 1


async def _hold_all(client: AsyncTestClient[Any], world: World) -> None:
    """Read each of Ann's documents, so that this replica holds them (no warm start, so
    no read-back either: what is held after a PUT is what the PUT itself left)."""
    for feature in FEATURES:
        assert (await client.get(_path(world, feature), headers=world.auth("full"))).is_success


@pytest.mark.parametrize(
    ("feature", "patch"),
    [
        ("callForwarding", {"callForwarding": {"busy": {"enabled": True, "destination": "1002"}}}),
        ("callForwarding", {"callForwarding": {"noAnswer": {"numberOfRings": 5}}}),
        ("doNotDisturb", {"enabled": True}),
        ("callWaiting", {"enabled": False}),
        ("voicemail", {"sendBusyCalls": {"enabled": True}}),
    ],
)
async def test_a_put_holds_the_committed_document_as_a_fresh_replica_reads_it(
    database_url: str, world: World, feature: str, patch: dict[str, Any]
) -> None:
    app = create_app(make_config(database_url, warm_start=False))
    async with AsyncTestClient(app=app) as client:
        cache = app.app.app.state.services.cache
        await _hold_all(client, world)
        others = {f: cache.document(world.ann.id, f) for f in FEATURES if f != feature}
        put = await client.put(_path(world, feature), json=patch, headers=world.auth("full"))
        assert put.status_code == 204, put.text
        held = cache.document(world.ann.id, feature)
        assert cache.take_stale(10) == []  # nothing to read back
        assert {f: cache.document(world.ann.id, f) for f in others} == others
    async with AsyncTestClient(app=create_app(make_config(database_url))) as fresh:
        got = await fresh.get(_path(world, feature), headers=world.auth("full"))
    assert got.status_code == 200, got.text
    assert held == got.content


async def test_a_change_heard_while_a_put_commits_leaves_the_document_to_be_read_back(
    database_url: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    app = create_app(make_config(database_url, warm_start=False))
    real, real_save_if = services.write_transaction, repo.save_features_if

    def hear_another_change() -> None:
        # Another replica changed Ann after this commit, and its notice came before this
        # request resumed: the document this request wrote may already be outdated.
        app.app.app.state.services.cache.evict_person(world.ann.id, "callForwarding")

    @asynccontextmanager
    async def commit_then_hear_another_change(engine: AsyncEngine) -> AsyncIterator[Any]:
        async with real(engine) as conn:
            yield conn
        hear_another_change()

    async def save_then_hear_another_change(*args: Any) -> list[int | None]:
        saved = await real_save_if(*args)  # PostgreSQL: committed as it returns
        hear_another_change()
        return saved

    monkeypatch.setattr(services, "write_transaction", commit_then_hear_another_change)
    monkeypatch.setattr(repo, "save_features_if", save_then_hear_another_change)
    async with AsyncTestClient(app=app) as client:
        cache = app.app.app.state.services.cache
        await _hold_all(client, world)
        busy = {"callForwarding": {"busy": {"enabled": True, "destination": "1002"}}}
        put = await client.put(_path(world), json=busy, headers=world.auth("full"))
        assert put.status_code == 204, put.text
        held = cache.document(world.ann.id, "callForwarding")
        stale = cache.take_stale(10)
    assert held is None
    assert stale == [world.ann.id]


async def _turn_do_not_disturb_on(engine: AsyncEngine, person_id: Any) -> None:
    """Store a changed document directly, as no change through the service would."""
    async with write_transaction(engine) as conn:
        await conn.execute(
            tables.feature_settings.insert().values(
                person_id=str(person_id),
                feature="doNotDisturb",
                document='{"enabled":true,"ringSplashEnabled":false}',
                updated=utcnow(),
            )
        )


async def test_refresh_reads_evicted_documents_back_as_stored(
    engine: AsyncEngine, world: World
) -> None:
    cache = SettingsCache(ttl=60)
    await warm(engine, cache, max_people=1000)
    before = cache.document(world.bob.id, "doNotDisturb")
    await _turn_do_not_disturb_on(engine, world.bob.id)
    cache.evict_person(world.bob.id, "doNotDisturb")  # as the change feed would
    assert await refresh(engine, cache) == 1
    after = cache.document(world.bob.id, "doNotDisturb")
    assert after is not None
    assert after != before
    assert b'"enabled":true' in after
    assert await refresh(engine, cache) == 0  # nothing evicted since


async def test_refresh_does_not_hold_a_value_a_later_change_evicted(
    engine: AsyncEngine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = SettingsCache(ttl=60)
    await warm(engine, cache, max_people=1000)
    cache.evict_person(world.ann.id)
    real = repo.features_of

    async def read_then_changed_again(*args: Any) -> Any:
        found = await real(*args)
        cache.evict_person(world.ann.id)  # another change, heard while the read ran
        return found

    monkeypatch.setattr(repo, "features_of", read_then_changed_again)
    await refresh(engine, cache)
    assert cache.document(world.ann.id, "callForwarding") is None


async def test_refresh_reads_back_only_the_documents_that_were_evicted(
    engine: AsyncEngine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = SettingsCache(ttl=60)
    await warm(engine, cache, max_people=1000)
    cache.evict_person(world.bob.id, "doNotDisturb")
    put: list[str] = []
    real = cache.put_document

    def recording(person_id: Any, feature: str, encoded: bytes, generation: Any) -> None:
        put.append(feature)
        real(person_id, feature, encoded, generation)

    monkeypatch.setattr(cache, "put_document", recording)
    assert await refresh(engine, cache) == 1
    assert put == ["doNotDisturb"]  # the three still held are not decoded and deflated again
    assert all(cache.holds(world.bob.id, feature) for feature in FEATURES)


async def _forget_everyones_answer(engine: AsyncEngine, world: World) -> SettingsCache:
    cache = SettingsCache(ttl=60)
    await warm(engine, cache, max_people=1000)
    await warm_answers(cache)
    for person in (world.ann, world.bob, world.cat, world.zed):
        cache.evict_person(person.id, "doNotDisturb")
        dnd = msgspec.json.encode({"enabled": False, "ringSplashEnabled": False})
        cache.put_document(person.id, "doNotDisturb", dnd, cache.generation(person.id))
    return cache


async def test_the_keeper_waits_while_requests_are_in_flight(
    engine: AsyncEngine, world: World
) -> None:
    cache = await _forget_everyones_answer(engine, world)
    assert await redecide(cache, idle=lambda: False) == 0
    assert cache.answer(world.ann.id) is None  # still waiting, not dropped
    assert await redecide(cache, idle=lambda: True) == 4
    assert cache.answer(world.ann.id) is not None


async def test_the_keeper_stops_between_turns_when_a_request_arrives(
    engine: AsyncEngine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = await _forget_everyones_answer(engine, world)
    monkeypatch.setattr(warmup, "ANSWERS_PER_TURN", 1)
    asked = iter([True, True, False])  # idle for two turns, then a request is in flight
    assert await redecide(cache, idle=lambda: next(asked)) == 2
    assert await redecide(cache) == 2  # the others waited for the next idle step


async def test_answers_forgotten_past_the_bound_are_found_by_a_sweep_when_idle(
    engine: AsyncEngine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("callsettings.server.cache.MAX_UNDECIDED", 1)
    cache = await _forget_everyones_answer(engine, world)  # only the newest is named
    busy = True
    keeper = AnswerKeeper(cache, idle=lambda: not busy)
    assert await keeper.step() == 0
    assert cache.answer(world.ann.id) is None
    busy = False
    assert await keeper.step() == 4  # one named, three found by looking at everyone
    assert all(cache.answer(p.id) is not None for p in (world.ann, world.bob, world.cat))
    assert await keeper.step() == 0  # the sweep is over until answers overflow again


async def test_a_sweep_stopped_by_a_request_resumes_at_the_next_idle_step(
    engine: AsyncEngine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("callsettings.server.cache.MAX_UNDECIDED", 1)
    monkeypatch.setattr(warmup, "ANSWERS_PER_TURN", 1)
    cache = await _forget_everyones_answer(engine, world)
    # Idle for the named one and one turn of the sweep (a person), then a request arrives.
    asked = iter([True, True, True, False])
    keeper = AnswerKeeper(cache, idle=lambda: next(asked, True))
    first = await keeper.step()
    assert 1 <= first < 4
    assert await keeper.step() == 4 - first
    assert all(cache.answer(p.id) is not None for p in (world.ann, world.bob, world.cat))


# ---- renewing the people held before they expire ------------------------------------


@pytest.mark.parametrize(
    ("people", "people_ttl", "per_step"),
    [
        (100_000, 3600.0, 70),  # a pass of 1,440 steps: 0.4 of an hour
        (1_000, 3600.0, 1),
        (0, 3600.0, 1),
        (100_000, 60.0, warmup.PAGE),  # a life too short to pace: a page a step
        (10, 1.0, 10),  # less than a step per pass: everyone at once
    ],
)
def test_a_pass_over_the_people_held_takes_two_fifths_of_their_life(
    people: int, people_ttl: float, per_step: int
) -> None:
    assert warmup.people_per_step(people, people_ttl) == per_step


async def _warm_and_renewing(
    engine: AsyncEngine,
) -> tuple[FakeClock, SettingsCache, warmup.PeopleRenewer]:
    """A cache warmed with people living 100 s, and its renewer, on a clock of the test's."""
    clock = FakeClock()
    cache = SettingsCache(ttl=60, clock=clock, people_ttl=100)
    renewer = warmup.PeopleRenewer(engine, cache, 100, clock)
    await warm(engine, cache, max_people=1000)
    return clock, cache, renewer


async def _renew_one_pass(renewer: warmup.PeopleRenewer) -> int:
    """Step until the pass ends; say how many people it renewed."""
    renewed = 0
    for _ in range(100):
        done = await renewer.step()
        if done == 0:
            return renewed
        renewed += done
    raise AssertionError("the pass did not end")


async def test_people_held_are_read_again_before_they_expire_and_stay_held(
    engine: AsyncEngine, world: World
) -> None:
    clock, cache, renewer = await _warm_and_renewing(engine)
    everyone = (world.ann, world.bob, world.cat, world.zed)
    clock.now += 49.9
    assert await renewer.step() == 0  # not before half their life
    clock.now += 0.1
    assert await _renew_one_pass(renewer) == len(everyone)
    clock.now += 60  # 110 s after the warm start: past the life they were loaded with
    for person in everyone:
        assert cache.person(person.id) == person
        for feature in FEATURES:
            assert cache.holds(person.id, feature)


async def test_a_change_no_event_told_of_is_found_at_renewal(
    engine: AsyncEngine, world: World
) -> None:
    clock, cache, renewer = await _warm_and_renewing(engine)
    await warm_answers(cache)
    await _turn_do_not_disturb_on(engine, world.bob.id)  # behind the replica's back
    clock.now += 50
    assert await _renew_one_pass(renewer) == 4
    held = cache.document(world.bob.id, "doNotDisturb")
    assert held is not None
    assert b'"enabled":true' in held
    assert cache.answer(world.bob.id) is None  # decided from what had changed: forgotten
    assert cache.answer(world.ann.id) is not None  # nobody else's answer is touched


async def test_renewal_does_not_hold_what_a_change_evicted_while_the_page_was_read(
    engine: AsyncEngine, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock, cache, renewer = await _warm_and_renewing(engine)
    written = b'{"callForwarding":"as the change wrote it"}'
    real = repo.features_of

    async def read_then_changed(conn: Any, person_ids: list[Any]) -> Any:
        found = await real(conn, person_ids)
        if world.ann.id in person_ids:
            # A change on this replica, committed and applied while her page was read.
            cache.replace_document(world.ann.id, "callForwarding", written)
        return found

    monkeypatch.setattr(repo, "features_of", read_then_changed)
    clock.now += 50
    await _renew_one_pass(renewer)
    assert cache.document(world.ann.id, "callForwarding") == written


async def test_a_serving_replica_renews_its_people_with_no_request_waiting(
    database_url: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    renewed: list[int] = []
    real = warmup.PeopleRenewer.step

    async def counted(self: warmup.PeopleRenewer) -> int:
        done = await real(self)
        renewed.append(done)
        return done

    monkeypatch.setattr(warmup, "RENEW_PEOPLE_SECONDS", 0.01)
    monkeypatch.setattr(warmup.PeopleRenewer, "step", counted)
    # The renewal begins 2 s after the app starts, before the warm start, so the people it
    # loads have 2 s left at least, however long the rest of the start takes.
    config = make_config(database_url, people_cache_seconds=4.0)
    async with AsyncTestClient(app=create_app(config)):
        for _ in range(600):
            if sum(renewed) >= 4:
                break
            await asyncio.sleep(0.01)
    assert sum(renewed) >= 4  # everyone held, read again without a request
