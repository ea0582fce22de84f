"""Every method, sync and async, against the real service over HTTP (Webex Calling backend)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from callsettings.sdk import AlwaysRule, CallForwarding, DoNotDisturb, Voicemail
from tests.sdk.conftest import Live
from tests.server.test_call_forwarding_api import DEFAULT as DEFAULT_FORWARDING

MakeClient = Callable[..., Any]


def put(live: Live, feature: str, body: dict[str, Any], person: str = "ann") -> None:
    """Change a setting with plain httpx, to set up a scenario independently of the SDK."""
    pid = live.world.pid(getattr(live.world, person))
    response = httpx.put(
        f"{live.base_url}/people/{pid}/features/{feature}",
        json=body,
        headers=live.world.auth("full"),
    )
    assert response.status_code == 204, response.text


def get(live: Live, feature: str, person: str = "ann") -> dict[str, Any]:
    pid = live.world.pid(getattr(live.world, person))
    response = httpx.get(
        f"{live.base_url}/people/{pid}/features/{feature}", headers=live.world.auth("full")
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_reading_dnd_gives_the_js_shape(make_client: MakeClient) -> None:
    response = await make_client().get_do_not_disturb_setting()
    assert response.to_dict() == {
        "statusCode": 200,
        "data": {
            "callSetting": {
                "enabled": False,
                "ringSplashEnabled": False,
                "webexGoOverrideEnabled": False,
            }
        },
        "message": "SUCCESS",
    }
    assert response.setting == DoNotDisturb()


async def test_switching_dnd_keeps_ring_splash(live: Live, make_client: MakeClient) -> None:
    put(live, "doNotDisturb", {"ringSplashEnabled": True})
    client = make_client()
    response = await client.set_do_not_disturb_setting(True)
    assert response.to_dict() == {
        "statusCode": 204,
        "data": {"callSetting": {"enabled": True}},
        "message": "SUCCESS",
    }
    # The JS SDK would have sent ringSplashEnabled: false and reset it.
    assert get(live, "doNotDisturb") == {
        "enabled": True,
        "ringSplashEnabled": True,
        "webexGoOverrideEnabled": False,
    }
    assert (await client.set_do_not_disturb_setting(False)).status_code == 204
    assert (await client.get_do_not_disturb_setting()).setting.enabled is False


async def test_reading_call_forwarding_gives_every_rule(make_client: MakeClient) -> None:
    response = await make_client().get_call_forward_setting()
    assert response.status_code == 200
    assert response.message == "SUCCESS"
    assert response.call_setting == DEFAULT_FORWARDING
    assert response.setting == CallForwarding()


async def test_a_partial_forwarding_change_is_sent_echoed_and_stored(
    live: Live, make_client: MakeClient
) -> None:
    client = make_client()
    rule = {"enabled": True, "destination": "1002", "numberOfRings": 4}
    change = {"callForwarding": {"noAnswer": rule}}
    response = await client.set_call_forward_setting(change)
    assert response.to_dict() == {
        "statusCode": 204,
        "data": {"callSetting": change},
        "message": "SUCCESS",
    }
    stored = (await client.get_call_forward_setting()).setting
    assert stored.call_forwarding.no_answer.enabled is True
    assert stored.call_forwarding.no_answer.destination == "1002"
    assert stored.call_forwarding.no_answer.number_of_rings == 4
    assert get(live, "callForwarding")["callForwarding"]["always"]["enabled"] is False


async def test_a_typed_forwarding_document_is_accepted(make_client: MakeClient) -> None:
    client = make_client()
    document = (await client.get_call_forward_setting()).setting
    document.business_continuity.enabled = True
    document.business_continuity.destination = "+1 408 555 0299"
    assert (await client.set_call_forward_setting(document)).status_code == 204
    again = (await client.get_call_forward_setting()).setting
    assert again.business_continuity.destination == "+14085550299"


async def test_a_refused_change_is_a_400_failure_with_the_services_code(
    make_client: MakeClient,
) -> None:
    response = await make_client().set_call_forward_setting(
        {"callForwarding": {"noAnswer": {"numberOfRings": 40}}}
    )
    assert response.to_dict() == {
        "statusCode": 400,
        "data": {"error": "400 Bad request"},
        "message": "FAILURE",
    }
    assert response.error is not None
    assert response.error.code == 40001
    assert "numberOfRings" in (response.error.detail or "")
    assert (response.error.tracking_id or "").startswith("CALLSETTINGS_PY_")


async def test_voicemail_reads_and_changes(live: Live, make_client: MakeClient) -> None:
    client = make_client()
    before = await client.get_voicemail_setting()
    assert before.status_code == 200
    assert before.setting == Voicemail()
    change = {
        "enabled": True,
        "sendBusyCalls": {"enabled": True},
        "sendUnansweredCalls": {"enabled": True, "numberOfRings": 5},
        "notifications": {"enabled": True, "destination": "ann@example.com"},
    }
    response = await client.set_voicemail_setting(change)
    assert response.to_dict()["data"] == {"callSetting": change}
    assert response.status_code == 204
    after = (await client.get_voicemail_setting()).setting
    assert after.enabled
    assert after.send_busy_calls.enabled
    assert after.send_unanswered_calls.number_of_rings == 5
    assert after.notifications.destination == "ann@example.com"
    assert get(live, "voicemail")["sendAllCalls"] == {"enabled": False}


async def test_call_waiting_reads_and_changes_over_xsi(live: Live, make_client: MakeClient) -> None:
    client = make_client(xsi_endpoint=live.xsi_endpoint)
    assert (await client.get_call_waiting_setting()).to_dict() == {
        "statusCode": 200,
        "data": {"callSetting": {"enabled": True}},
        "message": "SUCCESS",
    }
    response = await client.set_call_waiting_setting(False)
    assert response.to_dict() == {
        "statusCode": 204,
        "data": {"callSetting": {"enabled": False}},
        "message": "SUCCESS",
    }
    assert get(live, "callWaiting") == {"enabled": False}
    assert (await client.get_call_waiting_setting()).setting.enabled is False


async def test_a_person_reads_their_own_call_waiting_with_their_user_token(
    live: Live, make_client: MakeClient
) -> None:
    # The REST callWaiting endpoint is for admins; the JS SDK reads it over XSI instead.
    client = make_client(token="ann", xsi_endpoint=live.xsi_endpoint)
    assert (await client.get_call_waiting_setting()).setting.enabled is True
    assert (await client.set_call_waiting_setting(False)).status_code == 204


@pytest.mark.parametrize(
    ("forwarding", "voicemail", "expected"),
    [
        (  # a destination wins, even when voicemail takes every call
            {"always": {"enabled": True, "destination": "1002", "ringReminderEnabled": True}},
            {"enabled": True, "sendAllCalls": {"enabled": True}},
            {
                "enabled": True,
                "destination": "1002",
                "ringReminderEnabled": True,
                "destinationVoicemailEnabled": False,
            },
        ),
        (  # no destination, voicemail sends all: forwarded to VOICEMAIL
            {"always": {"enabled": False}},
            {"enabled": True, "sendAllCalls": {"enabled": True}},
            {
                "enabled": True,
                "destination": "VOICEMAIL",
                "ringReminderEnabled": False,
                "destinationVoicemailEnabled": False,
            },
        ),
        (  # a destination kept while forward-always is off does not count
            {"always": {"enabled": False, "destination": "1002"}},
            {"enabled": True, "sendAllCalls": {"enabled": False}},
            {"enabled": False, "ringReminderEnabled": False, "destinationVoicemailEnabled": False},
        ),
        (  # voicemail off: its send-all switch does not count
            {"always": {"enabled": False}},
            {"enabled": False, "sendAllCalls": {"enabled": True}},
            {"enabled": False, "ringReminderEnabled": False, "destinationVoicemailEnabled": False},
        ),
    ],
)
async def test_forward_always_precedence(
    live: Live,
    make_client: MakeClient,
    forwarding: dict[str, Any],
    voicemail: dict[str, Any],
    expected: dict[str, Any],
) -> None:
    put(live, "voicemail", voicemail)
    put(live, "callForwarding", {"callForwarding": forwarding})
    response = await make_client().get_call_forward_always_setting("ignored-on-webex")
    assert response.to_dict() == {
        "statusCode": 200,
        "data": {"callSetting": expected},
        "message": "SUCCESS",
    }
    assert isinstance(response.setting, AlwaysRule)


@pytest.mark.parametrize(
    ("token", "person", "status", "text"),
    [
        ("expired", "ann", 401, "User is unauthorised, possible token expiry"),
        ("bob", "ann", 403, "User request is forbidden"),
        ("full", "unknown", 404, "User info not found"),
    ],
)
async def test_service_errors_map_to_the_js_texts(
    live: Live, make_client: MakeClient, token: str, person: str, status: int, text: str
) -> None:
    target = live.world.unknown_pid if person == "unknown" else person
    client = make_client(token=token, person=target)
    for response in (
        await client.get_call_forward_setting(),
        await client.set_do_not_disturb_setting(True),
        await client.get_voicemail_setting(),
        await client.get_call_forward_always_setting(),
    ):
        assert response.to_dict() == {
            "statusCode": status,
            "data": {"error": text},
            "message": "FAILURE",
        }


def require_organizations(live: Live) -> None:
    """Skip unless the service has GET /v1/organizations?callingData=true yet."""
    response = httpx.get(
        f"{live.base_url}/organizations",
        params={"callingData": "true"},
        headers=live.world.auth("full"),
    )
    if response.status_code == 404:
        pytest.skip("the service has no GET /v1/organizations?callingData=true endpoint yet")


async def test_call_waiting_discovers_xsi_through_organizations(
    live: Live, make_client: MakeClient
) -> None:
    require_organizations(live)
    put(live, "callWaiting", {"enabled": False})
    client = make_client(token="ann")
    assert (await client.get_call_waiting_setting()).to_dict() == {
        "statusCode": 200,
        "data": {"callSetting": {"enabled": False}},
        "message": "SUCCESS",
    }
    assert (await client.set_call_waiting_setting(True)).status_code == 204
    assert get(live, "callWaiting") == {"enabled": True}
