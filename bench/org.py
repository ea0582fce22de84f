"""A realistic organization of any size, written with bulk inserts through the storage layer.

People get names, emails, 6-digit extensions, one E.164 number and a location each; a share
of them get non-default settings (forwarding, voicemail, Do Not Disturb, call waiting), so
reads return documents of realistic sizes and the decision API follows real rules. Every
document is built and validated by the settings domain, exactly as a PUT would store it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncConnection

from callsettings.server import features, provisioning
from callsettings.server.tokens import issue_token
from callsettings.settings import (
    CallForwarding,
    CallWaiting,
    DoNotDisturb,
    Mailbox,
    Owner,
    Voicemail,
    apply_patch,
    validate_forwarding,
    validate_voicemail,
)
from callsettings.settings.ids import IdType, encode_id
from callsettings.storage import tables as t
from callsettings.storage.database import create_engine, migrate, write_transaction
from callsettings.storage.records import Feature, Organization, Role, utcnow

FIRST = [
    "Ann",
    "Bob",
    "Carla",
    "Dev",
    "Erin",
    "Frank",
    "Grace",
    "Hiro",
    "Ivy",
    "Jon",
    "Kurt",
    "Lena",
    "Mia",
    "Nils",
    "Olga",
    "Paul",
    "Quinn",
    "Rosa",
    "Sam",
    "Tara",
]
LAST = [
    "Lee",
    "Martin",
    "Diaz",
    "Patel",
    "Walsh",
    "Ito",
    "Kim",
    "Tanaka",
    "Chen",
    "Weber",
    "Moreau",
    "Novak",
    "Silva",
    "Berg",
    "Costa",
    "Singh",
    "Okafor",
    "Rossi",
    "Haas",
    "Young",
]
AREA_CODES = ["212", "415", "312", "408", "617", "206", "303", "512"]
PEOPLE_PER_LOCATION = 500
CHUNK = 2_000
EXTENSION_BASE = 100_000  # 6-digit extensions for up to 900,000 people


@dataclass
class ProvisionedOrg:
    """What the load generator needs: ids, extensions and the tokens to present."""

    org_id: str
    people: int
    person_ids: list[str]  # Webex ids, unpadded, as they appear in URLs
    extensions: list[str]
    admin_token: str
    service_token: str
    counts: dict[str, int] = field(default_factory=dict)


def extension_of(index: int) -> str:
    return str(EXTENSION_BASE + index)


def number_of(index: int) -> str:
    return f"+1{AREA_CODES[index % len(AREA_CODES)]}{2_000_000 + index:07d}"


def forwarding_patch(index: int, people: int) -> dict[str, Any] | None:
    """Return the call-forwarding patch of person `index`, or None for the defaults (70 %)."""
    colleague = extension_of((index + 1) % people)
    match index % 10:
        case 0:
            return {"callForwarding": {"busy": {"enabled": True, "destination": colleague}}}
        case 1:
            rings = 2 + index % 6
            rule = {"enabled": True, "destination": colleague, "numberOfRings": rings}
            return {"callForwarding": {"noAnswer": rule}}
        case 2 if index % 50 == 2:
            return {"callForwarding": {"always": {"enabled": True, "destination": "+14155550100"}}}
        case 2:
            return {"businessContinuity": {"enabled": True, "destination": "+12125550199"}}
    return None


def voicemail_patch(index: int) -> dict[str, Any] | None:
    """Return the voicemail patch of person `index`, or None for the defaults (40 %)."""
    if index % 10 >= 6:
        return None
    patch: dict[str, Any] = {
        "enabled": True,
        "sendBusyCalls": {"enabled": True},
        "sendUnansweredCalls": {"enabled": True, "numberOfRings": 3 + index % 4},
    }
    if index % 3 == 0:
        patch["notifications"] = {"enabled": True, "destination": f"vm{index}@bench.example"}
    return patch


def _forwarding_document(index: int, people: int, org: Organization) -> bytes | None:
    patch = forwarding_patch(index, people)
    if patch is None:
        return None
    owner = Owner(
        country=org.country,
        extension=extension_of(index),
        numbers=frozenset({number_of(index)}),
        system_max_rings=org.system_max_rings,
    )
    return features.encode(validate_forwarding(apply_patch(CallForwarding(), patch), owner))


def _voicemail_document(index: int, org: Organization) -> bytes | None:
    patch = voicemail_patch(index)
    if patch is None:
        return None
    mailbox = Mailbox(country=org.country, system_max_rings=org.system_max_rings)
    return features.encode(validate_voicemail(apply_patch(Voicemail(), patch), mailbox))


_DND_ON = features.encode(apply_patch(DoNotDisturb(), {"enabled": True}))
_WAITING_OFF = features.encode(apply_patch(CallWaiting(), {"enabled": False}))


def _documents(index: int, people: int, org: Organization) -> Iterator[tuple[Feature, bytes]]:
    forwarding = _forwarding_document(index, people, org)
    if forwarding is not None:
        yield Feature.CALL_FORWARDING, forwarding
    voicemail = _voicemail_document(index, org)
    if voicemail is not None:
        yield Feature.VOICEMAIL, voicemail
    if index % 20 == 3:
        yield Feature.DO_NOT_DISTURB, _DND_ON
    if index % 25 == 7:
        yield Feature.CALL_WAITING, _WAITING_OFF


def _chunks(start: int, stop: int) -> Iterator[range]:
    for first in range(start, stop, CHUNK):
        yield range(first, min(first + CHUNK, stop))


async def _insert_people(
    conn: AsyncConnection, org: Organization, location_ids: list[str], indexes: range, people: int
) -> tuple[list[str], int]:
    now = utcnow()
    ids = [str(uuid.uuid4()) for _ in indexes]
    rows, numbers, documents = [], [], []
    for person_id, i in zip(ids, indexes, strict=True):
        first, last = FIRST[i % len(FIRST)], LAST[(i // len(FIRST)) % len(LAST)]
        rows.append(
            {
                "id": person_id,
                "org_id": str(org.id),
                "location_id": location_ids[i // PEOPLE_PER_LOCATION],
                "email": f"{first}.{last}.{i}@bench.example".lower(),
                "display_name": f"{first} {last} {i}",
                "first_name": first,
                "last_name": last,
                "extension": extension_of(i),
                "roles": "[]",
                "created": now,
                "last_modified": now,
            }
        )
        numbers.append(
            {
                "person_id": person_id,
                "org_id": str(org.id),
                "number": number_of(i),
                "type": "work",
                "is_primary": True,
            }
        )
        for feature, document in _documents(i, people, org):
            documents.append(
                {
                    "person_id": person_id,
                    "feature": feature.value,
                    "document": document.decode(),
                    "updated": now,
                }
            )
    await conn.execute(t.people.insert(), rows)
    await conn.execute(t.phone_numbers.insert(), numbers)
    if documents:
        await conn.execute(t.feature_settings.insert(), documents)
    return ids, len(documents)


async def provision(database_url: str, people: int) -> ProvisionedOrg:
    """Create one organization of `people` people with its tokens in an empty database."""
    engine = create_engine(database_url)
    try:
        async with write_transaction(engine) as conn:
            org = await provisioning.create_organization(conn, "Bench Corp", country="US")
            location_ids = []
            for n in range(max(1, -(-people // PEOPLE_PER_LOCATION))):
                site = await provisioning.create_location(conn, org, f"Site {n:04d}")
                location_ids.append(str(site.id))
        person_ids: list[str] = []
        documents = 0
        for indexes in _chunks(0, people):
            async with write_transaction(engine) as conn:
                ids, added = await _insert_people(conn, org, location_ids, indexes, people)
            person_ids.extend(ids)
            documents += added
        async with write_transaction(engine) as conn:
            lifetime = timedelta(days=30)
            admin, _ = await issue_token(
                conn, org_id=org.id, role=Role.FULL_ADMIN, label="bench admin", lifetime=lifetime
            )
            service, _ = await issue_token(
                conn, org_id=org.id, role=Role.SERVICE, label="bench proxy", lifetime=lifetime
            )
        if engine.dialect.name == "postgresql":
            # A running PostgreSQL has statistics (autovacuum analyzes after bulk changes);
            # without them the planner sorts the whole org for one page of people.
            async with write_transaction(engine) as conn:
                await conn.exec_driver_sql("ANALYZE")
    finally:
        await engine.dispose()
    return ProvisionedOrg(
        org_id=encode_id(IdType.ORGANIZATION, org.id).rstrip("="),
        people=people,
        person_ids=[encode_id(IdType.PEOPLE, p).rstrip("=") for p in person_ids],
        extensions=[extension_of(i) for i in range(people)],
        admin_token=admin,
        service_token=service,
        counts={"locations": len(location_ids), "documents": documents},
    )


def provision_fresh(database_url: str, people: int) -> ProvisionedOrg:
    """Apply the migrations to an empty database, then provision it (blocking)."""
    migrate(database_url)
    return asyncio.run(provision(database_url, people))
