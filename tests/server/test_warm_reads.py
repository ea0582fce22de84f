"""Warm reads are answered before the router, with the same checks and the same bytes."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

import pytest
from litestar.testing import AsyncTestClient

from callsettings.server import fastpath
from callsettings.server.app import create_app
from callsettings.server.reads import CachedReader
from tests.factories import World
from tests.server.conftest import make_config

Client = AsyncTestClient[Any]


def path(world: World) -> str:
    return f"/v1/people/{world.pid(world.ann)}/features/callForwarding"


async def _fail(*_args: Any) -> Any:
    raise AssertionError("the warm read touched the database path")


async def test_a_warm_read_never_reaches_the_database(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    cold = await client.get(path(world), headers=world.auth("full"))
    monkeypatch.setattr(CachedReader, "person", _fail)
    monkeypatch.setattr(CachedReader, "document", _fail)
    warm = await client.get(path(world), headers=world.auth("full"))
    assert warm.status_code == 200
    assert warm.content == cold.content
    assert warm.headers["content-type"] == "application/json"
    assert warm.headers["trackingid"].startswith("CALLSETTINGS_")


async def test_a_warm_person_is_still_refused_to_a_token_that_may_not_see_them(
    client: Client, world: World
) -> None:
    assert (await client.get(path(world), headers=world.auth("full"))).status_code == 200
    refused = await client.get(path(world), headers=world.auth("bob"))
    assert refused.status_code == 403
    assert refused.json()["errorCode"] == 40302


async def test_a_warm_read_after_a_put_serves_the_new_document(
    client: Client, world: World
) -> None:
    await client.get(path(world), headers=world.auth("full"))
    body = {"callForwarding": {"busy": {"enabled": True, "destination": "1002"}}}
    assert (await client.put(path(world), json=body, headers=world.auth("full"))).status_code == 204
    for _ in range(2):
        got = await client.get(path(world), headers=world.auth("full"))
        assert got.json()["callForwarding"]["busy"]["destination"] == "1002"


async def test_the_org_query_is_checked_on_warm_reads_too(client: Client, world: World) -> None:
    await client.get(path(world), headers=world.auth("full"))
    other = await client.get(
        f"{path(world)}?orgId={world.oid(world.other_org)}", headers=world.auth("full")
    )
    assert other.status_code == 403
    own = await client.get(
        f"{path(world)}?orgId={world.oid(world.org)}", headers=world.auth("full")
    )
    assert own.status_code == 200


TREATMENT = "/v1/callsettings/treatment?called=1001&diversions=1"


async def test_a_warm_decision_never_reaches_the_database_and_matches_the_routed_one(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    body = {"callForwarding": {"busy": {"enabled": True, "destination": "1002"}}}
    assert (await client.put(path(world), json=body, headers=world.auth("full"))).status_code == 204
    cold = await client.get(TREATMENT, headers=world.auth("service"))
    for name in ("person", "document", "person_by_dial", "subscriber"):
        monkeypatch.setattr(CachedReader, name, _fail)
    warm = await client.get(TREATMENT, headers=world.auth("service"))
    assert warm.status_code == 200
    assert warm.content == cold.content
    assert warm.json()["treatment"]["onBusy"]["counter"] == 2


async def test_a_warm_decision_follows_a_put_at_once(client: Client, world: World) -> None:
    assert (await client.get(TREATMENT, headers=world.auth("service"))).status_code == 200
    body = {"callForwarding": {"always": {"enabled": True, "destination": "2001"}}}
    assert (await client.put(path(world), json=body, headers=world.auth("full"))).status_code == 204
    after = await client.get(TREATMENT, headers=world.auth("service"))
    assert after.json()["treatment"]["target"] == "2001"


@pytest.mark.parametrize(
    ("token", "query", "status"),
    [
        ("full", "called=1001", 403),  # warm, but the token lacks the service scope
        ("service", "called=1001&state=asleep", 400),
        ("service", "called=1001&diversions=x", 400),
    ],
)
async def test_warm_decisions_still_refuse_what_the_routed_handler_refuses(
    client: Client, world: World, token: str, query: str, status: int
) -> None:
    await client.get("/v1/callsettings/treatment?called=1001", headers=world.auth("service"))
    await client.get(path(world), headers=world.auth("full"))
    response = await client.get(f"/v1/callsettings/treatment?{query}", headers=world.auth(token))
    assert response.status_code == status


@pytest.mark.parametrize(
    "query_string",
    [
        "",
        "called=1001",
        "called=1001&caller=1002&diversions=0",
        "called=1001&called=1002",
        "called=&caller=1002",
        "called&caller=1002",
        "&&called=1001&",
        "=1001",
        "orgId=Y2lzY29z==&called=1001",
        "orgId=Y2lz+Y29z&called=1001",
        "called=10%2001&state=in-call",
        "a=b=c",
    ],
)
def test_the_warm_path_reads_a_query_as_parse_qs_does(query_string: str) -> None:
    scope = {"query_string": query_string.encode("latin-1")}
    assert fastpath._query(scope) == parse_qs(query_string)


async def test_a_kept_answer_follows_a_change_of_the_colleague_it_reached(
    database_url: str, world: World
) -> None:
    new_call = "/v1/callsettings/treatment?called=1001"
    to_bobs_mailbox = {
        "callForwarding": {
            "always": {"enabled": True, "destination": "1002", "destinationVoicemailEnabled": True}
        }
    }
    app = create_app(make_config(database_url))
    async with AsyncTestClient(app=app) as client:
        put = await client.put(path(world), json=to_bobs_mailbox, headers=world.auth("full"))
        assert put.status_code == 204
        for _ in range(2):  # the first call is the token's first use: the routed handler
            answered = await client.get(new_call, headers=world.auth("service"))
        before = answered.json()["treatment"]
        cache = app.app.app.state.services.cache
        assert cache.answer(world.ann.id) is not None  # kept: the next call is a memory read
        bobs_voicemail = f"/v1/people/{world.pid(world.bob)}/features/voicemail"
        on = await client.put(bobs_voicemail, json={"enabled": True}, headers=world.auth("full"))
        assert on.status_code == 204
        after = (await client.get(new_call, headers=world.auth("service"))).json()["treatment"]
    assert before == {
        "action": "forward",
        "target": "1002",
        "reason": "unconditional",
        "counter": 1,
        "internal": True,
    }
    assert after == {
        "action": "voicemail",
        "mailbox": world.pid(world.bob),
        "greeting": "unavailable",
    }
