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

import logging
import time
import uuid

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callsettings.server import features
from callsettings.server.cache import SettingsCache
from callsettings.storage import repositories as repo
from callsettings.storage.records import Feature, Organization, Person

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
    defaults = {f: features.encode(features.decode(f, None, org)) for f in features.MODELS}
    loaded = 0
    after: tuple[str, str] | None = None
    while loaded < room:
        people = await repo.list_people(conn, org.id, after=after, limit=min(PAGE, room - loaded))
        if not people:
            break
        # Taken before the documents are read: a change evicted after this refuses them.
        generations = {person.id: cache.generation(person.id) for person in people}
        stored = await repo.features_of(conn, [person.id for person in people])
        _hold(cache, org, people, generations, defaults, stored)
        loaded += len(people)
        last = people[-1]
        after = (last.display_name, str(last.id))
    return loaded


def _hold(
    cache: SettingsCache,
    org: Organization,
    people: list[Person],
    generations: dict[uuid.UUID, tuple[int, int]],
    defaults: dict[Feature, bytes],
    stored: dict[tuple[uuid.UUID, str], str],
) -> None:
    for person in people:
        generation = generations[person.id]
        cache.put_person(person, generation)
        for feature in features.MODELS:
            raw = stored.get((person.id, feature.value))
            encoded = (
                defaults[feature]
                if raw is None
                else features.encode(features.decode(feature, raw, org))
            )
            cache.put_document(person.id, feature.value, encoded, generation)
        # Extensions only: proxies ask for decisions by extension, and a number is learnt
        # by one indexed query the first time it is dialled (it would cost 90 bytes each).
        if person.extension is not None:
            cache.put_owner(org.id, person.extension, person.id)
