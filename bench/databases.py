"""Scratch databases, and the durable-commit baselines each database is measured against."""

from __future__ import annotations

import asyncio
import re
import shutil
import sqlite3
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import asyncpg

from bench.stats import percentile

POSTGRES_ADMIN_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"
POSTGRES_URL = "postgresql://postgres@127.0.0.1:5432/{name}"
SERVICE_DB = "callsettings_bench"
PGBENCH_DB = "callsettings_pgbench"


@dataclass
class CommitRate:
    """A database's own durable single-row commit rate, with per-commit latencies."""

    name: str
    clients: int
    commits_per_second: float
    p50_ms: float
    p99_ms: float
    settings: dict[str, str]


def fresh_sqlite(directory: Path, name: str) -> str:
    """Remove any previous database file of that name; return the service's URL for it."""
    directory.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm", "-journal"):
        (directory / f"{name}{suffix}").unlink(missing_ok=True)
    return f"sqlite:///{directory / name}"


async def _recreate(name: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


async def fresh_postgres(name: str = SERVICE_DB) -> str:
    """Drop and create a scratch database; return the service's URL for it."""
    await _recreate(name)
    return POSTGRES_URL.format(name=name)


async def checkpoint() -> float:
    """Make PostgreSQL write its dirty buffers now; return the seconds it took.

    After a burst of writes PostgreSQL's checkpointer spreads their writing over most of
    `checkpoint_timeout` (minutes): without this, the scenarios after the PUTs would be
    measured while it writes.
    """
    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        started = time.perf_counter()
        await conn.execute("CHECKPOINT")
        return time.perf_counter() - started
    finally:
        await conn.close()


async def postgres_reachable() -> bool:
    try:
        conn = await asyncpg.connect(POSTGRES_ADMIN_DSN, timeout=3)
    except (OSError, asyncpg.PostgresError):
        return False
    await conn.close()
    return True


def sqlite_commit_rate(directory: Path, synchronous: str, seconds: float) -> CommitRate:
    """Loop single-row UPDATE + COMMIT with the service's WAL and synchronous settings."""
    path = Path(fresh_sqlite(directory, "commit-loop.db").removeprefix("sqlite:///"))
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute(f"PRAGMA synchronous={synchronous}")
    conn.execute("CREATE TABLE counters (id INTEGER PRIMARY KEY, value INTEGER, note TEXT)")
    conn.executemany("INSERT INTO counters VALUES (?, 0, 'x')", [(i,) for i in range(1000)])
    latencies: list[float] = []
    start = time.perf_counter()
    deadline = start + seconds
    i = 0
    while (now := time.perf_counter()) < deadline:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("UPDATE counters SET value = value + 1 WHERE id = ?", (i % 1000,))
        conn.execute("COMMIT")
        latencies.append(time.perf_counter() - now)
        i += 1
    elapsed = time.perf_counter() - start
    mode = conn.execute("PRAGMA journal_mode").fetchone()[0]
    conn.close()
    return CommitRate(
        name="sqlite",
        clients=1,
        commits_per_second=i / elapsed,
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        settings={"journal_mode": mode, "synchronous": synchronous.upper()},
    )


_TPS = re.compile(r"^tps = ([\d.]+) \(without initial connection time\)", re.MULTILINE)


def parse_pgbench_tps(output: str) -> float:
    match = _TPS.search(output)
    if match is None:
        raise ValueError(f"no 'tps = ...' line in the pgbench output:\n{output}")
    return float(match[1])


def parse_pgbench_log_latencies(lines: list[str]) -> list[float]:
    """Return the latency in seconds of each transaction in pgbench's -l log lines."""
    # Columns: client_id transaction_no time_us script_no epoch epoch_us [lag]
    return [int(line.split()[2]) / 1e6 for line in lines if line.strip()]


def pgbench_commit_rate(clients: int, seconds: float) -> CommitRate:
    """Run `pgbench -b simple-update` at `clients` clients on a scratch database."""
    pgbench = shutil.which("pgbench")
    if pgbench is None:
        raise RuntimeError("pgbench is missing: sudo apt-get install -y postgresql-client")
    asyncio.run(_recreate(PGBENCH_DB))
    common = ["-h", "127.0.0.1", "-p", "5432", "-U", "postgres"]
    subprocess.run(
        [pgbench, "-i", "-q", "-s", "1", *common, PGBENCH_DB], check=True, capture_output=True
    )
    with tempfile.TemporaryDirectory() as logs:
        prefix = str(Path(logs) / "pgbench")
        run = subprocess.run(
            [
                pgbench,
                "-b",
                "simple-update",
                "-c",
                str(clients),
                "-j",
                str(min(clients, 2)),
                "-T",
                str(max(1, round(seconds))),
                "-l",
                f"--log-prefix={prefix}",
                *common,
                PGBENCH_DB,
            ],
            check=True,
            capture_output=True,
            text=True,
        )
        lines = [line for log in Path(logs).iterdir() for line in log.read_text().splitlines()]
    latencies = parse_pgbench_log_latencies(lines)
    settings = asyncio.run(_postgres_settings())
    return CommitRate(
        name="postgres",
        clients=clients,
        commits_per_second=parse_pgbench_tps(run.stdout),
        p50_ms=percentile(latencies, 50) * 1000,
        p99_ms=percentile(latencies, 99) * 1000,
        settings=settings,
    )


async def _postgres_settings() -> dict[str, str]:
    conn = await asyncpg.connect(POSTGRES_ADMIN_DSN)
    try:
        return {
            name: str(await conn.fetchval(f"SHOW {name}"))
            for name in ("server_version", "synchronous_commit", "fsync", "wal_sync_method")
        }
    finally:
        await conn.close()
