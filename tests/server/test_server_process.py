"""The real server process: started as operators start it, spoken to over a socket, killed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

from tests.live import free_port


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "callsettings", *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )


@contextmanager
def server_process(database_url: str) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "callsettings",
            "serve",
            "--database-url",
            database_url,
            "--port",
            str(port),
            "--demo",
            "--log-level",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(base, process)
        yield base, process
    finally:
        if process.poll() is None:
            process.terminate()
            process.wait(timeout=20)


def _wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            time.sleep(0.1)
    raise RuntimeError("server did not come up")


def test_serve_demo_and_a_write_that_survives_kill_9(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'var' / 'callsettings.db'}"
    with server_process(database_url) as (base, process):
        demo = json.loads(cli("demo", "--json", "--database-url", database_url).stdout)
        token, person = demo["tokens"]["fullAdmin"], demo["people"][8]
        path = f"{base}/v1/people/{person['id']}/features/callForwarding"
        headers = {"Authorization": f"Bearer {token}"}
        body = {"callForwarding": {"always": {"enabled": True, "destination": "1001"}}}
        put = httpx.put(path, json=body, headers=headers, timeout=10)
        assert put.status_code == 204
        # A 204 means durable: kill the process without letting it shut down cleanly.
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=10)
    with server_process(database_url) as (base, _process):
        got = httpx.get(path.replace(path.split("/v1")[0], base), headers=headers, timeout=10)
    assert got.status_code == 200
    assert got.json()["callForwarding"]["always"] == {
        "enabled": True,
        "destination": "1001",
        "ringReminderEnabled": False,
        "destinationVoicemailEnabled": False,
    }


def test_demo_is_idempotent_and_describes_what_the_readme_promises(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'demo.db'}"
    first = json.loads(cli("demo", "--json", "--database-url", database_url).stdout)
    second = json.loads(cli("demo", "--json", "--database-url", database_url).stdout)
    assert first == second
    assert len(first["people"]) >= 8
    assert {p["locationId"] for p in first["people"]} == {loc["id"] for loc in first["locations"]}
    for person in first["people"]:
        assert set(person) >= {
            "id",
            "uuid",
            "email",
            "displayName",
            "extension",
            "phoneNumber",
            "locationId",
        }
        assert person["phoneNumber"].startswith("+")
    tokens = first["tokens"]
    assert set(tokens) >= {"fullAdmin", "readOnlyAdmin", "locationAdmin", "partnerAdmin", "people"}
    assert tokens["locationAdmin"]["locationId"] in {loc["id"] for loc in first["locations"]}
    assert tokens["partnerAdmin"]["orgId"] == first["customer"]["orgId"]
    assert set(tokens["people"]) == {p["id"] for p in first["people"]}
