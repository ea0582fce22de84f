"""Who may read and change whose call forwarding: the authorization matrix and 401s."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server.app import create_app
from callsettings.storage import repositories as repo
from callsettings.storage.database import write_transaction
from tests.factories import World
from tests.server.conftest import make_config

Client = AsyncTestClient[Any]
BODY = {"callForwarding": {"noAnswer": {"numberOfRings": 4}}}

# Targets: "own" is a person the token is meant to manage (for a user token: itself; for the
# location admin: someone in its location; for the partner: someone in the org it manages).
TARGETS = {
    "ann": ("ann", None),
    "bob": ("bob", None),
    "cat": ("cat", None),
    "zed": ("zed", None),
    "zed@B": ("zed", "other_org"),
    "ann@B": ("ann", "other_org"),
    "ann@A": ("ann", "org"),
    "unknown": (None, None),
    "unknown@B": (None, "other_org"),
}

# (token, target, expected GET, expected PUT)
MATRIX = [
    ("full", "ann", 200, 204),
    ("full", "cat", 200, 204),
    ("full", "zed", 404, 404),
    ("full", "zed@B", 403, 403),
    ("full", "unknown", 404, 404),
    ("user_admin", "ann", 200, 204),
    ("user_admin", "cat", 200, 204),
    ("user_admin", "zed", 404, 404),
    ("user_admin", "unknown", 404, 404),
    ("read_only", "ann", 200, 403),
    ("read_only", "cat", 200, 403),
    ("read_only", "zed", 404, 403),
    ("read_only", "unknown", 404, 403),
    ("location", "ann", 200, 204),
    ("location", "cat", 403, 403),
    ("location", "zed", 404, 404),
    ("location", "unknown", 404, 404),
    ("partner", "zed@B", 200, 204),
    ("partner", "zed", 404, 404),
    ("partner", "ann@A", 403, 403),
    ("partner", "ann", 404, 404),
    ("partner", "unknown@B", 404, 404),
    ("ann", "ann", 200, 204),
    ("ann", "ann@A", 200, 204),
    ("ann", "bob", 403, 403),
    ("ann", "cat", 403, 403),
    ("ann", "zed", 404, 404),
    ("ann", "zed@B", 403, 403),
    ("ann", "unknown", 404, 404),
    ("other_full", "zed", 200, 204),
    ("other_full", "ann", 404, 404),
    ("no_scopes", "ann", 403, 403),
    ("service", "ann", 403, 403),
]


def target_url(world: World, target: str) -> str:
    person_name, org_name = TARGETS[target]
    person_id = world.pid(getattr(world, person_name)) if person_name else world.unknown_pid
    query = f"?orgId={world.oid(getattr(world, org_name))}" if org_name else ""
    return f"/v1/people/{person_id}/features/callForwarding{query}"


@pytest.mark.parametrize(("token", "target", "get_status", "put_status"), MATRIX)
async def test_authorization_matrix(
    client: Client, world: World, token: str, target: str, get_status: int, put_status: int
) -> None:
    path = target_url(world, target)
    got = await client.get(path, headers=world.auth(token))
    assert got.status_code == get_status, got.text
    # The second read is warm (served before the router when allowed): same answer.
    again = await client.get(path, headers=world.auth(token))
    assert again.status_code == got.status_code
    assert {**again.json(), "trackingId": ""} == {**got.json(), "trackingId": ""}
    put = await client.put(path, json=BODY, headers=world.auth(token))
    assert put.status_code == put_status, put.text
    if get_status == 200:
        assert "callForwarding" in got.json()
    else:
        assert got.json()["errorCode"] // 100 == get_status
    if put_status == 204:
        check = await client.get(path, headers=world.auth("full" if token != "partner" else token))
        if check.status_code == 200:
            assert check.json()["callForwarding"]["noAnswer"]["numberOfRings"] == 4


async def test_refused_changes_store_nothing(client: Client, world: World) -> None:
    for token in ("read_only", "bob", "no_scopes"):
        await client.put(target_url(world, "ann"), json=BODY, headers=world.auth(token))
    got = await client.get(target_url(world, "ann"), headers=world.auth("full"))
    assert got.json()["callForwarding"]["noAnswer"]["numberOfRings"] == 3


UNAUTHORIZED = [
    ({}, 40101),
    ({"Authorization": "Basic dXNlcjpwYXNz"}, 40102),
    ({"Authorization": "Bearer"}, 40102),
    ({"Authorization": "Bearer cst_not-a-real-token"}, 40102),
]


@pytest.mark.parametrize(("headers", "code"), UNAUTHORIZED)
async def test_missing_or_malformed_tokens_are_401_with_a_bearer_challenge(
    client: Client, world: World, headers: dict[str, str], code: int
) -> None:
    response = await client.get(target_url(world, "ann"), headers=headers)
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert response.json()["errorCode"] == code


async def test_expired_token_is_401(client: Client, world: World) -> None:
    response = await client.get(target_url(world, "ann"), headers=world.auth("expired"))
    assert response.status_code == 401
    assert response.json()["errorCode"] == 40103
    assert "expired" in response.json()["message"]


async def test_revoked_token_stops_working(
    database_url: str, world: World, engine: AsyncEngine
) -> None:
    app = create_app(make_config(database_url, token_cache_seconds=0))
    async with AsyncTestClient(app=app) as client:
        await _revoke_and_check(client, world, engine)


async def _revoke_and_check(client: Client, world: World, engine: AsyncEngine) -> None:
    assert (
        await client.get(target_url(world, "ann"), headers=world.auth("full"))
    ).status_code == 200
    async with write_transaction(engine) as conn:
        (token,) = [t for t in await repo.list_tokens(conn) if t.label == "full"]
        assert await repo.revoke_token(conn, token.id)
    response = await client.get(target_url(world, "ann"), headers=world.auth("full"))
    assert response.status_code == 401
    assert response.json()["errorCode"] == 40104


async def test_malformed_org_id_in_the_query_is_a_400(client: Client, world: World) -> None:
    path = f"/v1/people/{world.pid(world.ann)}/features/callForwarding?orgId=not-an-id"
    response = await client.get(path, headers=world.auth("full"))
    assert response.status_code == 400
    assert response.json()["message"].startswith("orgId:")


async def test_a_person_id_of_another_type_is_a_404(client: Client, world: World) -> None:
    path = f"/v1/people/{world.oid(world.org)}/features/callForwarding"
    response = await client.get(path, headers=world.auth("full"))
    assert response.status_code == 404
