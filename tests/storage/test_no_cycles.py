"""Reads the service repeats leave no reference cycles behind.

The service collects cyclic garbage rarely (app.py freezes its long-lived objects and
raises the thresholds), so a read that leaves a cycle per call grows the worker's memory
until the next full collection: a page of people once left 14 KB per request.
"""

from __future__ import annotations

import gc
from collections.abc import Awaitable, Callable, Iterator

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callsettings.storage import repositories as repo
from tests.factories import World

Read = Callable[[AsyncConnection, World], Awaitable[object]]


@pytest.fixture
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


READS: dict[str, Read] = {
    "a page of people": lambda conn, world: repo.list_people(conn, world.org.id, limit=3),
    "people by id": lambda conn, world: repo.list_people(
        conn, world.org.id, ids=[world.ann.id, world.bob.id]
    ),
    "documents of people": lambda conn, world: repo.features_of(conn, [world.ann.id]),
    "one person": lambda conn, world: repo.get_person(conn, world.ann.id),
}


@pytest.mark.parametrize("read", READS.values(), ids=READS.keys())
async def test_a_repeated_read_leaves_no_cycles(
    engine: AsyncEngine, world: World, read: Read, collector_off: None
) -> None:
    async with engine.connect() as conn:
        await read(conn, world)  # first use: compiled-statement caches fill
        gc.collect()
        for _ in range(3):
            await read(conn, world)
    assert gc.collect() == 0
