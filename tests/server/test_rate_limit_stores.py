"""Rate-limit stores: fixed windows, and atomic counting shared by replicas in Redis."""

from __future__ import annotations

import asyncio
import os
import uuid

import pytest

from callsettings.server.ratelimit import MemoryRateLimitStore, RedisRateLimitStore
from tests.conftest import REDIS_ENV


async def test_memory_store_refuses_past_the_limit_and_resets_next_window() -> None:
    now = [120.0]
    store = MemoryRateLimitStore(clock=lambda: now[0])
    results = [(await store.hit("k", 2, 60)).allowed for _ in range(3)]
    assert results == [True, True, False]
    refused = await store.hit("k", 2, 60)
    assert refused.retry_after == 60
    now[0] = 150.0
    assert (await store.hit("k", 2, 60)).retry_after == 30
    now[0] = 180.0
    assert (await store.hit("k", 2, 60)).allowed
    assert (await store.hit("other", 2, 60)).allowed


async def test_memory_store_stays_bounded() -> None:
    store = MemoryRateLimitStore(clock=lambda: 0.0, max_keys=10)
    for i in range(50):
        await store.hit(f"key-{i}", 5, 60)
    assert len(store._counts) <= 10


async def test_redis_store_counts_atomically_across_replicas() -> None:
    url = os.environ.get(REDIS_ENV)
    if not url:
        pytest.skip(f"the Redis store needs {REDIS_ENV} (set by .ci/run)")
    replicas = [RedisRateLimitStore(url, prefix=f"test:{uuid.uuid4()}:")] * 1
    replicas.append(RedisRateLimitStore(url, prefix=replicas[0]._prefix))
    decisions = await asyncio.gather(*(replicas[i % 2].hit("token", 25, 60) for i in range(40)))
    assert sum(d.allowed for d in decisions) == 25
    refused = [d for d in decisions if not d.allowed]
    assert all(1 <= d.retry_after <= 60 for d in refused)
    for store in replicas:
        await store.close()
