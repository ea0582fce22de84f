"""The "me" API: a person's own token reads and changes their own settings."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server import tokens as scopes
from callsettings.server.tokens import issue_token
from callsettings.storage import repositories as repo
from callsettings.storage import tables
from callsettings.storage.database import write_transaction
from callsettings.storage.records import Role
from tests.factories import World
from tests.server.audio import wav_bytes

Client = AsyncTestClient[Any]
ME = "/v1/telephony/config/people/me/settings"
FEATURES = ["callForwarding", "doNotDisturb", "callWaiting", "voicemail"]


def admin_url(world: World, feature: str) -> str:
    return f"/v1/people/{world.pid(world.ann)}/features/{feature}"


@pytest.mark.parametrize("feature", FEATURES)
async def test_me_reads_the_same_document_as_the_admin_form(
    client: Client, world: World, feature: str
) -> None:
    mine = await client.get(f"{ME}/{feature}", headers=world.auth("ann"))
    assert mine.status_code == 200
    assert mine.headers["content-type"] == "application/json"
    admin = await client.get(admin_url(world, feature), headers=world.auth("full"))
    assert mine.json() == admin.json()


# (feature, partial body, a path into the document, the value it must then have)
CHANGES = [
    ("doNotDisturb", {"enabled": True, "ringSplashEnabled": False}, ("enabled",), True),
    ("callWaiting", {"enabled": False}, ("enabled",), False),
    (
        "callForwarding",
        {"callForwarding": {"busy": {"enabled": True, "destination": "1002"}}},
        ("callForwarding", "busy", "destination"),
        "1002",
    ),
    (
        "voicemail",
        {"enabled": True, "sendUnansweredCalls": {"enabled": True, "numberOfRings": 5}},
        ("sendUnansweredCalls", "numberOfRings"),
        5,
    ),
]


@pytest.mark.parametrize(("feature", "body", "path", "value"), CHANGES)
async def test_me_changes_are_partial_seen_by_admins_and_audited_as_the_person(
    client: Client,
    world: World,
    engine: AsyncEngine,
    feature: str,
    body: dict[str, Any],
    path: tuple[str, ...],
    value: Any,
) -> None:
    response = await client.put(f"{ME}/{feature}", json=body, headers=world.auth("ann"))
    assert response.status_code == 204, response.text
    assert response.content == b""
    got: Any = (await client.get(admin_url(world, feature), headers=world.auth("full"))).json()
    for key in path:
        got = got[key]
    assert got == value
    async with engine.connect() as conn:
        (event,) = await repo.list_audit_events(conn, world.org.id)
    assert (event.feature, event.actor_id, event.person_id) == (
        feature,
        str(world.ann.id),
        world.ann.id,
    )


async def test_call_waiting_is_open_to_the_person_here_but_not_in_the_admin_form(
    client: Client, world: World
) -> None:
    admin_form = await client.get(admin_url(world, "callWaiting"), headers=world.auth("ann"))
    assert admin_form.status_code == 403
    mine = await client.get(f"{ME}/callWaiting", headers=world.auth("ann"))
    assert mine.json() == {"enabled": True}


@pytest.mark.parametrize(
    ("action", "part"),
    [("busyGreetingUpload", "sendBusyCalls"), ("noAnswerGreetingUpload", "sendUnansweredCalls")],
)
async def test_me_greeting_uploads_set_the_flag_and_allow_a_custom_greeting(
    client: Client, world: World, action: str, part: str
) -> None:
    custom = {part: {"greeting": "CUSTOM"}}
    before = await client.put(f"{ME}/voicemail", json=custom, headers=world.auth("ann"))
    assert before.status_code == 400
    assert before.json()["message"].startswith(f"{part}.greeting:")
    audio = wav_bytes(0.75)
    upload = await client.post(
        f"{ME}/voicemail/actions/{action}/invoke",
        files={"file": ("mine.wav", audio, "audio/wav")},
        headers=world.auth("ann"),
    )
    assert upload.status_code == 201, upload.text
    assert upload.content == b""
    after = await client.put(f"{ME}/voicemail", json=custom, headers=world.auth("ann"))
    assert after.status_code == 204
    got = (await client.get(f"{ME}/voicemail", headers=world.auth("ann"))).json()
    assert got[part]["greeting"] == "CUSTOM"
    assert got[part]["greetingUploaded"] is True


async def test_a_fake_wav_is_refused_on_the_me_form_too(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    response = await client.post(
        f"{ME}/voicemail/actions/busyGreetingUpload/invoke",
        files={"file": ("fake.wav", b"RIFF....WAVEnot really", "audio/wav")},
        headers=world.auth("ann"),
    )
    assert response.status_code == 400
    assert response.json()["message"].startswith("file: ")
    async with engine.connect() as conn:
        stored = (
            await conn.execute(sa.select(sa.func.count()).select_from(tables.greetings))
        ).scalar()
    assert stored == 0


BAD_INPUT = [
    ("doNotDisturb", {"enabled": "yes"}, "enabled"),
    ("callWaiting", {"enabled": 1}, "enabled"),
    ("callForwarding", {"callForwarding": {"noAnswer": {"numberOfRings": 30}}}, "numberOfRings"),
    ("voicemail", {"messageStorage": {"storageType": "EXTERNAL"}}, "externalEmail"),
    ("voicemail", {"faxMessage": {"enabled": True}}, "faxMessage.phoneNumber"),
    ("voicemail", {"notifications": {"enabled": True, "destination": "nope"}}, "destination"),
    ("voicemail", [1, 2], "JSON object"),
]


@pytest.mark.parametrize(("feature", "body", "named"), BAD_INPUT)
async def test_bad_input_is_a_400_naming_the_field_and_nothing_is_stored(
    client: Client, world: World, engine: AsyncEngine, feature: str, body: Any, named: str
) -> None:
    before = (await client.get(f"{ME}/{feature}", headers=world.auth("ann"))).json()
    response = await client.put(f"{ME}/{feature}", json=body, headers=world.auth("ann"))
    assert response.status_code == 400
    assert named in response.json()["message"]
    after = (await client.get(f"{ME}/{feature}", headers=world.auth("ann"))).json()
    assert after == before
    async with engine.connect() as conn:
        assert await repo.list_audit_events(conn, world.org.id) == []


async def _token(engine: AsyncEngine, world: World, scope_set: frozenset[str]) -> str:
    async with write_transaction(engine) as conn:
        secret, _ = await issue_token(
            conn, org_id=world.org.id, role=Role.USER, person_id=world.ann.id, scopes=scope_set
        )
    return secret


# (token, GET status, PUT status)
MATRIX = [
    ("ann", 200, 204),
    ("bob", 200, 204),
    ("full", 404, 404),  # an admin token that is nobody's own: there is no "me"
    ("read_only", 404, 403),
    ("no_scopes", 403, 403),
    ("service", 403, 403),
    ("expired", 401, 401),
]


@pytest.mark.parametrize(("token", "get_status", "put_status"), MATRIX)
async def test_authorization_matrix(
    client: Client, world: World, token: str, get_status: int, put_status: int
) -> None:
    for feature in FEATURES:
        got = await client.get(f"{ME}/{feature}", headers=world.auth(token))
        assert got.status_code == get_status, (feature, got.text)
        put = await client.put(f"{ME}/{feature}", json={}, headers=world.auth(token))
        assert put.status_code == put_status, (feature, put.text)
    upload = await client.post(
        f"{ME}/voicemail/actions/busyGreetingUpload/invoke",
        files={"file": ("g.wav", wav_bytes(0.2), "audio/wav")},
        headers=world.auth(token),
    )
    assert upload.status_code == {204: 201}.get(put_status, put_status)


async def test_people_scopes_alone_do_not_open_the_me_api(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    people_only = await _token(engine, world, frozenset({scopes.USER_READ, scopes.USER_WRITE}))
    headers = {"Authorization": f"Bearer {people_only}"}
    got = await client.get(f"{ME}/doNotDisturb", headers=headers)
    assert got.status_code == 403
    assert "spark:telephony_config_read" in got.json()["message"]
    read_only = await _token(engine, world, frozenset({scopes.USER_TELEPHONY_READ}))
    headers = {"Authorization": f"Bearer {read_only}"}
    assert (await client.get(f"{ME}/doNotDisturb", headers=headers)).status_code == 200
    put = await client.put(f"{ME}/doNotDisturb", json={"enabled": True}, headers=headers)
    assert put.status_code == 403
    assert "spark:telephony_config_write" in put.json()["message"]
