"""XSI-Actions: GET and PUT of every service, partial updates, xsi:nil, JSON and errors."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.settings.ids import IdType, encode_id
from tests.factories import World
from tests.server.xsi_support import (
    NS,
    XML_HEADERS,
    audit_rows,
    error_info,
    values,
    xml,
    xsi_url,
)

Client = AsyncTestClient[Any]

DEFAULTS = {
    "CallForwardingAlways": {"active": "false", "ringSplash": "false"},
    "CallForwardingBusy": {"active": "false"},
    "CallForwardingNoAnswer": {"active": "false", "numberOfRings": "3"},
    "CallForwardingNotReachable": {"active": "false"},
    "DoNotDisturb": {"active": "false", "ringSplash": "false"},
    "CallWaiting": {"active": "true"},
    "VoiceMessaging": {
        "active": "false",
        "alwaysRedirectToVoiceMail": "false",
        "busyRedirectToVoiceMail": "false",
        "noAnswerRedirectToVoiceMail": "false",
        "usePhoneMessageWaitingIndicator": "true",
        "sendVoiceMessageNotifyEmail": "false",
        "sendCarbonCopyVoiceMessage": "false",
        "transferOnZeroToPhoneNumber": "false",
    },
}


@pytest.mark.parametrize("service", DEFAULTS)
async def test_get_returns_the_whole_document_of_every_service(
    client: Client, world: World, service: str
) -> None:
    response = await client.get(xsi_url(world.ann, service), headers=world.auth("full"))
    assert values(response, service) == DEFAULTS[service]
    assert response.content.startswith(b'<?xml version="1.0" encoding="UTF-8"?>\n')
    assert f'<{service} xmlns="{NS}">'.encode() in response.content


# (service, elements sent, elements read back that changed from the defaults)
CHANGES: list[tuple[str, list[tuple[str, str | None]], dict[str, str]]] = [
    (
        "CallForwardingAlways",
        [("active", "true"), ("forwardToPhoneNumber", "1002"), ("ringSplash", "true")],
        {"active": "true", "forwardToPhoneNumber": "1002", "ringSplash": "true"},
    ),
    (
        "CallForwardingBusy",
        [("active", "true"), ("forwardToPhoneNumber", "(907) 555-1333")],
        {"active": "true", "forwardToPhoneNumber": "+19075551333"},
    ),
    (
        "CallForwardingNoAnswer",
        [("active", "1"), ("forwardToPhoneNumber", "+442071838750"), ("numberOfRings", "6")],
        {"active": "true", "forwardToPhoneNumber": "+442071838750", "numberOfRings": "6"},
    ),
    (
        "CallForwardingNotReachable",
        [("active", "true"), ("forwardToPhoneNumber", "2001")],
        {"active": "true", "forwardToPhoneNumber": "2001"},
    ),
    (
        "DoNotDisturb",
        [("active", "true"), ("ringSplash", "true")],
        {"active": "true", "ringSplash": "true"},
    ),
    ("CallWaiting", [("active", "false")], {"active": "false"}),
    (
        "VoiceMessaging",
        [
            ("active", "true"),
            ("alwaysRedirectToVoiceMail", "true"),
            ("busyRedirectToVoiceMail", "true"),
            ("noAnswerRedirectToVoiceMail", "true"),
            ("usePhoneMessageWaitingIndicator", "false"),
            ("sendVoiceMessageNotifyEmail", "true"),
            ("voiceMessageNotifyEmailAddress", "Ann@A.example"),
            ("sendCarbonCopyVoiceMessage", "true"),
            ("voiceMessageCarbonCopyEmailAddress", "copy@a.example"),
            ("transferOnZeroToPhoneNumber", "true"),
            ("transferPhoneNumber", "2125550199"),
        ],
        {
            "active": "true",
            "alwaysRedirectToVoiceMail": "true",
            "busyRedirectToVoiceMail": "true",
            "noAnswerRedirectToVoiceMail": "true",
            "usePhoneMessageWaitingIndicator": "false",
            "sendVoiceMessageNotifyEmail": "true",
            "voiceMessageNotifyEmailAddress": "Ann@a.example",
            "sendCarbonCopyVoiceMessage": "true",
            "voiceMessageCarbonCopyEmailAddress": "copy@a.example",
            "transferOnZeroToPhoneNumber": "true",
            "transferPhoneNumber": "+12125550199",
        },
    ),
]


@pytest.mark.parametrize(("service", "sent", "changed"), CHANGES, ids=[c[0] for c in CHANGES])
async def test_put_changes_every_service_and_get_reads_it_back(
    client: Client,
    world: World,
    service: str,
    sent: list[tuple[str, str | None]],
    changed: dict[str, str],
) -> None:
    url = xsi_url(world.ann, service)
    put = await client.put(url, content=xml(service, *sent), headers=world.auth("full"))
    assert put.status_code == 200, put.text
    assert put.content == b""
    got = values(await client.get(url, headers=world.auth("full")), service)
    assert got == {**DEFAULTS[service], **changed}


async def test_put_changes_only_the_elements_sent(client: Client, world: World) -> None:
    url = xsi_url(world.ann, "CallForwardingAlways")
    first = xml("CallForwardingAlways", ("active", "true"), ("forwardToPhoneNumber", "1002"))
    second = xml("CallForwardingAlways", ("ringSplash", "true"))
    for body in (first, second):
        assert (await client.put(url, content=body, headers=world.auth("full"))).status_code == 200
    assert values(await client.get(url, headers=world.auth("full")), "CallForwardingAlways") == {
        "active": "true",
        "forwardToPhoneNumber": "1002",
        "ringSplash": "true",
    }
    busy = await client.get(xsi_url(world.ann, "CallForwardingBusy"), headers=world.auth("full"))
    assert values(busy, "CallForwardingBusy") == DEFAULTS["CallForwardingBusy"]


@pytest.mark.parametrize("cleared", [None, ""], ids=["xsi:nil", "empty element"])
async def test_xsi_nil_or_an_empty_element_clears_a_number(
    client: Client, world: World, cleared: str | None
) -> None:
    url = xsi_url(world.ann, "CallForwardingBusy")
    set_it = xml("CallForwardingBusy", ("forwardToPhoneNumber", "1002"))
    clear = xml("CallForwardingBusy", ("forwardToPhoneNumber", cleared))
    await client.put(url, content=set_it, headers=world.auth("full"))
    assert values(await client.get(url, headers=world.auth("full")), "CallForwardingBusy") == {
        "active": "false",
        "forwardToPhoneNumber": "1002",
    }
    assert (await client.put(url, content=clear, headers=world.auth("full"))).status_code == 200
    got = values(await client.get(url, headers=world.auth("full")), "CallForwardingBusy")
    assert got == DEFAULTS["CallForwardingBusy"]


async def test_xsi_nil_on_an_email_clears_it(client: Client, world: World) -> None:
    url = xsi_url(world.ann, "VoiceMessaging")
    set_it = xml("VoiceMessaging", ("voiceMessageCarbonCopyEmailAddress", "copy@a.example"))
    clear = xml("VoiceMessaging", ("voiceMessageCarbonCopyEmailAddress", None))
    for body in (set_it, clear):
        assert (await client.put(url, content=body, headers=world.auth("full"))).status_code == 200
    assert (
        values(await client.get(url, headers=world.auth("full")), "VoiceMessaging")
        == (DEFAULTS["VoiceMessaging"])
    )


async def test_zero_rings_is_the_system_default(client: Client, world: World) -> None:
    url = xsi_url(world.ann, "CallForwardingNoAnswer")
    await client.put(
        url,
        content=xml("CallForwardingNoAnswer", ("numberOfRings", "7")),
        headers=world.auth("full"),
    )
    zero = xml("CallForwardingNoAnswer", ("numberOfRings", "0"))
    assert (await client.put(url, content=zero, headers=world.auth("full"))).status_code == 200
    got = values(await client.get(url, headers=world.auth("full")), "CallForwardingNoAnswer")
    assert got["numberOfRings"] == "3"


async def test_format_json_answers_badgerfish(client: Client, world: World) -> None:
    response = await client.get(
        xsi_url(world.ann, "CallWaiting", "?format=json"), headers=world.auth("full")
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {"CallWaiting": {"@xmlns": {"$": NS}, "active": {"$": "true"}}}
    put = xml("CallForwardingAlways", ("active", "true"), ("forwardToPhoneNumber", "1002"))
    await client.put(
        xsi_url(world.ann, "CallForwardingAlways"), content=put, headers=world.auth("full")
    )
    cfa = await client.get(
        xsi_url(world.ann, "CallForwardingAlways", "?format=json"), headers=world.auth("full")
    )
    assert cfa.json() == {
        "CallForwardingAlways": {
            "@xmlns": {"$": NS},
            "active": {"$": "true"},
            "forwardToPhoneNumber": {"$": "1002"},
            "ringSplash": {"$": "false"},
        }
    }


async def test_the_services_list_names_each_service_with_its_uri(
    client: Client, world: World
) -> None:
    response = await client.get(xsi_url("ann@a.example"), headers=world.auth("full"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/xml; charset=UTF-8"
    text = response.text
    assert text.startswith(f'<?xml version="1.0" encoding="UTF-8"?>\n<Services xmlns="{NS}">')
    for service in DEFAULTS:
        assert f"<uri>/v2.0/user/ann@a.example/services/{service}</uri>" in text
    assert "<service><name>Call Waiting</name>" in text
    as_json = await client.get(
        xsi_url("ann@a.example", query="?format=json"), headers=world.auth("full")
    )
    listed = as_json.json()["Services"]["service"]
    assert [s["uri"]["$"].rsplit("/", 1)[1] for s in listed] == list(DEFAULTS)


async def test_every_uri_in_the_list_answers_below_the_xsi_root(
    client: Client, world: World
) -> None:
    listed = (
        await client.get(xsi_url(world.bob, query="?format=json"), headers=world.auth("full"))
    ).json()["Services"]["service"]
    for entry in listed:
        response = await client.get(
            "/com.broadsoft.xsi-actions" + entry["uri"]["$"], headers=world.auth("full")
        )
        assert response.status_code == 200, entry


async def test_user_id_may_be_an_email_a_raw_uuid_or_a_webex_id(
    client: Client, world: World
) -> None:
    webex_id = encode_id(IdType.PEOPLE, world.ann.id)
    for user in (world.ann.email, world.ann.email.upper(), str(world.ann.id), webex_id):
        response = await client.get(xsi_url(user, "CallWaiting"), headers=world.auth("full"))
        assert values(response, "CallWaiting") == {"active": "true"}, user


async def test_service_names_are_case_insensitive(client: Client, world: World) -> None:
    response = await client.get(xsi_url(world.ann, "callwaiting"), headers=world.auth("full"))
    assert values(response, "CallWaiting") == {"active": "true"}


NOT_FOUND = [
    ("ann", "SimultaneousRing", "not assigned to the user"),
    ("nobody@a.example", "CallWaiting", "User not found"),
    ("00000000-0000-0000-0000-000000000007", "CallWaiting", "User not found"),
    ("not-an-id", "CallWaiting", "User not found"),
]


@pytest.mark.parametrize(("user", "service", "summary"), NOT_FOUND)
async def test_unknown_users_and_services_are_404_error_info(
    client: Client, world: World, user: str, service: str, summary: str
) -> None:
    person = world.ann if user == "ann" else user
    response = await client.get(xsi_url(person, service), headers=world.auth("full"))
    assert response.status_code == 404
    info = error_info(response)
    assert summary in str(info["summary"])
    assert info["errorCode"] in ("40401", "40402")


# (service, elements, element named in the error, words of the message)
INVALID = [
    ("CallForwardingNoAnswer", [("numberOfRings", "1")], "numberOfRings", "or at least 2, got 1"),
    ("CallForwardingNoAnswer", [("numberOfRings", "21")], "numberOfRings", "between 2 and 20"),
    ("CallForwardingNoAnswer", [("numberOfRings", "three")], "numberOfRings", "whole number"),
    ("CallWaiting", [("active", "yes")], "active", "must be true or false, got 'yes'"),
    ("CallWaiting", [("active", None)], "active", "cannot be cleared"),
    (
        "CallForwardingAlways",
        [("active", "true")],
        "forwardToPhoneNumber",
        "is required when the rule is enabled",
    ),
    (
        "CallForwardingAlways",
        [("active", "true"), ("forwardToPhoneNumber", "1001")],
        "forwardToPhoneNumber",
        "own extension or number",
    ),
    (
        "CallForwardingBusy",
        [("forwardToPhoneNumber", "+1 212 555 0101")],
        "forwardToPhoneNumber",
        "own extension or number",
    ),
    (
        "CallForwardingNotReachable",
        [("forwardToPhoneNumber", "1999")],
        "forwardToPhoneNumber",
        "not assigned to anyone",
    ),
    (
        "CallForwardingBusy",
        [("forwardToPhoneNumber", "12ab34")],
        "forwardToPhoneNumber",
        "must be an extension or a phone number",
    ),
    (
        "VoiceMessaging",
        [("sendVoiceMessageNotifyEmail", "true")],
        "voiceMessageNotifyEmailAddress",
        "an email address is required",
    ),
    (
        "VoiceMessaging",
        [("sendCarbonCopyVoiceMessage", "true"), ("voiceMessageCarbonCopyEmailAddress", "nope")],
        "voiceMessageCarbonCopyEmailAddress",
        "not a valid email address",
    ),
    (
        "VoiceMessaging",
        [("transferOnZeroToPhoneNumber", "true")],
        "transferPhoneNumber",
        "is required",
    ),
]


@pytest.mark.parametrize(("service", "sent", "element", "words"), INVALID)
async def test_invalid_values_are_a_400_naming_the_element_and_store_nothing(
    client: Client,
    world: World,
    engine: AsyncEngine,
    service: str,
    sent: list[tuple[str, str | None]],
    element: str,
    words: str,
) -> None:
    url = xsi_url(world.ann, service)
    before = (await client.get(url, headers=world.auth("full"))).content
    response = await client.put(url, content=xml(service, *sent), headers=world.auth("full"))
    assert response.status_code == 400, response.text
    info = error_info(response)
    assert str(info["summary"]).startswith(f"{element}: ")
    assert words in str(info["summary"])
    assert info["errorCode"] == "40001"
    assert (await client.get(url, headers=world.auth("full"))).content == before
    assert await audit_rows(engine) == []


async def test_a_put_is_audited_as_the_xsi_dialect(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    headers = {**world.auth("full"), **XML_HEADERS, "TrackingID": "XSI_test-1"}
    body = xml("DoNotDisturb", ("active", "true"))
    await client.put(xsi_url(world.ann, "DoNotDisturb"), content=body, headers=headers)
    (event,) = await audit_rows(engine)
    assert (event.dialect, event.feature, event.person_id) == (
        "xsi",
        "doNotDisturb",
        str(world.ann.id),
    )
    assert (event.actor_name, event.tracking_id) == ("full", "XSI_test-1")
    assert '"enabled":true' in event.after


async def test_an_unchanged_document_writes_no_audit_event(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    body = xml("CallWaiting", ("active", "true"))
    response = await client.put(
        xsi_url(world.ann, "CallWaiting"), content=body, headers=world.auth("full")
    )
    assert response.status_code == 200
    assert await audit_rows(engine) == []


async def test_a_body_that_is_not_xml_is_415(client: Client, world: World) -> None:
    response = await client.put(
        xsi_url(world.ann, "CallWaiting"),
        content=b'{"CallWaiting": {"active": {"$": "false"}}}',
        headers={**world.auth("full"), "Content-Type": "application/json"},
    )
    assert response.status_code == 415
    assert "application/xml" in str(error_info(response)["summary"])


@pytest.mark.parametrize("content_type", ["application/xml", "text/xml; charset=utf-8", None])
async def test_xml_content_types_and_none_are_accepted(
    client: Client, world: World, content_type: str | None
) -> None:
    headers = world.auth("full")
    if content_type:
        headers["Content-Type"] = content_type
    body = xml("CallWaiting", ("active", "false"))
    response = await client.put(xsi_url(world.ann, "CallWaiting"), content=body, headers=headers)
    assert response.status_code == 200


async def test_errors_follow_format_json(client: Client, world: World) -> None:
    response = await client.get(
        xsi_url(world.ann, "Nope", "?format=json"), headers=world.auth("full")
    )
    assert response.status_code == 404
    assert response.headers["content-type"] == "application/json"
    assert response.json() == {
        "ErrorInfo": {
            "@xmlns": {"$": NS},
            "summary": {"$": "The service 'Nope' is not assigned to the user."},
            "summaryEnglish": {"$": "The service 'Nope' is not assigned to the user."},
            "errorCode": {"$": "40401"},
        }
    }


async def test_an_unsupported_method_is_405_error_info(client: Client, world: World) -> None:
    response = await client.delete(xsi_url(world.ann, "CallWaiting"), headers=world.auth("full"))
    assert response.status_code == 405
    assert "allowed" in str(error_info(response)["summary"])


async def test_a_path_below_the_xsi_root_that_does_not_exist_is_404_error_info(
    client: Client, world: World
) -> None:
    response = await client.get(
        "/com.broadsoft.xsi-actions/v2.0/profile", headers=world.auth("full")
    )
    assert response.status_code == 404
    assert error_info(response)["errorCode"] == "40401"
    webex = await client.get("/v1/nothing-here", headers=world.auth("full"))
    assert webex.json()["errorCode"] == 40401
