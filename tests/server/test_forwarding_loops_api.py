"""Write-time loop protection: a change that closes a cycle of always-forwards is refused."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.storage.records import Person
from tests.factories import World, add_person
from tests.server.test_call_forwarding_api import audit_count
from tests.server.xsi_support import XML_HEADERS, error_info, xml, xsi_url

Client = AsyncTestClient[Any]


def url(world: World, person: Person) -> str:
    return f"/v1/people/{world.pid(person)}/features/callForwarding"


def always(destination: str) -> dict[str, Any]:
    return {"callForwarding": {"always": {"enabled": True, "destination": destination}}}


async def put_always(client: Client, world: World, person: Person, destination: str) -> Any:
    return await client.put(
        url(world, person), json=always(destination), headers=world.auth("full")
    )


async def stored_always(client: Client, world: World, person: Person) -> dict[str, Any]:
    response = await client.get(url(world, person), headers=world.auth("full"))
    rule: dict[str, Any] = response.json()["callForwarding"]["always"]
    return rule


@pytest.mark.parametrize(
    ("chain", "closing", "cycle"),
    [
        # bob -> ann already; ann -> bob closes it (by extension).
        ([("bob", "1001")], ("ann", "1002"), "1001 (Ann Test) -> 1002 (Bob Test) -> 1001"),
        # the same loop closed through a phone number instead of an extension.
        ([("bob", "1001")], ("ann", "+12125550102"), "1001 (Ann Test) -> 1002 (Bob Test)"),
        # three people: bob -> cat -> ann; ann -> bob closes it.
        (
            [("bob", "2001"), ("cat", "+1 212 555 0101")],
            ("ann", "1002"),
            "1001 (Ann Test) -> 1002 (Bob Test) -> 2001 (Cat Test) -> 1001 (Ann Test)",
        ),
    ],
)
async def test_a_put_that_closes_a_cycle_is_refused_naming_it(
    client: Client,
    world: World,
    engine: AsyncEngine,
    chain: list[tuple[str, str]],
    closing: tuple[str, str],
    cycle: str,
) -> None:
    for name, destination in chain:
        assert (
            await put_always(client, world, getattr(world, name), destination)
        ).status_code == 204
    audits = await audit_count(engine)
    person = getattr(world, closing[0])

    response = await put_always(client, world, person, closing[1])

    assert response.status_code == 400
    body = response.json()
    assert body["errors"][0]["errorCode"] == 40004
    assert "callForwarding.always.destination" in body["message"]
    assert cycle in body["message"]
    assert (await stored_always(client, world, person))["enabled"] is False
    assert await audit_count(engine) == audits


async def test_forwarding_to_oneself_is_refused(client: Client, world: World) -> None:
    response = await put_always(client, world, world.ann, "1001")
    assert response.status_code == 400
    assert "callForwarding.always.destination" in response.json()["message"]
    assert (await stored_always(client, world, world.ann))["enabled"] is False


@pytest.mark.parametrize(
    "chain",
    [
        [("bob", "2001")],  # a chain that does not come back
        [("bob", "+14155550100")],  # leaves the organization
        [("bob", "1001")],  # bob's busy (not always) rule points back; only always closes loops
    ],
)
async def test_chains_that_do_not_come_back_are_accepted(
    client: Client, world: World, chain: list[tuple[str, str]]
) -> None:
    name, destination = chain[0]
    if destination == "1001":
        body = {"callForwarding": {"busy": {"enabled": True, "destination": "1001"}}}
        response = await client.put(url(world, world.bob), json=body, headers=world.auth("full"))
    else:
        response = await put_always(client, world, getattr(world, name), destination)
    assert response.status_code == 204
    assert (await put_always(client, world, world.ann, "1002")).status_code == 204
    assert (await stored_always(client, world, world.ann))["destination"] == "1002"


async def test_a_disabled_always_rule_does_not_close_a_cycle(client: Client, world: World) -> None:
    assert (await put_always(client, world, world.bob, "1001")).status_code == 204
    off = {"callForwarding": {"always": {"enabled": False}}}
    assert (
        await client.put(url(world, world.bob), json=off, headers=world.auth("full"))
    ).status_code == 204
    assert (await put_always(client, world, world.ann, "1002")).status_code == 204


async def test_xsi_refuses_the_same_cycle_with_an_error_info(client: Client, world: World) -> None:
    assert (await put_always(client, world, world.bob, "1001")).status_code == 204
    body = xml("CallForwardingAlways", ("active", "true"), ("forwardToPhoneNumber", "1002"))
    response = await client.put(
        xsi_url(world.ann, "CallForwardingAlways"),
        content=body,
        headers={**XML_HEADERS, **world.auth("full")},
    )
    assert response.status_code == 400
    info = error_info(response)
    assert "1001 (Ann Test) -> 1002 (Bob Test) -> 1001" in str(info["summary"])
    assert (await stored_always(client, world, world.ann))["enabled"] is False


async def test_a_cycle_through_someone_provisioned_after_the_start_is_refused(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    # Dan is not among the people the service loaded at its start: the check finds him in
    # the database.
    dan = await add_person(engine, world, "Dan", "3001")
    assert (await put_always(client, world, dan, "1001")).status_code == 204

    response = await put_always(client, world, world.ann, "3001")

    assert response.status_code == 400
    assert "1001 (Ann Test) -> 3001 (Dan Test) -> 1001" in response.json()["message"]
