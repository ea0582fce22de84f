"""Ratios against the baselines and the issue's targets, computed from the results alone.

Everything here works on the JSON-shaped results (plain dicts), so a saved run can be
analysed again, and the tests can feed it hand-written numbers.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from bench.scenarios import GET_FORWARDING, LIST_PEOPLE, PUT_FORWARDING, TREATMENT

Run = dict[str, Any]  # one wrk run, as WrkResult's fields

READ_RPS_RATIO = 0.35
HALF_LOAD_P99_MS = 10.0
WRITE_RPS_RATIO = 0.4
MAX_SIZE_LOSS = 0.10
PEOPLE_PAGE_SLOWDOWN = 2.0
RSS_PER_WORKER_MB = 200.0


@dataclass(frozen=True)
class Target:
    name: str
    config: str
    measured: float
    limit: float
    passed: bool
    unit: str = ""
    note: str = ""

    def line(self) -> str:
        verdict = "PASS" if self.passed else "FAIL"
        where = f" [{self.config}]" if self.config else ""
        note = f" ({self.note})" if self.note else ""
        return (
            f"{verdict}  {self.name}{where}: {self.measured:,.3g}{self.unit} "
            f"(limit {self.limit:,.3g}{self.unit}){note}"
        )


def peak(sweep: list[Run]) -> Run | None:
    """Return the run of highest throughput in a concurrency sweep."""
    return max(sweep, key=lambda run: run["rps"], default=None)


def at_connections(sweep: list[Run], connections: int) -> Run | None:
    return next((run for run in sweep if run["connections"] == connections), None)


def composite_limit(r_http: float, r_commit: float) -> float:
    """Return 1 / (1/R_http + 1/R_commit): the rate of an HTTP hop plus a durable commit."""
    return 1.0 / (1.0 / r_http + 1.0 / r_commit)


def commit_rate(baselines: dict[str, Any], database: str, connections: int) -> float | None:
    """Return the database's own durable commit rate measured in this run, if any."""
    commit = baselines.get("commit", {})
    if database == "sqlite":
        sqlite = commit.get("sqlite")
        return None if sqlite is None else float(sqlite["commits_per_second"])
    by_clients = commit.get("postgres") or {}
    if not by_clients:
        return None
    nearest = min(by_clients, key=lambda c: abs(int(c) - connections))
    return float(by_clients[nearest]["commits_per_second"])


def _safe_ratio(a: float | None, b: float | None) -> float | None:
    if a is None or not b:
        return None
    return a / b


def scenario_ratios(
    name: str, database: str, sweep: list[Run], baselines: dict[str, Any]
) -> dict[str, Any]:
    """Return the scenario's peak with its rate and latency ratios to the baselines.

    Reads compare with the bare ASGI peak rate; a PUT with the composite of that rate and
    the database's commit rate. Latencies compare with the bare app's at the concurrency
    where the scenario peaked.
    """
    top = peak(sweep)
    bare_sweep = baselines.get("bare", {}).get("sweep", [])
    bare_top = peak(bare_sweep)
    if top is None or bare_top is None:
        return {}
    baseline_rps = float(bare_top["rps"])
    basis = "bare ASGI"
    if name == PUT_FORWARDING:
        r_commit = commit_rate(baselines, database, top["connections"])
        if r_commit is None:
            return {}
        baseline_rps = composite_limit(baseline_rps, r_commit)
        basis = f"composite of bare ASGI and {database} commits ({r_commit:,.0f}/s)"
    bare_same = at_connections(bare_sweep, top["connections"]) or bare_top
    return {
        "connections": top["connections"],
        "rps": top["rps"],
        "p50_ms": top["p50_ms"],
        "p99_ms": top["p99_ms"],
        "baseline": basis,
        "baseline_rps": baseline_rps,
        "rps_ratio": _safe_ratio(top["rps"], baseline_rps),
        "p50_ratio": _safe_ratio(top["p50_ms"], bare_same["p50_ms"]),
        "p99_ratio": _safe_ratio(top["p99_ms"], bare_same["p99_ms"]),
    }


def config_label(config: dict[str, Any]) -> str:
    return f"{config['database']}, {config['people']:,} people"


def _read_targets(config: dict[str, Any], name: str, title: str) -> list[Target]:
    scenario = config["scenarios"].get(name) or {}
    ratios = scenario.get("ratios") or {}
    found: list[Target] = []
    label = config_label(config)
    if ratios.get("rps_ratio") is not None:
        found.append(
            Target(
                f"{title} rate vs bare ASGI",
                label,
                ratios["rps_ratio"],
                READ_RPS_RATIO,
                ratios["rps_ratio"] >= READ_RPS_RATIO,
                "x",
            )
        )
    half = scenario.get("half_load")
    if half:
        found.append(
            Target(
                f"{title} p99 at half the saturating load",
                label,
                half["p99_ms"],
                HALF_LOAD_P99_MS,
                half["p99_ms"] < HALF_LOAD_P99_MS and half["errors_total"] == 0,
                " ms",
                f"at {half['rps']:,.0f} req/s{_stolen(half)}",
            )
        )
    return found


def _stolen(run: dict[str, Any]) -> str:
    # A shared machine's host takes CPU time in bursts, and a paced run's tail shows it.
    steal = run.get("steal_percent")
    return f", {steal:.1f} % of the machine stolen" if steal else ""


def _write_target(config: dict[str, Any]) -> list[Target]:
    ratios = (config["scenarios"].get(PUT_FORWARDING) or {}).get("ratios") or {}
    if ratios.get("rps_ratio") is None:
        return []
    return [
        Target(
            "PUT callForwarding rate vs composite limit",
            config_label(config),
            ratios["rps_ratio"],
            WRITE_RPS_RATIO,
            ratios["rps_ratio"] >= WRITE_RPS_RATIO,
            "x",
        )
    ]


def _peak_rps(config: dict[str, Any], name: str) -> float | None:
    ratios = (config["scenarios"].get(name) or {}).get("ratios") or {}
    rps = ratios.get("rps")
    return None if rps is None else float(rps)


def _size_targets(configs: list[dict[str, Any]]) -> list[Target]:
    """Compare the smallest and largest organization measured on each database."""
    found: list[Target] = []
    for database in sorted({c["database"] for c in configs}):
        sized = sorted((c for c in configs if c["database"] == database), key=lambda c: c["people"])
        if len(sized) < 2:
            continue
        small, large = sized[0], sized[-1]
        span = f"{database}, {small['people']:,} -> {large['people']:,} people"
        for name in sorted(set(small["scenarios"]) & set(large["scenarios"])):
            before, after = _peak_rps(small, name), _peak_rps(large, name)
            if before is None or after is None:
                continue
            if name == LIST_PEOPLE:
                slowdown = before / after
                found.append(
                    Target(
                        "people-list page rate slowdown",
                        span,
                        slowdown,
                        PEOPLE_PAGE_SLOWDOWN,
                        slowdown <= PEOPLE_PAGE_SLOWDOWN,
                        "x",
                    )
                )
                continue  # a page of people has its own, looser target
            loss = 1 - after / before
            found.append(
                Target(
                    f"{name} throughput loss",
                    span,
                    loss * 100,
                    MAX_SIZE_LOSS * 100,
                    loss <= MAX_SIZE_LOSS,
                    " %",
                )
            )
    return found


def _rss_targets(configs: list[dict[str, Any]]) -> list[Target]:
    largest = max((c["people"] for c in configs), default=0)
    return [
        Target(
            "peak RSS per worker",
            config_label(c),
            c["rss"]["max_peak_per_worker"],
            RSS_PER_WORKER_MB,
            c["rss"]["max_peak_per_worker"] < RSS_PER_WORKER_MB,
            " MB",
        )
        for c in configs
        if c["people"] == largest and c.get("rss")
    ]


def targets(results: dict[str, Any]) -> list[Target]:
    """Return every target of the issue that this run has the measurements for."""
    configs = results.get("configs", [])
    found: list[Target] = []
    for config in configs:
        found += _read_targets(config, GET_FORWARDING, "GET callForwarding")
        found += _read_targets(config, TREATMENT, "decision API")
        found += _write_target(config)
    found += _size_targets(configs)
    found += _rss_targets(configs)
    return found


def analyse(results: dict[str, Any]) -> list[Target]:
    """Add the ratios to each scenario of `results` and return the targets."""
    baselines = results.get("baselines", {})
    for config in results.get("configs", []):
        for name, scenario in config["scenarios"].items():
            if scenario.get("sweep"):
                scenario["ratios"] = scenario_ratios(
                    name, config["database"], scenario["sweep"], baselines
                )
    found = targets(results)
    results["targets"] = [asdict(t) | {"line": t.line()} for t in found]
    return found
