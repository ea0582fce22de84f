"""Telling every replica that a person's settings changed.

The replica that writes applies the change to its own cache after the commit (see
services.changing). The others learn of it in two ways:

- the change feed: every accepted change writes an audit event in its own transaction, and
  every replica reads the events that are new every `poll_seconds` (a quarter of a second
  by default) and applies them: the document an event says was written replaces the one
  held when it is certainly the newest (see ChangeFeed), else the documents it names are
  evicted and read back. It needs nothing but the database, so several workers or
  machines are consistent within that bound out of the box;
- Redis, when configured: each change is also published on a channel every replica
  listens to, so the others evict within milliseconds.

The cache's expiry is only the last resort (changes that write no audit event, such as
provisioning), which is why it can be long.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Callable
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callsettings.server.background import Periodic
from callsettings.server.cache import SettingsCache
from callsettings.storage import repositories as repo
from callsettings.storage.records import Organization

log = logging.getLogger("callsettings.invalidation")
CHANNEL = "callsettings:changed"


class Invalidator:
    """Tells the other replicas of a change this one committed (it applied it itself);
    with nothing but the database, the change feed does that."""

    def __init__(self, cache: SettingsCache) -> None:
        self.cache = cache

    async def publish(self, person_id: uuid.UUID, feature: str | None = None) -> None:
        """Tell the others that `person_id`'s `feature` (None: all of it) changed."""

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

    async def publish(self, person_id: uuid.UUID, feature: str | None = None) -> None:
        # "<person>" or "<person> <feature>": a message without a feature evicts them all.
        message = str(person_id) if feature is None else f"{person_id} {feature}"
        try:
            await self._redis.publish(CHANNEL, message)
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
                person, _, feature = message["data"].decode().partition(" ")
                self.cache.evict_person(uuid.UUID(person), feature or None)
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


# How long an id the feed skipped may still appear: on PostgreSQL, ids come from a sequence
# when a row is inserted, so a transaction can commit after one holding a later id; a
# rolled-back one never appears.
GAP_SECONDS = 10.0
# Events read per query, and per poll at most (a feed behind by more catches up over polls).
# Small pages keep PostgreSQL on the primary key: with LIMIT 10000 and the table's
# statistics stale (as they are until it is analyzed after a burst of changes), the
# planner scanned all of audit_events and sorted it, 22 ms of its CPU for each poll at
# 100,000 events, four polls a second per worker; reading pages of 1,000 took 0.08 ms.
FEED_PAGE = 1000
FEED_MAX_PER_POLL = 10_000


# The document an audit event says a change wrote (its feature's name, its text), encoded as
# this replica serves it under the organization; None when it cannot tell.
Served = Callable[[str, str, Organization], bytes | None]


def _evict_only(_name: str, _written: str, _org: Organization) -> bytes | None:
    return None


async def _read_changes(
    conn: AsyncConnection, after_id: int
) -> list[tuple[int, uuid.UUID, str, str | None]]:
    """The events after `after_id`, oldest first, a page at a time, up to a poll's worth."""
    rows: list[tuple[int, uuid.UUID, str, str | None]] = []
    while len(rows) < FEED_MAX_PER_POLL:
        page = await repo.changes_after(conn, after_id, FEED_PAGE)
        rows.extend(page)
        if len(page) < FEED_PAGE:
            break
        after_id = page[-1][0]
    return rows


class ChangeFeed:
    """Reads new audit events every `poll_seconds` and applies them to the cache: a
    person's document is replaced by what the event says was written, when `served` can
    tell what that is and it is certainly the newest; otherwise it is evicted (and read
    back, see warmup.refresh)."""

    def __init__(
        self,
        engine: AsyncEngine,
        cache: SettingsCache,
        poll_seconds: float,
        clock: Any = None,
        served: Served = _evict_only,
    ) -> None:
        self._engine = engine
        self._cache = cache
        self._poll_seconds = poll_seconds
        self._clock = clock or asyncio.get_running_loop().time
        self._served = served
        self._cursor: int | None = None  # None: not known yet (the database was away)
        self._gaps: dict[int, float] = {}  # ids not seen yet below the cursor -> since when
        self._polling: Periodic | None = None

    async def start(self) -> None:
        """Start after the newest event: this replica has cached nothing older.

        A database that is away must not stop the service from starting (it answers 503s
        until the database is back); the first poll that reaches it finds the cursor.
        """
        try:
            async with self._engine.connect() as conn:
                self._cursor = await repo.last_change_id(conn)
        except Exception:
            log.warning("the change feed starts without the database; it will retry")
        if self._poll_seconds > 0:
            # Events may be missed while the database is away: a failed poll forgets all.
            self._polling = Periodic(
                self._poll_seconds,
                self.poll,
                "could not read the change feed",
                self._cache.evict_all,
            )
            self._polling.start()

    async def poll(self) -> int:
        """Read what is new; return how many changes were applied."""
        if self._cursor is None:
            async with self._engine.connect() as conn:
                self._cursor = await repo.last_change_id(conn)
            self._cache.evict_all()  # what happened before is unknown: forget it all
            return 0
        cursor = self._cursor
        low = min(self._gaps, default=cursor + 1) - 1
        mark = self._cache.mark()
        async with self._engine.connect() as conn:
            rows = await _read_changes(conn, min(low, cursor))
        # Every writer locks the person before it writes (repositories.lock_person, or the
        # conditional save's own lock), so a person's changes commit one after the other and
        # each takes its id after the one before committed: their newest event here is their
        # newest change, gaps included.
        newest = {person_id: event_id for event_id, person_id, _, _ in rows}
        # Evicted while the events were read (a change this replica committed, an eviction
        # heard over Redis): what is held may be newer than any event read.
        touched = {p for p in newest if self._cache.evicted_since(p, mark)}
        applied = 0
        now = self._clock()
        for event_id, person_id, feature, written in rows:
            new = event_id > cursor or self._gaps.pop(event_id, None) is not None
            if new and not self._cache.own_change(event_id):
                newer = newest[person_id] != event_id or person_id in touched
                self._apply(person_id, feature, None if newer else written)
                applied += 1
            if event_id > cursor:
                self._gaps.update(dict.fromkeys(range(cursor + 1, event_id), now))
                cursor = event_id
        self._cursor = cursor
        self._gaps = {i: t for i, t in self._gaps.items() if now - t < GAP_SECONDS}
        return applied

    def _apply(self, person_id: uuid.UUID, feature: str, written: str | None) -> None:
        """Hold what the change wrote in place of the person's document; evict it when
        `written` is None or cannot be served as it is (the person or their organization not
        held, or not a feature document)."""
        # Only the organization is needed: unpacking the whole person for it was a tenth of
        # what applying an event cost at 100,000 people (py-spy, PUTs).
        placed = None if written is None else self._cache.placement(person_id)
        org = None if placed is None else self._cache.orgs.get(placed[0])
        encoded = None if org is None or written is None else self._served(feature, written, org)
        if encoded is None:
            self._cache.evict_person(person_id, feature)
        else:
            self._cache.replace_document(person_id, feature, encoded)

    async def stop(self) -> None:
        if self._polling is not None:
            await self._polling.stop()
