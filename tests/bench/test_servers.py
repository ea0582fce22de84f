"""The bench measures a served process only once every worker has finished warming up."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from bench import servers


@pytest.fixture
def running() -> Iterator[subprocess.Popen[bytes]]:
    process = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    yield process
    process.kill()
    process.wait()


def _log(path: Path, *lines: str) -> None:
    with path.open("a") as log:
        log.writelines(line + "\n" for line in lines)


def test_it_waits_for_every_worker_of_this_start_only(
    tmp_path: Path, running: subprocess.Popen[bytes], monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "service.log"
    _log(log, "INFO answers kept: 1000 decided in 0.1 s", "INFO answers kept: 1000 decided")
    offset = log.stat().st_size  # an earlier start's lines, in the same appended log
    _log(log, "INFO warm start: 1000 people in 0.2 s", "INFO answers kept: 1000 decided")
    monkeypatch.setattr(servers, "WARM_SECONDS", 0.5)
    with pytest.raises(RuntimeError, match="2 worker\\(s\\) did not log 'answers kept:'"):
        servers._wait_warm(log, offset, 2, running)
    _log(log, "INFO answers kept: 999 decided in 0.1 s")
    servers._wait_warm(log, offset, 2, running)  # returns: both workers are warm


def test_a_server_that_exits_while_warming_up_is_an_error(tmp_path: Path) -> None:
    log = tmp_path / "service.log"
    _log(log, "starting")
    exited = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    exited.wait()
    with pytest.raises(RuntimeError, match="exited with 3 while warming up"):
        servers._wait_warm(log, 0, 1, exited)


def test_cpu_time_is_read_per_process_and_postgres_is_found_by_name(
    running: subprocess.Popen[bytes],
) -> None:
    spent = servers.process_cpu_seconds(os.getpid())
    sum(range(2_000_000))  # some CPU of this process's own
    assert servers.process_cpu_seconds(os.getpid()) > spent
    assert servers.process_cpu_seconds(running.pid) >= 0.0
    assert servers.process_cpu_seconds(2**22 + 1) == 0.0  # no such process: nothing used
    own = Path(f"/proc/{os.getpid()}/comm").read_text().strip()
    assert os.getpid() in servers.processes_named(own)
    assert servers.processes_named("no-such-command") == []
