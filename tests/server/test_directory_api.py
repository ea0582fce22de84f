"""The directory: people, numbers, organizations (with XSI discovery) and locations."""

from __future__ import annotations

import re
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server import provisioning
from callsettings.server.app import create_app
from callsettings.settings.ids import IdType, encode_id
from callsettings.storage.database import write_transaction
from tests.factories import World
from tests.server.conftest import make_config

Client = AsyncTestClient[Any]
BASE = "http://testserver.local"
NEXT = re.compile(r'^<(?P<url>[^>]+)>; rel="next"$')


def names(body: dict[str, Any]) -> list[str]:
    return [p["displayName"] for p in body["items"]]


async def all_pages(client: Client, url: str, token: str, world: World) -> list[dict[str, Any]]:
    """Follow Link headers verbatim, as wxc_sdk does; return every page's body."""
    pages = []
    while True:
        response = await client.get(url, headers=world.auth(token))
        assert response.status_code == 200, response.text
        pages.append(response.json())
        link = response.headers.get("link")
        if link is None:
            return pages
        match = NEXT.match(link)
        assert match is not None, link
        url = match["url"]
        assert url.startswith(f"{BASE}/"), "the next link must be absolute"


async def test_admin_lists_the_org_sorted_with_the_wire_fields(
    client: Client, world: World
) -> None:
    response = await client.get("/v1/people", headers=world.auth("full"))
    assert response.status_code == 200
    body = response.json()
    assert names(body) == ["Ann Test", "Bob Test", "Cat Test"]
    assert body["notFoundIds"] == []
    assert "link" not in response.headers
    ann = body["items"][0]
    assert ann == {
        "id": world.pid(world.ann),
        "emails": ["ann@a.example"],
        "phoneNumbers": [{"type": "work", "value": "+12125550101", "primary": True}],
        "displayName": "Ann Test",
        "firstName": "Ann",
        "lastName": "Test",
        "orgId": world.oid(world.org),
        "roles": [],
        "created": ann["created"],
        "lastModified": ann["lastModified"],
        "type": "person",
        "extension": "1001",
        "locationId": encode_id(IdType.LOCATION, world.hq.id),
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", ann["created"])


async def test_pages_follow_absolute_next_links_to_the_end(client: Client, world: World) -> None:
    pages = await all_pages(client, "/v1/people?max=1", "full", world)
    assert [names(p) for p in pages] == [["Ann Test"], ["Bob Test"], ["Cat Test"]]


async def test_next_links_use_the_public_base_url_and_keep_the_filters(
    database_url: str, world: World
) -> None:
    config = make_config(database_url, public_base_url="https://calls.example.com/")
    async with AsyncTestClient(app=create_app(config)) as client:
        response = await client.get(
            "/v1/people?displayName=&max=2&callingData=true", headers=world.auth("full")
        )
    match = NEXT.match(response.headers["link"])
    assert match is not None
    assert match["url"].startswith("https://calls.example.com/v1/people?")
    assert "max=2" in match["url"]
    assert "callingData=true" in match["url"]


FILTERS = [
    ("email=BOB@a.example", ["Bob Test"]),
    ("displayName=ca", ["Cat Test"]),  # case-insensitive on every engine
    ("displayName=Ca", ["Cat Test"]),
    ("displayName=%25", []),  # a literal %, not a wildcard
    ("locationId={branch}", ["Cat Test"]),
    ("locationId={hq}&max=1", ["Ann Test"]),
    ("id={bob},{cat}", ["Bob Test", "Cat Test"]),
    ("id={zed}", []),  # another org's person is not found here
]


@pytest.mark.parametrize(("query", "expected"), FILTERS)
async def test_filters(client: Client, world: World, query: str, expected: list[str]) -> None:
    query = query.format(
        branch=encode_id(IdType.LOCATION, world.branch.id),
        hq=encode_id(IdType.LOCATION, world.hq.id),
        bob=world.pid(world.bob),
        cat=world.pid(world.cat),
        zed=world.pid(world.zed),
    )
    response = await client.get(f"/v1/people?{query}", headers=world.auth("full"))
    assert response.status_code == 200, response.text
    assert names(response.json()) == expected


async def test_unknown_ids_are_listed_in_not_found_ids(client: Client, world: World) -> None:
    ids = f"{world.pid(world.ann)},{world.unknown_pid},{world.pid(world.zed)}"
    body = (await client.get(f"/v1/people?id={ids}", headers=world.auth("full"))).json()
    assert names(body) == ["Ann Test"]
    assert body["notFoundIds"] == [world.unknown_pid, world.pid(world.zed)]


BAD_QUERIES = [
    ("max=0", "max"),
    ("max=1001", "max"),
    ("max=ten", "max"),
    ("callingData=maybe", "callingData"),
    ("locationId=nope", "locationId"),
    ("id=nope", "id"),
    ("id=" + ",".join(["Y2lzY29zcGFyazovL3VzL1BFT1BMRS8x"] * 86), "id"),
    ("cursor=%%%", "cursor"),
    ("orgId=nope", "orgId"),
]


@pytest.mark.parametrize(("query", "named"), BAD_QUERIES)
async def test_bad_queries_are_400s_naming_the_parameter(
    client: Client, world: World, query: str, named: str
) -> None:
    response = await client.get(f"/v1/people?{query}", headers=world.auth("full"))
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith(named)


async def test_max_is_capped_at_50_with_a_location(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    async with write_transaction(engine) as conn:
        for i in range(55):
            await provisioning.create_person(
                conn,
                world.org,
                email=f"p{i}@a.example",
                first_name=f"P{i:02d}",
                last_name="Load",
                location=world.hq,
            )
    hq = encode_id(IdType.LOCATION, world.hq.id)
    capped = await client.get(f"/v1/people?locationId={hq}&max=1000", headers=world.auth("full"))
    assert len(capped.json()["items"]) == 50
    assert "link" in capped.headers
    pages = await all_pages(client, f"/v1/people?locationId={hq}&max=1000", "full", world)
    assert sum(len(p["items"]) for p in pages) == 57  # Ann, Bob and the 55
    plain = await client.get("/v1/people?max=1000", headers=world.auth("full"))
    assert len(plain.json()["items"]) == 58
    calling = await client.get("/v1/people?max=1000&callingData=true", headers=world.auth("full"))
    assert len(calling.json()["items"]) == 58  # the calling-data cap is 100


async def test_a_user_must_filter_and_then_sees_colleagues(client: Client, world: World) -> None:
    refused = await client.get("/v1/people", headers=world.auth("ann"))
    assert refused.status_code == 400
    assert "email or displayName" in refused.json()["message"]
    found = await client.get("/v1/people?email=bob@a.example", headers=world.auth("ann"))
    assert names(found.json()) == ["Bob Test"]
    other_org = await client.get("/v1/people?email=zed@b.example", headers=world.auth("ann"))
    assert names(other_org.json()) == []


# (token, list status, read bob status)
PEOPLE_MATRIX = [
    ("full", 200, 200),
    ("read_only", 200, 200),
    ("location", 200, 200),
    ("ann", 200, 200),
    ("other_full", 200, 404),
    ("no_scopes", 403, 403),
    ("service", 403, 403),
    ("expired", 401, 401),
]


@pytest.mark.parametrize(("token", "list_status", "read_status"), PEOPLE_MATRIX)
async def test_people_authorization_matrix(
    client: Client, world: World, token: str, list_status: int, read_status: int
) -> None:
    listed = await client.get("/v1/people?displayName=B", headers=world.auth(token))
    assert listed.status_code == list_status
    if list_status == 200:
        expected = [] if token == "other_full" else ["Bob Test"]
        assert names(listed.json()) == expected
    read = await client.get(f"/v1/people/{world.pid(world.bob)}", headers=world.auth(token))
    assert read.status_code == read_status
    if read_status == 200:
        assert read.json()["emails"] == ["bob@a.example"]


async def test_a_partner_reads_a_managed_org_only_when_naming_it(
    client: Client, world: World
) -> None:
    org_b = world.oid(world.other_org)
    listed = await client.get(f"/v1/people?orgId={org_b}", headers=world.auth("partner"))
    assert names(listed.json()) == ["Zed Test"]
    zed = await client.get(
        f"/v1/people/{world.pid(world.zed)}?orgId={org_b}", headers=world.auth("partner")
    )
    assert zed.json()["orgId"] == org_b
    org_a = world.oid(world.org)
    refused = await client.get(f"/v1/people?orgId={org_a}", headers=world.auth("partner"))
    assert refused.status_code == 403


async def test_read_person_hides_unknown_and_malformed_ids(client: Client, world: World) -> None:
    for ref in (world.unknown_pid, "not-an-id", world.pid(world.zed)):
        response = await client.get(f"/v1/people/{ref}", headers=world.auth("full"))
        assert response.status_code == 404
        assert response.json()["message"] == "Person not found."


async def test_people_me_is_the_token_s_own_person(client: Client, world: World) -> None:
    mine = await client.get("/v1/people/me", headers=world.auth("bob"))
    assert mine.status_code == 200
    assert mine.json()["id"] == world.pid(world.bob)
    nobody = await client.get("/v1/people/me", headers=world.auth("full"))
    assert nobody.status_code == 404


# (token, target, status)
NUMBERS_MATRIX = [
    ("full", "ann", 200),
    ("read_only", "cat", 200),
    ("location", "ann", 200),
    ("location", "cat", 403),
    ("ann", "ann", 403),  # documented for admins only
    ("other_full", "ann", 404),
    ("service", "ann", 403),
]


@pytest.mark.parametrize(("token", "who", "status"), NUMBERS_MATRIX)
async def test_numbers(client: Client, world: World, token: str, who: str, status: int) -> None:
    person = getattr(world, who)
    url = f"/v1/people/{world.pid(person)}/features/numbers"
    response = await client.get(url, headers=world.auth(token))
    assert response.status_code == status
    if status == 200:
        number = person.phone_numbers[0].number
        assert response.json() == {
            "distinctiveRingEnabled": False,
            "phoneNumbers": [
                {
                    "primary": True,
                    "directNumber": number,
                    "extension": person.extension,
                    "ringPattern": "NORMAL",
                }
            ],
        }


async def test_organizations_with_a_user_token_list_only_the_own_org_with_xsi(
    client: Client, world: World
) -> None:
    response = await client.get("/v1/organizations?callingData=true", headers=world.auth("ann"))
    assert response.status_code == 200
    (org,) = response.json()["items"]
    assert org["id"] == world.oid(world.org)
    assert org["displayName"] == "Org A"
    assert org["xsiActionsEndpoint"] == f"{BASE}/com.broadsoft.xsi-actions"
    assert org["xsiDomain"] == "testserver.local"
    # The JS SDK then reads call waiting from the discovered XSI root with the same token.
    xsi = f"{org['xsiActionsEndpoint']}/v2.0/user/{world.ann.id}/services/CallWaiting"
    call_waiting = await client.get(xsi, headers=world.auth("ann"))
    assert call_waiting.status_code == 200
    assert "<active>true</active>" in call_waiting.text


async def test_organizations_without_calling_data_have_no_xsi(client: Client, world: World) -> None:
    (org,) = (await client.get("/v1/organizations", headers=world.auth("full"))).json()["items"]
    assert "xsiActionsEndpoint" not in org


async def test_a_partner_sees_its_own_and_its_customers_orgs(client: Client, world: World) -> None:
    body = (await client.get("/v1/organizations", headers=world.auth("partner"))).json()
    assert sorted(o["displayName"] for o in body["items"]) == ["Org B", "Partner P"]


# (token, org, status)
ORG_MATRIX = [
    ("full", "org", 200),
    ("ann", "org", 200),
    ("full", "other_org", 404),
    ("partner", "other_org", 200),
    ("partner", "org", 404),
    ("service", "org", 403),
    ("no_scopes", "org", 403),
]


@pytest.mark.parametrize(("token", "org", "status"), ORG_MATRIX)
async def test_read_organization(
    client: Client, world: World, token: str, org: str, status: int
) -> None:
    org_id = world.oid(getattr(world, org))
    response = await client.get(f"/v1/organizations/{org_id}", headers=world.auth(token))
    assert response.status_code == status
    if status == 200:
        assert response.json()["id"] == org_id


async def test_locations_list_and_read(client: Client, world: World) -> None:
    body = (await client.get("/v1/locations", headers=world.auth("ann"))).json()
    assert [loc["name"] for loc in body["items"]] == ["Branch", "HQ"]
    hq_id = encode_id(IdType.LOCATION, world.hq.id)
    hq = (await client.get(f"/v1/locations/{hq_id}", headers=world.auth("full"))).json()
    assert hq == {
        "id": hq_id,
        "name": "HQ",
        "orgId": world.oid(world.org),
        "timeZone": "America/New_York",
        "address": {"country": "US"},
    }
    by_name = (await client.get("/v1/locations?name=HQ", headers=world.auth("full"))).json()
    assert [loc["id"] for loc in by_name["items"]] == [hq_id]


async def test_locations_of_other_orgs_are_hidden(client: Client, world: World) -> None:
    hq_id = encode_id(IdType.LOCATION, world.hq.id)
    response = await client.get(f"/v1/locations/{hq_id}", headers=world.auth("other_full"))
    assert response.status_code == 404
    org_b = world.oid(world.other_org)
    london = await client.get(f"/v1/locations?orgId={org_b}", headers=world.auth("partner"))
    assert [loc["name"] for loc in london.json()["items"]] == ["London"]
    assert (await client.get("/v1/locations", headers=world.auth("service"))).status_code == 403
