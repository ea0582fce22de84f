"""GET /v1/callsettings/treatment: the decision API proxies ask once per incoming call."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from callsettings.storage.records import Person
from tests.factories import World

Client = AsyncTestClient[Any]
TREATMENT = "/v1/callsettings/treatment"


async def put(client: Client, world: World, person: Person, feature: str, body: Any) -> None:
    response = await client.put(
        f"/v1/people/{world.pid(person)}/features/{feature}", json=body, headers=world.auth("full")
    )
    assert response.status_code == 204, response.text


async def decision(client: Client, world: World, query: str, token: str = "service") -> Any:
    response = await client.get(f"{TREATMENT}?{query}&explain=true", headers=world.auth(token))
    assert response.status_code == 200, response.text
    return response.json()


def always(destination: str, **extra: Any) -> dict[str, Any]:
    return {"callForwarding": {"always": {"enabled": True, "destination": destination, **extra}}}


async def test_with_no_settings_the_person_rings_with_every_branch_compiled(
    client: Client, world: World
) -> None:
    answer = await decision(client, world, "called=1001&caller=1002")
    assert answer["called"] == {
        "id": world.pid(world.ann),
        "displayName": world.ann.display_name,
        "extension": "1001",
    }
    assert answer["treatment"] == {
        "action": "ring",
        "ringMs": 20 * 6_000,  # the org's maximum rings at its ring length
        "ringSplash": False,
        "onBusy": {"action": "reject", "code": 486, "reason": "user-busy"},
        "onNoAnswer": {"action": "reject", "code": 480, "reason": "temporarily unavailable"},
        "onUnreachable": {"action": "reject", "code": 480, "reason": "temporarily unavailable"},
    }
    assert answer["trace"][0] == "1001: DND is off"


async def test_the_trace_is_sent_only_when_asked_for(client: Client, world: World) -> None:
    plain = await client.get(f"{TREATMENT}?called=1001", headers=world.auth("service"))
    assert plain.status_code == 200
    assert "trace" not in plain.json()
    assert plain.json()["treatment"]["action"] == "ring"


@pytest.mark.parametrize("dialled", ["1001", "+12125550101", "2125550101", "(212) 555-0101"])
async def test_the_called_person_is_found_by_extension_or_any_form_of_their_number(
    client: Client, world: World, dialled: str
) -> None:
    answer = await decision(client, world, f"called={dialled.replace('+', '%2B')}")
    assert answer["called"]["id"] == world.pid(world.ann)


async def test_always_forwarding_to_a_colleague_is_a_forward_with_the_next_counter(
    client: Client, world: World
) -> None:
    await put(client, world, world.ann, "callForwarding", always("1002"))
    answer = await decision(client, world, "called=1001&diversions=1")
    assert answer["treatment"] == {
        "action": "forward",
        "target": "1002",
        "reason": "unconditional",
        "counter": 2,
        "internal": True,
    }
    assert answer["trace"][-1] == "1001: unconditional forwarding to 1002 (Bob Test)"


async def test_destination_voicemail_lands_in_the_colleagues_mailbox_and_follows_their_change(
    client: Client, world: World
) -> None:
    await put(
        client, world, world.ann, "callForwarding", always("1002", destinationVoicemailEnabled=True)
    )
    first = await decision(client, world, "called=1001")
    assert first["treatment"]["action"] == "forward"  # Bob has no voicemail yet
    await put(client, world, world.bob, "voicemail", {"enabled": True})
    second = await decision(client, world, "called=1001")
    assert second["treatment"] == {
        "action": "voicemail",
        "mailbox": world.pid(world.bob),
        "greeting": "unavailable",
    }


async def test_a_new_call_is_answered_alike_cold_warm_and_kept_and_follows_a_change(
    client: Client, world: World
) -> None:
    await put(
        client, world, world.ann, "callForwarding", always("1002", destinationVoicemailEnabled=True)
    )
    ask = f"{TREATMENT}?called=1001&caller=2001"
    # The routed handler (the token is not known yet), the warm path, then its kept answer.
    answers = [await client.get(ask, headers=world.auth("service")) for _ in range(3)]
    assert len({a.content for a in answers}) == 1
    assert answers[0].json()["treatment"]["action"] == "forward"
    await put(client, world, world.bob, "voicemail", {"enabled": True})
    after = [await client.get(ask, headers=world.auth("service")) for _ in range(2)]
    assert after[0].content == after[1].content
    assert after[1].json()["treatment"] == {
        "action": "voicemail",
        "mailbox": world.pid(world.bob),
        "greeting": "unavailable",
    }


@pytest.mark.parametrize(
    ("settings", "state", "expected"),
    [
        ({"doNotDisturb": {"enabled": True}}, "", {"action": "reject", "code": 486}),
        ({"callWaiting": {"enabled": False}}, "in-call", {"action": "reject", "code": 486}),
        ({"callWaiting": {"enabled": True}}, "in-call", {"action": "ring"}),
        ({}, "unregistered", {"action": "reject", "code": 480}),
        (
            {"callForwarding": {"businessContinuity": {"enabled": True, "destination": "2001"}}},
            "unregistered",
            {"action": "forward", "target": "2001", "reason": "unavailable"},
        ),
    ],
)
async def test_state_and_settings_decide_in_the_documented_order(
    client: Client, world: World, settings: dict[str, Any], state: str, expected: dict[str, Any]
) -> None:
    for feature, body in settings.items():
        await put(client, world, world.ann, feature, body)
    answer = await decision(client, world, f"called=1001&state={state}")
    assert expected.items() <= answer["treatment"].items()


async def test_a_forward_back_to_someone_in_the_history_is_not_taken(
    client: Client, world: World
) -> None:
    await put(client, world, world.ann, "callForwarding", always("1002"))
    answer = await decision(client, world, "called=1001&history=1002:no-answer")
    assert answer["treatment"] == {"action": "reject", "code": 486, "reason": "too many diversions"}
    assert "would loop back" in answer["trace"][-2]


async def test_the_diversion_cap_stops_the_chain(client: Client, world: World) -> None:
    await put(client, world, world.ann, "callForwarding", always("+14155550100"))
    below = await decision(client, world, "called=1001&diversions=4")
    assert below["treatment"]["action"] == "forward"
    assert below["treatment"]["counter"] == 5
    at_cap = await decision(client, world, "called=1001&diversions=5")
    assert at_cap["treatment"]["action"] == "reject"
    assert "diversion cap 5 reached" in " ".join(at_cap["trace"])


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("", "called"),
        ("called=", "called"),
        ("called=abc", "called"),
        ("called=1001&state=asleep", "state"),
        ("called=1001&diversions=-1", "diversions"),
        ("called=1001&diversions=999", "diversions"),
        ("called=1001&history=1002:lost", "history"),
        ("called=1001&history=xyz", "history"),
        ("called=1001&explain=maybe", "explain"),
    ],
)
async def test_bad_queries_are_400s_naming_the_parameter(
    client: Client, world: World, query: str, field: str
) -> None:
    response = await client.get(f"{TREATMENT}?{query}", headers=world.auth("service"))
    assert response.status_code == 400
    assert response.json()["errors"][0]["errorCode"] == 40003
    assert response.json()["message"].startswith(field)


async def test_a_number_nobody_has_is_a_404(client: Client, world: World) -> None:
    response = await client.get(f"{TREATMENT}?called=1999", headers=world.auth("service"))
    assert response.status_code == 404
    assert "1999" in response.json()["message"]


@pytest.mark.parametrize(
    ("token", "status", "code"),
    [
        ("full", 403, 40301),  # admins manage settings; deciding calls is a service's scope
        ("ann", 403, 40301),
        ("expired", 401, 40103),
        (None, 401, 40101),
    ],
)
async def test_only_service_tokens_may_ask(
    client: Client, world: World, token: str | None, status: int, code: int
) -> None:
    headers = {} if token is None else world.auth(token)
    response = await client.get(f"{TREATMENT}?called=1001", headers=headers)
    assert response.status_code == status
    assert response.json()["errors"][0]["errorCode"] == code


async def test_a_service_token_sees_only_its_own_organization(client: Client, world: World) -> None:
    # Zed has 1001 in org B; the service token of org A finds Ann instead.
    answer = await decision(client, world, "called=1001")
    assert answer["called"]["id"] == world.pid(world.ann)
    other = await client.get(
        f"{TREATMENT}?called=1001&orgId={world.oid(world.other_org)}", headers=world.auth("service")
    )
    assert other.status_code == 403
    assert other.json()["errors"][0]["errorCode"] == 40303
