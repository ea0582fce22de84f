"""What the read path keeps in memory: people, organizations and encoded documents.

Reads are far more frequent than writes, and a read that touches the database costs more
than the whole HTTP stack. Entries live at most `ttl` seconds; a write on this replica
evicts the person at once (so this replica never serves a stale document after a
successful PUT), and other replicas evict when they hear of it (see invalidation.py) or,
at the latest, when the entry expires.

A read that raced a write must not put the old value back: each person has a generation
that eviction bumps, and a value read from the database is stored only if the generation
it was read under is still current.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Callable
from itertools import islice
from typing import Generic, TypeVar

from callsettings.engine import Subscriber
from callsettings.storage.records import Organization, Person

# In `dials`: the extension or number belongs to nobody in the organization (an outside
# number, typically a forwarding destination), which is worth remembering too.
NOBODY = uuid.UUID(int=0)

K = TypeVar("K")
V = TypeVar("V")


class _Expiring(Generic[K, V]):
    """A dict whose entries expire; past its bound it forgets its oldest tenth."""

    def __init__(self, ttl: float, max_entries: int, clock: Callable[[], float]) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._clock = clock
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K) -> V | None:
        entry = self._entries.get(key)
        if entry is None:
            return None
        if self._clock() >= entry[0]:
            self._entries.pop(key, None)
            return None
        return entry[1]

    def put(self, key: K, value: V) -> None:
        if self._ttl <= 0:
            return
        if len(self._entries) >= self._max_entries:
            # Oldest first, by insertion order: no bookkeeping on reads, unlike an LRU,
            # and no cliff where every entry goes at once.
            for old in list(islice(self._entries, max(1, self._max_entries // 10))):
                del self._entries[old]
        self._entries[key] = (self._clock() + self._ttl, value)

    def pop(self, key: K) -> None:
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()

    def __len__(self) -> int:
        return len(self._entries)


class SettingsCache:
    def __init__(
        self,
        ttl: float,
        max_people: int = 250_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.people: _Expiring[uuid.UUID, Person] = _Expiring(ttl, max_people, clock)
        self.orgs: _Expiring[uuid.UUID, Organization] = _Expiring(ttl, 10_000, clock)
        self.documents: _Expiring[tuple[uuid.UUID, str], bytes] = _Expiring(
            ttl, max_people * 2, clock
        )
        # The decision API's two look-ups: what was dialled -> whom, and a person compiled
        # for the engine. A change of extension or number is rare and made by provisioning,
        # so a dialled entry is trusted for its ttl.
        self.dials: _Expiring[tuple[uuid.UUID, str], uuid.UUID] = _Expiring(
            ttl, max_people * 2, clock
        )
        self.subscribers: _Expiring[uuid.UUID, Subscriber] = _Expiring(ttl, max_people, clock)
        # Encoded decisions by (org, called, state, diversions, explain), each with the
        # eviction count it was made under: any eviction may change who a decision reaches,
        # so an answer is reused only while nobody has been evicted since.
        self.decisions: _Expiring[tuple[object, ...], tuple[int, bytes]] = _Expiring(
            ttl, max_people, clock
        )
        self._generations: dict[uuid.UUID, int] = {}
        self._epoch = 0
        # Counts every eviction: a read that found a person it could not name beforehand
        # (by a dialled number) is cached only if nobody was evicted while it ran.
        self.evictions = 0
        # Database reads in flight, keyed with the generation they serve, so that a burst of
        # misses for one entry makes one read, and a read begun before a write is never
        # joined by a request that arrived after it.
        self.flights: dict[tuple[object, ...], asyncio.Future[object]] = {}

    def generation(self, person_id: uuid.UUID) -> tuple[int, int]:
        return self._epoch, self._generations.get(person_id, 0)

    def put_person(self, person: Person, generation: tuple[int, int]) -> None:
        if self.generation(person.id) == generation:
            self.people.put(person.id, person)

    def put_document(
        self, person_id: uuid.UUID, feature: str, encoded: bytes, generation: tuple[int, int]
    ) -> None:
        if self.generation(person_id) == generation:
            self.documents.put((person_id, feature), encoded)

    def put_subscriber(
        self, person_id: uuid.UUID, compiled: Subscriber, generation: tuple[int, int]
    ) -> None:
        if self.generation(person_id) == generation:
            self.subscribers.put(person_id, compiled)

    def evict_person(self, person_id: uuid.UUID) -> None:
        """Forget a person and their documents, and refuse values read before now."""
        self._generations[person_id] = self._generations.get(person_id, 0) + 1
        self.evictions += 1
        self.people.pop(person_id)
        self.subscribers.pop(person_id)
        for feature in ("callForwarding", "doNotDisturb", "callWaiting", "voicemail"):
            self.documents.pop((person_id, feature))

    def evict_all(self) -> None:
        self.people.clear()
        self.orgs.clear()
        self.documents.clear()
        self.dials.clear()
        self.subscribers.clear()
        self.decisions.clear()
        self._epoch += 1
        self.evictions += 1
