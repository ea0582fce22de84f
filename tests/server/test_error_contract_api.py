"""The Webex error contract: body shape, tracking ids, and every status the service uses."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from callsettings.server.app import create_app
from callsettings.server.reads import CachedReader
from tests.factories import World
from tests.server.conftest import make_config

Client = AsyncTestClient[Any]


def url(world: World) -> str:
    return f"/v1/people/{world.pid(world.ann)}/features/callForwarding"


def assert_webex_error(response: Any, status: int, code: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body: dict[str, Any] = response.json()
    assert set(body) == {"message", "errors", "trackingId", "errorCode"}
    assert body["errorCode"] == code
    assert body["errors"] == [{"description": body["message"], "errorCode": code}]
    assert body["trackingId"] == response.headers["trackingid"]
    return body


async def test_client_tracking_id_is_echoed_in_header_and_body(
    client: Client, world: World
) -> None:
    headers = {**world.auth("ann"), "TrackingID": "SIMPLE_0a1b2c3d-1111-2222-3333-444455556666"}
    ok = await client.get(url(world), headers=headers)
    assert ok.headers["trackingid"] == headers["TrackingID"]
    failed = await client.get(url(world), headers={"TrackingID": headers["TrackingID"]})
    assert failed.json()["trackingId"] == headers["TrackingID"]


async def test_a_tracking_id_is_generated_when_absent_or_unsafe(
    client: Client, world: World
) -> None:
    first = await client.get(url(world), headers=world.auth("ann"))
    second = await client.get(url(world), headers={**world.auth("ann"), "TrackingID": "a b<c>"})
    for response in (first, second):
        assert response.headers["trackingid"].startswith("CALLSETTINGS_")
    assert first.headers["trackingid"] != second.headers["trackingid"]


async def test_malformed_json_is_a_400(client: Client, world: World) -> None:
    response = await client.put(
        url(world),
        content=b'{"callForwarding": ',
        headers={**world.auth("full"), "Content-Type": "application/json"},
    )
    body = assert_webex_error(response, 400, 40002)
    assert "not valid JSON" in body["message"]


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
async def test_a_body_that_is_not_json_is_a_415(
    client: Client, world: World, content_type: str
) -> None:
    headers = {**world.auth("full")}
    if content_type:
        headers["Content-Type"] = content_type
    response = await client.put(url(world), content=b"enabled=true", headers=headers)
    assert_webex_error(response, 415, 41501)


async def test_wrong_method_is_a_405_with_allow(client: Client, world: World) -> None:
    response = await client.delete(url(world), headers=world.auth("full"))
    assert_webex_error(response, 405, 40501)
    assert {"GET", "PUT"} <= {m.strip() for m in response.headers["allow"].split(",")}


async def test_an_oversized_body_is_a_413(client: Client, world: World) -> None:
    padding = "x" * (70 * 1024)
    response = await client.put(
        url(world), json={"callForwarding": {}, "padding": padding}, headers=world.auth("full")
    )
    assert_webex_error(response, 413, 41301)


async def test_unknown_route_is_a_webex_404(client: Client, world: World) -> None:
    response = await client.get("/v1/nothing/here", headers=world.auth("full"))
    assert_webex_error(response, 404, 40401)


async def test_an_unknown_feature_is_a_404(client: Client, world: World) -> None:
    path = f"/v1/people/{world.pid(world.ann)}/features/teleportation"
    assert_webex_error(await client.get(path, headers=world.auth("full")), 404, 40401)


async def test_rate_limit_is_a_429_with_integer_retry_after(
    database_url: str, world: World
) -> None:
    app = create_app(make_config(database_url, rate_limit_requests=3))
    async with AsyncTestClient(app=app) as limited:
        statuses = [
            (await limited.get(url(world), headers=world.auth("full"))).status_code
            for _ in range(3)
        ]
        refused = await limited.get(url(world), headers=world.auth("full"))
        other_token = await limited.get(url(world), headers=world.auth("ann"))
    assert statuses == [200, 200, 200]
    assert_webex_error(refused, 429, 42901)
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    assert other_token.status_code == 200


async def test_an_unreachable_database_is_a_503_with_retry_after(world: World) -> None:
    app = create_app(make_config("postgresql://postgres@127.0.0.1:9/nowhere"))
    async with AsyncTestClient(app=app) as offline:
        response = await offline.get(url(world), headers=world.auth("full"))
    body = assert_webex_error(response, 503, 50301)
    assert response.headers["retry-after"].isdigit()
    assert "unavailable" in body["message"]


async def test_an_unexpected_exception_is_a_500_that_leaks_nothing(
    client: Client, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    async def broken(*_args: Any) -> Any:
        raise RuntimeError("secret internal detail /etc/passwd")

    # The routed handler's read (the warm path hands it every request it cannot answer,
    # and the token is not known yet on the first request).
    monkeypatch.setattr(CachedReader, "document", broken)
    response = await client.get(url(world), headers=world.auth("full"))
    body = assert_webex_error(response, 500, 50001)
    assert "secret" not in response.text
    assert body["message"] == "An unexpected error occurred."


async def test_openapi_describes_the_webex_schemas(client: Client) -> None:
    schema = (await client.get("/openapi.json")).json()
    forwarding = schema["paths"]["/v1/people/{person_id}/features/callForwarding"]
    body_ref = forwarding["put"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
    assert body_ref == "#/components/schemas/CallForwarding"
    components = schema["components"]["schemas"]
    assert set(components["CallForwarding"]["properties"]) == {
        "callForwarding",
        "businessContinuity",
    }
    assert "ringReminderEnabled" in components["AlwaysRule"]["properties"]
    assert set(components["ErrorBody"]["properties"]) >= {"message", "errors", "trackingId"}
    docs = await client.get("/docs")
    assert docs.status_code == 200
    assert "html" in docs.headers["content-type"]


async def test_deeply_nested_json_is_a_400_not_a_500(client: Client, world: World) -> None:
    body = b"[" * 20_000 + b"]" * 20_000
    response = await client.put(
        url(world), content=body, headers={**world.auth("full"), "Content-Type": "application/json"}
    )
    assert_webex_error(response, 400, 40002)


async def test_basic_auth_guesses_are_limited_per_user_name(
    database_url: str, world: World
) -> None:
    import base64

    app = create_app(make_config(database_url, rate_limit_requests=3))
    path = f"/com.broadsoft.xsi-actions/v2.0/user/{world.ann.email}/services"
    async with AsyncTestClient(app=app) as limited:
        statuses = []
        for guess in range(5):
            credentials = base64.b64encode(f"{world.ann.email}:guess{guess}".encode()).decode()
            response = await limited.get(path, headers={"Authorization": f"Basic {credentials}"})
            statuses.append(response.status_code)
    assert statuses[:3] == [401, 401, 401]
    assert statuses[3:] == [429, 429]
