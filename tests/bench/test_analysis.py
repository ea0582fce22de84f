"""Ratios and the issue's targets, computed from hand-written results (nothing is timed)."""

from __future__ import annotations

from typing import Any

import pytest
from bench.analysis import (
    analyse,
    commit_rate,
    composite_limit,
    peak,
    scenario_ratios,
)
from bench.databases import parse_pgbench_log_latencies, parse_pgbench_tps
from bench.run import best_of
from bench.stats import percentile
from bench.wrk import WrkResult


def run(connections: int, rps: float, p50: float = 1.0, p99: float = 5.0) -> dict[str, Any]:
    return {
        "connections": connections,
        "rps": rps,
        "p50_ms": p50,
        "p99_ms": p99,
        "errors_total": 0,
    }


BARE = {"sweep": [run(4, 8_000, 0.4, 1.0), run(16, 10_000, 1.0, 3.0), run(64, 9_000, 5.0, 12.0)]}
BASELINES = {
    "bare": BARE,
    "commit": {
        "sqlite": {"commits_per_second": 10_000.0},
        "postgres": {"4": {"commits_per_second": 1_000.0}, "64": {"commits_per_second": 4_000.0}},
    },
}


def test_composite_limit_is_the_rate_of_both_costs_in_series() -> None:
    assert composite_limit(10_000, 10_000) == pytest.approx(5_000)
    assert composite_limit(30_000, 17_400) == pytest.approx(1 / (1 / 30_000 + 1 / 17_400))


def test_peak_is_the_highest_rate_of_the_sweep() -> None:
    assert peak(BARE["sweep"])["connections"] == 16
    assert peak([]) is None


def test_postgres_commit_rate_comes_from_the_nearest_client_count() -> None:
    assert commit_rate(BASELINES, "postgres", 48) == 4_000.0
    assert commit_rate(BASELINES, "postgres", 8) == 1_000.0
    assert commit_rate(BASELINES, "sqlite", 64) == 10_000.0
    assert commit_rate({}, "sqlite", 4) is None


def test_read_ratios_compare_with_the_bare_peak_and_its_latency_at_the_same_concurrency() -> None:
    sweep = [run(4, 2_000, 2.0, 8.0), run(64, 4_000, 10.0, 30.0)]

    ratios = scenario_ratios("get-forwarding", "sqlite", sweep, BASELINES)

    assert ratios["connections"] == 64
    assert ratios["rps_ratio"] == pytest.approx(0.4)  # 4,000 / bare peak 10,000
    assert ratios["p50_ratio"] == pytest.approx(2.0)  # 10 ms / bare 5 ms at 64
    assert ratios["p99_ratio"] == pytest.approx(2.5)  # 30 ms / bare 12 ms at 64


def test_put_ratio_compares_with_the_composite_of_http_and_commits() -> None:
    ratios = scenario_ratios("put-forwarding", "sqlite", [run(16, 2_000)], BASELINES)

    assert ratios["baseline_rps"] == pytest.approx(5_000)  # 10,000 http and 10,000 commits
    assert ratios["rps_ratio"] == pytest.approx(0.4)


def config(database: str, people: int, **rates: float) -> dict[str, Any]:
    scenarios = {
        name: {"available": True, "sweep": [run(16, rps, 1.0, 4.0)], "half_load": run(16, rps / 2)}
        for name, rps in rates.items()
    }
    rss = {"max_peak_per_worker": 90.0 if people < 10_000 else 230.0}
    return {"database": database, "people": people, "scenarios": scenarios, "rss": rss}


def verdicts(results: dict[str, Any]) -> dict[tuple[str, str], bool]:
    return {(t.name, t.config): t.passed for t in analyse(results)}


def test_targets_pass_and_fail_on_the_issue_thresholds() -> None:
    results = {
        "baselines": BASELINES,
        "configs": [
            config("sqlite", 1_000, **{"get-forwarding": 3_600, "treatment": 3_000}),
            config(
                "sqlite",
                100_000,
                **{"get-forwarding": 3_300, "treatment": 2_000, "put-forwarding": 1_900},
            ),
        ],
    }

    found = verdicts(results)

    small, large = "sqlite, 1,000 people", "sqlite, 100,000 people"
    span = "sqlite, 1,000 -> 100,000 people"
    assert found[("GET callForwarding rate vs bare ASGI", small)] is True  # 0.36x
    assert found[("GET callForwarding rate vs bare ASGI", large)] is False  # 0.33x
    assert found[("GET callForwarding p99 at half the saturating load", small)] is True
    assert found[("decision API rate vs bare ASGI", large)] is False
    assert found[("PUT callForwarding rate vs composite limit", large)] is False  # 0.38x
    assert found[("get-forwarding throughput loss", span)] is True  # 8.3 %
    assert found[("treatment throughput loss", span)] is False  # 33 %
    assert found[("peak RSS per worker", large)] is False  # 230 MB
    assert ("peak RSS per worker", small) not in found  # only the largest org is held to it
    assert len(results["targets"]) == len(found)
    assert all(t["line"].startswith(("PASS", "FAIL")) for t in results["targets"])


def test_people_page_is_held_to_its_own_slowdown_target_not_the_ten_percent_one() -> None:
    results = {
        "baselines": BASELINES,
        "configs": [
            config("postgres", 1_000, **{"list-people": 400}),
            config("postgres", 100_000, **{"list-people": 250}),
        ],
    }

    found = verdicts(results)

    span = "postgres, 1,000 -> 100,000 people"
    assert found[("people-list page rate slowdown", span)] is True  # 1.6x
    assert ("list-people throughput loss", span) not in found


def test_unavailable_scenarios_are_left_out_of_ratios_and_targets() -> None:
    results = {
        "baselines": BASELINES,
        "configs": [
            {
                "database": "sqlite",
                "people": 1_000,
                "scenarios": {"treatment": {"available": False, "reason": "404"}},
                "rss": {"max_peak_per_worker": 80.0},
            }
        ],
    }

    found = analyse(results)

    assert "ratios" not in results["configs"][0]["scenarios"]["treatment"]
    assert [t.name for t in found] == ["peak RSS per worker"]


def test_a_half_load_run_with_errors_fails_its_latency_target() -> None:
    results = {"baselines": BASELINES, "configs": [config("sqlite", 1_000, treatment=5_000)]}
    results["configs"][0]["scenarios"]["treatment"]["half_load"]["errors_total"] = 2

    found = verdicts(results)

    assert found[("decision API p99 at half the saturating load", "sqlite, 1,000 people")] is False


@pytest.mark.parametrize(
    ("steal", "note"),
    [
        (None, "at 2,500 req/s"),  # a run from before steal was read
        (0.0, "at 2,500 req/s"),
        (5.84, "at 2,500 req/s, 5.8 % of the machine stolen"),
    ],
)
def test_a_half_load_line_says_how_much_of_the_machine_the_host_took(
    steal: float | None, note: str
) -> None:
    results = {"baselines": BASELINES, "configs": [config("sqlite", 1_000, treatment=5_000)]}
    results["configs"][0]["scenarios"]["treatment"]["half_load"]["steal_percent"] = steal

    (half,) = [t for t in analyse(results) if t.name.endswith("half the saturating load")]

    assert half.note == note


def test_pgbench_output_and_log_parse() -> None:
    output = "latency average = 1.234 ms\ntps = 811.42 (without initial connection time)\n"
    log = ["0 1 1520 0 1700000000 123456", "1 1 980 0 1700000000 223456", ""]

    assert parse_pgbench_tps(output) == pytest.approx(811.42)
    assert parse_pgbench_log_latencies(log) == [0.00152, 0.00098]
    with pytest.raises(ValueError, match="tps"):
        parse_pgbench_tps("connection to server failed")


@pytest.mark.parametrize(("p", "expected"), [(0, 1.0), (50, 2.5), (100, 4.0), (99, 3.97)])
def test_percentile_interpolates_between_ranks(p: float, expected: float) -> None:
    assert percentile([4.0, 1.0, 3.0, 2.0], p) == pytest.approx(expected)


def test_markdown_report_lists_baselines_scenarios_memory_and_targets() -> None:
    from bench.report import markdown

    results = {
        "baselines": {"bare": {**BARE, "body_bytes": 358}},
        "configs": [config("sqlite", 1_000, **{"get-forwarding": 3_600})],
    }
    results["configs"][0]["scenarios"]["treatment"] = {"title": "decision API", "available": False}
    results["configs"][0]["scenarios"]["get-forwarding"]["title"] = "GET callForwarding"
    results["configs"][0]["rss"] |= {"per_worker": [88.0, 90.0]}
    analyse(results)

    text = markdown(results)

    assert "| bare ASGI (358 B) | 16 | 10,000 | 1.00 | 3.00 |" in text
    assert "| sqlite, 1,000 people | GET callForwarding | 3,600 (16) | 0.36x |" in text
    assert "| sqlite, 1,000 people | decision API | unavailable |" in text
    assert "| sqlite, 1,000 people | 88 / 90 | 90 |" in text
    assert "PASS  GET callForwarding rate vs bare ASGI [sqlite, 1,000 people]" in text


def test_cpu_per_request_is_reported_at_each_scenarios_peak() -> None:
    from bench.report import cpu_rows, markdown

    results = {
        "baselines": {"bare": {**BARE, "body_bytes": 358}},
        "configs": [
            config("postgres", 1_000, **{"get-forwarding": 3_600}),
            config("sqlite", 1_000, **{"get-forwarding": 3_000}),
        ],
    }
    for entry, postgres in zip(results["configs"], (True, False), strict=True):
        entry["rss"] |= {"per_worker": [88.0, 90.0]}
        scenario = entry["scenarios"]["get-forwarding"]
        scenario["title"] = "GET callForwarding"
        scenario["cpu_per_request"] = [
            {"connections": 4, "workers_us": 90.0} | ({"postgres_us": 9.0} if postgres else {}),
            {"connections": 16, "workers_us": 70.0} | ({"postgres_us": 7.0} if postgres else {}),
        ]
    analyse(results)

    assert cpu_rows(results) == [
        ("postgres, 1,000 people", "GET callForwarding", 16, 70.0, 7.0),
        ("sqlite, 1,000 people", "GET callForwarding", 16, 70.0, None),
    ]
    text = markdown(results)
    assert "| postgres, 1,000 people | GET callForwarding | 16 | 70 us | 7 us |" in text
    assert "| sqlite, 1,000 people | GET callForwarding | 16 | 70 us | - |" in text


def _run(rps: float) -> WrkResult:
    return WrkResult(16, int(rps * 10), 10.0, rps, 1.0, 1.0, 2.0, 3.0, 4.0, 5.0, {})


def test_a_point_of_the_sweep_is_the_best_of_its_rounds() -> None:
    slow, fast = _run(900.0), _run(1200.0)
    assert best_of([(slow, "first"), (fast, "second")]) == (fast, "second")
    assert best_of([(fast, "first"), (slow, "second")]) == (fast, "first")
