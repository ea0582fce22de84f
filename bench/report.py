"""The run's outputs: a rich table, the JSON under bench/results/ and a PNG chart."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from bench.analysis import Target, config_label


def _num(value: float | None, pattern: str = "{:,.0f}") -> str:
    return "-" if value is None else pattern.format(value)


def _ratio(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}x"


def scenario_table(results: dict[str, Any]) -> Table:
    table = Table(title="service vs baselines (peak over the concurrency sweep)")
    for column in ("config", "scenario", "conn", "req/s", "vs base", "p50 ms", "vs bare"):
        table.add_column(column, justify="left" if column in ("config", "scenario") else "right")
    for column in ("p99 ms", "vs bare", "p99 @ half load", "errors"):
        table.add_column(column, justify="right")
    for config in results.get("configs", []):
        for scenario in config["scenarios"].values():
            if not scenario.get("available"):
                table.add_row(config_label(config), scenario["title"], *["-"] * 8, "unavailable")
                continue
            r = scenario.get("ratios") or {}
            half = scenario.get("half_load") or {}
            errors = sum(run["errors_total"] for run in scenario["sweep"])
            table.add_row(
                config_label(config),
                scenario["title"],
                _num(r.get("connections")),
                _num(r.get("rps")),
                _ratio(r.get("rps_ratio")),
                _num(r.get("p50_ms"), "{:.2f}"),
                _ratio(r.get("p50_ratio")),
                _num(r.get("p99_ms"), "{:.2f}"),
                _ratio(r.get("p99_ratio")),
                f"{half['p99_ms']:.2f} @ {half['rps']:,.0f}/s" if half else "-",
                str(errors + half.get("errors_total", 0)),
            )
    return table


def baseline_table(results: dict[str, Any]) -> Table:
    table = Table(title="baselines, measured in this run")
    for column in ("baseline", "conn", "rate/s", "p50 ms", "p99 ms"):
        table.add_column(column, justify="left" if column == "baseline" else "right")
    baselines = results.get("baselines", {})
    bare = baselines.get("bare")
    if bare:
        for run in bare["sweep"]:
            table.add_row(
                f"bare ASGI ({bare['body_bytes']} B body)",
                str(run["connections"]),
                f"{run['rps']:,.0f}",
                f"{run['p50_ms']:.2f}",
                f"{run['p99_ms']:.2f}",
            )
    commit = baselines.get("commit", {})
    rates = [commit["sqlite"]] if commit.get("sqlite") else []
    rates += list((commit.get("postgres") or {}).values())
    for rate in rates:
        settings = ", ".join(f"{k}={v}" for k, v in rate["settings"].items())
        table.add_row(
            f"{rate['name']} commits ({settings})",
            str(rate["clients"]),
            f"{rate['commits_per_second']:,.0f}",
            f"{rate['p50_ms']:.2f}",
            f"{rate['p99_ms']:.2f}",
        )
    return table


def rss_table(results: dict[str, Any]) -> Table:
    table = Table(title="server memory (uvicorn workers, from /proc)")
    for column in ("config", "workers", "RSS total MB", "RSS per worker MB", "peak per worker MB"):
        table.add_column(column, justify="left" if column == "config" else "right")
    for config in results.get("configs", []):
        rss = config["rss"]
        table.add_row(
            config_label(config),
            str(len(rss["per_worker"])),
            f"{rss['total']:.0f}",
            " / ".join(f"{v:.0f}" for v in rss["per_worker"]),
            f"{rss['max_peak_per_worker']:.0f}",
        )
    return table


def cpu_rows(results: dict[str, Any]) -> list[tuple[str, str, int, float, float | None]]:
    """CPU per request at each scenario's peak: config, scenario, connections, workers us,
    PostgreSQL us (None on SQLite, which runs in the workers)."""
    rows = []
    for config in results.get("configs", []):
        for scenario in config["scenarios"].values():
            top = (scenario.get("ratios") or {}).get("connections")
            cpu = scenario.get("cpu_per_request", [])
            row = next((c for c in cpu if c["connections"] == top), None)
            if row is not None:
                label, title = config_label(config), scenario["title"]
                rows.append((label, title, top, row["workers_us"], row.get("postgres_us")))
    return rows


def cpu_table(results: dict[str, Any]) -> Table:
    table = Table(title="CPU per request at the peak (from /proc: user + system)")
    for column in ("config", "scenario", "conn", "workers us", "postgres us"):
        table.add_column(column, justify="left" if column in ("config", "scenario") else "right")
    for label, title, connections, workers, postgres in cpu_rows(results):
        table.add_row(label, title, str(connections), f"{workers:,.0f}", _num(postgres, "{:,.0f}"))
    return table


def print_report(console: Console, results: dict[str, Any], found: list[Target]) -> None:
    console.rule("results")
    console.print(baseline_table(results))
    if results.get("configs"):
        console.print(scenario_table(results))
        console.print(cpu_table(results))
        console.print(rss_table(results))
    for config in results.get("configs", []):
        writes = (config["scenarios"].get("put-forwarding") or {}).get("audited_writes")
        if writes:
            line = (
                f"PUT ({config_label(config)}): {writes['changed_documents']:,} audited changes "
                f"for {writes['requests']:,} requests (an unchanged document is not written)"
            )
            console.print(Text(line))
    engine = results.get("engine")
    if engine:
        console.print("engine: " + "; ".join(engine["output"]))
    console.rule("targets of issue 7")
    for target in found:
        colour = "green" if target.passed else "red"
        console.print(Text(target.line(), style=colour))
    if not found:
        console.print("no target could be checked with the scenarios of this run")


def save_json(results: dict[str, Any], directory: Path) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    path = directory / f"bench-{stamp}.json"
    path.write_text(json.dumps(results, indent=2, default=str) + "\n")
    return path


def save_chart(results: dict[str, Any], path: Path) -> Path:
    """Plot throughput and p99 against concurrency: one row per database."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    configs = results["configs"]
    databases = sorted({c["database"] for c in configs})
    sizes = sorted({c["people"] for c in configs})
    styles = ["-", "--", ":", "-."]
    fig, axes = plt.subplots(len(databases), 2, figsize=(12, 4.5 * len(databases)), squeeze=False)
    bare = (results.get("baselines", {}).get("bare") or {}).get("sweep", [])
    for row, database in enumerate(databases):
        rate_ax, p99_ax = axes[row]
        for config in (c for c in configs if c["database"] == database):
            style = styles[sizes.index(config["people"]) % len(styles)]
            for name, scenario in config["scenarios"].items():
                if not scenario.get("sweep"):
                    continue
                xs = [run["connections"] for run in scenario["sweep"]]
                label = f"{name}, {config['people']:,}"
                rate_ax.plot(
                    xs, [r["rps"] for r in scenario["sweep"]], style, marker="o", label=label
                )
                p99_ax.plot(
                    xs, [r["p99_ms"] for r in scenario["sweep"]], style, marker="o", label=label
                )
        if bare:
            xs = [run["connections"] for run in bare]
            rate_ax.plot(xs, [r["rps"] for r in bare], "ks-", linewidth=2, label="bare ASGI")
            p99_ax.plot(xs, [r["p99_ms"] for r in bare], "ks-", linewidth=2, label="bare ASGI")
        for ax, ylabel in ((rate_ax, "requests/s"), (p99_ax, "p99 latency (ms)")):
            ax.set_xscale("log", base=2)
            ax.set_xlabel("concurrent connections (wrk)")
            ax.set_ylabel(ylabel)
            ax.set_title(f"{database}: {ylabel}")
            ax.grid(True, alpha=0.3)
        rate_ax.set_yscale("log")
        p99_ax.set_yscale("log")
        rate_ax.legend(fontsize=7)
    fig.suptitle(
        f"callsettings bench, {results['options']['workers']} workers, {results['started']}"
    )
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def markdown(results: dict[str, Any]) -> str:
    """Return the run's tables as Markdown, for docs/performance.md."""
    out = ["| baseline | conn | rate/s | p50 ms | p99 ms |", "|---|--:|--:|--:|--:|"]
    bare = results.get("baselines", {}).get("bare")
    for run in (bare or {}).get("sweep", []):
        out.append(
            f"| bare ASGI ({bare['body_bytes']} B) | {run['connections']} | {run['rps']:,.0f} "
            f"| {run['p50_ms']:.2f} | {run['p99_ms']:.2f} |"
        )
    commit = results.get("baselines", {}).get("commit", {})
    rates = [commit["sqlite"]] if commit.get("sqlite") else []
    for rate in rates + list((commit.get("postgres") or {}).values()):
        name = "SQLite UPDATE+COMMIT loop" if rate["name"] == "sqlite" else "pgbench simple-update"
        out.append(
            f"| {name} | {rate['clients']} | {rate['commits_per_second']:,.0f} "
            f"| {rate['p50_ms']:.2f} | {rate['p99_ms']:.2f} |"
        )
    out += [
        "",
        "| database, people | scenario | best req/s (conn) | vs baseline | p50 ms (vs bare) "
        "| p99 ms (vs bare) | p99 at half load |",
        "|---|---|--:|--:|--:|--:|--:|",
    ]
    for config in results.get("configs", []):
        for scenario in config["scenarios"].values():
            r = scenario.get("ratios") or {}
            if not r:
                out.append(f"| {config_label(config)} | {scenario['title']} | unavailable |||||")
                continue
            half = scenario.get("half_load") or {}
            out.append(
                f"| {config_label(config)} | {scenario['title']} "
                f"| {r['rps']:,.0f} ({r['connections']}) | {_ratio(r['rps_ratio'])} "
                f"| {r['p50_ms']:.2f} ({_ratio(r['p50_ratio'])}) "
                f"| {r['p99_ms']:.1f} ({_ratio(r['p99_ratio'])}) "
                + (f"| {half['p99_ms']:.1f} ms at {half['rps']:,.0f}/s |" if half else "| - |")
            )
    cpu = cpu_rows(results)
    if cpu:
        out += [
            "",
            "| database, people | scenario | conn | worker CPU per request "
            "| PostgreSQL CPU per request |",
        ]
        out.append("|---|---|--:|--:|--:|")
        for label, title, connections, workers, postgres in cpu:
            database = "-" if postgres is None else f"{postgres:,.0f} us"
            out.append(f"| {label} | {title} | {connections} | {workers:,.0f} us | {database} |")
    out += ["", "| database, people | RSS per worker at the end, MB | peak per worker, MB |"]
    out.append("|---|--:|--:|")
    for config in results.get("configs", []):
        rss = config["rss"]
        out.append(
            f"| {config_label(config)} | {' / '.join(f'{v:.0f}' for v in rss['per_worker'])} "
            f"| {rss['max_peak_per_worker']:.0f} |"
        )
    out += ["", "```", *(t["line"] for t in results.get("targets", [])), "```"]
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    import sys

    print(markdown(json.loads(Path(sys.argv[1]).read_text())), end="")
