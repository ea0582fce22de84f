"""The backend contract: the same scenarios through every backend, over real HTTP.

Each scenario runs against the live service (SQLite and PostgreSQL) through the sync and the
async client, for every backend that supports the method: Webex Calling (REST, call waiting
over XSI), BroadWorks (XSI only) and UCM (forward-always only). The service holds one truth
per person, so a backend is judged by what it makes of that truth, checked with plain REST.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from msgspec import UNSET

from callsettings.cli.main import cli
from tests.sdk.conftest import Live

MakeClient = Callable[..., Any]
FULL = ["wxc", "bwrks"]  # the backends that serve every method


def rest(live: Live, method: str, feature: str, body: dict[str, Any] | None = None) -> Any:
    pid = live.world.pid(live.world.ann)
    response = httpx.request(
        method,
        f"{live.base_url}/people/{pid}/features/{feature}",
        json=body,
        headers=live.world.auth("full"),
    )
    assert response.is_success, response.text
    return response.json() if method == "GET" else None


def organizations_missing(live: Live) -> bool:
    probe = httpx.get(
        f"{live.base_url}/organizations",
        params={"callingData": "true"},
        headers=live.world.auth("full"),
    )
    return probe.status_code == 404


def on(make_client: MakeClient, live: Live, backend: str, **extra: Any) -> Any:
    return make_client(backend=backend, xsi_endpoint=live.xsi_endpoint, **extra)


@pytest.fixture(params=FULL)
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


async def test_dnd_reads_switches_and_keeps_ring_splash(
    live: Live, make_client: MakeClient, backend: str
) -> None:
    client = on(make_client, live, backend)
    before = await client.get_do_not_disturb_setting()
    assert (before.status_code, before.message) == (200, "SUCCESS")
    assert (before.setting.enabled, before.setting.ring_splash_enabled) == (False, False)
    rest(live, "PUT", "doNotDisturb", {"ringSplashEnabled": True})

    switched = await client.set_do_not_disturb_setting(True)
    assert switched.to_dict() == {
        "statusCode": 204,
        "data": {"callSetting": {"enabled": True}},
        "message": "SUCCESS",
    }
    after = (await client.get_do_not_disturb_setting()).setting
    assert (after.enabled, after.ring_splash_enabled) == (True, True)
    assert rest(live, "GET", "doNotDisturb")["ringSplashEnabled"] is True


FORWARDING_CHANGE = {
    "callForwarding": {
        "always": {"enabled": True, "destination": "1002", "ringReminderEnabled": True},
        "busy": {"enabled": True, "destination": "+1 212 555 0199"},
        "noAnswer": {"enabled": True, "destination": "2001", "numberOfRings": 5},
    },
    "businessContinuity": {"enabled": True, "destination": "+14085550299"},
}


async def test_call_forwarding_changes_and_reads_back(
    live: Live, make_client: MakeClient, backend: str
) -> None:
    client = on(make_client, live, backend)
    response = await client.set_call_forward_setting(FORWARDING_CHANGE)
    assert response.to_dict() == {
        "statusCode": 204,
        "data": {"callSetting": FORWARDING_CHANGE},
        "message": "SUCCESS",
    }
    read = await client.get_call_forward_setting()
    assert read.status_code == 200
    rules = read.setting.call_forwarding
    assert (rules.always.enabled, rules.always.destination) == (True, "1002")
    assert rules.always.ring_reminder_enabled is True
    assert (rules.busy.enabled, rules.busy.destination) == (True, "+12125550199")
    assert (rules.no_answer.destination, rules.no_answer.number_of_rings) == ("2001", 5)
    assert read.setting.business_continuity.destination == "+14085550299"
    stored = rest(live, "GET", "callForwarding")
    assert stored["callForwarding"]["noAnswer"]["numberOfRings"] == 5
    assert stored["businessContinuity"]["enabled"] is True


async def test_an_empty_destination_clears_it(
    live: Live, make_client: MakeClient, backend: str
) -> None:
    rest(live, "PUT", "callForwarding", {"callForwarding": {"busy": {"destination": "1002"}}})
    client = on(make_client, live, backend)
    change = {"callForwarding": {"busy": {"enabled": False, "destination": ""}}}
    assert (await client.set_call_forward_setting(change)).status_code == 204
    busy = (await client.get_call_forward_setting()).setting.call_forwarding.busy
    assert (busy.enabled, busy.destination) == (False, UNSET)
    assert "destination" not in rest(live, "GET", "callForwarding")["callForwarding"]["busy"]


async def test_a_refused_change_is_a_400_and_stores_nothing(
    live: Live, make_client: MakeClient, backend: str
) -> None:
    client = on(make_client, live, backend)
    rule = {"enabled": True, "destination": "1002", "numberOfRings": 40}
    change = {"callForwarding": {"noAnswer": rule}}
    response = await client.set_call_forward_setting(change)
    assert response.to_dict() == {
        "statusCode": 400,
        "data": {"error": "400 Bad request"},
        "message": "FAILURE",
    }
    assert response.error is not None
    assert response.error.code == 40001
    assert "numberOfRings" in (response.error.detail or "")
    assert rest(live, "GET", "callForwarding")["callForwarding"]["noAnswer"]["enabled"] is False


VOICEMAIL_CHANGE = {
    "enabled": True,
    "sendBusyCalls": {"enabled": True},
    "sendUnansweredCalls": {"enabled": True},
    "notifications": {"enabled": True, "destination": "ann@example.com"},
    "transferToNumber": {"enabled": True, "destination": "1002"},
}


async def test_voicemail_changes_and_reads_back(
    live: Live, make_client: MakeClient, backend: str
) -> None:
    client = on(make_client, live, backend)
    before = await client.get_voicemail_setting()
    assert (before.status_code, before.setting.enabled) == (200, False)
    response = await client.set_voicemail_setting(VOICEMAIL_CHANGE)
    assert response.to_dict()["data"] == {"callSetting": VOICEMAIL_CHANGE}
    assert response.status_code == 204
    after = (await client.get_voicemail_setting()).setting
    assert after.enabled is True
    assert after.send_busy_calls.enabled is True
    assert after.send_unanswered_calls.enabled is True
    assert after.send_all_calls.enabled is False
    assert after.notifications.destination == "ann@example.com"
    assert after.transfer_to_number.destination == "1002"
    assert rest(live, "GET", "voicemail")["transferToNumber"] == {
        "enabled": True,
        "destination": "1002",
    }


async def test_call_waiting_switches(live: Live, make_client: MakeClient, backend: str) -> None:
    client = on(make_client, live, backend)
    assert (await client.get_call_waiting_setting()).to_dict() == {
        "statusCode": 200,
        "data": {"callSetting": {"enabled": True}},
        "message": "SUCCESS",
    }
    assert (await client.set_call_waiting_setting(False)).status_code == 204
    assert rest(live, "GET", "callWaiting") == {"enabled": False}
    assert (await client.get_call_waiting_setting()).setting.enabled is False


# (forwarding, voicemail, what each backend answers as (enabled, destination)).
PRECEDENCE = [
    pytest.param(
        {"always": {"enabled": True, "destination": "1002"}},
        {"enabled": False},
        {"wxc": (True, "1002"), "bwrks": (True, "1002"), "ucm": (True, "1002")},
        id="destination",
    ),
    pytest.param(
        {"always": {"enabled": False}},
        {"enabled": True, "sendAllCalls": {"enabled": True}},
        {"wxc": (True, "VOICEMAIL"), "bwrks": (True, "VOICEMAIL"), "ucm": (True, "VOICEMAIL")},
        id="voicemail",
    ),
    # Both: the JS SDK lets the destination win on Webex Calling and BroadWorks, while the UCM
    # view gives voicemail precedence, as UCM does.
    pytest.param(
        {"always": {"enabled": True, "destination": "1002"}},
        {"enabled": True, "sendAllCalls": {"enabled": True}},
        {"wxc": (True, "1002"), "bwrks": (True, "1002"), "ucm": (True, "VOICEMAIL")},
        id="both",
    ),
    pytest.param(
        {"always": {"enabled": False, "destination": "1002"}},
        {"enabled": True, "sendAllCalls": {"enabled": False}},
        {"wxc": (False, UNSET), "bwrks": (False, UNSET), "ucm": (False, UNSET)},
        id="neither",
    ),
]


@pytest.mark.parametrize(("forwarding", "voicemail", "expected"), PRECEDENCE)
@pytest.mark.parametrize("name", ["wxc", "bwrks", "ucm"])
async def test_forward_always_precedence(
    live: Live,
    make_client: MakeClient,
    name: str,
    forwarding: dict[str, Any],
    voicemail: dict[str, Any],
    expected: dict[str, tuple[bool, Any]],
) -> None:
    rest(live, "PUT", "voicemail", voicemail)
    rest(live, "PUT", "callForwarding", {"callForwarding": forwarding})
    response = await on(make_client, live, name).get_call_forward_always_setting("1001")
    assert (response.status_code, response.message) == (200, "SUCCESS")
    setting = response.setting
    assert (setting.enabled, setting.destination) == expected[name]
    assert response.call_setting.get("destination", UNSET) == expected[name][1]


@pytest.mark.parametrize("number", ["1001", "001", "+12125550101", "5550101"])
async def test_ucm_matches_the_number_by_suffix_of_dn_or_e164(
    live: Live, make_client: MakeClient, number: str
) -> None:
    rest(
        live,
        "PUT",
        "callForwarding",
        {"callForwarding": {"always": {"enabled": True, "destination": "1002"}}},
    )
    response = await on(make_client, live, "ucm").get_call_forward_always_setting(number)
    assert response.to_dict() == {
        "statusCode": 200,
        "data": {"callSetting": {"enabled": True, "destination": "1002"}},
        "message": "SUCCESS",
    }


@pytest.mark.parametrize(
    ("number", "status", "text"),
    [
        (None, 400, "Directory Number is mandatory for UCM backend"),
        ("", 400, "Directory Number is mandatory for UCM backend"),
        ("1009", 404, "Directory Number is not assigned to the user"),
    ],
)
async def test_ucm_needs_an_assigned_directory_number(
    live: Live, make_client: MakeClient, number: str | None, status: int, text: str
) -> None:
    response = await on(make_client, live, "ucm").get_call_forward_always_setting(number)
    assert response.to_dict() == {
        "statusCode": status,
        "data": {"error": text},
        "message": "FAILURE",
    }


@pytest.mark.parametrize(
    ("method", "args"),
    [
        ("get_call_waiting_setting", ()),
        ("set_call_waiting_setting", (True,)),
        ("get_do_not_disturb_setting", ()),
        ("set_do_not_disturb_setting", (True,)),
        ("get_call_forward_setting", ()),
        ("set_call_forward_setting", ({"callForwarding": {}},)),
        ("get_voicemail_setting", ()),
        ("set_voicemail_setting", ({"enabled": True},)),
    ],
)
async def test_ucm_answers_501_for_every_other_method(
    live: Live, make_client: MakeClient, method: str, args: tuple[Any, ...]
) -> None:
    response = await getattr(on(make_client, live, "ucm"), method)(*args)
    assert response.to_dict() == {
        "statusCode": 501,
        "data": {"error": "Method is not implemented at the backend"},
        "message": "FAILURE",
    }


@pytest.mark.parametrize(
    ("name", "method", "args"),
    [
        ("wxc", "get_call_forward_setting", ()),
        ("bwrks", "get_call_forward_setting", ()),
        ("bwrks", "set_do_not_disturb_setting", (True,)),
        ("bwrks", "get_call_waiting_setting", ()),
        ("ucm", "get_call_forward_always_setting", ("1001",)),
    ],
)
@pytest.mark.parametrize(
    ("token", "status", "text"),
    [
        ("expired", 401, "User is unauthorised, possible token expiry"),
        ("bob", 403, "User request is forbidden"),
    ],
)
async def test_every_backend_maps_service_errors_alike(
    live: Live,
    make_client: MakeClient,
    name: str,
    method: str,
    args: tuple[Any, ...],
    token: str,
    status: int,
    text: str,
) -> None:
    client = on(make_client, live, name, token=token)
    response = await getattr(client, method)(*args)
    assert response.to_dict() == {
        "statusCode": status,
        "data": {"error": text},
        "message": "FAILURE",
    }


async def test_a_change_through_one_backend_is_read_through_the_others(
    live: Live, make_client: MakeClient
) -> None:
    broadworks = on(make_client, live, "bwrks")
    webex = on(make_client, live, "wxc")
    ucm = on(make_client, live, "ucm")
    change = {"callForwarding": {"always": {"enabled": True, "destination": "2001"}}}
    assert (await broadworks.set_call_forward_setting(change)).ok
    assert (await webex.get_call_forward_always_setting()).setting.destination == "2001"
    assert (await ucm.get_call_forward_always_setting("1001")).setting.destination == "2001"
    assert (
        await webex.set_voicemail_setting({"enabled": True, "sendAllCalls": {"enabled": True}})
    ).ok
    assert (await broadworks.get_voicemail_setting()).setting.send_all_calls.enabled is True
    assert (await ucm.get_call_forward_always_setting("1001")).setting.destination == "VOICEMAIL"


@pytest.fixture
def xsi_password(live: Live) -> str:
    """Ann's XSI password, set the way an admin does it: with the CLI."""
    password = "an-xsi-password"
    result = CliRunner().invoke(
        cli,
        [
            *("xsi", "set-password", "--database-url", live.database_url),
            *("--person", "ann@a.example", "--password", password),
        ],
    )
    assert result.exit_code == 0, result.output
    return password


async def test_broadworks_with_an_xsi_password(
    live: Live, make_client: MakeClient, xsi_password: str
) -> None:
    client = on(make_client, live, "bwrks", xsi_credentials=("ann@a.example", xsi_password))
    assert (await client.set_do_not_disturb_setting(True)).status_code == 204
    assert (await client.get_do_not_disturb_setting()).setting.enabled is True
    wrong = on(make_client, live, "bwrks", xsi_credentials=("ann@a.example", "not-the-password"))
    assert (await wrong.get_do_not_disturb_setting()).to_dict() == {
        "statusCode": 401,
        "data": {"error": "User is unauthorised, possible token expiry"},
        "message": "FAILURE",
    }


async def test_broadworks_discovers_the_xsi_host(live: Live, make_client: MakeClient) -> None:
    if organizations_missing(live):
        pytest.skip("the service has no GET /v1/organizations?callingData=true endpoint yet")
    client = make_client(backend="bwrks")
    assert (await client.set_call_waiting_setting(False)).status_code == 204
    assert rest(live, "GET", "callWaiting") == {"enabled": False}
