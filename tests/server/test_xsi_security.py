"""XSI security: hostile XML, body limits, Basic and Bearer auth, and the authorization matrix."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server.app import create_app
from callsettings.server.xsi.actions import MAX_BODY_BYTES
from callsettings.storage import repositories as repo
from callsettings.storage import tables
from callsettings.storage.database import write_transaction
from tests.factories import World
from tests.live import serve_for_test
from tests.server.conftest import make_config
from tests.server.xsi_support import (
    NS,
    PASSWORD,
    XML_HEADERS,
    audit_rows,
    basic,
    error_info,
    set_password,
    values,
    xml,
    xsi_url,
)

Client = AsyncTestClient[Any]


@pytest.fixture
def listener() -> Iterator[tuple[socket.socket, int]]:
    """A TCP port nobody should ever connect to: an external DTD or entity would point here."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        sock.setblocking(False)
        yield sock, sock.getsockname()[1]


def nobody_connected(sock: socket.socket) -> bool:
    try:
        sock.accept()[0].close()
    except BlockingIOError:
        return True
    return False


def billion_laughs() -> str:
    entities = ['<!ENTITY lol "lol">']
    for level in range(1, 10):
        previous = "lol" if level == 1 else f"lol{level - 1}"
        entities.append(f'<!ENTITY lol{level} "{f"&{previous};" * 10}">')
    return (
        f'<?xml version="1.0"?><!DOCTYPE CallWaiting [{"".join(entities)}]>'
        f'<CallWaiting xmlns="{NS}"><active>&lol9;</active></CallWaiting>'
    )


def hostile(port: int) -> dict[str, tuple[str, str]]:
    """Each hostile body with the words its ErrorInfo summary must contain."""
    refused = "DTDs, entity declarations and external references are not allowed"
    return {
        "billion laughs": (billion_laughs(), refused),
        "external entity": (
            f'<!DOCTYPE CallWaiting [<!ENTITY e SYSTEM "http://127.0.0.1:{port}/x">]>'
            f'<CallWaiting xmlns="{NS}"><active>&e;</active></CallWaiting>',
            refused,
        ),
        "local file entity": (
            '<!DOCTYPE CallWaiting [<!ENTITY e SYSTEM "file:///etc/passwd">]>'
            f'<CallWaiting xmlns="{NS}"><active>&e;</active></CallWaiting>',
            refused,
        ),
        "external DTD": (
            f'<!DOCTYPE CallWaiting SYSTEM "http://127.0.0.1:{port}/evil.dtd">'
            f'<CallWaiting xmlns="{NS}"><active>false</active></CallWaiting>',
            refused,
        ),
        "parameter entity": (
            f'<!DOCTYPE CallWaiting [<!ENTITY % p SYSTEM "http://127.0.0.1:{port}/p"> %p;]>'
            f'<CallWaiting xmlns="{NS}"><active>false</active></CallWaiting>',
            refused,
        ),
        "deeply nested": (
            f'<CallWaiting xmlns="{NS}">' + "<x>" * 5_000 + "</x>" * 5_000 + "</CallWaiting>",
            "nested inside an element",
        ),
        "wrong namespace": (
            '<CallWaiting xmlns="http://schema.broadsoft.com/other"><active>false</active>'
            "</CallWaiting>",
            f"must be in the namespace {NS}",
        ),
        "no namespace": ("<CallWaiting><active>false</active></CallWaiting>", "no namespace"),
        "wrong root element": (
            f'<DoNotDisturb xmlns="{NS}"><active>false</active></DoNotDisturb>',
            "must be <CallWaiting>, got <DoNotDisturb>",
        ),
        "malformed": (f'<CallWaiting xmlns="{NS}"><active>false</CallWaiting>', "not well-formed"),
        "not utf-8": (f'<CallWaiting xmlns="{NS}">\udcff</CallWaiting>', "not well-formed"),
        "empty": ("", "not well-formed"),
    }


CASES = list(hostile(0))


@pytest.mark.parametrize("case", CASES)
async def test_hostile_or_malformed_xml_is_a_clean_400_and_stores_nothing(
    client: Client,
    world: World,
    engine: AsyncEngine,
    listener: tuple[socket.socket, int],
    case: str,
) -> None:
    sock, port = listener
    body, words = hostile(port)[case]
    url = xsi_url(world.ann, "CallWaiting")
    response = await client.put(
        url, content=body.encode("utf-8", "surrogateescape"), headers=world.auth("full")
    )
    assert response.status_code == 400, response.text
    info = error_info(response)
    assert words in str(info["summary"])
    assert info["errorCode"] == "40005"
    assert "lollol" not in response.text
    assert "root:" not in response.text
    assert nobody_connected(sock)
    assert values(await client.get(url, headers=world.auth("full")), "CallWaiting") == {
        "active": "true"
    }
    assert await audit_rows(engine) == []


async def test_a_body_over_the_limit_is_413_error_info(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    padding = " " * (MAX_BODY_BYTES + 1)
    body = f'<CallWaiting xmlns="{NS}"><active>false</active>{padding}</CallWaiting>'.encode()
    response = await client.put(
        xsi_url(world.ann, "CallWaiting"), content=body, headers=world.auth("full")
    )
    assert response.status_code == 413
    assert str(MAX_BODY_BYTES) in str(error_info(response)["summary"])
    assert await audit_rows(engine) == []


async def test_a_chunked_body_over_the_limit_is_cut_off_without_a_length(
    database_url: str, world: World, engine: AsyncEngine
) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        yield f'<CallWaiting xmlns="{NS}"><active>false</active>'.encode()
        for _ in range(MAX_BODY_BYTES // 1024 + 2):
            yield b" " * 1024
        yield b"</CallWaiting>"

    # A real socket: the in-process test client cannot send a chunked body.
    with serve_for_test(database_url) as base:
        async with httpx.AsyncClient(base_url=base) as http:
            response = await http.put(
                xsi_url(world.ann, "CallWaiting"), content=chunks(), headers=world.auth("full")
            )
    assert "content-length" not in response.request.headers
    assert response.status_code == 413
    assert error_info(response)["errorCode"] == "41301"
    assert await audit_rows(engine) == []


async def test_a_body_just_under_the_limit_is_accepted(client: Client, world: World) -> None:
    start = f'<CallWaiting xmlns="{NS}"><active>false</active>'
    end = "</CallWaiting>"
    body = (start + " " * (MAX_BODY_BYTES - len(start) - len(end)) + end).encode()
    assert len(body) == MAX_BODY_BYTES
    response = await client.put(
        xsi_url(world.ann, "CallWaiting"), content=body, headers=world.auth("full")
    )
    assert response.status_code == 200


# ---- Basic auth with the person's XSI password ----------------------------------------


async def test_basic_auth_reads_and_changes_the_persons_own_services(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    await set_password(engine, world.ann)
    url = xsi_url(world.ann, "DoNotDisturb")
    for username in (world.ann.email, str(world.ann.id)):
        got = await client.get(url, headers=basic(username))
        assert values(got, "DoNotDisturb") == {"active": "false", "ringSplash": "false"}
    body = xml("DoNotDisturb", ("active", "true"))
    put = await client.put(url, content=body, headers={**basic(world.ann.email), **XML_HEADERS})
    assert put.status_code == 200
    assert values(await client.get(url, headers=basic(world.ann.email)), "DoNotDisturb") == {
        "active": "true",
        "ringSplash": "false",
    }
    (event,) = await audit_rows(engine)
    assert (event.dialect, event.actor_id, event.token_id) == ("xsi", str(world.ann.id), None)
    assert world.ann.email in event.actor_name


async def test_basic_auth_may_address_the_person_by_email_in_the_path(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    await set_password(engine, world.ann)
    response = await client.get(
        xsi_url(world.ann.email, "CallWaiting"), headers=basic(world.ann.email)
    )
    assert values(response, "CallWaiting") == {"active": "true"}


REFUSED_BASIC = [
    ("ann@a.example", "wrong password", 401, 40105),
    ("ann@a.example", "", 401, 40105),
    ("nobody@a.example", PASSWORD, 401, 40105),
    ("bob@a.example", PASSWORD, 401, 40105),  # bob has no XSI password
]


@pytest.mark.parametrize(("username", "password", "status", "code"), REFUSED_BASIC)
async def test_wrong_basic_credentials_are_401_with_both_challenges(
    client: Client,
    world: World,
    engine: AsyncEngine,
    username: str,
    password: str,
    status: int,
    code: int,
) -> None:
    await set_password(engine, world.ann)
    response = await client.get(
        xsi_url(world.ann, "CallWaiting"), headers=basic(username, password)
    )
    assert response.status_code == status
    info = error_info(response)
    assert info["errorCode"] == str(code)
    assert info["summary"] == "The user name or XSI password is wrong."
    challenge = response.headers["www-authenticate"]
    assert challenge.startswith("Basic realm=")
    assert "Bearer realm=" in challenge


async def test_basic_auth_is_refused_for_another_persons_services(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    await set_password(engine, world.ann)
    headers = {**basic(world.ann.email), **XML_HEADERS}
    body = xml("CallWaiting", ("active", "false"))
    for person, status in ((world.bob, 403), (world.cat, 403), (world.zed, 404)):
        url = xsi_url(person, "CallWaiting")
        assert (await client.get(url, headers=headers)).status_code == status
        put = await client.put(url, content=body, headers=headers)
        assert put.status_code == status
        assert error_info(put)["errorCode"] == ("40302" if status == 403 else "40402")
    got = await client.get(xsi_url(world.bob, "CallWaiting"), headers=world.auth("full"))
    assert values(got, "CallWaiting") == {"active": "true"}
    assert await audit_rows(engine) == []


MALFORMED_AUTHORIZATION = [
    ({}, 40101),
    ({"Authorization": "Basic !!!not-base64"}, 40105),
    ({"Authorization": "Basic bm8tY29sb24="}, 40105),  # "no-colon"
    ({"Authorization": "Basic //79"}, 40105),  # not UTF-8
    ({"Authorization": "Digest username=ann"}, 40105),
    ({"Authorization": "Bearer"}, 40102),
    ({"Authorization": "Bearer cst_not-a-real-token"}, 40102),
]


@pytest.mark.parametrize(("headers", "code"), MALFORMED_AUTHORIZATION)
async def test_missing_or_malformed_credentials_are_401_error_info(
    client: Client, world: World, headers: dict[str, str], code: int
) -> None:
    response = await client.get(xsi_url(world.ann, "CallWaiting"), headers=headers)
    assert response.status_code == 401
    assert error_info(response)["errorCode"] == str(code)
    assert response.headers["www-authenticate"].startswith('Basic realm="callsettings XSI"')


async def test_an_expired_bearer_token_is_401_error_info(client: Client, world: World) -> None:
    response = await client.get(xsi_url(world.ann, "CallWaiting"), headers=world.auth("expired"))
    assert response.status_code == 401
    assert error_info(response)["errorCode"] == "40103"


async def test_xsi_passwords_are_stored_salted_and_hashed(
    world: World, engine: AsyncEngine
) -> None:
    await set_password(engine, world.ann)
    await set_password(engine, world.bob)
    async with engine.connect() as conn:
        query = sa.select(tables.people.c.xsi_password_hash).where(
            tables.people.c.id.in_([str(world.ann.id), str(world.bob.id)])
        )
        stored = [row[0] for row in await conn.execute(query)]
    assert len(stored) == 2
    assert stored[0] != stored[1]
    for digest in stored:
        assert digest.startswith("scrypt$")
        assert PASSWORD not in digest


async def test_replacing_a_password_retires_the_old_one(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    await set_password(engine, world.ann, "first password")
    await set_password(engine, world.ann, "second password")
    url = xsi_url(world.ann, "CallWaiting")
    assert (
        await client.get(url, headers=basic(world.ann.email, "first password"))
    ).status_code == 401
    assert (
        await client.get(url, headers=basic(world.ann.email, "second password"))
    ).status_code == 200


async def test_clearing_the_stored_hash_disables_basic_auth(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    await set_password(engine, world.ann)
    async with write_transaction(engine) as conn:
        await conn.execute(
            tables.people.update()
            .where(tables.people.c.id == str(world.ann.id))
            .values(xsi_password_hash=None)
        )
        assert await repo.get_xsi_password(conn, world.ann.id) is None
    response = await client.get(xsi_url(world.ann, "CallWaiting"), headers=basic(world.ann.email))
    assert response.status_code == 401


# ---- the authorization matrix ---------------------------------------------------------

# (caller, target, expected GET, expected PUT); "basic" is ann with her XSI password.
MATRIX = [
    ("full", "ann", 200, 200),
    ("full", "cat", 200, 200),
    ("full", "zed", 404, 404),
    ("full", "unknown", 404, 404),
    ("user_admin", "ann", 200, 200),
    ("user_admin", "cat", 200, 200),
    ("user_admin", "zed", 404, 404),
    ("read_only", "ann", 200, 403),
    ("read_only", "cat", 200, 403),
    ("read_only", "zed", 404, 403),
    ("read_only", "unknown", 404, 403),
    ("location", "ann", 200, 200),
    ("location", "bob", 200, 200),
    ("location", "cat", 403, 403),
    ("location", "zed", 404, 404),
    ("location", "unknown", 404, 404),
    ("partner", "zed", 200, 200),
    ("partner", "ann", 404, 404),
    ("partner", "unknown", 404, 404),
    ("ann", "ann", 200, 200),
    ("ann", "bob", 403, 403),
    ("ann", "cat", 403, 403),
    ("ann", "zed", 404, 404),
    ("ann", "unknown", 404, 404),
    ("basic", "ann", 200, 200),
    ("basic", "bob", 403, 403),
    ("basic", "cat", 403, 403),
    ("basic", "zed", 404, 404),
    ("basic", "unknown", 404, 404),
    ("other_full", "zed", 200, 200),
    ("other_full", "ann", 404, 404),
    ("no_scopes", "ann", 403, 403),
    ("service", "ann", 403, 403),
    ("expired", "ann", 401, 401),
]


@pytest.mark.parametrize(("caller", "target", "get_status", "put_status"), MATRIX)
async def test_authorization_matrix(
    client: Client,
    world: World,
    engine: AsyncEngine,
    caller: str,
    target: str,
    get_status: int,
    put_status: int,
) -> None:
    if caller == "basic":
        await set_password(engine, world.ann)
        headers = basic(world.ann.email)
    else:
        headers = world.auth(caller)
    person = (
        getattr(world, target) if target != "unknown" else "00000000-0000-4000-8000-000000000099"
    )
    url = xsi_url(person, "CallWaiting")
    got = await client.get(url, headers=headers)
    assert got.status_code == get_status, got.text
    put = await client.put(url, content=xml("CallWaiting", ("active", "false")), headers=headers)
    assert put.status_code == put_status, put.text
    for response in (got, put):
        if response.status_code >= 400:
            assert str(error_info(response)["errorCode"])[:3] == str(response.status_code)
    if get_status == 200:
        assert values(got, "CallWaiting") == {"active": "true"}
    admin = "other_full" if target == "zed" else "full"
    if target != "unknown":
        after = await client.get(url, headers=world.auth(admin))
        expected = "false" if put_status == 200 else "true"
        assert values(after, "CallWaiting") == {"active": expected}


async def test_the_rate_limit_answers_xsi_clients_with_error_info(
    database_url: str, world: World
) -> None:
    app = create_app(make_config(database_url, rate_limit_requests=1))
    url = xsi_url(world.ann, "CallWaiting")
    async with AsyncTestClient(app=app) as limited:
        assert (await limited.get(url, headers=world.auth("full"))).status_code == 200
        refused = await limited.get(url, headers=world.auth("full"))
        as_json = await limited.get(url + "?format=json", headers=world.auth("full"))
    assert refused.status_code == 429
    assert refused.headers["retry-after"].isdigit()
    assert error_info(refused)["errorCode"] == "42901"
    assert as_json.json()["ErrorInfo"]["errorCode"] == {"$": "42901"}
