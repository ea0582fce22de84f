"""Call treatment on stored settings: the pure engine, fed from the cache or the database.

The engine looks people up synchronously (it has no I/O). `settle` bridges the two worlds:
it runs an engine function with a look-up that records whom it asked for and could not
answer, fetches those people, and runs it again until it asks for no one new. Each round
learns at least one more person, so the rounds are bounded by the people a decision can
reach (a handful for one decision; the diversion cap bounds a chain).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable
from typing import Protocol, TypeVar

from callsettings.engine import Lookup, Policy, Subscriber
from callsettings.settings.ids import IdType, encode_id
from callsettings.storage import repositories as repo
from callsettings.storage.database import Connect
from callsettings.storage.records import Organization, Person

T = TypeVar("T")
MAX_ROUNDS = 128


class Directory(Protocol):
    """Where `settle` finds people by what was dialled: an extension or an E.164 number."""

    async def by_dial(self, dialled: str) -> Subscriber | None: ...


async def settle(run: Callable[[Lookup], T], directory: Directory) -> T:
    """Return `run(lookup)` once every person it looks up has been fetched."""
    known: dict[str, Subscriber | None] = {}
    missing: list[str] = []

    def lookup(dialled: str) -> Subscriber | None:
        if dialled in known:
            return known[dialled]
        missing.append(dialled)
        return None

    for _ in range(MAX_ROUNDS):
        missing.clear()
        result = run(lookup)
        if not missing:
            return result
        for dialled in dict.fromkeys(missing):
            known[dialled] = await directory.by_dial(dialled)
    # Unreachable for the engine's own bounds; answering with what is known stays safe
    # (an unknown target is treated as outside the organization).
    return run(known.get)


def policy_of(org: Organization) -> Policy:
    return Policy(
        ring_ms=org.ring_seconds * 1000,
        diversion_cap=org.diversion_cap,
        max_rings=org.system_max_rings,
    )


class StoredDirectory:
    """People as the current transaction sees them: what write-time checks must use."""

    def __init__(
        self,
        connect: Connect,
        org: Organization,
        load: Callable[[Person], Awaitable[Subscriber]],
        pending: Iterable[Subscriber] = (),
        known: Callable[[str], Person | None] = lambda _dialled: None,
    ) -> None:
        self._connect = connect
        self._org = org
        self._load = load
        # Who has what was dialled, from memory when known there: identities never change
        # once provisioned. What they have set is always loaded in the transaction.
        self._known = known
        # The person being changed, with the settings the transaction has not stored yet.
        self._pending = {s.id: s for s in pending}

    async def by_dial(self, dialled: str) -> Subscriber | None:
        person = self._known(dialled) or await repo.find_person_by_dial(
            await self._connect(), self._org.id, dialled
        )
        if person is None:
            return None
        pending = self._pending.get(encode_id(IdType.PEOPLE, person.id))
        return pending if pending is not None else await self._load(person)
