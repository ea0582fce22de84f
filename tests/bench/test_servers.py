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


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        # user nice system idle iowait irq softirq steal guest guest_nice
        ("cpu  100 0 50 800 10 0 20 20 30 0", (1000, 20)),  # guest time is in user already
        ("cpu  376469 0 82550 164526 5334 0 31969 8750 0 0", (669598, 8750)),
        ("cpu  10 0 5 85 0 0 0", (100, 0)),  # an old kernel without the steal column
    ],
)
def test_the_machines_cpu_time_and_its_stolen_part_come_from_the_first_line(
    tmp_path: Path, line: str, expected: tuple[int, int]
) -> None:
    stat = tmp_path / "stat"
    stat.write_text(f"{line}\ncpu0 1 2 3 4 5 6 7 8 9 10\nintr 5\n")
    assert servers.machine_cpu_ticks(stat) == expected


def test_the_stolen_share_is_of_the_time_between_readings() -> None:
    assert servers.stolen_percent((1000, 20), (3000, 70)) == pytest.approx(2.5)
    assert servers.stolen_percent((1000, 20), (1000, 20)) is None  # no time passed
    total, stolen = servers.machine_cpu_ticks()  # this machine's own /proc/stat
    assert total > 0
    assert 0 <= stolen <= total
