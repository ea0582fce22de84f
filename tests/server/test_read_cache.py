"""The read path's cache: fresh after writes, bounded staleness, and replicas kept in step."""

from __future__ import annotations

import asyncio
import itertools
import os
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from callsettings.server.app import create_app
from callsettings.server.auth import TokenCache
from callsettings.server.cache import (
    DICTIONARIES,
    FEATURES,
    MAX_COMPILED,
    MAX_GENERATIONS,
    MAX_OWN_EVENTS,
    MAX_SHAPES,
    NOBODY,
    SettingsCache,
    deflate,
    inflate,
    pack_person,
    unpack_person,
)
from callsettings.storage import repositories as repo
from callsettings.storage import tables as t
from callsettings.storage.database import create_engine, write_transaction
from callsettings.storage.records import Organization, Person, PhoneNumber
from tests.conftest import REDIS_ENV
from tests.factories import World, build_world, seed_world
from tests.server.conftest import make_config


class Slowed:
    """Replaces an async function with one that counts its calls and takes longer."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, owner: Any, name: str, delay: float):
        self.calls = 0
        real = getattr(owner, name)

        async def slowed(*args: Any) -> Any:
            self.calls += 1
            await asyncio.sleep(delay)
            return await real(*args)

        monkeypatch.setattr(owner, name, slowed)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _person(**changes: Any) -> Person:
    fields: dict[str, Any] = {
        "id": uuid.uuid4(),
        "org_id": uuid.uuid4(),
        "location_id": uuid.uuid4(),
        "email": "ann@example.com",
        "display_name": "Ann Lee",
        "first_name": "Ann",
        "last_name": "Lee",
        "extension": "1001",
        "phone_numbers": (
            PhoneNumber("+12125550100"),
            PhoneNumber("+12125550101", "mobile", False),
        ),
        "roles": ("full_admin",),
        "created": datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        "last_modified": datetime(2026, 2, 3, 4, 5, 6, 7, tzinfo=UTC),
    }
    return Person(**{**fields, **changes})


@pytest.mark.parametrize(
    "person",
    [
        _person(),
        _person(location_id=None, extension=None, phone_numbers=(), roles=()),
        _person(display_name="Zoë Ångström 名前", email="zoe@example.com"),
    ],
)
def test_a_person_packs_and_unpacks_unchanged(person: Person) -> None:
    packed = pack_person(person)
    assert unpack_person(person.id, packed) == person
    assert len(packed) < 200  # the budget that lets a worker hold 100,000 people


@pytest.mark.parametrize(
    ("feature", "document"),
    [
        ("callForwarding", DICTIONARIES["callForwarding"]),
        ("callForwarding", DICTIONARIES["callForwarding"].replace(b"false", b"true", 1)),
        ("voicemail", DICTIONARIES["voicemail"]),
        ("voicemail", b'{"enabled":true,"other":"' + b"x" * 3000 + b'"}'),
        ("doNotDisturb", b"{}"),
    ],
)
def test_a_document_deflates_and_inflates_unchanged(feature: str, document: bytes) -> None:
    dictionary = DICTIONARIES[feature]
    assert inflate(dictionary, deflate(dictionary, document)) == document


@pytest.mark.parametrize("feature", FEATURES)
def test_a_default_document_is_held_as_nothing_and_a_changed_one_in_a_few_bytes(
    feature: str,
) -> None:
    # Every dictionary fits deflate's window, or a change would cost the whole document.
    default = DICTIONARIES[feature]
    assert deflate(default, default) == b""
    changed = default.replace(b"false", b"true", 1) if b"false" in default else b"{}"
    assert len(deflate(default, changed)) < 40


def _held(cache: SettingsCache, person: Person, document: bytes = b"{}") -> None:
    generation = cache.generation(person.id)
    cache.put_person(person, generation)
    cache.put_document(person.id, "callForwarding", document, generation)


@pytest.mark.parametrize("person", [_person(), _person(location_id=None)])
def test_a_held_persons_placement_is_read_without_unpacking_them(person: Person) -> None:
    cache = SettingsCache(ttl=60)
    assert cache.placement(person.id) is None
    _held(cache, person)
    assert cache.placement(person.id) == (person.org_id, person.location_id)


@pytest.mark.parametrize(
    "person",
    [_person(), _person(extension=None, location_id=None), _person(display_name="Zoë Ōno")],
)
def test_a_held_persons_name_and_extension_are_read_without_unpacking_them(
    person: Person,
) -> None:
    cache = SettingsCache(ttl=60)
    assert cache.name_and_extension(person.id) is None
    _held(cache, person)
    assert cache.name_and_extension(person.id) == (person.display_name, person.extension)


def _held_with_every_document(
    cache: SettingsCache, person: Person, forwarding: bytes = b"{}"
) -> None:
    _held(cache, person, forwarding)
    for feature in FEATURES[1:]:
        cache.put_document(person.id, feature, b"{}", cache.generation(person.id))


def test_people_expire_after_their_ttl() -> None:
    clock = FakeClock()
    cache = SettingsCache(ttl=2.0, clock=clock, people_ttl=5.0)
    person = _person()
    _held(cache, person)
    assert cache.person(person.id) == person
    assert cache.document(person.id, "callForwarding") == b"{}"
    clock.now += 4.9
    assert cache.document(person.id, "callForwarding") == b"{}"
    clock.now += 0.1
    assert cache.person(person.id) is None
    assert cache.document(person.id, "callForwarding") is None


def test_a_document_of_a_person_not_held_is_not_kept() -> None:
    cache = SettingsCache(ttl=60)
    person_id = uuid.uuid4()
    cache.put_document(person_id, "callForwarding", b"{}", cache.generation(person_id))
    assert cache.document(person_id, "callForwarding") is None


def test_holding_a_person_again_keeps_their_documents() -> None:
    cache = SettingsCache(ttl=60)
    person = _person()
    _held(cache, person, b'{"a":1}')
    cache.put_person(person, cache.generation(person.id))
    assert cache.document(person.id, "callForwarding") == b'{"a":1}'


def test_a_read_that_raced_a_write_does_not_store_the_old_value() -> None:
    cache = SettingsCache(ttl=60)
    person, someone = _person(), _person()
    _held(cache, person, b"old")
    before_read = cache.generation(person.id)
    before_someone = cache.generation(someone.id)
    cache.evict_person(person.id)  # a write committed while the read was in flight
    cache.evict_person(someone.id)
    cache.put_document(person.id, "callForwarding", b"old", before_read)
    cache.put_person(someone, before_someone)
    assert cache.document(person.id, "callForwarding") is None
    assert cache.person(someone.id) is None
    # Who the person is stays held: identities never change, only settings do.
    assert cache.person(person.id) == person
    _held(cache, person, b"new")
    assert cache.document(person.id, "callForwarding") == b"new"


@pytest.mark.parametrize(
    ("changed", "still_held"),
    [
        ("callForwarding", {"voicemail"}),
        ("voicemail", {"callForwarding"}),
        (None, set()),  # a change that names no feature: every document goes
        ("voicemail.busyGreeting", set()),  # not a document's name: every document goes
    ],
)
def test_a_change_forgets_the_document_it_names(changed: str | None, still_held: set[str]) -> None:
    cache = SettingsCache(ttl=60)
    person = _person()
    generation = cache.generation(person.id)
    cache.put_person(person, generation)
    for feature in ("callForwarding", "voicemail"):
        cache.put_document(person.id, feature, b"{}", generation)
    cache.evict_person(person.id, changed)
    held = {f for f in ("callForwarding", "voicemail") if cache.document(person.id, f)}
    assert held == still_held
    assert cache.person(person.id) == person


def test_evicted_since_names_exactly_who_was_evicted_after_the_mark() -> None:
    cache = SettingsCache(ttl=60)
    person, someone = _person(), _person()
    cache.evict_person(person.id)  # before the mark: not since
    mark = cache.mark()
    assert not cache.evicted_since(person.id, mark)
    cache.evict_person(someone.id)
    assert not cache.evicted_since(person.id, mark)
    assert cache.evicted_since(someone.id, mark)
    cache.evict_all()  # a new epoch: anyone may have been
    assert cache.evicted_since(person.id, mark)


def test_a_document_replaced_from_elsewhere_refuses_reads_begun_before() -> None:
    cache = SettingsCache(ttl=60)
    person = _person()
    _held_with_every_document(cache, person, b"old")
    read_under = cache.generation(person.id)
    cache.replace_document(person.id, "callForwarding", b"new")
    cache.put_document(person.id, "callForwarding", b"old", read_under)  # a late read-back
    assert cache.document(person.id, "callForwarding") == b"new"
    assert cache.take_stale(10) == []  # nothing to read back: it is held
    nobody = _person()
    cache.replace_document(nobody.id, "callForwarding", b"new")  # not held: stays not held
    assert cache.document(nobody.id, "callForwarding") is None


def test_evict_all_refuses_values_read_before_it() -> None:
    cache = SettingsCache(ttl=60)
    person = _person()
    before = cache.generation(person.id)
    cache.evict_all()
    cache.put_person(person, before)
    assert cache.person(person.id) is None


def test_a_changed_organization_forgets_every_person() -> None:
    cache = SettingsCache(ttl=60)
    person = _person()
    org = _acme(person.org_id)
    cache.put_org(org)
    _held(cache, person)
    cache.put_org(org)  # read again, unchanged: nothing is lost
    assert cache.person(person.id) == person
    cache.put_org(replace(org, system_max_rings=6))
    assert cache.person(person.id) is None
    assert cache.orgs.get(org.id) == replace(org, system_max_rings=6)


def _acme(org_id: uuid.UUID | None = None) -> Organization:
    created = datetime(2026, 1, 1, tzinfo=UTC)
    return Organization(org_id or uuid.uuid4(), "Acme", "US", 20, 6, 5, created)


@pytest.mark.parametrize(
    ("age", "served", "due"),
    [
        (0.0, True, False),
        (29.9, True, False),  # half of 60 s is 30
        (30.0, True, True),
        (59.9, True, True),  # the last moment it is served
        (60.0, False, False),  # expired: read again by the request that needs it
    ],
)
def test_an_organization_past_half_its_life_is_served_and_due_for_renewal(
    age: float, served: bool, due: bool
) -> None:
    clock = FakeClock()
    cache = SettingsCache(ttl=60, clock=clock)
    org = _acme()
    cache.put_org(org)
    clock.now += age
    assert (cache.orgs.get(org.id) == org) is served
    assert cache.orgs.take_due() == ([org.id] if due else [])
    assert cache.orgs.take_due() == []  # each once, until asked for again


async def test_a_renewed_organization_is_read_again_and_never_expires_while_in_use(
    sqlite_url: str,
) -> None:
    from callsettings.server.warmup import renew_orgs

    engine = create_engine(sqlite_url)
    world = await build_world(engine)
    clock = FakeClock()
    cache = SettingsCache(ttl=60, clock=clock)
    cache.put_org(world.org)
    assert await renew_orgs(engine, cache) == 0  # nothing due: no read
    async with write_transaction(engine) as conn:
        await conn.execute(
            t.organizations.update()
            .where(t.organizations.c.id == str(world.org.id))
            .values(system_max_rings=7)
        )
    for _ in range(4):  # two minutes in steps of 31 s: renewed each time it is due
        clock.now += 31
        assert cache.orgs.get(world.org.id) is not None
        assert await renew_orgs(engine, cache) == 1
    renewed = cache.orgs.get(world.org.id)
    assert renewed is not None
    assert renewed.system_max_rings == 7  # what the database holds now
    await engine.dispose()


async def test_a_deleted_organization_is_forgotten_at_renewal(sqlite_url: str) -> None:
    from callsettings.server.warmup import renew_orgs

    engine = create_engine(sqlite_url)
    clock = FakeClock()
    cache = SettingsCache(ttl=60, clock=clock)
    gone = _acme()  # never stored: the database has no such organization
    cache.put_org(gone)
    clock.now += 45
    assert cache.orgs.get(gone.id) == gone
    assert await renew_orgs(engine, cache) == 1
    assert cache.orgs.get(gone.id) is None
    await engine.dispose()


async def test_a_serving_replica_renews_its_organization_with_no_request_waiting(
    database_url: str, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callsettings.server import warmup

    monkeypatch.setattr(warmup, "RENEW_SECONDS", 0.02)
    app = create_app(make_config(database_url, cache_seconds=1.0))
    async with AsyncTestClient(app=app) as client:
        cache = app.app.app.state.services.cache
        reads = Slowed(monkeypatch, repo, "get_organization", 0.0)
        # Its life starts now, however long the start took (seconds on a slow machine late
        # in a long test run, which expired the warm start's entry before the request).
        cache.put_org(world.org)
        born = time.monotonic()
        await asyncio.sleep(0.6)  # past half its life: served as held, and due
        assert (await client.get(_path(world), headers=world.auth("full"))).status_code == 200
        await asyncio.sleep(max(0.0, born + 1.1 - time.monotonic()))  # past its first life
        assert reads.calls >= 1  # read again with no request waiting for it
        assert cache.orgs.get(world.org.id) == world.org  # held, renewed: no read here


def test_a_full_cache_forgets_its_oldest_tenth_and_keeps_the_rest() -> None:
    cache = SettingsCache(ttl=60, max_people=100)
    people = [_person() for _ in range(101)]
    for person in people:
        _held(cache, person)
    assert cache.people_held() == 91
    assert cache.person(people[0].id) is None  # the oldest went first
    assert cache.person(people[100].id) == people[100]
    for person_id in range(MAX_COMPILED + 1):
        cache.subscribers.put(uuid.UUID(int=person_id + 1), object())  # type: ignore[arg-type]
    assert len(cache.subscribers) == MAX_COMPILED + 1 - MAX_COMPILED // 10


def test_known_owners_are_kept_and_nobody_expires() -> None:
    clock = FakeClock()
    cache = SettingsCache(ttl=2.0, clock=clock)
    org_id, person_id = uuid.uuid4(), uuid.uuid4()
    cache.put_owner(org_id, "1001", person_id)
    cache.put_owner(org_id, "+12125550199", NOBODY)
    cache.put_owner(org_id, "+12125550198", uuid.UUID(int=0))  # equal, not the constant
    assert cache.owner(org_id, "1001") == person_id
    # The constant itself, which the decision path tells apart with `is`.
    assert cache.owner(org_id, "+12125550199") is NOBODY
    assert cache.owner(org_id, "+12125550198") is NOBODY
    assert cache.owner(uuid.uuid4(), "1001") is None  # owners are per organization
    clock.now += 2.0
    assert cache.owner(org_id, "+12125550199") is None
    assert cache.owner(org_id, "1001") == person_id


def test_an_eviction_forgets_the_persons_answer_and_the_answers_that_reached_them() -> None:
    cache = SettingsCache(ttl=2.0)
    ann, bob, cat, dan, eve = (uuid.uuid4() for _ in range(5))
    cache.put_answer(ann, b"to dan's voicemail", cache.evictions, consulted=(dan,))
    cache.put_answer(bob, b"to eve's voicemail", cache.evictions, consulted=(eve,))
    cache.put_answer(cat, b"rings cat", cache.evictions)
    cache.evict_person(dan)  # dan's settings decide where ann's calls land
    assert cache.answer(ann) is None
    assert (cache.answer(bob), cache.answer(cat)) == (b"to eve's voicemail", b"rings cat")
    cache.evict_person(cat)
    assert cache.answer(cat) is None
    assert cache.answer(bob) == b"to eve's voicemail"  # reached someone, but not cat


@pytest.mark.parametrize("readers", [1, 2, 8, 9, 40])
def test_every_answer_that_reached_a_person_is_forgotten_however_many(readers: int) -> None:
    cache = SettingsCache(ttl=60.0)
    dan = uuid.uuid4()
    reading = [uuid.uuid4() for _ in range(readers)]
    for person in reading + reading[:1]:  # the first one twice: held once
        cache.put_answer(person, b"to dan's voicemail", cache.evictions, consulted=(dan,))
    bystander = uuid.uuid4()
    cache.put_answer(bystander, b"to eve's voicemail", cache.evictions, consulted=(uuid.uuid4(),))
    cache.evict_person(dan)
    assert [cache.answer(person) for person in reading] == [None] * readers
    assert cache.answer(bystander) == b"to eve's voicemail"


def test_an_answer_decided_again_is_forgotten_by_whom_it_reaches_now() -> None:
    cache = SettingsCache(ttl=60.0)
    ann, bob, cat = (uuid.uuid4() for _ in range(3))
    cache.put_answer(ann, b"to bob", cache.evictions, consulted=(bob,))
    cache.evict_person(ann)  # she now forwards to cat
    cache.put_answer(ann, b"to cat", cache.evictions, consulted=(cat,))
    cache.evict_person(cat)
    assert cache.answer(ann) is None


def test_the_map_of_who_reached_whom_stays_bounded() -> None:
    cache = SettingsCache(ttl=60.0, max_people=100)
    people = [uuid.uuid4() for _ in range(102)]
    for person, reached in itertools.pairwise(people):
        cache.put_answer(person, b"to a colleague", cache.evictions, consulted=(reached,))
    assert len(cache._readers) == 1  # full at the 101st: every answer that reached was forgotten
    assert cache.answer(people[0]) is None
    assert cache.answer(people[100]) == b"to a colleague"


def test_answers_made_before_an_eviction_are_not_kept() -> None:
    cache = SettingsCache(ttl=2.0)
    ann, bob = uuid.uuid4(), uuid.uuid4()
    stale = cache.evictions
    cache.evict_person(bob)
    cache.put_answer(ann, b"made before the eviction", stale)
    assert cache.answer(ann) is None


def test_only_answers_reaching_beyond_the_person_expire() -> None:
    clock = FakeClock()
    cache = SettingsCache(ttl=2.0, clock=clock)
    ann, bob, cat = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    cache.put_answer(ann, b"rings ann", cache.evictions)
    cache.put_answer(bob, b"to a number nobody has yet", cache.evictions, expiring=True)
    cache.put_answer(cat, b"to a colleague's voicemail", cache.evictions, consulted=(ann,))
    clock.now += 2.0
    assert (cache.answer(bob), cache.answer(cat)) == (None, None)
    assert cache.answer(ann) == b"rings ann"  # evicted with ann's own settings, not by time


def test_an_answer_to_an_outside_number_outlives_other_peoples_changes() -> None:
    cache = SettingsCache(ttl=60.0)
    bob = uuid.uuid4()
    cache.put_answer(bob, b"to a number nobody has", cache.evictions, expiring=True)
    cache.evict_person(uuid.uuid4())  # provisioning, which could give it away, evicts nobody
    assert cache.answer(bob) == b"to a number nobody has"


def test_forgotten_answers_are_handed_back_once_the_documents_are_held() -> None:
    cache = SettingsCache(ttl=60.0)
    ann, bob = _person(), _person()
    for person in (ann, bob):
        _held_with_every_document(cache, person)
        reached = (ann.id,) if person is bob else ()
        cache.put_answer(person.id, b"shape", cache.evictions, consulted=reached)
    cache.evict_person(ann.id, "callForwarding")  # forgets ann's, and bob's (he reached her)
    assert cache.take_undecided(10) == [bob.id]  # ann's documents are not all back
    cache.put_document(ann.id, "callForwarding", b"{}", cache.generation(ann.id))
    assert cache.take_undecided(10) == [ann.id]
    assert cache.take_undecided(10) == []


def test_answers_waiting_to_be_decided_again_stay_bounded_and_the_newest_stay(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr("callsettings.server.cache.MAX_UNDECIDED", 10)
    cache = SettingsCache(ttl=60.0)
    people = [_person() for _ in range(25)]
    for person in people:
        _held_with_every_document(cache, person)
        cache.put_answer(person.id, b"shape", cache.evictions)
    for person in people:
        cache.evict_person(person.id, "doNotDisturb")
        cache.put_document(person.id, "doNotDisturb", b"{}", cache.generation(person.id))
    waiting = cache.take_undecided(100)
    assert len(waiting) <= 10
    assert waiting[-1] == people[-1].id  # the oldest were dropped, not the newest
    assert cache.answer(people[0].id) is None  # found by a sweep, or decided on its next call
    assert cache.take_sweep()
    assert not cache.take_sweep()  # once per overflow


def test_no_sweep_is_wanted_while_the_forgotten_answers_fit() -> None:
    cache = SettingsCache(ttl=60.0)
    person = _person()
    _held_with_every_document(cache, person)
    cache.put_answer(person.id, b"shape", cache.evictions)
    cache.evict_person(person.id, "doNotDisturb")
    assert not cache.take_sweep()


def test_equal_answer_shapes_are_held_once() -> None:
    cache = SettingsCache(ttl=2.0)
    ann, bob = uuid.uuid4(), uuid.uuid4()
    cache.put_answer(ann, b'{"action":"ring"}', cache.evictions)
    cache.put_answer(bob, b'{"action":"ring"}', cache.evictions)
    assert cache.answer(ann) is cache.answer(bob)


def test_the_shape_table_forgets_shapes_past_its_bound_and_answers_keep_theirs() -> None:
    cache = SettingsCache(ttl=60.0)
    people = [uuid.uuid4() for _ in range(MAX_SHAPES + 1)]
    for number, person in enumerate(people):
        cache.put_answer(person, b'{"n":%d}' % number, cache.evictions)
    assert len(cache._shapes) == 1  # cleared when full, then the last one interned
    assert cache.answer(people[0]) == b'{"n":0}'
    assert cache.answer(people[-1]) == b'{"n":%d}' % MAX_SHAPES


def test_generations_stay_bounded_and_a_new_epoch_refuses_reads_in_flight() -> None:
    cache = SettingsCache(ttl=60.0)
    person = _person()
    _held(cache, person)
    read_under = cache.generation(person.id)
    for _ in range(MAX_GENERATIONS + 1):
        cache.evict_person(uuid.uuid4())
    assert len(cache._generations) <= MAX_GENERATIONS
    cache.put_document(person.id, "voicemail", b"{}", read_under)
    assert cache.document(person.id, "voicemail") is None
    # Refused by the epoch alone, the read is due again: the refresher is told.
    assert person.id in cache.take_stale(10)


def test_a_zero_ttl_caches_nothing() -> None:
    cache = SettingsCache(ttl=0)
    person = _person()
    _held(cache, person)
    cache.put_owner(person.org_id, "1001", person.id)
    assert cache.person(person.id) is None
    assert cache.owner(person.org_id, "1001") is None


async def _checked_once(sqlite_url: str) -> tuple[Any, TokenCache, FakeClock, str]:
    """A token checked once, and so cached for 2 s on a fake clock."""
    engine = create_engine(sqlite_url)
    world = await build_world(engine)
    clock = FakeClock()
    tokens = TokenCache(engine, ttl=2.0, clock=clock)
    secret = world.tokens["full"]
    assert await tokens.lookup(secret) is not None
    return engine, tokens, clock, secret


async def _checked_then_revoked(sqlite_url: str) -> tuple[Any, TokenCache, FakeClock, str]:
    """A token checked once (and cached for 2 s), then revoked in the database."""
    engine, tokens, clock, secret = await _checked_once(sqlite_url)
    first = tokens.peek(secret)
    assert first is not None
    async with write_transaction(engine) as conn:
        assert await repo.revoke_token(conn, first.id)
    return engine, tokens, clock, secret


async def test_a_revoked_token_stops_working_within_the_token_ttl(sqlite_url: str) -> None:
    engine, tokens, clock, secret = await _checked_then_revoked(sqlite_url)
    clock.now += 1.0
    still_cached = await tokens.lookup(secret)
    assert still_cached is not None
    assert still_cached.revoked is None
    clock.now += 1.0
    refreshed = await tokens.lookup(secret)
    assert refreshed is not None
    assert refreshed.revoked is not None
    await engine.dispose()


async def test_a_token_past_its_refresh_age_is_refreshed_once_however_many_peek_meanwhile(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, tokens, clock, secret = await _checked_once(sqlite_url)
    started = Slowed(monkeypatch, tokens, "_read", 0.0)
    clock.now += 1.5
    # A loop turn's requests, before the refresh task has run once: one refresh, not 50.
    assert all(tokens.peek(secret) is not None for _ in range(50))
    await asyncio.sleep(0.05)
    assert started.calls == 1
    tokens.peek(secret)  # refreshed: not past its refresh age again
    await asyncio.sleep(0.05)
    assert started.calls == 1
    clock.now += 1.5  # past the refreshed entry's refresh age: refreshed once more
    tokens.peek(secret)
    tokens.peek(secret)
    await asyncio.sleep(0.05)
    assert started.calls == 2
    await engine.dispose()


@pytest.mark.parametrize(
    ("age", "refreshed"),
    [
        (0.0, False),
        (0.49, False),  # a quarter of 2 s is 0.5
        (0.5, True),
        (1.0, True),
        (1.99, True),  # the last moment the entry is served
    ],
)
async def test_a_token_is_read_again_once_a_quarter_of_its_life_has_passed(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, age: float, refreshed: bool
) -> None:
    engine, tokens, clock, secret = await _checked_once(sqlite_url)
    reads = Slowed(monkeypatch, tokens, "_read", 0.0)
    clock.now += age
    assert tokens.peek(secret) is not None  # served either way, within its life
    await asyncio.sleep(0.05)
    assert reads.calls == (1 if refreshed else 0)
    await engine.dispose()


async def test_concurrent_checks_of_one_token_read_it_once(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = create_engine(sqlite_url)
    world = await build_world(engine)
    reads = Slowed(monkeypatch, repo, "get_token_by_hash", 0.02)
    tokens = TokenCache(engine, ttl=2.0)
    found = await asyncio.gather(*(tokens.lookup(world.tokens["full"]) for _ in range(20)))
    assert found[0] is not None
    assert all(t == found[0] for t in found)
    assert reads.calls == 1
    await engine.dispose()


async def test_a_token_past_its_refresh_age_is_read_again_while_it_is_served(
    sqlite_url: str,
) -> None:
    engine, tokens, clock, secret = await _checked_then_revoked(sqlite_url)
    clock.now += 1.5
    served = tokens.peek(secret)  # still within its life: served, and read again meanwhile
    assert served is not None
    assert served.revoked is None
    for _ in range(50):
        await asyncio.sleep(0.01)
        fresh = tokens.peek(secret)
        if fresh is not None and fresh.revoked is not None:
            break
    assert fresh is not None
    assert fresh.revoked is not None  # seen before the old entry would have expired
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

    reads = Slowed(monkeypatch, features, "read", 0.05)
    # A cold cache, so that every request misses at once.
    app = create_app(make_config(database_url, warm_start=False))
    async with AsyncTestClient(app=app) as client:
        answers = await asyncio.gather(
            *(client.get(_path(world), headers=world.auth("full")) for _ in range(12))
        )
    assert {a.status_code for a in answers} == {200}
    assert reads.calls == 1


async def test_a_burst_of_misses_for_one_organization_makes_one_database_read(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callsettings.server.reads import CachedReader

    engine = create_engine(sqlite_url)
    world = await build_world(engine)
    reads = Slowed(monkeypatch, repo, "get_organization", 0.05)
    services = _services(sqlite_url, engine, SettingsCache(ttl=60))

    async def read() -> Organization | None:
        async with CachedReader(services) as reader:
            return await reader.org(world.org.id)

    found = await asyncio.gather(*(read() for _ in range(12)))
    assert found == [world.org] * 12
    assert reads.calls == 1
    await engine.dispose()


def _services(url: str, engine: Any, cache: SettingsCache) -> Any:
    from callsettings.server.services import Services

    return Services(
        config=make_config(url),
        engine=engine,
        tokens=None,  # type: ignore[arg-type]
        rate_limits=None,
        cache=cache,
        invalidator=None,
    )  # type: ignore[arg-type]


async def test_a_failed_read_fails_every_waiter_and_is_not_remembered(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    from callsettings.server import features
    from callsettings.server.reads import CachedReader

    engine = create_engine(sqlite_url)
    world = await build_world(engine)

    async def broken(*_args: Any) -> Any:
        await asyncio.sleep(0.01)
        raise RuntimeError("disk on fire")

    cache = SettingsCache(ttl=60)
    services = _services(sqlite_url, engine, cache)
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


def test_a_person_is_stale_until_every_evicted_document_is_held_again() -> None:
    cache = SettingsCache(ttl=60)
    person = _person()
    _held_with_every_document(cache, person)
    cache.evict_person(person.id, "doNotDisturb")
    cache.evict_person(person.id, "voicemail")
    generation = cache.generation(person.id)
    assert not cache.holds(person.id, "voicemail")
    assert cache.holds(person.id, "callForwarding")
    cache.put_document(person.id, "doNotDisturb", b"{}", generation)
    assert cache.take_stale(10) == [person.id]  # voicemail is still missing
    cache.evict_person(person.id, "voicemail")
    cache.put_document(person.id, "voicemail", b"{}", cache.generation(person.id))
    assert cache.take_stale(10) == []


def test_own_events_are_bounded_and_each_is_skipped_once() -> None:
    cache = SettingsCache(ttl=60)
    for event_id in range(MAX_OWN_EVENTS + 1):
        cache.wrote(event_id)
    assert not cache.own_change(0)  # the oldest were forgotten past the bound
    assert cache.own_change(MAX_OWN_EVENTS)
    assert not cache.own_change(MAX_OWN_EVENTS)


def test_an_answer_does_not_outlive_its_person_in_the_cache() -> None:
    clock = FakeClock()
    cache = SettingsCache(ttl=60.0, clock=clock, people_ttl=10.0)
    person = _person()
    _held(cache, person)
    cache.put_answer(person.id, b"made from what is held", cache.evictions)
    clock.now += 10.0
    assert cache.person(person.id) is None
    _held(cache, person)  # read again: perhaps changed in the database meanwhile
    assert cache.answer(person.id) is None
