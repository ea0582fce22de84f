"""The wrk side of the harness: script rendering and summary parsing (nothing is timed)."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest
from bench.wrk import MARKER, WrkError, lua_string, parse_summary, render_script
from lupa import luajit21

from callsettings.settings import CallForwarding
from callsettings.settings.documents import apply_patch

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
    script = render_script("put", tmp_path / "items", "cst_x", interval_ms=12.5, threads=3)

    assert "interval_ms = 12.5," in script
    assert "threads = 3," in script
    assert 'wrk.format("PUT", paths[i], HEADERS, body_for(n, destinations[i]))' in script
    assert 'HEADERS["Content-Type"] = "application/json"' in script
    assert "function delay()" in script


def test_unknown_script_kind_is_refused(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        render_script("delete", tmp_path / "items", "cst_x")


class _WrkThread:
    """One wrk thread of a rendered script, in LuaJIT (what wrk embeds): its own Lua state,
    set up and initialised as wrk does (init given the run's number, as run_wrk gives it),
    with `wrk.format` giving back what it was asked."""

    def __init__(self, script: str, thread_id: int, run: int) -> None:
        self.lua = luajit21.LuaRuntime()
        self.lua.execute(
            "wrk = {format = function(method, path, headers, body)"
            " return {method = method, path = path, body = body} end}"
        )
        self.lua.execute(script)
        self.lua.globals().thread_id = thread_id
        self.lua.globals().init(self.lua.table(str(run)))

    def request(self) -> tuple[str, str, dict[str, Any]]:
        sent = self.lua.globals().request()
        return sent["method"], sent["path"], json.loads(sent["body"])


class _PutRuns:
    """wrk runs of the PUT script, one after another, on one simulated store of documents:
    counts the PUTs that would leave a document unchanged (and so write nothing)."""

    def __init__(self, tmp_path: Path, people: int) -> None:
        self.colleague = {
            f"/v1/people/P{n}/features/callForwarding": f"1{n:05d}" for n in range(people)
        }
        items = tmp_path / "put.items"
        items.write_text("".join(f"{path}\t{ext}\n" for path, ext in self.colleague.items()))
        self.script = render_script("put", items, "cst_x", threads=2)
        self.stored = {path: CallForwarding() for path in self.colleague}
        self.by_thread: dict[str, set[int]] = {path: set() for path in self.colleague}
        self.chooser = random.Random(7)
        self.runs = 0

    def run(self, puts: int) -> int:
        """One run of `puts` PUTs from two threads taking turns at random; the unchanged."""
        self.runs += 1
        threads = [_WrkThread(self.script, 1, self.runs), _WrkThread(self.script, 2, self.runs)]
        unchanged = 0
        for _ in range(puts):
            thread = self.chooser.randrange(2)
            method, path, patch = threads[thread].request()
            changed = apply_patch(self.stored[path], patch)
            unchanged += changed == self.stored[path]
            self.stored[path] = changed
            self.by_thread[path].add(thread)
            assert method == "PUT"
            rules = patch["callForwarding"].values()
            assert {rule["destination"] for rule in rules} == {self.colleague[path]}
        return unchanged


def test_every_put_changes_the_document_however_often_a_person_is_put(tmp_path: Path) -> None:
    # Ten people and 4,000 PUTs a run: each person is PUT far more often than at 1,000
    # people in a bench run. An unchanged document would not be written, so every PUT must
    # change the one the earlier PUTs left.
    runs = _PutRuns(tmp_path, people=10)

    assert runs.run(4_000) == 0

    by_thread = runs.by_thread.values()
    assert all(len(by) == 1 for by in by_thread)  # each person is one thread's
    assert {next(iter(by)) for by in by_thread} == {0, 1}  # and both threads PUT
    forwarding = [document.call_forwarding for document in runs.stored.values()]
    assert {rules.busy.enabled for rules in forwarding} == {True, False}
    assert len({rules.no_answer.number_of_rings for rules in forwarding}) > 1


def test_a_persons_first_put_of_a_run_changes_what_the_run_before_left(tmp_path: Path) -> None:
    # As at 100,000 people: most people are PUT once or twice a run, and each run is a new
    # wrk that does not know what the run before sent them.
    runs = _PutRuns(tmp_path, people=3_000)

    unchanged = [runs.run(1_500) for _ in range(5)]

    assert unchanged == [0, 0, 0, 0, 0]
