"""Profile the service's hot path under wrk with py-spy, and print where the time goes.

    .venv/bin/python -m bench.profile --scenario get-forwarding --people 1000 --seconds 10

Serves a freshly provisioned org with one uvicorn worker (so one process holds the whole
profile; `--workers N` serves with N and samples the first, to see what workers cost each
other), drives one scenario with wrk, and samples the worker with `py-spy record`.
Prints the functions with the largest inclusive and self share of the samples, and keeps
the flame graph (SVG) and the raw collapsed stacks under bench/results/.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from bench.org import provision_fresh
from bench.run import RESULTS, WORK, fresh_database
from bench.scenarios import HTTP_SCENARIOS, SCENARIOS, items, token_for
from bench.servers import serve_service
from bench.wrk import WrkResult, render_script, run_wrk

PY_SPY = Path(sys.executable).parent / "py-spy"


def frame_name(frame: str) -> str:
    """Return 'function (file.py)' from py-spy's 'function (path/to/file.py:line)'."""
    function, _, location = frame.partition(" (")
    path = location.rstrip(")").rsplit(":", 1)[0]
    short = "/".join(Path(path).parts[-2:]) if path else "?"
    return f"{function} ({short})"


def shares(collapsed: list[str]) -> tuple[int, Counter[str], Counter[str]]:
    """Return the sample count and each function's inclusive and self samples."""
    total = 0
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    for line in collapsed:
        stack, _, count_text = line.rpartition(" ")
        if not stack or not count_text.isdigit():
            continue
        count = int(count_text)
        frames = [frame_name(f) for f in stack.split(";")]
        total += count
        for name in set(frames):
            inclusive[name] += count
        own[frames[-1]] += count
    return total, inclusive, own


def _record(pid: int, seconds: float, output: Path, fmt: str) -> subprocess.Popen[bytes]:
    command = [
        str(PY_SPY),
        "record",
        "--pid",
        str(pid),
        "--duration",
        str(round(seconds)),
        "--rate",
        "250",
        "--nonblocking",
        "--format",
        fmt,
        "--output",
        str(output),
    ]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile")
    parser.add_argument("--scenario", choices=HTTP_SCENARIOS, default="get-forwarding")
    parser.add_argument("--people", type=int, default=1000)
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--top", type=int, default=25)
    parser.add_argument(
        "--workers", type=int, default=1, help="uvicorn workers (the first is sampled)"
    )
    parser.add_argument(
        "--settle",
        type=float,
        default=0.0,
        help="seconds to wait after start, so work done once after the warm start "
        "(deciding everyone's answers) is not in the profile",
    )
    args = parser.parse_args(argv)
    if shutil.which("wrk") is None or not PY_SPY.exists():
        print("needs wrk (apt-get install -y wrk) and py-spy (pip install py-spy)")
        return 2
    scenario = SCENARIOS[args.scenario]
    url = fresh_database(args.database, args.people)
    org = provision_fresh(url, args.people)
    RESULTS.mkdir(parents=True, exist_ok=True)
    raw = RESULTS / f"profile-{args.scenario}-{args.database}-{args.people}.txt"
    svg = raw.with_suffix(".svg")
    log = WORK / "logs" / "profile.log"
    with serve_service(url, args.workers, log) as served:
        pid = served.worker_pids()[0]
        time.sleep(args.settle)
        lines = items(scenario.name, org)
        items_file = WORK / "scripts" / f"profile-{scenario.name}.items"
        items_file.parent.mkdir(parents=True, exist_ok=True)
        items_file.write_text("\n".join(lines) + "\n")
        script = items_file.with_suffix(".lua")
        script.write_text(render_script(scenario.kind, items_file, token_for(scenario, org)))
        run_wrk(served.url, script, connections=args.connections, seconds=2)  # warm up
        recorders = [
            _record(pid, args.seconds, raw, "raw"),
            _record(pid, args.seconds, svg, "flamegraph"),
        ]
        result: dict[str, WrkResult] = {}

        def drive() -> None:
            result["wrk"] = run_wrk(
                served.url, script, connections=args.connections, seconds=args.seconds
            )

        driver = threading.Thread(target=drive)
        driver.start()
        driver.join()
        for recorder in recorders:
            _, errors = recorder.communicate(timeout=args.seconds + 60)
            if recorder.returncode != 0:
                print(errors.decode(), file=sys.stderr)
                return 1
    wrk = result["wrk"]
    total, inclusive, own = shares(raw.read_text().splitlines())
    print(
        f"{scenario.title}, {args.database}, {args.people:,} people, "
        f"{args.workers} worker{'s' if args.workers > 1 else ''} (the first sampled), "
        f"c={args.connections}: "
        f"{wrk.rps:,.0f} req/s, p50 {wrk.p50_ms:.2f} ms, p99 {wrk.p99_ms:.2f} ms (under py-spy)"
    )
    print(f"{total} samples; flame graph {svg}")
    print(f"\n{'inclusive':>9}  {'self':>6}  function")
    for name, count in inclusive.most_common(args.top):
        print(f"{100 * count / total:8.1f}%  {100 * own[name] / total:5.1f}%  {name}")
    print(f"\n{'self':>6}  function (largest self time)")
    for name, count in own.most_common(args.top // 2):
        print(f"{100 * count / total:5.1f}%  {name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
