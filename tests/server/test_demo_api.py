"""The demo organization shows every feature, served through the API like any other org."""

from __future__ import annotations

import uuid
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server.demo import demo_document
from callsettings.storage import repositories as repo
from tests.factories import World

Client = AsyncTestClient[Any]


async def test_the_demo_shows_off_every_feature(
    client: Client, world: World, engine: AsyncEngine
) -> None:
    demo = await demo_document(engine)
    admin = {"Authorization": f"Bearer {demo['tokens']['fullAdmin']}"}
    people = {p["displayName"].split()[0]: p for p in demo["people"]}

    async def feature(name: str, path: str) -> Any:
        response = await client.get(
            f"/v1/people/{people[name]['id']}/features/{path}", headers=admin
        )
        assert response.status_code == 200, response.text
        return response.json() if response.headers["content-type"] != "audio/wav" else response

    ann = await feature("Ann", "voicemail")
    assert ann["sendBusyCalls"] == {"enabled": True, "greeting": "CUSTOM", "greetingUploaded": True}
    assert ann["sendUnansweredCalls"]["greeting"] == "CUSTOM"
    greeting = await feature("Ann", "voicemail/greetings/busy")
    assert greeting.content.startswith(b"RIFF")
    grace = await feature("Grace", "voicemail")
    assert grace["sendAllCalls"]["enabled"] is True
    assert grace["sendUnansweredCalls"]["greetingUploaded"] is True
    assert grace["sendBusyCalls"]["greetingUploaded"] is False
    assert (await feature("Bob", "doNotDisturb"))["ringSplashEnabled"] is True
    assert (await feature("Erin", "doNotDisturb"))["webexGoOverrideEnabled"] is True
    assert (await feature("Dev", "callWaiting")) == {"enabled": False}
    carla = await feature("Carla", "callForwarding")
    assert carla["callForwarding"]["always"]["destination"] == "1004"
    fax = (await feature("Carla", "voicemail"))["faxMessage"]
    assert fax == {"enabled": True, "phoneNumber": "+12125550193", "extension": "93"}
    assert (await feature("Hiro", "voicemail"))["messageStorage"]["storageType"] == "EXTERNAL"
    assert (await feature("Ivy", "voicemail"))["voiceMessageForwardingEnabled"] is True

    async with engine.connect() as conn:
        org = await repo.get_organization(conn, uuid.UUID(demo["orgUuid"]))
        assert org is not None
        states = {
            name: await repo.get_passcode(conn, uuid.UUID(people[name]["uuid"]))
            for name in ("Ann", "Carla", "Hiro")
        }
        events = await repo.list_audit_events(conn, org.id, limit=1000)
    assert states["Ann"] is not None
    assert states["Ann"].passcode_hash is not None
    assert states["Carla"] is not None
    assert states["Carla"].must_reset is True
    assert states["Hiro"] is None
    assert {e.dialect for e in events} == {"seed"}
    assert {"voicemail.busyGreeting", "voicemail.passcode", "doNotDisturb"} <= {
        e.feature for e in events
    }
    audit = await client.get("/v1/adminAudit/events?max=5", headers=admin)
    assert len(audit.json()["items"]) == 5
    assert "link" in audit.headers
