"""Driving wrk: render its Lua script, run it, and parse the summary its done() prints."""

from __future__ import annotations

import itertools
import json
import shutil
import subprocess
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from bench.servers import machine_cpu_ticks, stolen_percent

LUA = Path(__file__).parent / "lua"
MARKER = "BENCH_JSON "
# wrk threads of a run: each drives its share of the connections on a core of its own.
THREADS = 2
_RUNS = itertools.count(1)
INSTALL_HINT = "wrk is missing: install it with `sudo apt-get install -y wrk` (Debian/Ubuntu)"


class WrkError(RuntimeError):
    """wrk could not run, or printed no summary."""


@dataclass
class WrkResult:
    """One wrk run: throughput, latency percentiles in milliseconds and error counts."""

    connections: int
    requests: int
    seconds: float
    rps: float
    mean_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    p999_ms: float
    max_ms: float
    errors: dict[str, int]
    interval_ms: float = 0.0  # per-connection mean interval of a paced run; 0 = closed loop
    steal_percent: float | None = None  # the machine's CPU time the hypervisor took meanwhile

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        return asdict(self) | {"errors_total": self.error_count}


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        raise WrkError(INSTALL_HINT)
    return path


def lua_string(text: str) -> str:
    """Return `text` as a Lua string literal (escaped, so tokens and paths are inert)."""
    escaped = []
    for char in text:
        if char in '"\\':
            escaped.append("\\" + char)
        elif char.isprintable() and ord(char) < 128:
            escaped.append(char)
        else:
            escaped.extend(f"\\{byte}" for byte in char.encode())
    return '"' + "".join(escaped) + '"'


def render_script(
    kind: str, items_file: Path, token: str, interval_ms: float = 0.0, threads: int = THREADS
) -> str:
    """Return the full wrk script of a scenario kind ("get" or "put") for wrk runs of
    `threads` threads (the PUT script gives each thread its own share of the people)."""
    header = (
        "BENCH = {\n"
        f"  items_file = {lua_string(str(items_file))},\n"
        f"  token = {lua_string(token)},\n"
        f"  interval_ms = {float(interval_ms)!r},\n"
        f"  threads = {int(threads)},\n"
        "}\n\n"
    )
    common = (LUA / "common.lua").read_text()
    scenario = (LUA / f"{kind}.lua").read_text()
    return header + common + "\n" + scenario


def parse_summary(output: str, connections: int, interval_ms: float = 0.0) -> WrkResult:
    """Return the result from the JSON line that the script's done() printed."""
    for line in output.splitlines():
        if line.startswith(MARKER):
            data = json.loads(line[len(MARKER) :])
            break
    else:
        raise WrkError(f"wrk printed no {MARKER.strip()} line:\n{output}")
    latency = data["latency_us"]
    seconds = data["duration_us"] / 1e6
    return WrkResult(
        connections=connections,
        requests=data["requests"],
        seconds=seconds,
        rps=data["requests"] / seconds if seconds else 0.0,
        mean_ms=latency["mean"] / 1000,
        p50_ms=latency["p50"] / 1000,
        p90_ms=latency["p90"] / 1000,
        p99_ms=latency["p99"] / 1000,
        p999_ms=latency["p999"] / 1000,
        max_ms=latency["max"] / 1000,
        errors=dict(data["errors"]),
        interval_ms=interval_ms,
    )


def run_wrk(
    url: str,
    script: Path,
    *,
    connections: int,
    seconds: float,
    threads: int = THREADS,
    interval_ms: float = 0.0,
) -> WrkResult:
    """Run wrk against `url` for `seconds` with `connections` open connections.

    The script's init() is given the run's number in this process, so a script can make
    its requests differ from the run before (the PUT script does).
    """
    command = [
        wrk_path(),
        "-t",
        str(max(1, min(threads, connections))),
        "-c",
        str(connections),
        "-d",
        f"{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(script),
        url,
        "--",
        str(next(_RUNS)),
    ]
    before = machine_cpu_ticks()
    run = subprocess.run(command, capture_output=True, text=True, timeout=seconds + 60)
    after = machine_cpu_ticks()
    if run.returncode != 0:
        raise WrkError(f"wrk failed ({run.returncode}): {run.stderr or run.stdout}")
    result = parse_summary(run.stdout, connections, interval_ms)
    result.steal_percent = stolen_percent(before, after)
    return result
