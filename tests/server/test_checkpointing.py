"""A SQLite-backed worker checkpoints the write-ahead log from a thread of its own."""

from __future__ import annotations

import asyncio
import threading
from pathlib import Path

import pytest
from litestar.testing import AsyncTestClient

from callsettings.server.app import create_app
from callsettings.server.background import Checkpointing
from callsettings.storage.database import WalCheckpoints
from tests.server.conftest import make_config


async def test_the_served_app_checkpoints_off_the_loop_and_closes_at_shutdown(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs: list[str] = []
    closed: list[str] = []
    real_run, real_close = WalCheckpoints.run, WalCheckpoints.close

    def run(self: WalCheckpoints) -> tuple[int, int, int]:
        runs.append(threading.current_thread().name)
        return real_run(self)

    def close(self: WalCheckpoints) -> None:
        closed.append(threading.current_thread().name)
        real_close(self)

    monkeypatch.setattr(WalCheckpoints, "run", run)
    monkeypatch.setattr(WalCheckpoints, "close", close)
    async with AsyncTestClient(app=create_app(make_config(sqlite_url, warm_start=False))):
        await asyncio.sleep(0.35)
    assert len(runs) >= 2
    assert all(name.startswith("sqlite-checkpoint") for name in runs + closed)
    assert len(closed) == 1


async def test_stopping_waits_for_a_checkpoint_in_progress(tmp_path: Path) -> None:
    order: list[str] = []
    started = threading.Event()

    class Slow(WalCheckpoints):
        def run(self) -> tuple[int, int, int]:
            started.set()
            threading.Event().wait(0.2)
            order.append("checkpointed")
            return super().run()

        def close(self) -> None:
            order.append("closed")
            super().close()

    checkpointing = Checkpointing(Slow(str(tmp_path / "w.db"), "FULL"), seconds=0.01)
    await asyncio.to_thread(started.wait, 5)
    await checkpointing.stop()  # cancels the step; its thread finishes before the close
    assert order == ["checkpointed", "closed"]
