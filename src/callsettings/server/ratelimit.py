"""Rate limiting per token: a store ABC, one in memory and one in Redis for many replicas.

Counting happens atomically inside the store (a fixed window per key), so several workers
sharing Redis agree on the count instead of each reading, adding and writing it back.
"""

from __future__ import annotations

import math
import time
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class RateDecision:
    allowed: bool
    retry_after: int = 0


class RateLimitStore(ABC):
    """Counts hits per key in fixed windows."""

    @abstractmethod
    async def hit(self, key: str, limit: int, window: int) -> RateDecision:
        """Count one hit for `key`; refuse it when the window already holds `limit` hits."""

    async def close(self) -> None:  # noqa: B027 - optional hook
        """Release connections, if any."""


class MemoryRateLimitStore(RateLimitStore):
    """For one process: counters in a dict, pruned as windows pass."""

    def __init__(
        self, clock: Callable[[], float] = time.monotonic, max_keys: int = 100_000
    ) -> None:
        self._clock = clock
        self._max_keys = max_keys
        self._counts: dict[str, tuple[int, int]] = {}

    async def hit(self, key: str, limit: int, window: int) -> RateDecision:
        now = self._clock()
        current = int(now // window)
        start, count = self._counts.get(key, (current, 0))
        if start != current:
            start, count = current, 0
        if count >= limit:
            return RateDecision(False, max(1, math.ceil((start + 1) * window - now)))
        if len(self._counts) >= self._max_keys:
            self._prune(current)
        self._counts[key] = (start, count + 1)
        return RateDecision(True)

    def _prune(self, current: int) -> None:
        self._counts = {k: v for k, v in self._counts.items() if v[0] == current}
        if len(self._counts) >= self._max_keys:
            # Memory is the harder limit: a flood of distinct keys restarts the window.
            self._counts.clear()


class RedisRateLimitStore(RateLimitStore):
    """For many replicas: INCR and EXPIRE in one Lua script, so counting is atomic."""

    _SCRIPT = """
    local count = redis.call('INCR', KEYS[1])
    if count == 1 then redis.call('EXPIRE', KEYS[1], ARGV[1]) end
    return {count, redis.call('TTL', KEYS[1])}
    """

    def __init__(self, url: str, prefix: str = "callsettings:rate:") -> None:
        from redis.asyncio import Redis

        self._redis: Any = Redis.from_url(url)
        self._prefix = prefix
        self._script = self._redis.register_script(self._SCRIPT)

    async def hit(self, key: str, limit: int, window: int) -> RateDecision:
        bucket = int(time.time() // window)
        count, ttl = await self._script(keys=[f"{self._prefix}{key}:{bucket}"], args=[window])
        if int(count) > limit:
            return RateDecision(False, max(1, int(ttl)))
        return RateDecision(True)

    async def close(self) -> None:
        await self._redis.aclose()
