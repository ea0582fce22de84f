"""The read path: people, organizations and documents from the cache, else the database.

A connection is opened only on a miss, so a warm read never leaves the process.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Awaitable, Callable
from types import TracebackType
from typing import TypeVar, cast

from sqlalchemy.ext.asyncio import AsyncConnection

from callsettings.engine import Subscriber
from callsettings.server import features
from callsettings.server.cache import NOBODY, SettingsCache
from callsettings.server.services import Services
from callsettings.storage import repositories as repo
from callsettings.storage.records import Feature, Organization, Person

T = TypeVar("T")


def held_by_dial(cache: SettingsCache, org_id: uuid.UUID) -> Callable[[str], Person | None]:
    """Who in the organization has what was dialled, from the cache alone, or None."""

    def known(dialled: str) -> Person | None:
        owner = cache.owner(org_id, dialled)
        return None if owner is None or owner == NOBODY else cache.person(owner)

    return known


class CachedReader:
    """Reads for one request; use as `async with CachedReader(services) as reader`."""

    def __init__(self, services: Services) -> None:
        self._services = services
        self._cache = services.cache
        self._conn: AsyncConnection | None = None

    async def __aenter__(self) -> CachedReader:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._conn is not None:
            await self._conn.close()

    async def _connection(self) -> AsyncConnection:
        if self._conn is None:
            self._conn = await self._services.engine.connect()
        return self._conn

    async def _once(self, key: tuple[object, ...], load: Callable[[], Awaitable[T]]) -> T:
        """Run `load` once for concurrent misses of the same key; the others await it."""
        flights = self._cache.flights
        flight = flights.get(key)
        if flight is not None:
            return cast(T, await asyncio.shield(flight))
        flight = asyncio.get_running_loop().create_future()
        flights[key] = flight
        try:
            value = await load()
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved here, so a flight nobody joined logs nothing
            raise
        finally:
            flights.pop(key, None)
        flight.set_result(value)
        return value

    async def person(self, person_id: uuid.UUID) -> Person | None:
        found = self._cache.person(person_id)
        if found is not None:
            return found
        generation = self._cache.generation(person_id)

        async def load() -> Person | None:
            person = await repo.get_person(await self._connection(), person_id)
            if person is not None:
                self._cache.put_person(person, generation)
            return person

        return await self._once(("person", person_id, generation), load)

    async def org(self, org_id: uuid.UUID) -> Organization | None:
        found = self._cache.orgs.get(org_id)
        if found is not None:
            return found

        async def load() -> Organization | None:
            org = await repo.get_organization(await self._connection(), org_id)
            if org is not None:
                self._cache.put_org(org)
            return org

        # Every request of the organization misses it together (at start, or if renewal
        # failed): one read serves them all.
        return await self._once(("org", org_id), load)

    async def document(self, person: Person, org: Organization, feature: Feature) -> bytes:
        """Return the encoded document as GET serves it."""
        encoded = self._cache.document(person.id, feature.value)
        if encoded is not None:
            return encoded
        generation = self._cache.generation(person.id)

        async def load() -> bytes:
            document = await features.read(await self._connection(), person, org, feature)
            fresh = features.encode(document)
            self._cache.put_document(person.id, feature.value, fresh, generation)
            return fresh

        return await self._once(("document", person.id, feature.value, generation), load)

    async def person_by_dial(self, org: Organization, dialled: str) -> Person | None:
        """Return the person of `org` with this extension or E.164 number."""
        person_id = self._cache.owner(org.id, dialled)
        if person_id == NOBODY:
            return None
        if person_id is not None:
            return await self.person(person_id)
        evictions = self._cache.evictions
        found = await repo.find_person_by_dial(await self._connection(), org.id, dialled)
        self._cache.put_owner(org.id, dialled, NOBODY if found is None else found.id)
        if found is not None and self._cache.evictions == evictions:
            # Nobody was evicted during the read, so the row is as fresh as a person read.
            self._cache.put_person(found, self._cache.generation(found.id))
        return found

    async def subscriber(self, person: Person, org: Organization) -> Subscriber:
        """Return the person compiled for the engine, from the cached documents."""
        compiled = self._cache.subscribers.get(person.id)
        if compiled is not None:
            return compiled
        generation = self._cache.generation(person.id)
        encoded = [await self.document(person, org, feature) for feature in features.MODELS]
        compiled = features.compile_encoded(person, org, encoded)
        self._cache.put_subscriber(person.id, compiled, generation)
        return compiled
