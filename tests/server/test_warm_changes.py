"""Warm PUTs are changed before the router, with the routed handler's checks and answers."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server import fastpath
from callsettings.server.webex import features as webex_features
from callsettings.storage import repositories as repo
from tests.factories import World

Client = AsyncTestClient[Any]
BUSY = {"callForwarding": {"busy": {"enabled": True, "destination": "1002"}}}


def path(world: World, person: str = "ann") -> str:
    return f"/v1/people/{world.pid(getattr(world, person))}/features/callForwarding"


async def _fail(*_args: Any) -> Any:
    raise AssertionError("the warm change reached the routed handler")


async def _never_warm(*_args: Any) -> bool:
    return False


async def _tracking_ids(engine: AsyncEngine, world: World) -> list[str]:
    async with engine.connect() as conn:
        events = await repo.list_audit_events(conn, world.org.id)
    return [event.tracking_id for event in sorted(events, key=lambda e: e.id)]


async def test_a_warm_change_never_reaches_the_routed_handler_and_is_stored(
    client: Client, world: World, engine: AsyncEngine, monkeypatch: pytest.MonkeyPatch
) -> None:
    await client.get(path(world), headers=world.auth("full"))  # the token is held from now
    monkeypatch.setattr(webex_features, "change_feature", _fail)
    put = await client.put(
        path(world), json=BUSY, headers={**world.auth("full"), "TrackingID": "warm-put-1"}
    )
    assert put.status_code == 204, put.text
    assert put.content == b""
    assert put.headers["trackingid"] == "warm-put-1"
    got = await client.get(path(world), headers=world.auth("full"))
    busy = got.json()["callForwarding"]["busy"]
    assert (busy["enabled"], busy["destination"]) == (True, "1002")
    assert await _tracking_ids(engine, world) == ["warm-put-1"]


async def test_a_warm_change_answers_as_the_routed_handler_does(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    await client.get(path(world), headers=world.auth("full"))
    warm = await client.put(path(world), json=BUSY, headers=world.auth("full"))
    monkeypatch.setattr(fastpath, "warm_change", _never_warm)
    other = {"callForwarding": {"busy": {"enabled": True, "destination": "2001"}}}
    routed = await client.put(path(world), json=other, headers=world.auth("full"))
    assert (warm.status_code, routed.status_code) == (204, 204)
    assert sorted(warm.headers.keys()) == sorted(routed.headers.keys())
    assert warm.content == routed.content == b""


# (what is wrong, token, person, headers, body): each is refused by the warm path's checks
# or by the change itself, and answered by the routed handler with nothing stored.
REFUSED = [
    ("unknown token", "nobody", "ann", {}, b'{"callForwarding":{}}'),
    ("a user changing another", "bob", "ann", {}, b'{"callForwarding":{}}'),
    ("malformed JSON", "full", "ann", {}, b'{"callForwarding":'),
    ("not JSON", "full", "ann", {"content-type": "text/plain"}, b"{}"),
    ("too large", "full", "ann", {}, b'{"x":"' + b"a" * 70_000 + b'"}'),
    ("an invalid setting", "full", "ann", {}, b'{"callForwarding":{"busy":{"enabled":true}}}'),
    ("a malformed person id", "full", "malformed", {}, b'{"callForwarding":{}}'),
]


@pytest.mark.parametrize(("wrong", "token", "person", "headers", "body"), REFUSED)
async def test_what_the_warm_path_refuses_the_routed_handler_answers_alike(
    client: Client,
    world: World,
    engine: AsyncEngine,
    monkeypatch: pytest.MonkeyPatch,
    wrong: str,
    token: str,
    person: str,
    headers: dict[str, str],
    body: bytes,
) -> None:
    malformed = "/v1/people/bm90LWFuLWlk/features/callForwarding"
    target = malformed if person == "malformed" else path(world, person)
    auth = {"Authorization": "Bearer not-a-token"} if token == "nobody" else world.auth(token)
    sent = {**auth, "content-type": "application/json", **headers}
    for token_name in ("full", "bob"):  # hold both tokens, so that the warm path decides
        await client.get(path(world, "bob"), headers=world.auth(token_name))
    warm = await client.put(target, content=body, headers=sent)
    monkeypatch.setattr(fastpath, "warm_change", _never_warm)
    routed = await client.put(target, content=body, headers=sent)
    assert warm.status_code == routed.status_code, wrong
    assert warm.status_code >= 400, wrong
    warm_error, routed_error = warm.json(), routed.json()
    warm_error.pop("trackingId", None)
    routed_error.pop("trackingId", None)
    assert warm_error == routed_error, wrong
    assert await _tracking_ids(engine, world) == []


def _messages(*messages: dict[str, Any]) -> Any:
    pending = list(messages)

    async def receive() -> dict[str, Any]:
        return pending.pop(0)

    return receive


def _chunk(body: bytes, more: bool) -> dict[str, Any]:
    return {"type": "http.request", "body": body, "more_body": more}


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ([_chunk(b'{"a":', True), _chunk(b"1}", False)], b'{"a":1}'),
        ([_chunk(b"", False)], b""),
        ([_chunk(b"x" * 8, True), _chunk(b"x" * 8, False)], None),  # over the limit of 10
        ([_chunk(b"{", True), {"type": "http.disconnect"}], None),  # the client went away
    ],
)
async def test_the_body_read_is_replayed_to_the_routed_handler_as_it_came(
    messages: list[dict[str, Any]], expected: bytes | None
) -> None:
    receive = _messages(*messages, {"type": "http.disconnect"})
    read = await fastpath._read_body(receive, limit=10)
    assert read.body == expected
    # The routed handler sees the request's messages as if nothing had read them.
    replayed = read.replay(receive)
    assert [await replayed() for _ in messages] == messages
    assert await replayed() == {"type": "http.disconnect"}
