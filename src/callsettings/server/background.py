"""Work a replica repeats in the background while it serves (the change feed, read-back,
SQLite's checkpoints)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor

from callsettings.storage.database import WalCheckpoints

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


# How often a worker checkpoints SQLite's log (see WalCheckpoints): at 3,000 writes a
# second, a tenth of a second of them holds about as many pages as SQLite's own threshold.
CHECKPOINT_SECONDS = 0.1


class Checkpointing:
    """Runs `checkpoints` every CHECKPOINT_SECONDS on a thread of its own, off the loop."""

    def __init__(self, checkpoints: WalCheckpoints, seconds: float = CHECKPOINT_SECONDS) -> None:
        self._checkpoints = checkpoints
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-checkpoint")
        self._periodic = Periodic(seconds, self._run, "SQLite checkpoint failed")
        self._periodic.start()

    async def _run(self) -> None:
        await asyncio.get_running_loop().run_in_executor(self._thread, self._checkpoints.run)

    async def stop(self) -> None:
        await self._periodic.stop()
        # On the same thread, so after a checkpoint a cancelled step left running there.
        await asyncio.get_running_loop().run_in_executor(self._thread, self._checkpoints.close)
        self._thread.shutdown(wait=False)
