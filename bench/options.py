"""The command line of `python -m bench` (what `make bench BENCH_ARGS=...` passes)."""

from __future__ import annotations

import argparse
import os
from dataclasses import dataclass

from bench.scenarios import ALL_SCENARIOS


@dataclass(frozen=True)
class Options:
    people: tuple[int, ...]
    workers: int
    duration: float
    rounds: int
    databases: tuple[str, ...]
    scenarios: tuple[str, ...]
    concurrency: tuple[int, ...]
    warmup: float
    threads: int
    log_level: str
    redis_url: str | None
    quick: bool


def _ints(text: str) -> tuple[int, ...]:
    try:
        values = tuple(int(v.replace("_", "")) for v in text.split(",") if v.strip())
    except ValueError:
        message = f"expected comma-separated integers, got {text!r}"
        raise argparse.ArgumentTypeError(message) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def _positive(text: str) -> int:
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _scenarios(text: str) -> tuple[str, ...]:
    names = tuple(v.strip() for v in text.split(",") if v.strip())
    if names == ("all",):
        return ALL_SCENARIOS
    unknown = [n for n in names if n not in ALL_SCENARIOS]
    if unknown or not names:
        raise argparse.ArgumentTypeError(
            f"unknown scenario {', '.join(unknown) or text!r}; choose from "
            f"{', '.join(ALL_SCENARIOS)} or all"
        )
    return names


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m bench",
        description="Measure the service against its baselines (bare ASGI, durable commits).",
    )
    p.add_argument("--people", type=_ints, default=None, help="org sizes (default 1000,100000)")
    p.add_argument("--workers", type=int, default=None, help="uvicorn workers (default: cores)")
    p.add_argument("--duration", type=float, default=None, help="seconds per wrk run (10)")
    p.add_argument(
        "--rounds",
        type=_positive,
        default=None,
        help="runs of each point of each sweep, baselines included; the best counts (2)",
    )
    p.add_argument("--database", choices=["sqlite", "postgres", "both"], default="both")
    p.add_argument(
        "--scenarios",
        type=_scenarios,
        default=ALL_SCENARIOS,
        help=f"comma-separated, from {', '.join(ALL_SCENARIOS)} (default all)",
    )
    p.add_argument("--concurrency", type=_ints, default=None, help="connections (4,16,64)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    p.add_argument("--log-level", default="warning", help="uvicorn log level of both servers")
    p.add_argument("--redis-url", default=None, help="CALLSETTINGS_REDIS_URL for the service")
    p.add_argument(
        "--quick",
        action="store_true",
        help="a smoke run: 1,000 people, SQLite, 16 connections, 3 s per run",
    )
    return p


def parse(argv: list[str] | None = None) -> Options:
    """Return the options, with --quick supplying whatever was not given explicitly."""
    args = parser().parse_args(argv)
    quick = bool(args.quick)
    databases = {"both": ("sqlite", "postgres")}.get(args.database, (args.database,))
    if quick and args.database == "both":
        databases = ("sqlite",)
    return Options(
        people=args.people or ((1000,) if quick else (1000, 100_000)),
        workers=args.workers or (os.cpu_count() or 1),
        duration=args.duration or (3.0 if quick else 10.0),
        rounds=args.rounds or (1 if quick else 2),
        databases=databases,
        scenarios=args.scenarios,
        concurrency=args.concurrency or ((16,) if quick else (4, 16, 64)),
        warmup=1.0 if quick else 3.0,
        threads=args.threads,
        log_level=args.log_level,
        redis_url=args.redis_url,
        quick=quick,
    )
