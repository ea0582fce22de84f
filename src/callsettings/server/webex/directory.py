"""The people directory clients call: /v1/people, /v1/people/{id}, /v1/people/me, numbers.

Any token that may read people sees the whole directory of its organization (as Webex users
do); only admins may list it without an `email` or `displayName` filter.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import msgspec
from litestar import Response, get
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncConnection

from callsettings.server import auth
from callsettings.server.errors import ApiError, ErrorKind
from callsettings.server.reads import CachedReader
from callsettings.server.services import services_of
from callsettings.server.webex.common import (
    AnyRequest,
    authenticate,
    authorized_reader_person,
    json_response,
    path_id,
    person_in_org,
    query_id,
    requested_org,
)
from callsettings.server.webex.openapi import responses
from callsettings.server.webex.paging import decode_cursor, next_link, page_size
from callsettings.settings.ids import IdType, MalformedId, decode_id, encode_id
from callsettings.storage import repositories as repo
from callsettings.storage.records import Person, Token

TAGS = ["People"]
MAX_IDS = 85
DEFAULT_MAX = 100
# Webex's own caps: calling data is expensive, and so is a location's whole roster.
CAP_PLAIN, CAP_CALLING_DATA, CAP_LOCATION = 1000, 100, 50


class PhoneNumberOut(msgspec.Struct):
    type: str
    value: str
    primary: bool


class PersonOut(msgspec.Struct, rename="camel", omit_defaults=True):
    id: str
    emails: list[str]
    phone_numbers: list[PhoneNumberOut]
    display_name: str
    first_name: str
    last_name: str
    org_id: str
    roles: list[str]
    created: str
    last_modified: str
    type: str
    extension: str | None = None
    location_id: str | None = None


class PeoplePage(msgspec.Struct, rename="camel"):
    items: list[PersonOut]
    not_found_ids: list[str]


class NumberOut(msgspec.Struct, rename="camel", omit_defaults=True):
    primary: bool
    ring_pattern: str
    direct_number: str | None = None
    extension: str | None = None


class PersonNumbers(msgspec.Struct, rename="camel"):
    distinctive_ring_enabled: bool
    phone_numbers: list[NumberOut]


_encoder = msgspec.json.Encoder()


def timestamp(moment: datetime) -> str:
    """Return the Webex form of a time: UTC with milliseconds and a Z."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def person_out(person: Person) -> PersonOut:
    return PersonOut(
        id=encode_id(IdType.PEOPLE, person.id),
        emails=[person.email],
        phone_numbers=[PhoneNumberOut(n.type, n.number, n.primary) for n in person.phone_numbers],
        display_name=person.display_name,
        first_name=person.first_name,
        last_name=person.last_name,
        org_id=encode_id(IdType.ORGANIZATION, person.org_id),
        roles=list(person.roles),
        created=timestamp(person.created),
        last_modified=timestamp(person.last_modified),
        type="person",
        extension=person.extension,
        location_id=None
        if person.location_id is None
        else encode_id(IdType.LOCATION, person.location_id),
    )


def _flag(request: AnyRequest, name: str) -> bool:
    raw = request.query_params.get(name, "false").lower()
    if raw not in ("true", "false"):
        raise ApiError(ErrorKind.INVALID_QUERY, f"{name} must be true or false, got {raw!r}.")
    return raw == "true"


def _ids(request: AnyRequest) -> list[uuid.UUID] | None:
    raw = request.query_params.get("id")
    if raw is None or raw.strip() == "":
        return None
    refs = [ref.strip().replace(" ", "+") for ref in raw.split(",") if ref.strip()]
    if len(refs) > MAX_IDS:
        raise ApiError(
            ErrorKind.INVALID_QUERY, f"id accepts at most {MAX_IDS} ids, got {len(refs)}."
        )
    try:
        return [decode_id(IdType.PEOPLE, ref) for ref in refs]
    except MalformedId as exc:
        raise ApiError(ErrorKind.INVALID_QUERY, f"id: {exc}") from exc


def _text(request: AnyRequest, name: str) -> str | None:
    value: str | None = request.query_params.get(name)
    if value is None or value.strip() == "":
        return None
    if len(value) > 320:
        raise ApiError(ErrorKind.INVALID_QUERY, f"{name} is limited to 320 characters.")
    return value.strip()


async def _not_found(
    conn: AsyncConnection, org_id: uuid.UUID, ids: list[uuid.UUID] | None
) -> list[str]:
    if not ids:
        return []
    found = {p.id for p in await repo.list_people(conn, org_id, ids=ids, limit=len(ids))}
    return [encode_id(IdType.PEOPLE, i) for i in dict.fromkeys(ids) if i not in found]


@get(
    "/v1/people",
    name="list-people",
    tags=TAGS,
    summary="List people: filters email, displayName (prefix), id, locationId; Link paging",
    responses=responses(PeoplePage, 400, 401, 403, 429),
)
async def list_people(request: AnyRequest) -> Response[bytes]:
    token = await authenticate(request)
    auth.PEOPLE_READ.check_token(token)
    org_id = requested_org(request, token)
    email, display_name = _text(request, "email"), _text(request, "displayName")
    ids = _ids(request)
    location_id = query_id(request, "locationId", IdType.LOCATION)
    calling_data = _flag(request, "callingData")
    if not auth.PEOPLE_READ.admits_admin(token) and email is None and display_name is None:
        raise ApiError(
            ErrorKind.INVALID_QUERY,
            "email or displayName is required: only administrators may list everyone.",
        )
    cap = CAP_LOCATION if location_id else CAP_CALLING_DATA if calling_data else CAP_PLAIN
    size = page_size(request, DEFAULT_MAX, cap)
    after = decode_cursor(request, tuple[str, str])
    async with services_of(request).engine.connect() as conn:
        people = await repo.list_people(
            conn,
            org_id,
            after=after,
            limit=size + 1,
            email=email,
            display_name=display_name,
            ids=ids,
            location_ids=None if location_id is None else [location_id],
        )
        not_found = await _not_found(conn, org_id, ids)
    page = PeoplePage(items=[person_out(p) for p in people[:size]], not_found_ids=not_found)
    headers = {}
    if len(people) > size:
        last = people[size - 1]
        headers["Link"] = next_link(request, [last.display_name, str(last.id)])
    return Response(content=_encoder.encode(page), media_type="application/json", headers=headers)


def _own_person_id(token: Token) -> uuid.UUID:
    if token.person_id is None:
        raise ApiError(ErrorKind.PERSON_NOT_FOUND, "This token belongs to no person.")
    return token.person_id


@get(
    "/v1/people/me",
    name="read-me",
    tags=TAGS,
    summary="Read the person the token belongs to",
    responses=responses(PersonOut, 401, 403, 404, 429),
)
async def read_me(request: AnyRequest) -> Response[bytes]:
    token = await authenticate(request)
    auth.PEOPLE_READ.check_token(token)
    async with services_of(request).engine.connect() as conn:
        person = await person_in_org(conn, _own_person_id(token), token.org_id)
    return json_response(_encoder.encode(person_out(person)))


@get(
    "/v1/people/{person_id:str}",
    name="read-person",
    tags=TAGS,
    summary="Read a person of the directory",
    responses=responses(PersonOut, 401, 403, 404, 429),
)
async def read_person(request: AnyRequest, person_id: FromPath[str]) -> Response[bytes]:
    token = await authenticate(request)
    auth.PEOPLE_READ.check_token(token)
    org_id = requested_org(request, token)
    async with services_of(request).engine.connect() as conn:
        person = await person_in_org(conn, path_id(person_id, IdType.PEOPLE, "Person"), org_id)
    return json_response(_encoder.encode(person_out(person)))


def numbers_of(person: Person) -> PersonNumbers:
    numbers = [
        NumberOut(
            primary=n.primary,
            ring_pattern="NORMAL",
            direct_number=n.number,
            extension=person.extension if n.primary else None,
        )
        for n in person.phone_numbers
    ]
    if not numbers and person.extension:
        numbers = [NumberOut(primary=True, ring_pattern="NORMAL", extension=person.extension)]
    return PersonNumbers(distinctive_ring_enabled=False, phone_numbers=numbers)


@get(
    "/v1/people/{person_id:str}/features/numbers",
    name="read-numbers",
    tags=["Person call settings"],
    summary="Read a person's phone numbers and extension",
    responses=responses(PersonNumbers),
)
async def read_numbers(request: AnyRequest, person_id: FromPath[str]) -> Response[bytes]:
    token = await authenticate(request)
    async with CachedReader(services_of(request)) as reader:
        person, _ = await authorized_reader_person(
            request, reader, token, person_id, auth.ADMIN_ONLY_READ
        )
    return json_response(_encoder.encode(numbers_of(person)))


ROUTES: list[Any] = [list_people, read_me, read_person, read_numbers]
