"""The UCM forward-always view: one entry per line, voicemail first, Webex auth and errors."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server import provisioning
from callsettings.storage.database import write_transaction
from callsettings.storage.records import Person
from tests.factories import World, add_person

Client = AsyncTestClient[Any]


def ucm_url(person: Person | str, org: Any = None) -> str:
    user = person if isinstance(person, str) else str(person.id)
    query = f"?orgId={org if isinstance(org, str) else org.id}" if org is not None else ""
    return f"/v1/uc/config/people/{user}/features/callforwarding{query}"


def webex_url(world: World, person: Person, feature: str) -> str:
    return f"/v1/people/{world.pid(person)}/features/{feature}"


async def lines(client: Client, world: World, person: Person, token: str = "full") -> Any:
    response = await client.get(ucm_url(person, world.org), headers=world.auth(token))
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json"
    return response.json()["callForwarding"]["always"]


async def test_a_person_with_forwarding_off_has_one_line_without_destination(
    client: Client, world: World
) -> None:
    response = await client.get(ucm_url(world.ann, world.org), headers=world.auth("full"))
    assert response.json() == {
        "callForwarding": {
            "always": [
                {"dn": "1001", "destinationVoicemailEnabled": False, "e164Number": "+12125550101"}
            ]
        }
    }


async def test_forward_always_shows_its_destination_on_every_line(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    dee = await add_person(engine, world, "Dee", "1003", ["+12125550103", "+12125550104"])
    body = {"callForwarding": {"always": {"enabled": True, "destination": "+19075551333"}}}
    put = await client.put(
        webex_url(world, dee, "callForwarding"), json=body, headers=world.auth("full")
    )
    assert put.status_code == 204
    assert await lines(client, world, dee) == [
        {
            "dn": "1003",
            "destination": "+19075551333",
            "destinationVoicemailEnabled": False,
            "e164Number": "+12125550103",
        },
        {
            "dn": "+12125550104",
            "destination": "+19075551333",
            "destinationVoicemailEnabled": False,
            "e164Number": "+12125550104",
        },
    ]


async def test_lines_without_extension_or_without_numbers(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    async with write_transaction(engine) as conn:
        numbers_only = await provisioning.create_person(
            conn,
            world.org,
            email="eve@a.example",
            first_name="Eve",
            last_name="Test",
            numbers=["+12125550105"],
            location=world.hq,
        )
        extension_only = await provisioning.create_person(
            conn,
            world.org,
            email="fay@a.example",
            first_name="Fay",
            last_name="Test",
            extension="1006",
            location=world.hq,
        )
    assert await lines(client, world, numbers_only) == [
        {"dn": "+12125550105", "destinationVoicemailEnabled": False, "e164Number": "+12125550105"}
    ]
    assert await lines(client, world, extension_only) == [
        {"dn": "1006", "destinationVoicemailEnabled": False, "e164Number": ""}
    ]


async def test_a_disabled_rule_shows_no_destination(client: Client, world: World) -> None:
    body = {"callForwarding": {"always": {"enabled": False, "destination": "1002"}}}
    await client.put(
        webex_url(world, world.ann, "callForwarding"), json=body, headers=world.auth("full")
    )
    (line,) = await lines(client, world, world.ann)
    assert "destination" not in line
    assert line["destinationVoicemailEnabled"] is False


VOICEMAIL_CASES = [
    # (voicemail patch, forward-always on, expected destination, expected voicemail flag)
    ({"enabled": True, "sendAllCalls": {"enabled": True}}, True, None, True),
    ({"enabled": True, "sendAllCalls": {"enabled": True}}, False, None, True),
    ({"enabled": False, "sendAllCalls": {"enabled": True}}, True, "1002", False),
    ({"enabled": True, "sendBusyCalls": {"enabled": True}}, True, "1002", False),
]


@pytest.mark.parametrize(("voicemail", "always_on", "destination", "flag"), VOICEMAIL_CASES)
async def test_voicemail_for_all_calls_takes_precedence_over_the_destination(
    client: Client,
    world: World,
    voicemail: dict[str, Any],
    always_on: bool,
    destination: str | None,
    flag: bool,
) -> None:
    forwarding = {"callForwarding": {"always": {"enabled": always_on, "destination": "1002"}}}
    for feature, body in (("callForwarding", forwarding), ("voicemail", voicemail)):
        put = await client.put(
            webex_url(world, world.ann, feature), json=body, headers=world.auth("full")
        )
        assert put.status_code == 204, put.text
    (line,) = await lines(client, world, world.ann)
    assert line.get("destination") == destination
    assert line["destinationVoicemailEnabled"] is flag


async def test_ids_may_be_raw_uuids_or_webex_ids_and_org_id_may_be_left_out(
    client: Client, world: World
) -> None:
    for person, org in (
        (str(world.ann.id), str(world.org.id)),
        (world.pid(world.ann), world.oid(world.org)),
        (world.pid(world.ann).rstrip("="), world.oid(world.org).rstrip("=")),
        (str(world.ann.id), None),
    ):
        response = await client.get(ucm_url(person, org), headers=world.auth("full"))
        assert response.status_code == 200, (person, org)
        assert response.json()["callForwarding"]["always"][0]["dn"] == "1001"


# (token, person, org, status)
ACCESS = [
    ("ann", "ann", "org", 200),
    ("read_only", "cat", "org", 200),
    ("location", "cat", "org", 403),
    ("ann", "bob", "org", 403),
    ("full", "zed", "org", 404),
    ("full", "zed", "other_org", 403),
    ("partner", "zed", "other_org", 200),
    ("other_full", "zed", None, 200),
    ("service", "ann", "org", 403),
    ("expired", "ann", "org", 401),
]


@pytest.mark.parametrize(("token", "person", "org", "status"), ACCESS)
async def test_access_follows_the_people_read_rule(
    client: Client, world: World, token: str, person: str, org: str | None, status: int
) -> None:
    target = getattr(world, person)
    response = await client.get(
        ucm_url(target, getattr(world, org) if org else None), headers=world.auth(token)
    )
    assert response.status_code == status, response.text
    if status == 200:
        assert (
            response.json()["callForwarding"]["always"][0]["e164Number"]
            == target.phone_numbers[0].number
        )
    else:
        assert response.json()["errorCode"] // 100 == status
        assert response.json()["trackingId"] == response.headers["trackingid"]


async def test_errors_are_the_webex_body(client: Client, world: World) -> None:
    missing = await client.get(ucm_url(world.ann, world.org))
    assert missing.status_code == 401
    assert missing.headers["www-authenticate"] == 'Bearer realm="callsettings"'
    assert missing.json()["errorCode"] == 40101
    bad_org = await client.get(ucm_url(world.ann, "not-an-org"), headers=world.auth("full"))
    assert bad_org.status_code == 400
    assert bad_org.json()["message"].startswith("orgId:")
    bad_person = await client.get(ucm_url("not-a-person", world.org), headers=world.auth("full"))
    assert bad_person.status_code == 404
    assert bad_person.json()["errorCode"] == 40402
    unknown = await client.get(
        ucm_url("00000000-0000-4000-8000-000000000099", world.org), headers=world.auth("full")
    )
    assert unknown.status_code == 404
    put = await client.put(ucm_url(world.ann, world.org), json={}, headers=world.auth("full"))
    assert put.status_code == 405
