"""The demo organization: realistic people and settings, seeded once, printed every time."""

from __future__ import annotations

import io
import math
import struct
import wave
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from callsettings.server import features, provisioning
from callsettings.server.tokens import issue_token
from callsettings.server.webex import voicemail_actions
from callsettings.server.webex.voicemail_actions import Upload
from callsettings.settings.ids import IdType, encode_id
from callsettings.settings.voicemail import GreetingKind
from callsettings.storage import repositories as repo
from callsettings.storage.database import write_transaction
from callsettings.storage.records import Feature, Location, Organization, Person, Role


@dataclass(frozen=True)
class DemoPerson:
    first: str
    last: str
    extension: str
    number: str
    site: str
    settings: dict[Feature, dict[str, Any]]


_VM_ON = {
    "enabled": True,
    "sendBusyCalls": {"enabled": True},
    "sendUnansweredCalls": {"enabled": True, "numberOfRings": 4},
}

PEOPLE = [
    DemoPerson(
        "Ann",
        "Lee",
        "1001",
        "+12125550101",
        "hq",
        {
            Feature.VOICEMAIL: {
                **_VM_ON,
                "notifications": {"enabled": True, "destination": "ann.lee@acme.example"},
            },
            Feature.CALL_FORWARDING: {
                "callForwarding": {"busy": {"enabled": True, "destination": "1002"}}
            },
        },
    ),
    DemoPerson(
        "Bob",
        "Martin",
        "1002",
        "+12125550102",
        "hq",
        {
            Feature.DO_NOT_DISTURB: {"enabled": True, "ringSplashEnabled": True},
            Feature.VOICEMAIL: _VM_ON,
        },
    ),
    DemoPerson(
        "Carla",
        "Diaz",
        "1003",
        "+12125550103",
        "hq",
        {
            Feature.CALL_FORWARDING: {
                "callForwarding": {
                    "always": {"enabled": True, "destination": "1004", "ringReminderEnabled": True}
                }
            },
            Feature.VOICEMAIL: {
                **_VM_ON,
                "faxMessage": {
                    "enabled": True,
                    "phoneNumber": "+1 212 555 0193",
                    "extension": "93",
                },
            },
        },
    ),
    DemoPerson(
        "Dev",
        "Patel",
        "1004",
        "+12125550104",
        "hq",
        {
            Feature.CALL_WAITING: {"enabled": False},
            Feature.VOICEMAIL: _VM_ON,
        },
    ),
    DemoPerson(
        "Erin",
        "Walsh",
        "1005",
        "+12125550105",
        "hq",
        {
            Feature.CALL_FORWARDING: {
                "businessContinuity": {"enabled": True, "destination": "+1 212 555 0199"}
            },
            Feature.DO_NOT_DISTURB: {"enabled": True, "webexGoOverrideEnabled": True},
        },
    ),
    DemoPerson(
        "Frank",
        "Ito",
        "2001",
        "+14085550201",
        "branch",
        {
            Feature.CALL_FORWARDING: {
                "callForwarding": {
                    "noAnswer": {
                        "enabled": True,
                        "destination": "2002",
                        "numberOfRings": 4,
                        "destinationVoicemailEnabled": True,
                    }
                }
            },
        },
    ),
    DemoPerson(
        "Grace",
        "Kim",
        "2002",
        "+14085550202",
        "branch",
        {
            Feature.VOICEMAIL: {
                **_VM_ON,
                "sendAllCalls": {"enabled": True},
                "transferToNumber": {"enabled": True, "destination": "2001"},
            },
        },
    ),
    DemoPerson(
        "Hiro",
        "Tanaka",
        "2003",
        "+14085550203",
        "branch",
        {
            Feature.VOICEMAIL: {
                **_VM_ON,
                "emailCopyOfMessage": {"enabled": True, "emailId": "hiro.tanaka@acme.example"},
                "messageStorage": {
                    "mwiEnabled": True,
                    "storageType": "EXTERNAL",
                    "externalEmail": "hiro.tanaka@acme.example",
                },
            },
        },
    ),
    DemoPerson(
        "Ivy",
        "Chen",
        "2004",
        "+14085550204",
        "branch",
        {
            Feature.VOICEMAIL: {
                **_VM_ON,
                "voiceMessageForwardingEnabled": True,
                "emailCopyOfMessage": {"enabled": True, "emailId": "ivy.chen@acme.example"},
            },
        },
    ),
]

CUSTOMER_PEOPLE = [
    DemoPerson(
        "Kurt",
        "Weber",
        "3001",
        "+13125550301",
        "main",
        {
            Feature.VOICEMAIL: _VM_ON,
        },
    ),
    DemoPerson(
        "Lena",
        "Moreau",
        "3002",
        "+13125550302",
        "main",
        {
            Feature.CALL_FORWARDING: {
                "callForwarding": {"always": {"enabled": True, "destination": "3001"}}
            },
        },
    ),
]

_SEED_ACTOR = features.Actor(
    token=None,
    actor_id="demo",
    name="demo seed",
    tracking_id="CALLSETTINGS_demo_seed",
    dialect="seed",
)


# Who has custom greetings (busy, no answer) and a voicemail passcode.
GREETINGS = {"Ann": (GreetingKind.BUSY, GreetingKind.NO_ANSWER), "Grace": (GreetingKind.NO_ANSWER,)}
PASSCODES = {"Ann": "739164", "Bob": "582914", "Grace": "604817"}
PIN_RESET = ("Carla",)


def chime(kind: GreetingKind) -> Upload:
    """Return a two-note chime as a real 8 kHz PCM WAV (a synthesized stand-in for a voice)."""
    rate, notes = 8000, (660.0, 880.0) if kind is GreetingKind.BUSY else (523.0, 784.0)
    samples = [
        int(9000 * math.sin(2 * math.pi * tone * i / rate))
        for tone in notes
        for i in range(rate // 2)
    ]
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(rate)
        recording.writeframes(struct.pack(f"<{len(samples)}h", *samples))
    audio = buffer.getvalue()
    return Upload(f"{kind.value}-greeting.wav", audio, voicemail_actions.wav_duration_ms(audio))


async def _voicemail_extras(
    conn: AsyncConnection, org: Organization, people: list[tuple[DemoPerson, Person]]
) -> None:
    """Upload greetings (and switch to them), set passcodes and reset a PIN."""
    for spec, person in people:
        kinds = GREETINGS.get(spec.first, ())
        for kind in kinds:
            await voicemail_actions.store_greeting(
                conn, person, org, kind, chime(kind), _SEED_ACTOR
            )
        if kinds:
            custom = {
                "sendBusyCalls" if kind is GreetingKind.BUSY else "sendUnansweredCalls": {
                    "greeting": "CUSTOM"
                }
                for kind in kinds
            }
            await features.update(conn, person, org, Feature.VOICEMAIL, custom, _SEED_ACTOR)
        if spec.first in PASSCODES:
            hashed = voicemail_actions.hash_passcode(PASSCODES[spec.first])
            await voicemail_actions.set_passcode(conn, person, hashed, _SEED_ACTOR)
        if spec.first in PIN_RESET:
            await voicemail_actions.reset_pin(conn, person, _SEED_ACTOR)


async def demo_document(engine: AsyncEngine) -> dict[str, Any]:
    """Seed the demo organizations once and return their description with tokens."""
    async with write_transaction(engine) as conn:
        stored = await repo.get_demo_document(conn)
        if stored is not None:
            document: dict[str, Any] = msgspec.json.decode(stored)
            return document
        document = await _seed(conn)
        await repo.save_demo_document(conn, msgspec.json.encode(document).decode())
        return document


def _email(person: DemoPerson, domain: str) -> str:
    return f"{person.first.lower()}.{person.last.lower()}@{domain}"


async def _add_people(
    conn: AsyncConnection,
    org: Organization,
    sites: dict[str, Location],
    people: list[DemoPerson],
    domain: str,
) -> list[tuple[DemoPerson, Person]]:
    created = []
    for spec in people:
        person = await provisioning.create_person(
            conn,
            org,
            email=_email(spec, domain),
            first_name=spec.first,
            last_name=spec.last,
            extension=spec.extension,
            numbers=[spec.number],
            location=sites[spec.site],
        )
        created.append((spec, person))
    for spec, person in created:
        for feature, patch in spec.settings.items():
            await features.update(conn, person, org, feature, patch, _SEED_ACTOR)
    return created


def _describe(person: Person) -> dict[str, Any]:
    return {
        "id": encode_id(IdType.PEOPLE, person.id),
        "uuid": str(person.id),
        "email": person.email,
        "displayName": person.display_name,
        "extension": person.extension,
        "phoneNumber": person.phone_numbers[0].number,
        "locationId": encode_id(IdType.LOCATION, person.location_id)
        if person.location_id
        else None,
    }


async def _seed(conn: AsyncConnection) -> dict[str, Any]:
    org = await provisioning.create_organization(conn, "Acme Telecom (demo)", country="US")
    hq = await provisioning.create_location(conn, org, "Headquarters", address="New York, NY")
    branch = await provisioning.create_location(
        conn, org, "San Jose Branch", time_zone="America/Los_Angeles", address="San Jose, CA"
    )
    staff = await _add_people(conn, org, {"hq": hq, "branch": branch}, PEOPLE, "acme.example")
    await _voicemail_extras(conn, org, staff)

    partner = await provisioning.create_organization(conn, "Northwind Partners (demo)")
    customer = await provisioning.create_organization(conn, "Globex Customer (demo)", country="US")
    main = await provisioning.create_location(
        conn, customer, "Chicago Office", time_zone="America/Chicago"
    )
    clients = await _add_people(conn, customer, {"main": main}, CUSTOMER_PEOPLE, "globex.example")

    async def token(o: Organization, role: Role, label: str, **kw: Any) -> str:
        secret, _ = await issue_token(
            conn, org_id=o.id, role=role, label=label, lifetime=timedelta(days=3650), **kw
        )
        return secret

    people_tokens = {}
    for _, person in staff:
        people_tokens[encode_id(IdType.PEOPLE, person.id)] = await token(
            org, Role.USER, f"demo user {person.display_name}", person_id=person.id
        )
    return {
        "orgId": encode_id(IdType.ORGANIZATION, org.id),
        "orgUuid": str(org.id),
        "displayName": org.display_name,
        "locations": [
            {"id": encode_id(IdType.LOCATION, loc.id), "name": loc.name} for loc in (hq, branch)
        ],
        "people": [_describe(p) for _, p in staff],
        "customer": {
            "orgId": encode_id(IdType.ORGANIZATION, customer.id),
            "orgUuid": str(customer.id),
            "displayName": customer.display_name,
            "people": [_describe(p) for _, p in clients],
        },
        "tokens": {
            "fullAdmin": await token(org, Role.FULL_ADMIN, "demo full admin"),
            "userAdmin": await token(org, Role.USER_ADMIN, "demo user admin"),
            "readOnlyAdmin": await token(org, Role.READ_ONLY_ADMIN, "demo read-only admin"),
            "locationAdmin": {
                "token": await token(
                    org,
                    Role.LOCATION_ADMIN,
                    "demo location admin",
                    location_ids=frozenset({branch.id}),
                ),
                "locationId": encode_id(IdType.LOCATION, branch.id),
                "locationName": branch.name,
            },
            "partnerAdmin": {
                "token": await token(
                    partner,
                    Role.PARTNER_ADMIN,
                    "demo partner admin",
                    managed_org_ids=frozenset({customer.id}),
                ),
                "orgId": encode_id(IdType.ORGANIZATION, customer.id),
                "partnerOrgId": encode_id(IdType.ORGANIZATION, partner.id),
            },
            "service": await token(org, Role.SERVICE, "demo call-decision service"),
            "people": people_tokens,
        },
    }
