"""A settings read through the SDK against the same request made with plain httpx.

Both run in this process against one real server (a separate process, so the server does not
compete with the client for the GIL), interleaved in rounds so drift hits both alike.
Target (issue 4): the SDK adds at most 15 % per call. Run:
    .venv/bin/python -m bench.bench_sdk [--calls 300] [--rounds 15]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from callsettings.sdk import CallSettingsClient

TARGET_OVERHEAD = 0.15


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _callsettings(*args: str) -> list[str]:
    return [sys.executable, "-m", "callsettings", *args]


@contextmanager
def served() -> Iterator[tuple[str, dict[str, object]]]:
    """Seed the demo into a fresh SQLite file, serve it; yield the API root and the demo."""
    with tempfile.TemporaryDirectory() as work:
        database = f"sqlite:///{Path(work) / 'bench.db'}"
        seeded = subprocess.run(
            _callsettings("demo", "--json", "--database-url", database),
            capture_output=True,
            text=True,
            check=True,
        )
        demo = json.loads(seeded.stdout)
        port = _free_port()
        server = subprocess.Popen(
            _callsettings(
                "serve", "--database-url", database, "--port", str(port), "--log-level", "warning"
            ),
            stdout=subprocess.DEVNULL,
            # The default limit (6000 a minute per token) would answer 429 mid-run.
            env={**os.environ, "CALLSETTINGS_RATE_LIMIT_REQUESTS": "100000000"},
        )
        try:
            root = f"http://127.0.0.1:{port}"
            _wait_until_up(root)
            yield f"{root}/v1", demo
        finally:
            server.terminate()
            server.wait(timeout=10)


def _wait_until_up(root: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            httpx.get(f"{root}/openapi.json", timeout=1)
            return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise RuntimeError("the server did not start")


def _per_call(work: Callable[[], object], calls: int) -> float:
    start = time.perf_counter()
    for _ in range(calls):
        work()
    return (time.perf_counter() - start) / calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=300, help="calls per round and side")
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()

    with served() as (base_url, demo):
        token = str(demo["tokens"]["fullAdmin"])  # type: ignore[index]
        person = str(demo["people"][0]["id"])  # type: ignore[index]
        org = str(demo["orgId"])
        sdk = CallSettingsClient(base_url=base_url, token=token, person=person, org=org)
        plain = httpx.Client(timeout=10.0, trust_env=False)
        url = f"{base_url}/people/{person}/features/callForwarding"
        headers = {"Authorization": f"Bearer {token}"}

        def through_sdk() -> object:
            response = sdk.get_call_forward_setting()
            assert response.status_code == 200
            return response.setting

        def with_httpx() -> object:
            response = plain.get(url, params={"orgId": org}, headers=headers)
            assert response.status_code == 200
            return response.json()

        for work in (through_sdk, with_httpx):  # warm connections and caches
            _per_call(work, 50)
        sdk_times, httpx_times = [], []
        for _ in range(args.rounds):
            sdk_times.append(_per_call(through_sdk, args.calls))
            httpx_times.append(_per_call(with_httpx, args.calls))
        sdk.close()
        plain.close()

    sdk_ms = statistics.median(sdk_times) * 1000
    httpx_ms = statistics.median(httpx_times) * 1000
    overhead = sdk_ms / httpx_ms - 1
    verdict = "PASS" if overhead <= TARGET_OVERHEAD else "FAIL"
    print(f"callForwarding read, {args.rounds} rounds x {args.calls} calls each (medians):")
    print(f"  plain httpx + json: {httpx_ms:.3f} ms/call")
    print(f"  SDK:                {sdk_ms:.3f} ms/call")
    print(
        f"  SDK overhead:       {overhead:+.1%} per call "
        f"(ratio {sdk_ms / httpx_ms:.3f}; target <= {TARGET_OVERHEAD:.0%}: {verdict})"
    )


if __name__ == "__main__":
    main()
