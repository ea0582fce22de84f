"""A warm start: a worker loads the people it will serve before it takes requests.

Call settings are read uniformly across an organization (every call to anyone reads the
called person's settings), so a cache filled one miss at a time stays cold for a long
while: at 100,000 people a worker needs about a million requests to have met most of
them. Loading them in pages at start-up costs a few seconds and the bytes the cache is
sized for (cache.py), after which a read of anyone is answered from memory.

Correctness does not depend on it: values are stored under the generation taken before
their documents were read, so a change that commits while a page loads wins (the change
feed, started first, evicts the person and the stale value is refused or dropped).
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callsettings.server import fastpath, features
from callsettings.server.background import Periodic
from callsettings.server.cache import NOBODY, SettingsCache
from callsettings.storage import repositories as repo
from callsettings.storage.records import Organization, Person

log = logging.getLogger(__name__)

PAGE = 1000


async def warm(engine: AsyncEngine, cache: SettingsCache, max_people: int) -> int:
    """Load organizations, then people and their documents up to `max_people`; say how many."""
    started = time.perf_counter()
    loaded = 0
    async with engine.connect() as conn:
        for org in await repo.list_organizations(conn):
            cache.put_org(org)
            loaded += await _warm_org(conn, cache, org, max_people - loaded)
            if loaded >= max_people:
                break
    log.info("warm start: %d people in %.1f s", loaded, time.perf_counter() - started)
    return loaded


async def _warm_org(
    conn: AsyncConnection, cache: SettingsCache, org: Organization, room: int
) -> int:
    loaded = 0
    after: tuple[str, str] | None = None
    while loaded < room:
        people = await repo.list_people(conn, org.id, after=after, limit=min(PAGE, room - loaded))
        if not people:
            break
        _hold(cache, org, await _read_documents(conn, cache, people))
        loaded += len(people)
        last = people[-1]
        after = (last.display_name, str(last.id))
    return loaded


@dataclass(frozen=True)
class _Read:
    """People, the generations taken before their documents were read, and the documents."""

    people: list[Person]
    generations: dict[uuid.UUID, tuple[int, int]]
    stored: dict[tuple[uuid.UUID, str], str]


async def _read_documents(
    conn: AsyncConnection, cache: SettingsCache, people: list[Person]
) -> _Read:
    """These people's stored documents, with their generations taken before the read: a
    change evicted after it refuses them."""
    generations = {person.id: cache.generation(person.id) for person in people}
    stored = await repo.features_of(conn, [person.id for person in people]) if people else {}
    return _Read(people, generations, stored)


def _hold_documents(cache: SettingsCache, org: Organization, read: _Read) -> None:
    for person in read.people:
        for feature in features.MODELS:
            if cache.holds(person.id, feature.value):
                continue  # held under the same generation: the same document, kept
            encoded = features.served(feature, read.stored.get((person.id, feature.value)), org)
            cache.put_document(person.id, feature.value, encoded, read.generations[person.id])


def _hold(cache: SettingsCache, org: Organization, read: _Read) -> None:
    for person in read.people:
        cache.put_person(person, read.generations[person.id])
    _hold_documents(cache, org, read)
    for person in read.people:
        # Extensions only: proxies ask for decisions by extension, and a number is learnt
        # by one indexed query the first time it is dialled (it would cost 90 bytes each).
        if person.extension is not None:
            cache.put_owner(org.id, person.extension, person.id)


# Answers decided per turn of the event loop: about 1 ms of work at 60 us a decision, so a
# request that arrives meanwhile waits no longer than that.
ANSWERS_PER_TURN = 16
# Answers the keeper decides again per step at most, a turn at a time while the worker is
# idle: about 60 ms of work, so an idle worker catches up with a burst of changes at about
# 16,000 answers a second and stops at the first request.
ANSWERS_PER_STEP = 64 * ANSWERS_PER_TURN


async def warm_answers(cache: SettingsCache, engine: AsyncEngine | None = None) -> int:
    """Decide a new call to everyone held, in small slices between requests; say how many.

    The decision API is asked about anyone, uniformly, so answers kept only after a first
    call would leave a large organization mostly cold; deciding them all once after the
    warm start (6 s of one core at 100,000 people) makes a proxy's reads memory reads.
    The warm start holds extensions only, so a forward to a number is looked up here (one
    indexed query each, with `engine`) and the person decided again.
    """
    started = time.perf_counter()
    decided = 0
    try:
        for org, batch in _everyone(cache):
            decided += await _keep_answers(cache, engine, org, batch)
            await asyncio.sleep(0)
    except Exception:
        # Only a head start is lost: every answer is also decided on its first call.
        log.exception("deciding answers ahead failed after %d", decided)
    log.info("answers kept: %d decided in %.1f s", decided, time.perf_counter() - started)
    return decided


async def _keep_answers(
    cache: SettingsCache, engine: AsyncEngine | None, org: Organization, extensions: list[str]
) -> int:
    """fastpath.keep_answers, then again for those whose forward named a number not known
    here, once it is looked up (with `engine`); say how many were decided."""
    unknown: list[str] = []
    decided = fastpath.keep_answers(cache, org, extensions, unknown)
    if unknown and engine is not None:
        await _learn_owners(engine, cache, org, unknown)
        decided += fastpath.keep_answers(cache, org, extensions)
    return decided


async def _learn_owners(
    engine: AsyncEngine, cache: SettingsCache, org: Organization, dialled: list[str]
) -> None:
    """Who has each of these extensions or numbers, NOBODY when no one (remembered for the
    cache's ttl, since provisioning may give it to someone)."""
    async with engine.connect() as conn:
        for number in dict.fromkeys(dialled):
            found = await repo.find_person_by_dial(conn, org.id, number)
            cache.put_owner(org.id, number, NOBODY if found is None else found.id)


def _always() -> bool:
    return True


async def redecide(
    cache: SettingsCache,
    engine: AsyncEngine | None = None,
    limit: int = ANSWERS_PER_STEP,
    idle: Callable[[], bool] = _always,
) -> int:
    """Decide again the answers that changes made this replica forget, a turn at a time
    while `idle()`; say how many.

    Like the documents (refresh), an answer a change forgot would otherwise be decided on
    the next call to that person, one request at a time.
    """
    decided = looked_at = 0
    while looked_at < limit and idle():
        taken = cache.take_undecided(min(ANSWERS_PER_TURN, limit - looked_at))
        if not taken:
            break
        looked_at += len(taken)
        for person_id in taken:
            # One changed meanwhile is decided all the same: with its documents evicted it
            # is skipped (decided on its next call), and a decision that raced an eviction
            # is not kept (SettingsCache.put_answer).
            decided += await _decide_again(cache, engine, person_id)
        await asyncio.sleep(0)  # let requests in between turns
    return decided


async def _decide_again(
    cache: SettingsCache, engine: AsyncEngine | None, person_id: uuid.UUID
) -> int:
    person = cache.person(person_id)
    org = None if person is None else cache.held_org(person.org_id)
    if person is None or org is None or person.extension is None:
        return 0
    # A number nobody had is forgotten with its answer: it is looked up again.
    return await _keep_answers(cache, engine, org, [person.extension])


class AnswerKeeper:
    """Decides again, while its worker is idle, the answers changes made it forget, and
    those past their expiry that were asked for since they were made.

    Deciding ahead spares a call's first decision (about 60 us) and costs the same CPU as
    deciding then. While requests wait, that CPU is theirs: under a stream of changes the
    keeper took a sixth of a busy worker's time (py-spy, PUTs at 100,000 people) for answers
    nobody asked for before the next change. So a step decides only while `idle()` (no
    request in flight), in turns, stopping at the turn where a request arrives. Forgotten
    answers wait, up to MAX_UNDECIDED; past it, the keeper looks at everyone held (a sweep,
    resumed step after step) and decides whoever has no answer.
    """

    def __init__(
        self,
        cache: SettingsCache,
        engine: AsyncEngine | None = None,
        idle: Callable[[], bool] = _always,
    ) -> None:
        self._cache = cache
        self._engine = engine
        self._idle = idle
        self._sweep: Iterator[tuple[Organization, list[str]]] | None = None

    async def step(self) -> int:
        if self._idle():
            self._cache.expire_answers(ANSWERS_PER_STEP)
        decided = await redecide(self._cache, self._engine, idle=self._idle)
        if self._sweep is None and self._cache.take_sweep():
            self._sweep = _everyone(self._cache)
        turns = 0
        while self._sweep is not None and turns * ANSWERS_PER_TURN < ANSWERS_PER_STEP:
            if not self._idle():
                break
            batch = next(self._sweep, None)
            if batch is None:
                self._sweep = None
                break
            decided += await _keep_answers(self._cache, self._engine, *batch)
            turns += 1
            await asyncio.sleep(0)  # let requests in between turns
        return decided


def _everyone(cache: SettingsCache) -> Iterator[tuple[Organization, list[str]]]:
    """Everyone held, by organization, a turn's worth of extensions at a time."""
    for org in cache.held_orgs():
        extensions = cache.extensions(org.id)
        for start in range(0, len(extensions), ANSWERS_PER_TURN):
            yield org, extensions[start : start + ANSWERS_PER_TURN]


def answer_keeper(
    cache: SettingsCache, engine: AsyncEngine | None = None, idle: Callable[[], bool] = _always
) -> Periodic:
    """An AnswerKeeper's step every REFRESH_SECONDS."""
    keeper = AnswerKeeper(cache, engine, idle)
    return Periodic(REFRESH_SECONDS, keeper.step, "could not decide forgotten answers again")


REFRESH_SECONDS = 0.05


async def refresh(engine: AsyncEngine, cache: SettingsCache, limit: int = PAGE) -> int:
    """Read again the documents of held people that changes evicted; say how many people.

    A change evicts a document on every replica, and the next read of it would go to the
    database one request at a time; reading them back in batches keeps a warm replica warm
    while people change their settings. Values are stored under the generation taken before
    the read, as in the warm start.
    """
    people = [p for p in map(cache.person, cache.take_stale(limit)) if p is not None]
    if not people:
        return 0
    generations = {person.id: cache.generation(person.id) for person in people}
    by_org: dict[uuid.UUID, list[Person]] = {}
    for person in people:
        by_org.setdefault(person.org_id, []).append(person)
    async with engine.connect() as conn:
        stored = await repo.features_of(conn, [person.id for person in people])
        for org_id, members in by_org.items():
            org = cache.orgs.get(org_id) or await repo.get_organization(conn, org_id)
            if org is not None:
                cache.put_org(org)  # a changed organization refuses these values
                _hold_documents(cache, org, _Read(members, generations, stored))
    return len(people)


async def renew_orgs(engine: AsyncEngine, cache: SettingsCache) -> int:
    """Read again the organizations asked for past half their life; say how many.

    A changed one drops everyone held (put_org), as it would have on expiry; a deleted one
    is forgotten. A failed read leaves them due again at their next use.
    """
    due = cache.orgs.take_due()
    if not due:
        return 0
    async with engine.connect() as conn:
        for org_id in due:
            org = await repo.get_organization(conn, org_id)
            if org is None:
                cache.orgs.pop(org_id)
            else:
                cache.put_org(org)
    return len(due)


def org_renewer(engine: AsyncEngine, cache: SettingsCache) -> Periodic:
    """`renew_orgs` every RENEW_SECONDS: an organization due has half its ttl (30 s by
    default) left, so a second's wait costs nothing and spares the idle worker."""

    async def step() -> int:
        return await renew_orgs(engine, cache)

    return Periodic(RENEW_SECONDS, step, "could not read organizations again")


RENEW_SECONDS = 1.0


# Everyone a warm start loads expires within the same few seconds, a people's life later
# (people_cache_seconds, an hour by default), and reads spread over an organization would then
# meet the database one person at a time until most of it was read again: about a million
# requests at 100,000 people. So held people are read again before that, a page every
# RENEW_PEOPLE_SECONDS, in passes over the organizations that begin at half the people's life
# and take RENEW_PASS_SHARE of it each, back to back: a person held is read again at most
# 0.8 of their life apart, and never expires while the database answers.
RENEW_PEOPLE_SECONDS = 1.0
RENEW_PASS_SHARE = 0.4
# People checked between two turns of the event loop: each is a few documents encoded and
# compared (221 us of CPU a person with their share of the page's read, on the slow machine
# of docs/performance.md, item 18), so a turn keeps a request waiting a few ms at most.
RENEWED_PER_TURN = 16


def people_per_step(people: int, people_ttl: float) -> int:
    """How many people a step reads so that a pass over `people` takes RENEW_PASS_SHARE of
    their life (at most a page; with a life too short for that, some expire as before)."""
    steps = max(1.0, people_ttl * RENEW_PASS_SHARE / RENEW_PEOPLE_SECONDS)
    return min(PAGE, max(1, math.ceil(people / steps)))


class _Pass:
    """Where a pass over the held organizations' people stands."""

    def __init__(self, orgs: list[Organization]) -> None:
        self.orgs = orgs
        self.after: tuple[str, str] | None = None
        self.walked = 0

    async def next_page(
        self, conn: AsyncConnection, cache: SettingsCache, limit: int
    ) -> tuple[Organization, _Read] | None:
        """The next page's held people and their stored documents; None at the pass's end."""
        while self.orgs:
            org = self.orgs[0]
            people = await repo.list_people(conn, org.id, after=self.after, limit=limit)
            if not people:
                self.orgs.pop(0)
                self.after = None
                continue
            self.walked += len(people)
            last = people[-1]
            self.after = (last.display_name, str(last.id))
            held = [person for person in people if cache.holds_person(person.id)]
            return org, await _read_documents(conn, cache, held)
        return None


class PeopleRenewer:
    """Reads the people held again before they expire, checking what is held against what is
    stored: what agrees is kept for another life; what differs (a change no event told this
    replica of) is evicted as a change would be, and what is stored is held instead. People
    no longer stored are not met, and expire as before."""

    def __init__(
        self,
        engine: AsyncEngine,
        cache: SettingsCache,
        people_ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._engine = engine
        self._cache = cache
        self._ttl = people_ttl
        self._clock = clock
        self._begins = clock() + people_ttl / 2
        self._pass: _Pass | None = None
        self._walked_last = 0  # a pass meets everyone stored, held or not

    async def step(self) -> int:
        """Renew the next page of people; say how many were held and read again."""
        if self._ttl <= 0 or self._clock() < self._begins:
            return 0
        if self._pass is None:
            self._pass = _Pass(self._cache.held_orgs())
        current = self._pass
        people = max(self._cache.people_held(), self._walked_last)
        async with self._engine.connect() as conn:
            page = await current.next_page(conn, self._cache, people_per_step(people, self._ttl))
        if page is None:
            self._walked_last, self._pass = current.walked, None
            return 0
        org, read = page
        renewed = 0
        for start in range(0, len(read.people), RENEWED_PER_TURN):
            for person in read.people[start : start + RENEWED_PER_TURN]:
                renewed += _renew(self._cache, org, read, person)
            await asyncio.sleep(0)  # let requests in between turns
        return renewed


def _renew(cache: SettingsCache, org: Organization, read: _Read, person: Person) -> int:
    """Hold `person` for another life as `read` found them; 0 when evicted since the read
    (what was read may be older than what a change left)."""
    generation = read.generations[person.id]
    if cache.generation(person.id) != generation:
        return 0
    stored = {
        feature.value: features.served(feature, read.stored.get((person.id, feature.value)), org)
        for feature in features.MODELS
    }
    if cache.person(person.id) != person or any(
        cache.document(person.id, name) not in (None, encoded) for name, encoded in stored.items()
    ):
        cache.evict_person(person.id)  # what a change would have done, answers and all
        generation = cache.generation(person.id)
    cache.put_person(person, generation)  # a new expiry, the documents held kept
    for name, encoded in stored.items():
        if not cache.holds(person.id, name):
            cache.put_document(person.id, name, encoded, generation)
    return 1


def people_renewer(engine: AsyncEngine, cache: SettingsCache, people_ttl: float) -> Periodic:
    """A PeopleRenewer's step every RENEW_PEOPLE_SECONDS."""
    renewer = PeopleRenewer(engine, cache, people_ttl)
    return Periodic(RENEW_PEOPLE_SECONDS, renewer.step, "could not read held people again")


def refresher(engine: AsyncEngine, cache: SettingsCache) -> Periodic:
    """`refresh` every REFRESH_SECONDS; a failed one leaves documents to be read on next use."""

    async def step() -> int:
        return await refresh(engine, cache)

    return Periodic(REFRESH_SECONDS, step, "could not read evicted documents again")
