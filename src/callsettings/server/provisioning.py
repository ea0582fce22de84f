"""Creating organizations, locations and people, with the checks an operator expects."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from sqlalchemy.ext.asyncio import AsyncConnection

from callsettings.settings.destinations import is_extension, to_e164
from callsettings.settings.errors import InvalidSetting
from callsettings.settings.forwarding import DEFAULT_SYSTEM_MAX_RINGS, MIN_RINGS
from callsettings.storage import repositories as repo
from callsettings.storage.records import Location, Organization, Person, PhoneNumber, utcnow

DEFAULT_RING_SECONDS = 6
DEFAULT_DIVERSION_CAP = 5


class ProvisioningError(InvalidSetting):
    """An operator asked for something that cannot exist (a clash or a bad value)."""


async def create_organization(
    conn: AsyncConnection,
    display_name: str,
    *,
    country: str = "US",
    system_max_rings: int = DEFAULT_SYSTEM_MAX_RINGS,
    ring_seconds: int = DEFAULT_RING_SECONDS,
    diversion_cap: int = DEFAULT_DIVERSION_CAP,
    org_id: uuid.UUID | None = None,
) -> Organization:
    country = country.upper()
    if country not in phonenumbers.SUPPORTED_REGIONS:
        raise ProvisioningError("country", f"{country!r} is not an ISO 3166 country code")
    if not MIN_RINGS <= system_max_rings <= 99:
        raise ProvisioningError("systemMaxNumberOfRings", f"must be 2..99, got {system_max_rings}")
    if not 1 <= ring_seconds <= 60:
        raise ProvisioningError("ringSeconds", f"must be 1..60, got {ring_seconds}")
    if not 1 <= diversion_cap <= 20:
        raise ProvisioningError("diversionCap", f"must be 1..20, got {diversion_cap}")
    org = Organization(
        id=org_id or uuid.uuid4(),
        display_name=_required(display_name, "displayName"),
        country=country,
        system_max_rings=system_max_rings,
        ring_seconds=ring_seconds,
        diversion_cap=diversion_cap,
        created=utcnow(),
    )
    await repo.insert_organization(conn, org)
    return org


async def create_location(
    conn: AsyncConnection,
    org: Organization,
    name: str,
    *,
    time_zone: str = "America/New_York",
    address: str = "",
    location_id: uuid.UUID | None = None,
) -> Location:
    location = Location(
        id=location_id or uuid.uuid4(),
        org_id=org.id,
        name=_required(name, "name"),
        time_zone=time_zone,
        address=address,
        created=utcnow(),
    )
    await repo.insert_location(conn, location)
    return location


async def create_person(
    conn: AsyncConnection,
    org: Organization,
    *,
    email: str,
    first_name: str,
    last_name: str,
    display_name: str | None = None,
    extension: str | None = None,
    numbers: Sequence[str] = (),
    location: Location | None = None,
    roles: Sequence[str] = (),
    person_id: uuid.UUID | None = None,
) -> Person:
    """Create a person after checking that email, extension and numbers are free."""
    address = _email(email)
    if await repo.get_person_by_email(conn, address) is not None:
        raise ProvisioningError("email", f"{address} is already used by another person")
    if extension is not None and not is_extension(extension):
        raise ProvisioningError("extension", f"must be 2 to 6 digits, got {extension!r}")
    normalized = [to_e164(n, org.country, field="phoneNumbers") for n in numbers]
    for dialled in [*([extension] if extension else []), *normalized]:
        if await repo.find_person_by_dial(conn, org.id, dialled) is not None:
            raise ProvisioningError("extension", f"{dialled} is already assigned in this org")
    if location is not None and location.org_id != org.id:
        raise ProvisioningError("locationId", "the location belongs to another organization")
    now = utcnow()
    person = Person(
        id=person_id or uuid.uuid4(),
        org_id=org.id,
        location_id=None if location is None else location.id,
        email=address,
        display_name=display_name or f"{first_name} {last_name}".strip(),
        first_name=first_name,
        last_name=last_name,
        extension=extension,
        phone_numbers=tuple(
            PhoneNumber(n, "work", primary=i == 0) for i, n in enumerate(normalized)
        ),
        roles=tuple(roles),
        created=now,
        last_modified=now,
    )
    await repo.insert_person(conn, person)
    return person


def _required(value: str, field: str) -> str:
    if not value.strip():
        raise ProvisioningError(field, "must not be empty")
    return value.strip()


def _email(value: str) -> str:
    try:
        return validate_email(value.strip(), check_deliverability=False).normalized.lower()
    except EmailNotValidError as exc:
        raise ProvisioningError("email", f"{value!r} is not a valid email address: {exc}") from exc
