"""What request handlers share: the database, caches and limits, built once per app."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callsettings.server.auth import TokenCache
from callsettings.server.cache import SettingsCache
from callsettings.server.config import ServerConfig
from callsettings.server.invalidation import Invalidator
from callsettings.server.ratelimit import RateLimitStore
from callsettings.storage.database import write_transaction


@dataclass
class Services:
    config: ServerConfig
    engine: AsyncEngine
    tokens: TokenCache
    rate_limits: RateLimitStore
    cache: SettingsCache
    invalidator: Invalidator


CHANGED_PEOPLE = "callsettings.changed_people"


def mark_changed(conn: AsyncConnection, person_id: uuid.UUID, feature: str | None = None) -> None:
    """Note that this transaction changes a person's `feature` (None: any of their settings);
    `changing` evicts it after commit."""
    conn.info.setdefault(CHANGED_PEOPLE, set()).add((person_id, feature))


@asynccontextmanager
async def changing(services: Services) -> AsyncIterator[AsyncConnection]:
    """A write transaction that, once committed, evicts every person it changed everywhere.

    Eviction happens after the commit (a reader must not re-cache the old row in between)
    and only if the commit succeeded.
    """
    async with write_transaction(services.engine) as conn:
        yield conn
        changed: set[tuple[uuid.UUID, str | None]] = conn.info.pop(CHANGED_PEOPLE, set())
    for person_id, feature in changed:
        await services.invalidator.person_changed(person_id, feature)


def services_of(request: Any) -> Services:
    found: Services = request.app.state.services
    return found
