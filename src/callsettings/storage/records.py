"""Plain records the repositories return; the rest of the system never sees SQL rows."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum


class Role(StrEnum):
    FULL_ADMIN = "full_admin"
    USER_ADMIN = "user_admin"
    READ_ONLY_ADMIN = "read_only_admin"
    LOCATION_ADMIN = "location_admin"
    PARTNER_ADMIN = "partner_admin"
    USER = "user"
    # A machine token for proxies that ask for call decisions; it reads settings only.
    SERVICE = "service"


class Feature(StrEnum):
    CALL_FORWARDING = "callForwarding"
    DO_NOT_DISTURB = "doNotDisturb"
    CALL_WAITING = "callWaiting"
    VOICEMAIL = "voicemail"


def utcnow() -> datetime:
    return datetime.now(UTC)


def as_utc(moment: datetime) -> datetime:
    """Return `moment` as an aware UTC datetime (SQLite hands back naive ones)."""
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Organization:
    id: uuid.UUID
    display_name: str
    country: str
    system_max_rings: int
    ring_seconds: int
    diversion_cap: int
    created: datetime


@dataclass(frozen=True, slots=True)
class Location:
    id: uuid.UUID
    org_id: uuid.UUID
    name: str
    time_zone: str
    address: str
    created: datetime


@dataclass(frozen=True, slots=True)
class PhoneNumber:
    number: str
    type: str = "work"
    primary: bool = True


@dataclass(frozen=True, slots=True)
class Person:
    id: uuid.UUID
    org_id: uuid.UUID
    location_id: uuid.UUID | None
    email: str
    display_name: str
    first_name: str
    last_name: str
    extension: str | None
    phone_numbers: tuple[PhoneNumber, ...]
    roles: tuple[str, ...]
    created: datetime
    last_modified: datetime

    @property
    def numbers(self) -> frozenset[str]:
        return frozenset(p.number for p in self.phone_numbers)


@dataclass(frozen=True, slots=True)
class Token:
    id: uuid.UUID
    org_id: uuid.UUID
    person_id: uuid.UUID | None
    role: Role
    scopes: frozenset[str]
    location_ids: frozenset[uuid.UUID]
    managed_org_ids: frozenset[uuid.UUID]
    label: str
    created: datetime
    expires: datetime
    revoked: datetime | None = None

    def usable_at(self, moment: datetime) -> bool:
        return self.revoked is None and moment < self.expires


@dataclass(frozen=True, slots=True)
class AuditEvent:
    id: int
    org_id: uuid.UUID
    actor_id: str
    actor_name: str
    token_id: uuid.UUID | None
    person_id: uuid.UUID
    feature: str
    dialect: str
    before: str | None
    after: str | None
    tracking_id: str
    created: datetime


@dataclass(frozen=True, slots=True)
class Change:
    """One accepted change of one feature, written to the audit trail with it."""

    person: Person
    feature: Feature
    before: str | None
    after: str | None
    actor_id: str
    actor_name: str
    token_id: uuid.UUID | None
    tracking_id: str
    dialect: str = "webex"
