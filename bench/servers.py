"""Serving the service and the bare baseline as production does: uvicorn with N workers."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass
from pathlib import Path

from bench.bare import BODY_ENV

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
# One admin token drives every read: without this the per-token limit (6000 a minute by
# default) would answer 429s and the run would measure the rate limiter's refusals. The
# limiter still counts every request, so its cost stays in the figures.
BENCH_RATE_LIMIT = 1_000_000_000


@dataclass
class Served:
    """A running server: its base URL and its process (the uvicorn supervisor)."""

    url: str
    process: subprocess.Popen[bytes]

    def worker_pids(self) -> list[int]:
        return worker_pids(self.process.pid)

    def cpu_seconds(self) -> float:
        """CPU time (user and system) the workers have used so far."""
        return sum(process_cpu_seconds(pid) for pid in self.worker_pids())

    def rss_mb(self) -> dict[str, float | list[float]]:
        """Return the current and peak resident memory of each worker, in MB."""
        pids = self.worker_pids()
        current = [_status_kb(pid, "VmRSS") / 1024 for pid in pids]
        peak = [_status_kb(pid, "VmHWM") / 1024 for pid in pids]
        return {
            "per_worker": current,
            "total": sum(current),
            "peak_per_worker": peak,
            "max_peak_per_worker": max(peak, default=0.0),
        }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_text().replace("\0", " ")
    except OSError:
        return ""


def worker_pids(supervisor: int) -> list[int]:
    """Return uvicorn's worker processes; with one worker, uvicorn serves in the supervisor."""
    workers = [
        child
        for child in _children(supervisor)
        if "spawn_main" in _cmdline(child) and "resource_tracker" not in _cmdline(child)
    ]
    return workers or [supervisor]


_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User and system CPU time of a process, from /proc (0 once it has gone)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return 0.0
    # Fields after the command, which may hold spaces, in parentheses: utime is the 14th
    # field of the line, stime the 15th.
    fields = stat.rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / _TICKS


def machine_cpu_ticks(stat: Path = Path("/proc/stat")) -> tuple[int, int]:
    """The machine's CPU time so far, in ticks: (all of it, what the hypervisor stole).

    Steal is time a virtual CPU wanted to run and the host ran someone else: the service
    and wrk stood still, which shows in a run's tail and is not theirs."""
    fields = stat.read_text().split("\n", 1)[0].split()
    # "cpu user nice system idle iowait irq softirq steal guest guest_nice": guest time is
    # counted in user time already, so the total stops at steal.
    ticks = [int(value) for value in fields[1:9]]
    return sum(ticks), ticks[7] if len(ticks) > 7 else 0


def stolen_percent(before: tuple[int, int], after: tuple[int, int]) -> float | None:
    """The share of the machine's CPU time stolen between two readings; None with none."""
    total = after[0] - before[0]
    return None if total <= 0 else 100 * (after[1] - before[1]) / total


def processes_named(name: str) -> list[int]:
    """Every process whose command is `name` (PostgreSQL's server and its backends)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                command = (entry / "comm").read_text().strip()
            except OSError:
                continue
            if command == name:
                found.append(int(entry.name))
    return found


def _status_kb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return float(line.split()[1])
    return 0.0


def _wait_ready(url: str, process: subprocess.Popen[bytes], workers: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} while starting")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200 and len(worker_pids(process.pid)) >= workers:
                    # Every worker must be up, or the first seconds measure fewer of them.
                    time.sleep(1.0 if workers > 1 else 0.2)
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"the server did not answer {url} within {timeout:.0f} s")


# Each worker logs this once it has decided every held person's answer to a new call, the
# work that follows its warm start (warmup.warm_answers). Measuring before it would charge
# a one-off start-up cost to the first scenario only: at 100,000 people it took 5-7 s of
# each worker's CPU, and GET callForwarding's first 6 s ran at half its later rate.
WARM_MARKER = b"answers kept:"
WARM_SECONDS = 300


def _wait_warm(log: Path, offset: int, workers: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + WARM_SECONDS
    while time.monotonic() < deadline:
        with log.open("rb") as output:
            output.seek(offset)
            if output.read().count(WARM_MARKER) >= workers:
                return
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode} while warming up")
        time.sleep(0.2)
    raise RuntimeError(
        f"{workers} worker(s) did not log {WARM_MARKER.decode()!r} within {WARM_SECONDS} s; "
        f"see {log}"
    )


@contextmanager
def _serving(
    command: list[str],
    env: dict[str, str],
    ready_path: str,
    workers: int,
    log: Path,
    *,
    warm: bool = False,
) -> Iterator[Served]:
    port = free_port()
    command = [*command, "--host", "127.0.0.1", "--port", str(port)]
    log.parent.mkdir(parents=True, exist_ok=True)
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as output:
        process = subprocess.Popen(
            command, cwd=ROOT, env={**os.environ, **env}, stdout=output, stderr=output
        )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url + ready_path, process, workers, timeout=120)
        if warm:
            _wait_warm(log, offset, workers, process)
        yield Served(url=url, process=process)
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def serve_service(
    database_url: str,
    workers: int,
    log: Path,
    *,
    log_level: str = "warning",
    extra_env: dict[str, str] | None = None,
) -> AbstractContextManager[Served]:
    """Run `callsettings serve`, the production entry point, on an ephemeral port."""
    command = [
        str(BIN / "callsettings"),
        "serve",
        "--database-url",
        database_url,
        "--workers",
        str(workers),
        "--log-level",
        log_level,
    ]
    env = {"CALLSETTINGS_RATE_LIMIT_REQUESTS": str(BENCH_RATE_LIMIT), **(extra_env or {})}
    warm_start = {**os.environ, **env}.get("CALLSETTINGS_WARM_START", "true")
    warm = warm_start.lower() not in {"0", "false", "no", "off"}
    return _serving(command, env, "/healthz", workers, log, warm=warm)


def serve_bare(
    body: bytes, workers: int, log: Path, *, log_level: str = "warning"
) -> AbstractContextManager[Served]:
    """Run the bare ASGI baseline with the same uvicorn and worker count."""
    command = [
        sys.executable,
        "-m",
        "uvicorn",
        "bench.bare:create_app",
        "--factory",
        "--workers",
        str(workers),
        "--log-level",
        log_level,
        "--no-proxy-headers",
    ]
    return _serving(command, {BODY_ENV: body.decode()}, "/", workers, log)
