"""What request handlers share: the database, caches and limits, built once per app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callsettings.server.auth import TokenCache
from callsettings.server.cache import SettingsCache
from callsettings.server.config import ServerConfig
from callsettings.server.invalidation import Invalidator
from callsettings.server.ratelimit import RateLimitStore
from callsettings.storage.database import write_transaction
from callsettings.storage.saves import ConditionalSaves


@dataclass
class Services:
    config: ServerConfig
    engine: AsyncEngine
    tokens: TokenCache
    rate_limits: RateLimitStore
    cache: SettingsCache
    invalidator: Invalidator
    # PostgreSQL's feature saves made at once, grouped (see features.change_at_once).
    saves: ConditionalSaves = field(init=False)

    def __post_init__(self) -> None:
        self.saves = ConditionalSaves(self.engine)


CHANGED_PEOPLE = "callsettings.changed_people"


@dataclass(frozen=True, slots=True)
class Changed:
    """What a write transaction changed, for `changing` to apply once it commits."""

    person_id: uuid.UUID
    feature: str | None  # None: any of their settings
    # The document as committed, encoded as GET serves it, and its audit event, when the
    # change is one feature's document.
    document: bytes | None = None
    event_id: int | None = None


def mark_changed(
    conn: AsyncConnection,
    person_id: uuid.UUID,
    feature: str | None = None,
    document: bytes | None = None,
    event_id: int | None = None,
) -> None:
    """Note that this transaction changes a person's `feature` (None: any of their settings);
    `changing` applies it to the caches after the commit."""
    conn.info.setdefault(CHANGED_PEOPLE, []).append(Changed(person_id, feature, document, event_id))


@asynccontextmanager
async def changing(services: Services) -> AsyncIterator[AsyncConnection]:
    """A write transaction that, once committed, applies what it changed everywhere.

    Nothing is applied unless the commit succeeded, and only after it: a reader must not
    re-cache the old row in between. This replica evicts the changed documents and holds
    the committed ones in their place (the next read needs no database), unless it heard
    of another change to the person while this one committed; then the document stays
    evicted and is read back. The other replicas are told to evict.
    """
    cache = services.cache
    async with write_transaction(services.engine) as conn:
        yield conn
        changes: list[Changed] = conn.info.pop(CHANGED_PEOPLE, [])
        before = {change.person_id: cache.generation(change.person_id) for change in changes}
    await committed(services, changes, before)


async def committed(
    services: Services, changes: list[Changed], before: dict[uuid.UUID, tuple[int, int]]
) -> None:
    """Apply committed `changes`; `before` holds each person's cache generation from
    before the commit, so a change heard of meanwhile keeps their documents evicted."""
    cache = services.cache
    # No await from here to the last hold: nothing can be evicted in between unseen.
    unchanged = {p for p, generation in before.items() if cache.generation(p) == generation}
    for change in changes:
        cache.evict_person(change.person_id, change.feature)
    for change in changes:
        if change.document is not None and change.person_id in unchanged:
            assert change.feature is not None
            generation = cache.generation(change.person_id)
            cache.put_document(change.person_id, change.feature, change.document, generation)
        if change.event_id is not None:
            cache.wrote(change.event_id)
    for change in changes:
        await services.invalidator.publish(change.person_id, change.feature)


def services_of(request: Any) -> Services:
    found: Services = request.app.state.services
    return found
