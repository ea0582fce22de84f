"""Voicemail actions: greeting uploads and downloads, PIN reset and the passcode."""

from __future__ import annotations

import base64
import hashlib
from typing import Any

import pytest
import sqlalchemy as sa
from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server.app import create_app
from callsettings.storage import repositories as repo
from callsettings.storage import tables
from tests.factories import World
from tests.server.audio import PRETENDERS, wav_bytes
from tests.server.conftest import make_config

Client = AsyncTestClient[Any]

# (action in the URL, greeting kind in the download URL, the voicemail part whose flag flips)
KINDS = [
    ("uploadBusyGreeting", "busy", "sendBusyCalls"),
    ("uploadNoAnswerGreeting", "noAnswer", "sendUnansweredCalls"),
]


def vm_url(world: World, person: Any = None, rest: str = "", query: str = "") -> str:
    return f"/v1/people/{world.pid(person or world.ann)}/features/voicemail{rest}{query}"


def upload_url(world: World, action: str, person: Any = None, query: str = "") -> str:
    return vm_url(world, person, f"/actions/{action}/invoke", query)


def passcode_url(world: World, person: Any = None, query: str = "") -> str:
    return f"/v1/telephony/config/people/{world.pid(person or world.ann)}/voicemail/passcode{query}"


def as_file(audio: bytes, name: str = "greeting.wav") -> dict[str, Any]:
    return {"file": (name, audio, "audio/wav")}


async def count(engine: AsyncEngine, table: sa.Table) -> int:
    async with engine.connect() as conn:
        query = sa.select(sa.func.count()).select_from(table)
        return int((await conn.execute(query)).scalar_one())


@pytest.mark.parametrize(("action", "kind", "part"), KINDS)
async def test_upload_stores_the_wav_and_sets_only_its_flag(
    client: Client, world: World, action: str, kind: str, part: str
) -> None:
    audio = wav_bytes(1.5)
    response = await client.post(
        upload_url(world, action), files=as_file(audio), headers=world.auth("full")
    )
    assert response.status_code == 201, response.text
    assert response.content == b""
    got = (await client.get(vm_url(world), headers=world.auth("full"))).json()
    other = {"sendBusyCalls", "sendUnansweredCalls"} - {part}
    assert got[part]["greetingUploaded"] is True
    assert got[other.pop()]["greetingUploaded"] is False
    download = await client.get(
        vm_url(world, rest=f"/greetings/{kind}"), headers=world.auth("full")
    )
    assert download.status_code == 200
    assert download.headers["content-type"] == "audio/wav"
    assert 'filename="greeting.wav"' in download.headers["content-disposition"]
    assert download.content == audio


async def test_a_second_upload_replaces_the_first_and_both_are_audited(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    first, second = wav_bytes(0.5, tone_hz=440), wav_bytes(2.0, rate=16000, tone_hz=300)
    for audio in (first, second):
        response = await client.post(
            upload_url(world, "uploadBusyGreeting"),
            files=as_file(audio, "busy.wav"),
            headers={**world.auth("full"), "TrackingID": "TEST_upload"},
        )
        assert response.status_code == 201
    download = await client.get(vm_url(world, rest="/greetings/busy"), headers=world.auth("full"))
    assert download.content == second
    async with engine.connect() as conn:
        events = await repo.list_audit_events(conn, world.org.id)
    greeting_events = [e for e in events if e.feature == "voicemail.busyGreeting"]
    assert [e.after for e in greeting_events] == [
        f'{{"filename":"busy.wav","bytes":{len(second)},"durationMs":2000}}',
        f'{{"filename":"busy.wav","bytes":{len(first)},"durationMs":500}}',
    ]
    assert greeting_events[0].before == greeting_events[1].after
    # The flag flips once, so the document changes (and is audited) once.
    assert [e.feature for e in events].count("voicemail") == 1
    assert {e.tracking_id for e in events} == {"TEST_upload"}


@pytest.mark.parametrize(("name", "audio"), PRETENDERS, ids=[p[0] for p in PRETENDERS])
async def test_files_that_only_pretend_to_be_wav_are_refused_and_nothing_is_stored(
    client: Client, world: World, engine: AsyncEngine, name: str, audio: bytes
) -> None:
    response = await client.post(
        upload_url(world, "uploadBusyGreeting"), files=as_file(audio), headers=world.auth("full")
    )
    assert response.status_code == 400, response.text
    assert response.json()["message"].startswith("file: ")
    assert "WAV" in response.json()["message"]
    got = (await client.get(vm_url(world), headers=world.auth("full"))).json()
    assert got["sendBusyCalls"]["greetingUploaded"] is False
    assert await count(engine, tables.greetings) == 0
    assert await count(engine, tables.audit_events) == 0


async def test_uploads_need_multipart_with_a_file_part(client: Client, world: World) -> None:
    as_json = await client.post(
        upload_url(world, "uploadBusyGreeting"), json={"file": "x"}, headers=world.auth("full")
    )
    assert as_json.status_code == 415
    assert "multipart/form-data" in as_json.json()["message"]
    wrong_part = await client.post(
        upload_url(world, "uploadBusyGreeting"),
        files={"audio": ("greeting.wav", wav_bytes(), "audio/wav")},
        headers=world.auth("full"),
    )
    assert wrong_part.status_code == 400
    assert wrong_part.json()["message"].startswith("file: ")


async def test_a_greeting_over_the_limit_is_a_413_and_nothing_is_stored(
    database_url: str, world: World, engine: AsyncEngine
) -> None:
    app = create_app(make_config(database_url, max_upload_bytes=16 * 1024))
    async with AsyncTestClient(app=app) as client:
        big = wav_bytes(2.0)  # 32 KB of audio
        response = await client.post(
            upload_url(world, "uploadNoAnswerGreeting"),
            files=as_file(big),
            headers=world.auth("full"),
        )
        assert response.status_code == 413
        assert "16 KB" in response.json()["message"]
        small = await client.post(
            upload_url(world, "uploadNoAnswerGreeting"),
            files=as_file(wav_bytes(0.5)),
            headers=world.auth("full"),
        )
        assert small.status_code == 201
    assert await count(engine, tables.greetings) == 1


async def test_custom_greeting_needs_an_uploaded_greeting_of_that_kind(
    client: Client, world: World
) -> None:
    custom = {"sendBusyCalls": {"enabled": True, "greeting": "CUSTOM", "greetingUploaded": True}}
    refused = await client.put(vm_url(world), json=custom, headers=world.auth("full"))
    assert refused.status_code == 400
    assert refused.json()["message"].startswith("sendBusyCalls.greeting:")
    # An uploaded no-answer greeting does not allow a custom busy greeting.
    await client.post(
        upload_url(world, "uploadNoAnswerGreeting"),
        files=as_file(wav_bytes()),
        headers=world.auth("full"),
    )
    again = await client.put(vm_url(world), json=custom, headers=world.auth("full"))
    assert again.status_code == 400
    await client.post(
        upload_url(world, "uploadBusyGreeting"),
        files=as_file(wav_bytes()),
        headers=world.auth("full"),
    )
    accepted = await client.put(vm_url(world), json=custom, headers=world.auth("full"))
    assert accepted.status_code == 204
    got = (await client.get(vm_url(world), headers=world.auth("full"))).json()
    assert got["sendBusyCalls"] == {"enabled": True, "greeting": "CUSTOM", "greetingUploaded": True}


async def test_the_flag_cannot_be_set_by_a_put(client: Client, world: World) -> None:
    body = {"sendUnansweredCalls": {"greetingUploaded": True}}
    assert (
        await client.put(vm_url(world), json=body, headers=world.auth("full"))
    ).status_code == 204
    got = (await client.get(vm_url(world), headers=world.auth("full"))).json()
    assert got["sendUnansweredCalls"]["greetingUploaded"] is False


async def test_downloading_a_missing_or_unknown_greeting_is_a_404(
    client: Client, world: World
) -> None:
    missing = await client.get(vm_url(world, rest="/greetings/busy"), headers=world.auth("full"))
    assert missing.status_code == 404
    assert "busy greeting" in missing.json()["message"]
    unknown = await client.get(vm_url(world, rest="/greetings/loud"), headers=world.auth("full"))
    assert unknown.status_code == 404
    assert "'busy' or 'noAnswer'" in unknown.json()["message"]


def scrypt_matches(passcode: str, stored: str) -> bool:
    scheme, n, r, p, salt, digest = stored.split("$")
    derived = hashlib.scrypt(
        passcode.encode(), salt=base64.b64decode(salt), n=int(n), r=int(r), p=int(p), dklen=32
    )
    return scheme == "scrypt" and derived == base64.b64decode(digest)


async def passcode_state(engine: AsyncEngine, world: World) -> repo.PasscodeState | None:
    async with engine.connect() as conn:
        return await repo.get_passcode(conn, world.ann.id)


async def test_passcode_is_stored_hashed_and_audited_without_the_digest(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    response = await client.put(
        passcode_url(world), json={"passcode": "739164"}, headers=world.auth("full")
    )
    assert response.status_code == 204
    assert response.content == b""
    state = await passcode_state(engine, world)
    assert state is not None
    assert state.passcode_hash is not None
    assert "739164" not in state.passcode_hash
    assert scrypt_matches("739164", state.passcode_hash)
    assert not scrypt_matches("739165", state.passcode_hash)
    async with engine.connect() as conn:
        (event,) = await repo.list_audit_events(conn, world.org.id)
    assert event.feature == "voicemail.passcode"
    assert event.after == '{"passcodeSet":true,"mustReset":false}'
    assert state.passcode_hash not in (event.before or "") + (event.after or "")


BAD_PASSCODES = [
    ({"passcode": "73916"}, "6 to 30 digits, got 5"),
    ({"passcode": "7" + "39164" * 6}, "6 to 30 digits, got 31"),
    ({"passcode": "73a164"}, "digits only"),
    ({"passcode": "\uff17\uff13\uff19\uff11\uff16\uff14"}, "digits only"),  # fullwidth
    ({"passcode": 739164}, "string of digits"),
    ({"passcode": None}, "string of digits"),
    ({"passcode": "444444"}, "repeat one digit"),
    ({"passcode": "123456"}, "ascending or descending"),
    ({"passcode": "987654"}, "ascending or descending"),
    ({"passcode": "890123"}, "ascending or descending"),
    ({"passcode": "551001"}, "extension"),
    ({"passcode": "100155"}, "extension"),
    ({"passcode": "2125550101"}, "phone number"),
    ({}, "is required"),
    ({"code": "739164"}, "is required"),
]


@pytest.mark.parametrize(("body", "reason"), BAD_PASSCODES)
async def test_bad_passcodes_are_400s_naming_passcode_and_nothing_is_stored(
    client: Client, world: World, engine: AsyncEngine, body: dict[str, Any], reason: str
) -> None:
    response = await client.put(passcode_url(world), json=body, headers=world.auth("full"))
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert message.startswith("passcode: ")
    assert reason in message
    assert await count(engine, tables.voicemail_passcodes) == 0
    assert await count(engine, tables.audit_events) == 0


async def test_passcode_body_must_be_json(client: Client, world: World) -> None:
    response = await client.put(
        passcode_url(world), content=b"passcode=739164", headers=world.auth("full")
    )
    assert response.status_code == 415


async def test_reset_pin_clears_the_passcode_and_asks_for_a_new_one(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    await client.put(passcode_url(world), json={"passcode": "739164"}, headers=world.auth("full"))
    # As the spec says clients send it: an empty body with a JSON content type.
    response = await client.post(
        vm_url(world, rest="/actions/resetPin/invoke"),
        content=b"",
        headers={**world.auth("full"), "Content-Type": "application/json"},
    )
    assert response.status_code == 204
    assert response.content == b""
    state = await passcode_state(engine, world)
    assert state is not None
    assert (state.passcode_hash, state.must_reset) == (None, True)
    async with engine.connect() as conn:
        latest = (await repo.list_audit_events(conn, world.org.id))[0]
    assert latest.feature == "voicemail.passcode"
    assert latest.before == '{"passcodeSet":true,"mustReset":false}'
    assert latest.after == '{"passcodeSet":false,"mustReset":true}'


# ---- who may do what --------------------------------------------------------------------

TARGETS = {
    "ann": ("ann", None),
    "bob": ("bob", None),
    "cat": ("cat", None),
    "zed": ("zed", None),
    "zed@B": ("zed", "other_org"),
    "unknown": (None, None),
}

# (token, target, upload, resetPin, passcode, download)
MATRIX = [
    ("full", "ann", 201, 204, 204, 200),
    ("full", "cat", 201, 204, 204, 200),
    ("full", "zed", 404, 404, 404, 404),
    ("full", "zed@B", 403, 403, 403, 403),
    ("full", "unknown", 404, 404, 404, 404),
    ("user_admin", "ann", 201, 204, 204, 200),
    ("read_only", "ann", 403, 403, 403, 200),
    ("location", "ann", 201, 204, 204, 200),
    ("location", "cat", 403, 403, 403, 403),
    ("partner", "zed@B", 201, 204, 204, 200),
    ("partner", "zed", 404, 404, 404, 404),
    ("ann", "ann", 201, 403, 403, 200),
    ("ann", "bob", 403, 403, 403, 403),
    ("ann", "zed", 404, 403, 403, 404),
    ("other_full", "zed", 201, 204, 204, 200),
    ("other_full", "ann", 404, 404, 404, 404),
    ("no_scopes", "ann", 403, 403, 403, 403),
    ("service", "ann", 403, 403, 403, 403),
    ("expired", "ann", 401, 401, 401, 401),
]


def target(world: World, name: str) -> tuple[Any, str]:
    person_name, org_name = TARGETS[name]
    person = getattr(world, person_name) if person_name else None
    query = f"?orgId={world.oid(getattr(world, org_name))}" if org_name else ""
    return person, query


def person_ref(world: World, person: Any) -> str:
    return world.pid(person) if person is not None else world.unknown_pid


@pytest.mark.parametrize(
    ("token", "who", "upload", "reset", "passcode", "download"), MATRIX, ids=str
)
async def test_authorization_matrix(
    client: Client,
    world: World,
    token: str,
    who: str,
    upload: int,
    reset: int,
    passcode: int,
    download: int,
) -> None:
    person, query = target(world, who)
    ref = person_ref(world, person)
    base = f"/v1/people/{ref}/features/voicemail"
    headers = world.auth(token)
    got = await client.post(
        f"{base}/actions/uploadBusyGreeting/invoke{query}",
        files=as_file(wav_bytes()),
        headers=headers,
    )
    assert got.status_code == upload, got.text
    got = await client.post(f"{base}/actions/resetPin/invoke{query}", headers=headers)
    assert got.status_code == reset, got.text
    got = await client.put(
        f"/v1/telephony/config/people/{ref}/voicemail/passcode{query}",
        json={"passcode": "739164"},
        headers=headers,
    )
    assert got.status_code == passcode, got.text
    if person is not None:
        seed_as = "partner" if query else ("other_full" if person is world.zed else "full")
        await client.post(
            f"{base}/actions/uploadBusyGreeting/invoke{query}",
            files=as_file(wav_bytes(0.25)),
            headers=world.auth(seed_as),
        )
    got = await client.get(f"{base}/greetings/busy{query}", headers=headers)
    assert got.status_code == download, got.text
    if download == 200:
        assert got.content.startswith(b"RIFF")
    else:
        assert got.json()["errorCode"] // 100 == download
