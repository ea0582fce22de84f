"""One set of settings, three dialects: a change in one is what the others read, and audited."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from tests.factories import World
from tests.server.xsi_support import audit_rows, error_info, values, xml, xsi_url

Client = AsyncTestClient[Any]


def webex_url(world: World, feature: str) -> str:
    return f"/v1/people/{world.pid(world.ann)}/features/{feature}"


def ucm_url(world: World) -> str:
    return f"/v1/uc/config/people/{world.ann.id}/features/callforwarding?orgId={world.org.id}"


async def webex(client: Client, world: World, feature: str) -> Any:
    response = await client.get(webex_url(world, feature), headers=world.auth("full"))
    assert response.status_code == 200
    return response.json()


async def ucm_line(client: Client, world: World) -> Any:
    response = await client.get(ucm_url(world), headers=world.auth("full"))
    assert response.status_code == 200
    (line,) = response.json()["callForwarding"]["always"]
    return line


async def test_forward_always_set_over_xsi_is_read_by_webex_and_ucm(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    # Read first, so a stale cached copy would show if the XSI write did not evict it.
    assert (await webex(client, world, "callForwarding"))["callForwarding"]["always"][
        "enabled"
    ] is False
    body = xml(
        "CallForwardingAlways", ("active", "true"), ("forwardToPhoneNumber", "(907) 555-1333")
    )
    put = await client.put(
        xsi_url(world.ann, "CallForwardingAlways"), content=body, headers=world.auth("full")
    )
    assert put.status_code == 200
    always = (await webex(client, world, "callForwarding"))["callForwarding"]["always"]
    assert always == {
        "enabled": True,
        "destination": "+19075551333",
        "ringReminderEnabled": False,
        "destinationVoicemailEnabled": False,
    }
    assert (await ucm_line(client, world))["destination"] == "+19075551333"
    (event,) = await audit_rows(engine)
    assert (event.dialect, event.feature) == ("xsi", "callForwarding")


async def test_forwarding_set_over_webex_is_read_by_xsi(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    body = {
        "callForwarding": {
            "noAnswer": {"enabled": True, "destination": "1002", "numberOfRings": 5}
        },
        "businessContinuity": {"enabled": True, "destination": "+442071838750"},
    }
    put = await client.put(
        webex_url(world, "callForwarding"), json=body, headers=world.auth("full")
    )
    assert put.status_code == 204
    cfna = await client.get(
        xsi_url(world.ann, "CallForwardingNoAnswer"), headers=world.auth("full")
    )
    assert values(cfna, "CallForwardingNoAnswer") == {
        "active": "true",
        "forwardToPhoneNumber": "1002",
        "numberOfRings": "5",
    }
    cfnr = await client.get(
        xsi_url(world.ann, "CallForwardingNotReachable"), headers=world.auth("full")
    )
    assert values(cfnr, "CallForwardingNotReachable") == {
        "active": "true",
        "forwardToPhoneNumber": "+442071838750",
    }
    assert [e.dialect for e in await audit_rows(engine)] == ["webex"]


async def test_voicemail_for_all_calls_over_xsi_shows_as_voicemail_in_ucm_and_webex(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    forward = {"callForwarding": {"always": {"enabled": True, "destination": "1002"}}}
    await client.put(webex_url(world, "callForwarding"), json=forward, headers=world.auth("full"))
    assert (await ucm_line(client, world))["destination"] == "1002"
    body = xml("VoiceMessaging", ("active", "true"), ("alwaysRedirectToVoiceMail", "true"))
    put = await client.put(
        xsi_url(world.ann, "VoiceMessaging"), content=body, headers=world.auth("full")
    )
    assert put.status_code == 200
    line = await ucm_line(client, world)
    assert line["destinationVoicemailEnabled"] is True
    assert "destination" not in line
    voicemail = await webex(client, world, "voicemail")
    assert (voicemail["enabled"], voicemail["sendAllCalls"]) == (True, {"enabled": True})
    assert [(e.dialect, e.feature) for e in await audit_rows(engine)] == [
        ("webex", "callForwarding"),
        ("xsi", "voicemail"),
    ]


async def test_dnd_and_call_waiting_round_trip_both_ways(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    await client.put(
        webex_url(world, "doNotDisturb"),
        json={"enabled": True, "ringSplashEnabled": True},
        headers=world.auth("full"),
    )
    dnd = await client.get(xsi_url(world.ann, "DoNotDisturb"), headers=world.auth("full"))
    assert values(dnd, "DoNotDisturb") == {"active": "true", "ringSplash": "true"}
    off = xml("CallWaiting", ("active", "false"))
    await client.put(xsi_url(world.ann, "CallWaiting"), content=off, headers=world.auth("full"))
    assert await webex(client, world, "callWaiting") == {"enabled": False}
    assert await webex(client, world, "doNotDisturb") == {
        "enabled": True,
        "ringSplashEnabled": True,
        "webexGoOverrideEnabled": False,
    }
    events = await audit_rows(engine)
    assert [(e.dialect, e.feature) for e in events] == [
        ("webex", "doNotDisturb"),
        ("xsi", "callWaiting"),
    ]
    assert {e.actor_name for e in events} == {"full"}
    assert all(e.tracking_id for e in events)


# The same broken value through both dialects: (Webex body, XSI service and elements, words)
SAME_RULES = [
    (
        "callForwarding",
        {"callForwarding": {"noAnswer": {"numberOfRings": 21}}},
        ("CallForwardingNoAnswer", [("numberOfRings", "21")]),
        "must be between 2 and 20, got 21",
    ),
    (
        "callForwarding",
        {"callForwarding": {"always": {"enabled": True, "destination": "1001"}}},
        ("CallForwardingAlways", [("active", "true"), ("forwardToPhoneNumber", "1001")]),
        "cannot forward a person to their own extension or number (1001)",
    ),
    (
        "callForwarding",
        {"callForwarding": {"busy": {"enabled": True, "destination": "1999"}}},
        ("CallForwardingBusy", [("active", "true"), ("forwardToPhoneNumber", "1999")]),
        "extension 1999 is not assigned to anyone in this organization",
    ),
    (
        "voicemail",
        {"emailCopyOfMessage": {"enabled": True, "emailId": "not-an-email"}},
        (
            "VoiceMessaging",
            [
                ("sendCarbonCopyVoiceMessage", "true"),
                ("voiceMessageCarbonCopyEmailAddress", "not-an-email"),
            ],
        ),
        "'not-an-email' is not a valid email address",
    ),
]


@pytest.mark.parametrize(("feature", "webex_body", "xsi_body", "words"), SAME_RULES)
async def test_both_dialects_refuse_the_same_values_with_the_same_reason(
    client: Client,
    world: World,
    engine: AsyncEngine,
    feature: str,
    webex_body: dict[str, Any],
    xsi_body: tuple[str, list[tuple[str, str | None]]],
    words: str,
) -> None:
    refused = await client.put(
        webex_url(world, feature), json=webex_body, headers=world.auth("full")
    )
    assert refused.status_code == 400
    assert words in refused.json()["message"]
    service, elements = xsi_body
    response = await client.put(
        xsi_url(world.ann, service), content=xml(service, *elements), headers=world.auth("full")
    )
    assert response.status_code == 400
    assert words in str(error_info(response)["summary"])
    assert await audit_rows(engine) == []


async def test_a_partial_xsi_put_keeps_what_webex_set_in_the_same_document(
    client: Client, world: World
) -> None:
    body = {
        "callForwarding": {
            "always": {"enabled": True, "destination": "1002", "ringReminderEnabled": True},
            "busy": {"enabled": True, "destination": "2001"},
        }
    }
    await client.put(webex_url(world, "callForwarding"), json=body, headers=world.auth("full"))
    disable = xml("CallForwardingAlways", ("active", "false"))
    await client.put(
        xsi_url(world.ann, "CallForwardingAlways"), content=disable, headers=world.auth("full")
    )
    rules = (await webex(client, world, "callForwarding"))["callForwarding"]
    assert rules["always"] == {
        "enabled": False,
        "destination": "1002",
        "ringReminderEnabled": True,
        "destinationVoicemailEnabled": False,
    }
    assert rules["busy"]["destination"] == "2001"
    assert "destination" not in await ucm_line(client, world)
