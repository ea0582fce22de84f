"""The wrk side of the harness: script rendering and summary parsing (nothing is timed)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from bench.wrk import MARKER, WrkError, lua_string, parse_summary, render_script

SUMMARY = {
    "requests": 50_000,
    "duration_us": 10_000_000,
    "bytes": 17_900_000,
    "errors": {"connect": 0, "read": 1, "write": 0, "status": 3, "timeout": 0},
    "latency_us": {
        "mean": 812.5,
        "max": 40_210,
        "p50": 640,
        "p90": 1_200,
        "p99": 4_870,
        "p999": 9_100,
    },
}


def wrk_output(summary: dict[str, object]) -> str:
    return (
        "Running 10s test @ http://127.0.0.1:8000\n"
        "  2 threads and 16 connections\n"
        "  50000 requests in 10.00s, 17.07MB read\n"
        f"{MARKER}{json.dumps(summary)}\n"
        "Requests/sec:   5000.00\n"
    )


def test_summary_gives_rate_and_percentiles_in_milliseconds() -> None:
    result = parse_summary(wrk_output(SUMMARY), connections=16)

    assert result.rps == pytest.approx(5_000.0)
    assert result.seconds == pytest.approx(10.0)
    assert (result.p50_ms, result.p90_ms, result.p99_ms) == (0.64, 1.2, 4.87)
    assert result.p999_ms == pytest.approx(9.1)
    assert result.max_ms == pytest.approx(40.21)
    assert result.mean_ms == pytest.approx(0.8125)
    assert result.connections == 16


def test_summary_counts_every_kind_of_error() -> None:
    result = parse_summary(wrk_output(SUMMARY), connections=16)

    assert result.error_count == 4
    assert result.as_dict()["errors_total"] == 4
    assert result.as_dict()["errors"]["status"] == 3


def test_summary_keeps_the_pacing_interval_of_a_paced_run() -> None:
    result = parse_summary(wrk_output(SUMMARY), connections=64, interval_ms=12.5)

    assert result.interval_ms == 12.5


def test_output_without_the_summary_line_is_an_error_that_shows_the_output() -> None:
    with pytest.raises(WrkError, match="unable to connect"):
        parse_summary("unable to connect to 127.0.0.1:1 Connection refused\n", connections=1)


@pytest.mark.parametrize(
    ("text", "literal"),
    [
        ("cst_abc-DEF_123", '"cst_abc-DEF_123"'),
        ('say "hi"', '"say \\"hi\\""'),
        ("back\\slash", '"back\\\\slash"'),
        ("line\nbreak", '"line\\10break"'),
        ("café", '"caf\\195\\169"'),
    ],
)
def test_lua_string_escapes_what_lua_would_read_differently(text: str, literal: str) -> None:
    assert lua_string(text) == literal


def test_rendered_script_carries_its_parameters_and_both_parts(tmp_path: Path) -> None:
    items = tmp_path / "items.txt"

    script = render_script("get", items, "cst_secret", interval_ms=0.0)

    assert script.startswith("BENCH = {\n")
    assert f"items_file = {lua_string(str(items))}," in script
    assert 'token = "cst_secret",' in script
    assert "interval_ms = 0.0," in script
    assert "function done(summary, latency, requests)" in script  # from common.lua
    assert "function request()" in script  # from get.lua
    assert script.index("function init(") < script.index("function prepare()")


def test_put_script_sends_json_bodies_and_a_paced_script_defines_delay(tmp_path: Path) -> None:
    script = render_script("put", tmp_path / "items", "cst_x", interval_ms=12.5)

    assert "interval_ms = 12.5," in script
    assert 'wrk.format("PUT", paths[i], HEADERS, body)' in script
    assert 'HEADERS["Content-Type"] = "application/json"' in script
    assert "function delay()" in script


def test_unknown_script_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        render_script("delete", tmp_path / "items", "cst_x")
