"""Telling every replica that a person's settings changed.

One process: evicting the local cache is enough. Several replicas (uvicorn workers or
machines) sharing Redis: each change is also published on a channel every replica listens
to, so the others evict within milliseconds; the cache's expiry bounds staleness if a
message is ever lost.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import Any

from callsettings.server.cache import SettingsCache

log = logging.getLogger("callsettings.invalidation")
CHANNEL = "callsettings:changed"


class Invalidator:
    """Evicts changed people here; subclasses tell the other replicas too."""

    def __init__(self, cache: SettingsCache) -> None:
        self.cache = cache

    async def person_changed(self, person_id: uuid.UUID) -> None:
        self.cache.evict_person(person_id)

    async def start(self) -> None:
        """Begin listening to other replicas, if there are any to listen to."""

    async def stop(self) -> None:
        """Stop listening and release connections."""


class RedisInvalidator(Invalidator):
    def __init__(self, cache: SettingsCache, url: str) -> None:
        super().__init__(cache)
        from redis.asyncio import Redis

        self._redis: Any = Redis.from_url(url)
        self._listener: asyncio.Task[None] | None = None

    async def person_changed(self, person_id: uuid.UUID) -> None:
        await super().person_changed(person_id)
        try:
            await self._redis.publish(CHANNEL, str(person_id))
        except Exception:  # the write is committed; a lost message only delays the others
            log.exception("could not publish the change of %s", person_id)

    async def start(self) -> None:
        self._listener = asyncio.create_task(self._listen_forever())

    async def _listen_forever(self) -> None:
        while True:
            try:
                await self._listen()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("lost the invalidation channel; reconnecting")
            # Messages may have been missed while disconnected: start from nothing.
            self.cache.evict_all()
            await asyncio.sleep(1)

    async def _listen(self) -> None:
        pubsub = self._redis.pubsub()
        await pubsub.subscribe(CHANNEL)
        async for message in pubsub.listen():
            if message.get("type") != "message":
                continue
            try:
                self.cache.evict_person(uuid.UUID(message["data"].decode()))
            except ValueError:
                log.warning("ignoring a malformed invalidation message %r", message["data"])

    async def stop(self) -> None:
        if self._listener is not None:
            self._listener.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._listener
        await self._redis.aclose()


def invalidator_for(cache: SettingsCache, redis_url: str | None) -> Invalidator:
    return RedisInvalidator(cache, redis_url) if redis_url else Invalidator(cache)
