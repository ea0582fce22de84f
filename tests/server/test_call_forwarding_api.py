"""GET and PUT callForwarding: the Webex wire shape, partial updates and validation."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server.app import create_app
from callsettings.storage import tables
from tests.factories import World
from tests.server.conftest import make_config

Client = AsyncTestClient[Any]

DEFAULT = {
    "callForwarding": {
        "always": {
            "enabled": False,
            "ringReminderEnabled": False,
            "destinationVoicemailEnabled": False,
        },
        "busy": {"enabled": False, "destinationVoicemailEnabled": False},
        "noAnswer": {
            "enabled": False,
            "numberOfRings": 3,
            "systemMaxNumberOfRings": 20,
            "destinationVoicemailEnabled": False,
        },
    },
    "businessContinuity": {"enabled": False, "destinationVoicemailEnabled": False},
}


def url(world: World, person: Any = None, query: str = "") -> str:
    return f"/v1/people/{world.pid(person or world.ann)}/features/callForwarding{query}"


async def audit_count(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(tables.audit_events)
        return int((await conn.execute(query)).scalar_one())


async def test_get_returns_the_full_document_and_omits_unset_destinations(
    client: Client, world: World
) -> None:
    response = await client.get(url(world), headers=world.auth("full"))
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.json() == DEFAULT


async def test_put_merges_partially_and_answers_204_with_no_body(
    client: Client, world: World
) -> None:
    first = {"callForwarding": {"busy": {"enabled": True, "destination": "1002"}}}
    second = {"callForwarding": {"noAnswer": {"numberOfRings": 5}}}
    for body in (first, second):
        response = await client.put(url(world), json=body, headers=world.auth("full"))
        assert response.status_code == 204
        assert response.content == b""
    got = (await client.get(url(world), headers=world.auth("full"))).json()
    assert got["callForwarding"]["busy"] == {
        "enabled": True,
        "destination": "1002",
        "destinationVoicemailEnabled": False,
    }
    assert got["callForwarding"]["noAnswer"]["numberOfRings"] == 5
    assert got["callForwarding"]["always"] == DEFAULT["callForwarding"]["always"]


async def test_put_ignores_unknown_keys_and_read_only_fields(client: Client, world: World) -> None:
    body = {
        "callForwarding": {
            "always": {"enabled": False, "destination": "", "futureFlag": 1},
            "noAnswer": {"systemMaxNumberOfRings": 99},
        },
        "somethingNew": {"x": 1},
    }
    response = await client.put(url(world), json=body, headers=world.auth("full"))
    assert response.status_code == 204
    got = (await client.get(url(world), headers=world.auth("full"))).json()
    assert got == DEFAULT


async def test_phone_numbers_are_stored_in_e164_with_the_org_country(
    client: Client, world: World
) -> None:
    body = {"callForwarding": {"always": {"enabled": True, "destination": "(907) 555-1333"}}}
    assert (await client.put(url(world), json=body, headers=world.auth("full"))).status_code == 204
    got = (await client.get(url(world), headers=world.auth("full"))).json()
    assert got["callForwarding"]["always"]["destination"] == "+19075551333"


async def test_empty_destination_clears_it(client: Client, world: World) -> None:
    set_it = {"businessContinuity": {"enabled": False, "destination": "2225551212"}}
    await client.put(url(world), json=set_it, headers=world.auth("full"))
    clear = {"businessContinuity": {"destination": ""}}
    assert (await client.put(url(world), json=clear, headers=world.auth("full"))).status_code == 204
    got = (await client.get(url(world), headers=world.auth("full"))).json()
    assert "destination" not in got["businessContinuity"]


BAD_INPUT = [
    ({"callForwarding": {"always": {"enabled": "yes"}}}, "callForwarding.always.enabled"),
    ({"callForwarding": {"always": {"enabled": 1}}}, "callForwarding.always.enabled"),
    (
        {"callForwarding": {"noAnswer": {"numberOfRings": 1}}},
        "callForwarding.noAnswer.numberOfRings",
    ),
    (
        {"callForwarding": {"noAnswer": {"numberOfRings": 21}}},
        "callForwarding.noAnswer.numberOfRings",
    ),
    (
        {"callForwarding": {"noAnswer": {"numberOfRings": 3.5}}},
        "callForwarding.noAnswer.numberOfRings",
    ),
    (
        {"callForwarding": {"noAnswer": {"numberOfRings": "4"}}},
        "callForwarding.noAnswer.numberOfRings",
    ),
    ({"callForwarding": {"always": {"enabled": True}}}, "callForwarding.always.destination"),
    (
        {"businessContinuity": {"enabled": True, "destination": ""}},
        "businessContinuity.destination",
    ),
    (
        {"callForwarding": {"busy": {"enabled": True, "destination": "12ab34"}}},
        "callForwarding.busy.destination",
    ),
    (
        {"callForwarding": {"busy": {"enabled": True, "destination": "1" * 41}}},
        "callForwarding.busy.destination",
    ),
    (
        {"callForwarding": {"busy": {"enabled": True, "destination": "123456789012345678"}}},
        "callForwarding.busy.destination",
    ),
    (
        {"callForwarding": {"busy": {"enabled": True, "destination": "1001"}}},
        "callForwarding.busy.destination",
    ),
    (
        {"callForwarding": {"busy": {"enabled": True, "destination": "+1 212 555 0101"}}},
        "callForwarding.busy.destination",
    ),
    (
        {"callForwarding": {"busy": {"enabled": True, "destination": "1999"}}},
        "callForwarding.busy.destination",
    ),
    (
        {"callForwarding": {"always": {"enabled": True, "destination": 1002}}},
        "callForwarding.always.destination",
    ),
    ({"callForwarding": {"always": None}}, "callForwarding.always"),
    ({"callForwarding": []}, "callForwarding"),
    ([], ""),
]


@pytest.mark.parametrize(("body", "field"), BAD_INPUT)
async def test_bad_input_is_a_400_naming_the_field_and_stores_nothing(
    client: Client, world: World, engine: AsyncEngine, body: Any, field: str
) -> None:
    before = (await client.get(url(world), headers=world.auth("full"))).json()
    audits = await audit_count(engine)
    response = await client.put(url(world), json=body, headers=world.auth("full"))
    assert response.status_code == 400, response.text
    error = response.json()
    assert error["message"].startswith(field) if field else error["message"]
    assert error["errors"][0]["errorCode"] == error["errorCode"] == 40001
    assert error["trackingId"] == response.headers["trackingid"]
    assert (await client.get(url(world), headers=world.auth("full"))).json() == before
    assert await audit_count(engine) == audits


async def test_self_forward_message_says_what_is_wrong(client: Client, world: World) -> None:
    body = {"callForwarding": {"always": {"enabled": True, "destination": "1001"}}}
    response = await client.put(url(world), json=body, headers=world.auth("full"))
    assert response.status_code == 400
    assert "own extension or number" in response.json()["message"]


async def test_rings_above_a_lower_org_maximum_are_refused(
    database_url: str, world: World, engine: AsyncEngine
) -> None:
    app = create_app(make_config(database_url, cache_seconds=0.2))
    async with AsyncTestClient(app=app) as client:
        assert (await client.get(url(world), headers=world.auth("full"))).status_code == 200
        async with engine.begin() as conn:
            await conn.execute(tables.organizations.update().values(system_max_rings=6))
        # Provisioning changed the organization behind the service's back: the write path
        # reads it afresh at once, reads once the organization's cache entry expires.
        body = {"callForwarding": {"noAnswer": {"numberOfRings": 7}}}
        response = await client.put(url(world), json=body, headers=world.auth("full"))
        assert response.status_code == 400
        assert "between 2 and 6, got 7" in response.json()["message"]
        await asyncio.sleep(0.25)
        got = (await client.get(url(world), headers=world.auth("full"))).json()
    assert got["callForwarding"]["noAnswer"]["systemMaxNumberOfRings"] == 6


async def test_an_accepted_change_is_audited_with_actor_before_after_and_tracking_id(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    body = {"callForwarding": {"always": {"enabled": True, "destination": "1002"}}}
    headers = {**world.auth("full"), "TrackingID": "TEST_audit-1"}
    assert (await client.put(url(world), json=body, headers=headers)).status_code == 204
    async with engine.connect() as conn:
        rows = (await conn.execute(sa.select(tables.audit_events))).all()
    assert len(rows) == 1
    event = rows[0]
    assert (event.person_id, event.feature, event.tracking_id) == (
        str(world.ann.id),
        "callForwarding",
        "TEST_audit-1",
    )
    assert event.actor_name == "full"
    assert '"destination":"1002"' in event.after
    assert '"destination"' not in event.before


async def test_an_unchanged_document_writes_no_audit_event(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    body = {"callForwarding": {"always": {"enabled": False}}}
    assert (await client.put(url(world), json=body, headers=world.auth("full"))).status_code == 204
    assert await audit_count(engine) == 0


async def test_unpadded_and_padded_ids_address_the_same_person(
    client: Client, world: World
) -> None:
    padded = world.pid(world.ann)
    assert padded.endswith("=")
    for person_id in (padded, padded.rstrip("=")):
        response = await client.get(
            f"/v1/people/{person_id}/features/callForwarding", headers=world.auth("full")
        )
        assert response.status_code == 200


async def test_wxc_sdk_content_type_on_get_is_accepted(client: Client, world: World) -> None:
    headers = {**world.auth("full"), "Content-Type": "application/json"}
    assert (await client.get(url(world), headers=headers)).status_code == 200
