"""GET /v1/adminAudit/events: the org's audit trail, newest first, paged by Link."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest
from litestar.testing import AsyncTestClient

from tests.factories import World

Client = AsyncTestClient[Any]
EVENTS = "/v1/adminAudit/events"
NEXT = re.compile(r'^<(?P<url>http://testserver\.local/[^>]+)>; rel="next"$')


async def make_changes(client: Client, world: World) -> None:
    """Three changes in org A (in this order) and one in org B."""
    changes = [
        ("ann", "doNotDisturb", {"enabled": True}, "full", "TEST_one"),
        ("bob", "callWaiting", {"enabled": False}, "user_admin", "TEST_two"),
        ("ann", "doNotDisturb", {"ringSplashEnabled": True}, "ann", "TEST_three"),
    ]
    for who, feature, body, token, tracking in changes:
        response = await client.put(
            f"/v1/people/{world.pid(getattr(world, who))}/features/{feature}",
            json=body,
            headers={**world.auth(token), "TrackingID": tracking},
        )
        assert response.status_code == 204
    other = await client.put(
        f"/v1/people/{world.pid(world.zed)}/features/doNotDisturb",
        json={"enabled": True},
        headers=world.auth("other_full"),
    )
    assert other.status_code == 204


async def test_events_are_newest_first_and_name_everything(client: Client, world: World) -> None:
    await make_changes(client, world)
    response = await client.get(EVENTS, headers=world.auth("full"))
    assert response.status_code == 200
    items = response.json()["items"]
    assert [e["trackingId"] for e in items] == ["TEST_three", "TEST_two", "TEST_one"]
    newest = items[0]
    assert newest["actorId"] == str(world.ann.id)
    assert newest["actorName"] == "ann"
    assert newest["personId"] == world.pid(world.ann)
    assert newest["orgId"] == world.oid(world.org)
    assert newest["feature"] == "doNotDisturb"
    assert newest["dialect"] == "webex"
    assert newest["before"] == {
        "enabled": True,
        "ringSplashEnabled": False,
        "webexGoOverrideEnabled": False,
    }
    assert newest["after"] == {**newest["before"], "ringSplashEnabled": True}
    assert items[1]["actorName"] == "user_admin"
    assert items[1]["after"] == {"enabled": False}
    assert items[2]["before"] == {
        "enabled": False,
        "ringSplashEnabled": False,
        "webexGoOverrideEnabled": False,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", newest["created"])


async def test_pages_of_one_follow_the_link_to_the_end(client: Client, world: World) -> None:
    await make_changes(client, world)
    url, seen = f"{EVENTS}?max=1", []
    while url:
        response = await client.get(url, headers=world.auth("read_only"))
        assert response.status_code == 200
        seen += [e["trackingId"] for e in response.json()["items"]]
        link = response.headers.get("link")
        match = NEXT.match(link) if link else None
        assert link is None or match is not None
        url = match["url"] if match else ""
    assert seen == ["TEST_three", "TEST_two", "TEST_one"]


async def test_from_and_to_bound_the_window(client: Client, world: World) -> None:
    await make_changes(client, world)
    future = quote((datetime.now(UTC) + timedelta(hours=1)).isoformat())
    past = quote((datetime.now(UTC) - timedelta(hours=1)).isoformat())
    later = await client.get(f"{EVENTS}?from={future}", headers=world.auth("full"))
    assert later.json()["items"] == []
    window = await client.get(f"{EVENTS}?from={past}&to={future}", headers=world.auth("full"))
    assert len(window.json()["items"]) == 3
    earlier = await client.get(f"{EVENTS}?to={past}", headers=world.auth("full"))
    assert earlier.json()["items"] == []
    zulu = await client.get(f"{EVENTS}?from=2000-01-01T00:00:00Z", headers=world.auth("full"))
    assert len(zulu.json()["items"]) == 3


BAD_QUERIES = [
    ("from=yesterday", "from"),
    ("to=2024-13-01", "to"),
    ("from=2024-05-02T00:00:00Z&to=2024-05-01T00:00:00Z", "from"),
    ("max=0", "max"),
    ("max=-1", "max"),
    ("cursor=abc", "cursor"),
    ("orgId=nope", "orgId"),
]


@pytest.mark.parametrize(("query", "named"), BAD_QUERIES)
async def test_bad_queries_are_400s_naming_the_parameter(
    client: Client, world: World, query: str, named: str
) -> None:
    response = await client.get(f"{EVENTS}?{query}", headers=world.auth("full"))
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(named)


# (token, orgId, status, whose changes are seen)
MATRIX = [
    ("full", None, 200, ["ann", "bob", "ann"]),
    ("read_only", None, 200, ["ann", "bob", "ann"]),
    ("other_full", None, 200, ["zed"]),
    ("partner", "other_org", 200, ["zed"]),
    ("partner", "org", 403, None),
    ("full", "other_org", 403, None),
    ("user_admin", None, 403, None),
    ("location", None, 403, None),
    ("ann", None, 403, None),
    ("service", None, 403, None),
    ("no_scopes", None, 403, None),
    ("expired", None, 401, None),
]


@pytest.mark.parametrize(("token", "org", "status", "seen"), MATRIX)
async def test_authorization_matrix(
    client: Client,
    world: World,
    token: str,
    org: str | None,
    status: int,
    seen: list[str] | None,
) -> None:
    await make_changes(client, world)
    query = f"?orgId={world.oid(getattr(world, org))}" if org else ""
    response = await client.get(f"{EVENTS}{query}", headers=world.auth(token))
    assert response.status_code == status, response.text
    if seen is not None:
        people = [world.pid(getattr(world, name)) for name in seen]
        assert [e["personId"] for e in response.json()["items"]] == people
    else:
        assert response.json()["errorCode"] // 100 == status
