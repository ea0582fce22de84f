"""One benchmark run: baselines, then each database and organization size, then the report."""

from __future__ import annotations

import asyncio
import json
import math
import os
import platform
import re
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
from rich.console import Console

from bench import databases as db
from bench.analysis import analyse
from bench.options import Options, parse
from bench.org import ProvisionedOrg, provision_fresh
from bench.report import print_report, save_chart, save_json
from bench.scenarios import (
    ENGINE,
    HTTP_SCENARIOS,
    PUT_FORWARDING,
    SCENARIOS,
    Scenario,
    feature_path,
    items,
    token_for,
)
from bench.servers import (
    ROOT,
    Served,
    process_cpu_seconds,
    processes_named,
    serve_bare,
    serve_service,
)
from bench.wrk import INSTALL_HINT, WrkError, WrkResult, render_script, run_wrk
from callsettings.server.config import ServerConfig
from callsettings.storage import tables as t
from callsettings.storage.database import create_engine

RESULTS = Path(__file__).parent / "results"
WORK = ROOT / "var" / "bench"
# Wide enough for the tables when the output goes to a file or a pipe.
console = Console(width=None if sys.stdout.isatty() else 160)
PACED_INTERVAL_MS = 20.0
# The paced run lasts this many sweep points: its p99 is the worst 1 % of the requests, and
# in 8-10 s runs one hiccup of the machine (a few hundred requests held at once) moved it
# from 5 to 31 ms between runs of the same code minutes apart (docs/performance.md).
HALF_LOAD_SPAN = 3
T = TypeVar("T")


def _request(
    url: str, token: str, method: str = "GET", body: bytes | None = None
) -> tuple[int, bytes]:
    headers = {"Authorization": f"Bearer {token}", "Accept": "application/json"}
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=body, method=method, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _median_forwarding_body(served: Served, org: ProvisionedOrg) -> bytes:
    """Return a real callForwarding GET body of the median size (the bare app's body)."""
    bodies = []
    for person_id in org.person_ids[:51]:
        status, body = _request(
            served.url + feature_path(person_id, "callForwarding"), org.admin_token
        )
        if status == 200:
            bodies.append(body)
    if not bodies:
        raise RuntimeError("GET callForwarding answered no 200 in the probe")
    bodies.sort(key=len)
    return bodies[len(bodies) // 2]


def _probe(served: Served, scenario: Scenario, first_item: str, token: str) -> tuple[bool, str]:
    path, _, destination = first_item.partition("\t")
    if scenario.kind == "put":
        body = json.dumps(
            {"callForwarding": {"busy": {"enabled": True, "destination": destination}}}
        )
        status, answer = _request(served.url + path, token, "PUT", body.encode())
    else:
        status, answer = _request(served.url + path, token)
    if status == scenario.expected_status:
        return True, ""
    method = "PUT" if scenario.kind == "put" else "GET"
    return False, f"{method} {path.split('?')[0]} answered {status}: {answer[:160]!r}"


async def _count_audit_events(url: str) -> int:
    engine = create_engine(url)
    try:
        async with engine.connect() as conn:
            query = sa.select(sa.func.count()).select_from(t.audit_events)
            return int((await conn.execute(query)).scalar_one())
    finally:
        await engine.dispose()


def _half_load(
    served: Served, script_for: Any, sweep: list[WrkResult], options: Options
) -> tuple[WrkResult, WrkResult] | None:
    """Run at half the saturating rate (paced, Poisson arrivals); return calibration, run.

    A connection waits for its answer, then for its delay, so the delay is calibrated by
    one short paced run: the latency at that load is subtracted from the target interval.
    """
    top = max(sweep, key=lambda r: r.rps)
    if top.rps <= 0:
        return None
    target = top.rps / 2
    # wrk's timers tick in whole milliseconds: give each connection an interval of at least
    # PACED_INTERVAL_MS, opening more connections when the rate needs them (as many
    # occasional clients would).
    connections = max(top.connections, math.ceil(target * PACED_INTERVAL_MS / 1000))
    cycle_ms = 1000 * connections / target
    calibration = run_wrk(
        served.url,
        script_for(cycle_ms),
        connections=connections,
        seconds=min(3.0, options.duration),
        threads=options.threads,
        interval_ms=cycle_ms,
    )
    interval = max(0.5, cycle_ms - calibration.mean_ms)
    paced = run_wrk(
        served.url,
        script_for(interval),
        connections=connections,
        seconds=options.duration * HALF_LOAD_SPAN,
        threads=options.threads,
        interval_ms=interval,
    )
    return calibration, paced


def _postgres_cpu() -> dict[int, float]:
    return {pid: process_cpu_seconds(pid) for pid in processes_named("postgres")}


def _closed_run(served: Served, script: Path, options: Options, connections: int) -> WrkResult:
    """One closed-loop run of the sweep."""
    return run_wrk(
        served.url,
        script,
        connections=connections,
        seconds=options.duration,
        threads=options.threads,
    )


def _metered_run(
    served: Served, script: Path, database: str, options: Options, connections: int
) -> tuple[WrkResult, dict[str, float]]:
    """A closed-loop wrk run, with the CPU the workers (and PostgreSQL's processes) used
    per request: less noisy than a rate on a shared machine, and it says where time goes."""
    workers_before = served.cpu_seconds()
    database_before = _postgres_cpu() if database == "postgres" else {}
    result = _closed_run(served, script, options, connections)
    workers = served.cpu_seconds() - workers_before
    cpu = {"connections": connections, "workers_us": 1e6 * workers / max(1, result.requests)}
    if database == "postgres":
        after = _postgres_cpu()
        used = sum(seconds - database_before.get(pid, 0.0) for pid, seconds in after.items())
        cpu["postgres_us"] = 1e6 * used / max(1, result.requests)
    return result, cpu


_SCRIPTS = WORK / "scripts"


@dataclass
class ScenarioRun:
    """One scenario on one served configuration, measured in steps (prepare, one point of
    the sweep at a time, finish) so that the sizes of a run take turns at each concurrency
    (see measure_database)."""

    served: Served
    scenario: Scenario
    org: ProvisionedOrg
    url: str
    options: Options
    database: str
    # Every closed-loop run, by concurrency: the sweep keeps the best of each point.
    runs: dict[int, list[tuple[WrkResult, dict[str, float]]]] = field(default_factory=dict)
    unavailable: str | None = None
    _audited_before: int = 0
    _closed: Path | None = None  # the closed-loop script, written by prepare

    @property
    def _items(self) -> Path:
        return _SCRIPTS / f"{self.scenario.name}-{self.org.people}.items"

    def script_for(self, interval_ms: float = 0.0) -> Path:
        scenario, options = self.scenario, self.options
        path = _SCRIPTS / f"{scenario.name}-{self.org.people}-{interval_ms:.3f}.lua"
        path.write_text(
            render_script(scenario.kind, self._items, self.token, interval_ms, options.threads)
        )
        return path

    def _bests(self) -> list[tuple[WrkResult, dict[str, float]]]:
        return [best_of(self.runs[c]) for c in self.options.concurrency if c in self.runs]

    @property
    def token(self) -> str:
        return token_for(self.scenario, self.org)

    def prepare(self) -> bool:
        """Probe the scenario and warm the service up with it; False when unavailable."""
        _SCRIPTS.mkdir(parents=True, exist_ok=True)
        lines = items(self.scenario.name, self.org)
        available, reason = _probe(self.served, self.scenario, lines[0], self.token)
        if not available:
            console.print(
                f"  {self.org.people:>7,} [yellow]{self.scenario.title}: unavailable[/] ({reason})"
            )
            self.unavailable = reason
            return False
        self._items.write_text("\n".join(lines) + "\n")
        self._closed = self.script_for()
        run_wrk(
            self.served.url,
            self._closed,
            connections=max(self.options.concurrency),
            seconds=self.options.warmup,
            threads=self.options.threads,
        )
        if self.scenario.kind == "put":
            self._audited_before = asyncio.run(_count_audit_events(self.url))
        return True

    def run_at(self, connections: int) -> None:
        """One closed-loop point of the sweep (after prepare)."""
        assert self._closed is not None, "prepare() first"
        result, used = _metered_run(
            self.served, self._closed, self.database, self.options, connections
        )
        self.runs.setdefault(connections, []).append((result, used))
        console.print(
            f"  {self.org.people:>7,} {self.scenario.title:<32} c={connections:<4} "
            f"{result.rps:>9,.0f} req/s  p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:7.2f} ms"
            f"  errors {result.error_count}"
            f"  CPU/req {_cpu_text(used)}{_steal_text(result)}"
        )

    def finish(self) -> dict[str, Any]:
        """The half-load run, then the scenario's entry in the results."""
        title = self.scenario.title
        if self.unavailable is not None:
            return {"title": title, "available": False, "reason": self.unavailable}
        bests = self._bests()
        sweep = [result for result, _ in bests]
        paced = _half_load(self.served, self.script_for, sweep, self.options)
        half = None if paced is None else paced[1]
        if half is not None:
            console.print(
                f"  {self.org.people:>7,} {title:<32} half load  "
                f"{half.rps:>9,.0f} req/s  p99 {half.p99_ms:7.2f} ms{_steal_text(half)}"
            )
        entry: dict[str, Any] = {
            "title": title,
            "available": True,
            "sweep": [r.as_dict() for r in sweep],
            "cpu_per_request": [used for _, used in bests],
            "every_run": [
                {**result.as_dict(), **used} for runs in self.runs.values() for result, used in runs
            ],
            "half_load": None if half is None else half.as_dict(),
        }
        if entry["half_load"] is not None:
            entry["half_load"]["target_rps"] = max(r.rps for r in sweep) / 2
        if self.scenario.kind == "put":
            written = asyncio.run(_count_audit_events(self.url)) - self._audited_before
            closed = sum(result.requests for runs in self.runs.values() for result, _ in runs)
            requests = closed + sum(r.requests for r in paced or ())
            entry["audited_writes"] = {"requests": requests, "changed_documents": written}
        return entry


def _steal_text(result: WrkResult) -> str:
    """What the hypervisor took of the machine during a run, when it took any."""
    steal = result.steal_percent
    return "" if not steal else f"  steal {steal:.1f} %"


def best_of(runs: list[tuple[WrkResult, T]]) -> tuple[WrkResult, T]:
    """The run of highest throughput among the rounds at one point, with what came with it.

    Every point of every sweep (the service's and the baselines' alike) is the best of
    `--rounds` runs: on a shared machine a run can lose a quarter of its rate to a neighbour,
    and the targets compare points measured minutes apart.
    """
    return max(runs, key=lambda run: run[0].rps)


def _cpu_text(used: dict[str, float]) -> str:
    text = f"workers {used['workers_us']:,.0f} us"
    if "postgres_us" in used:
        text += f", postgres {used['postgres_us']:,.0f} us"
    return text


def fresh_database(database: str, people: int) -> str:
    if database == "sqlite":
        return db.fresh_sqlite(WORK, f"service-{people}.db")
    # One database per size: the sizes of a run are served at the same time (measure_database).
    return asyncio.run(db.fresh_postgres(f"{db.SERVICE_DB}_{people}"))


@dataclass
class _Config:
    """One database and organization size, provisioned and served."""

    database: str
    people: int
    url: str
    org: ProvisionedOrg
    provisioned: float
    served: Served
    rss_at_start: dict[str, Any]
    scenarios: dict[str, Any] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "database": self.database,
            "people": self.people,
            "database_url": self.url,
            "provision_seconds": self.provisioned,
            "org": self.org.counts,
            "rss_at_start": self.rss_at_start,
            "rss": self.served.rss_mb(),
            "scenarios": self.scenarios,
        }


@contextmanager
def _serving(database: str, people: int, options: Options) -> Iterator[_Config]:
    url = fresh_database(database, people)
    started = time.perf_counter()
    org = provision_fresh(url, people)
    provisioned = time.perf_counter() - started
    console.print(f"  {people:,} people provisioned in {provisioned:.1f} s: {org.counts}")
    extra_env = {"CALLSETTINGS_REDIS_URL": options.redis_url} if options.redis_url else {}
    log = WORK / "logs" / f"service-{database}-{people}.log"
    with serve_service(
        url, options.workers, log, log_level=options.log_level, extra_env=extra_env
    ) as served:
        yield _Config(database, people, url, org, provisioned, served, served.rss_mb())


def measure_database(
    database: str, options: Options, http: list[str]
) -> tuple[list[dict[str, Any]], bytes]:
    """Measure every organization size on `database`; return the configurations and a
    median callForwarding body (for the bare baseline).

    Every size is provisioned and served first, then each scenario runs on the sizes in
    turns, one concurrency at a time (1,000 people at 4 connections, 100,000 at 4, then
    both at 16, ...): the machine's speed drifts by tens of percent over minutes, and the
    loss from one size to the next compares runs seconds apart rather than one size's
    whole sweep with the next one's. A service waiting for its turn only idles.
    """
    console.rule(
        f"{database}, {', '.join(f'{n:,}' for n in options.people)} people, "
        f"{options.workers} workers"
    )
    with ExitStack() as stack:
        configs = [
            stack.enter_context(_serving(database, people, options)) for people in options.people
        ]
        body = _median_forwarding_body(configs[0].served, configs[0].org)

        def when_quiet() -> None:
            waited = wait_until_quiet(lambda: _busy_seconds(configs, database))
            if waited >= QUIET_INTERVAL * 2:
                console.print(f"  (waited {waited:.1f} s for the services to be idle)")

        for name in http:
            runs = [
                ScenarioRun(c.served, SCENARIOS[name], c.org, c.url, options, database)
                for c in configs
            ]
            if database == "postgres":
                took = asyncio.run(db.checkpoint())
                console.print(f"  (PostgreSQL checkpoint before the scenario: {took:.1f} s)")
            ready = []
            for run in runs:
                when_quiet()
                if run.prepare():
                    ready.append(run)
            for _ in range(options.rounds):
                for connections in options.concurrency:
                    for run in ready:
                        when_quiet()
                        run.run_at(connections)
            for config, run in zip(configs, runs, strict=True):
                when_quiet()
                config.scenarios[name] = run.finish()
        return [config.as_dict() for config in configs], body


# A scenario leaves background work behind: after PUTs at 100,000 people each worker
# decides forgotten answers again once it is idle (seconds of CPU), and PostgreSQL vacuums
# and checkpoints what they wrote. Measured next, another service would share the cores
# with it. Idle, a service of 2 workers uses 7-10 % of a core (its periodic work: the change feed's
# poll, checkpoints, the keeper's and refresher's steps); deciding answers again uses whole
# cores.
QUIET_INTERVAL = 0.5
QUIET_CPU_SHARE = 0.4  # of one core, all the services' workers (and PostgreSQL) together
QUIET_TIMEOUT = 60.0


def _busy_seconds(configs: list[_Config], database: str) -> float:
    """CPU seconds used so far by the services' workers and, on PostgreSQL, its processes."""
    seconds = sum(config.served.cpu_seconds() for config in configs)
    if database == "postgres":
        seconds += sum(_postgres_cpu().values())
    return seconds


def wait_until_quiet(
    cpu_seconds: Callable[[], float],
    interval: float = QUIET_INTERVAL,
    timeout: float = QUIET_TIMEOUT,
    sleep: Callable[[float], object] = time.sleep,
) -> float:
    """Wait until what `cpu_seconds` counts uses less than QUIET_CPU_SHARE of a core over
    `interval` (at most `timeout`); return the seconds waited."""
    waited = 0.0
    before = cpu_seconds()
    while waited < timeout:
        sleep(interval)
        waited += interval
        now = cpu_seconds()
        if now - before < QUIET_CPU_SHARE * interval:
            break
        before = now
    return waited


def measure_bare(body: bytes, options: Options) -> dict[str, Any]:
    console.rule(f"bare ASGI baseline, {len(body)}-byte body, {options.workers} workers")
    workdir = WORK / "scripts"
    items_file = workdir / "bare.items"
    items_file.write_text("/\n")
    script = workdir / "bare.lua"
    script.write_text(render_script("get", items_file, "cst_" + "x" * 43))
    runs: dict[int, list[tuple[WrkResult, None]]] = {}
    with serve_bare(
        body, options.workers, WORK / "logs" / "bare.log", log_level=options.log_level
    ) as served:
        run_wrk(served.url, script, connections=max(options.concurrency), seconds=options.warmup)
        for _ in range(options.rounds):
            for connections in options.concurrency:
                result = _closed_run(served, script, options, connections)
                runs.setdefault(connections, []).append((result, None))
                console.print(
                    f"  bare ASGI c={connections:<4} {result.rps:>9,.0f} req/s  "
                    f"p50 {result.p50_ms:6.2f} ms  p99 {result.p99_ms:7.2f} ms"
                    f"{_steal_text(result)}"
                )
        rss = served.rss_mb()
    return {
        "body_bytes": len(body),
        "sweep": [best_of(runs[c])[0].as_dict() for c in options.concurrency],
        "every_run": [result.as_dict() for each in runs.values() for result, _ in each],
        "rss": rss,
    }


def measure_commits(options: Options) -> dict[str, Any]:
    commits: dict[str, Any] = {}
    if "sqlite" in options.databases:
        synchronous = ServerConfig().sqlite_synchronous.upper()
        console.rule(f"SQLite durable commits (WAL, synchronous={synchronous})")
        rates = []
        for _ in range(options.rounds):
            rate = db.sqlite_commit_rate(WORK, synchronous, options.duration)
            console.print(f"  {rate.commits_per_second:,.0f} commits/s, p99 {rate.p99_ms:.2f} ms")
            rates.append(rate)
        commits["sqlite"] = _best_rate(rates).__dict__
    if "postgres" in options.databases:
        console.rule("PostgreSQL pgbench -b simple-update")
        by_clients: dict[int, list[db.CommitRate]] = {}
        for _ in range(options.rounds):
            for clients in options.concurrency:
                rate = db.pgbench_commit_rate(clients, options.duration)
                console.print(
                    f"  c={clients:<4} {rate.commits_per_second:,.0f} tps, p99 {rate.p99_ms:.2f} ms"
                )
                by_clients.setdefault(clients, []).append(rate)
        commits["postgres"] = {str(c): _best_rate(r).__dict__ for c, r in by_clients.items()}
    return commits


def _best_rate(rates: list[db.CommitRate]) -> db.CommitRate:
    """The best of the rounds, as for the service's runs (best_of)."""
    return max(rates, key=lambda rate: rate.commits_per_second)


def measure_engine() -> dict[str, Any]:
    console.rule("engine micro-benchmark (bench/bench_engine.py)")
    run = subprocess.run(
        [sys.executable, "-m", "bench.bench_engine"], cwd=ROOT, capture_output=True, text=True
    )
    console.print(run.stdout.rstrip())
    found = re.search(r"single-hop decisions/s: ([\d,]+)", run.stdout)
    return {
        "output": run.stdout.splitlines(),
        "single_hop_per_second": int(found[1].replace(",", "")) if found else None,
    }


def _tool_version(command: list[str]) -> str:
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return "missing"
    return (run.stdout or run.stderr).splitlines()[0] if (run.stdout or run.stderr) else "?"


def _tool_output(command: list[str]) -> list[str]:
    try:
        run = subprocess.run(command, capture_output=True, text=True, timeout=10)
    except OSError:
        return []
    return run.stdout.splitlines()


def machine() -> dict[str, Any]:
    cpu = next(
        (
            line.split(":", 1)[1].strip()
            for line in Path("/proc/cpuinfo").read_text().splitlines()
            if line.startswith("model name")
        ),
        platform.processor(),
    )
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "kernel": platform.release(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "wrk": _tool_version(["wrk", "-v"]),
        "pgbench": _tool_version(["pgbench", "--version"]),
        "load_average_at_start": os.getloadavg(),
        "commit": _tool_version(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"]),
        # Uncommitted changes under src/ are measured too: list them with the figures.
        "uncommitted_src": _tool_output(["git", "-C", str(ROOT), "status", "--porcelain", "src"]),
    }


def _preflight(options: Options) -> str | None:
    if shutil.which("wrk") is None:
        return INSTALL_HINT
    if "postgres" in options.databases:
        if not asyncio.run(db.postgres_reachable()):
            return (
                f"PostgreSQL is not reachable at {db.POSTGRES_ADMIN_DSN} (or use --database sqlite)"
            )
        if PUT_FORWARDING in options.scenarios and shutil.which("pgbench") is None:
            return "pgbench is missing: sudo apt-get install -y postgresql-client"
    return None


def main(argv: list[str] | None = None) -> int:
    options = parse(argv)
    problem = _preflight(options)
    if problem:
        console.print(f"[red]{problem}[/]")
        return 2
    results: dict[str, Any] = {
        "started": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "options": options.__dict__,
        "baselines": {},
        "configs": [],
    }
    http = [name for name in options.scenarios if name in HTTP_SCENARIOS]
    if PUT_FORWARDING in http:
        results["baselines"]["commit"] = measure_commits(options)
    body = b""
    for database in options.databases if http else ():
        configs, sample = measure_database(database, options, http)
        results["configs"].extend(configs)
        body = body or sample
    if body:
        results["baselines"]["bare"] = measure_bare(body, options)
    if ENGINE in options.scenarios:
        results["engine"] = measure_engine()
    results["machine"]["load_average_at_end"] = os.getloadavg()
    results["finished"] = datetime.now(UTC).isoformat(timespec="seconds")
    found = analyse(results)
    print_report(console, results, found)
    path = save_json(results, RESULTS)
    console.print(f"results: {path.relative_to(ROOT)}")
    if results["configs"]:
        chart = save_chart(results, path.with_suffix(".png"))
        console.print(f"chart:   {chart.relative_to(ROOT)}")
    return 0


def run_main() -> None:
    # Stopped with SIGTERM (or SIGINT when started in the background, where it is ignored),
    # unwind normally so the servers this run started are stopped too.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        raise SystemExit(main())
    except WrkError as exc:
        console.print(f"[red]{exc}[/]")
        raise SystemExit(2) from exc
