"""Work a replica repeats in the background while it serves (the change feed, read-back)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

log = logging.getLogger(__name__)


def _nothing() -> None:
    return None


class Periodic:
    """Awaits `step()` every `seconds` until stopped.

    A step that fails is logged with `failure`, then `recover()` runs (say, forget what may
    have been missed); the next step runs as usual.
    """

    def __init__(
        self,
        seconds: float,
        step: Callable[[], Awaitable[object]],
        failure: str,
        recover: Callable[[], None] = _nothing,
    ) -> None:
        self._seconds = seconds
        self._step = step
        self._failure = failure
        self._recover = recover
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run())

    async def _run(self) -> None:
        while True:
            await asyncio.sleep(self._seconds)
            try:
                await self._step()
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception(self._failure)
                self._recover()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
