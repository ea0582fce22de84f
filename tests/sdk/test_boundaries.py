"""What the SDK is not allowed to do: import the server, read the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterable

import pytest

from callsettings.sdk import (
    BackendName,
    BackendNotIdentified,
    CallSettingsClient,
    choose_backend,
)
from tests.sdk.conftest import Live
from tests.sdk.mocks import options


def test_the_sdk_imports_neither_the_server_nor_storage() -> None:
    code = (
        "import json, sys\n"
        "import callsettings.sdk, callsettings.sdk.backends\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('callsettings'))))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    loaded = json.loads(result.stdout)
    assert "callsettings.sdk.client" in loaded
    assert "callsettings.sdk.backends.webex" in loaded
    outside = [m for m in loaded if not m.startswith(("callsettings.sdk", "callsettings.settings"))]
    assert outside == ["callsettings"]


def test_the_sdk_loads_no_server_framework() -> None:
    code = (
        "import sys, callsettings.sdk\n"
        "print(','.join(sorted({m.split('.')[0] for m in sys.modules})))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    )
    top_level = set(result.stdout.strip().split(","))
    assert {"httpx", "msgspec"} <= top_level
    assert not {"litestar", "sqlalchemy", "uvicorn", "alembic", "redis"} & top_level


def test_proxy_and_token_variables_are_ignored(live: Live, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "all_proxy"):
        monkeypatch.setenv(name, "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("CALLSETTINGS_TOKEN", "not-this-one")
    with CallSettingsClient(**live.options()) as client:
        response = client.get_do_not_disturb_setting()
    assert response.status_code == 200
    assert os.environ["CALLSETTINGS_TOKEN"] == "not-this-one"


@pytest.mark.parametrize(
    ("behavior", "entitlements", "backend"),
    [
        ("NATIVE_SIP_CALL_TO_UCM", [], BackendName.UCM),
        ("NATIVE_SIP_CALL_TO_UCM", ["bc-sp-standard"], BackendName.UCM),
        ("NATIVE_WEBEX_TEAMS_CALLING", ["bc-sp-basic"], BackendName.WXC),
        ("NATIVE_WEBEX_TEAMS_CALLING", ["spark", "bc-sp-standard"], BackendName.WXC),
        ("NATIVE_WEBEX_TEAMS_CALLING", ["broadworks-connector"], BackendName.BWRKS),
        ("NATIVE_WEBEX_TEAMS_CALLING", ["broadworks-connector", "bc-sp-basic"], BackendName.WXC),
    ],
)
def test_choose_backend_as_the_js_sdk(
    behavior: str, entitlements: Iterable[str], backend: BackendName
) -> None:
    assert choose_backend(behavior, entitlements) is backend


@pytest.mark.parametrize(
    ("behavior", "entitlements"),
    [
        ("NATIVE_WEBEX_TEAMS_CALLING", []),
        ("NATIVE_WEBEX_TEAMS_CALLING", ["spark"]),
        ("CALL_WITH_APP", ["bc-sp-basic"]),
        ("", ["broadworks-connector"]),
    ],
)
def test_no_fitting_backend_fails_with_the_js_message(
    behavior: str, entitlements: list[str]
) -> None:
    message = r"^Calling backend is not identified, exiting\.\.\.\.$"
    with pytest.raises(BackendNotIdentified, match=message):
        choose_backend(behavior, entitlements)
    with pytest.raises(BackendNotIdentified):
        CallSettingsClient.for_calling_behavior(behavior, entitlements, **options())


def test_the_helper_builds_a_client_on_the_chosen_backend() -> None:
    with CallSettingsClient.for_calling_behavior(
        "NATIVE_WEBEX_TEAMS_CALLING", ["bc-sp-basic"], **options()
    ) as client:
        assert client.backend.name is BackendName.WXC


@pytest.mark.parametrize(
    "bad",
    [
        {"person": "not-an-id"},
        {"org": "Zm9v"},
        {"base_url": "api.test/v1"},
        {"token": ""},
        {"backend": "teams"},
    ],
)
def test_malformed_construction_raises_value_error(bad: dict[str, str]) -> None:
    with pytest.raises(ValueError, match=r"."):
        CallSettingsClient(**options(**bad))
