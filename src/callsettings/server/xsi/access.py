"""Who calls the XSI dialect, and which person they may address.

A caller is a Bearer token of the service, judged by the same Rules as the Webex dialect, or a
person with their XSI password (HTTP Basic), who stands in as that person's own user token and
so may reach their own services only. XSI paths carry no orgId: a userId is global, and people
of organizations the caller does not act in are hidden behind a 404.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import uuid
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from callsettings.server import auth
from callsettings.server import tokens as scopes
from callsettings.server.errors import TRACKING_ID_KEY, ApiError, ErrorKind
from callsettings.server.features import Actor
from callsettings.server.services import services_of
from callsettings.server.webex.common import AnyRequest, org_or_404
from callsettings.server.webex.common import actor as token_actor
from callsettings.server.xsi.passwords import verify_password
from callsettings.settings.ids import IdType, MalformedId, parse_ref
from callsettings.storage import repositories as repo
from callsettings.storage.records import Organization, Person, Role, Token, utcnow

DIALECT = "xsi"
# What a person's XSI password opens: their own settings, read and write.
_PASSWORD_SCOPES = frozenset({scopes.USER_READ, scopes.USER_WRITE})


@dataclass(frozen=True, slots=True)
class Caller:
    """An authenticated caller; `person` is set when they came with an XSI password."""

    token: Token
    person: Person | None = None


async def find_user(conn: AsyncConnection, user_ref: str) -> Person | None:
    """Return the person an XSI userId names: an email, a raw UUID or a Webex person id."""
    if "@" in user_ref:
        return await repo.get_person_by_email(conn, user_ref)
    try:
        person_id = parse_ref(IdType.PEOPLE, user_ref)
    except MalformedId:
        return None
    return await repo.get_person(conn, person_id)


async def authenticate(request: AnyRequest) -> Caller:
    """Return the caller of an XSI request, or raise a 401 ApiError."""
    header = request.headers.get("authorization")
    scheme, _, credentials = (header or "").partition(" ")
    if scheme.lower() == "basic":
        return await _password_caller(request, credentials.strip())
    if header and scheme.lower() != "bearer":
        raise ApiError(
            ErrorKind.INVALID_CREDENTIALS,
            "The Authorization header must be 'Basic <base64 of user:password>' "
            "or 'Bearer <access token>'.",
        )
    secret = auth.bearer_secret(header)
    return Caller(auth.check_usable(await services_of(request).tokens.lookup(secret)))


async def _password_caller(request: AnyRequest, credentials: str) -> Caller:
    username, password = _basic_credentials(credentials)
    async with services_of(request).engine.connect() as conn:
        person = await find_user(conn, username)
        stored = None if person is None else await repo.get_xsi_password(conn, person.id)
    # scrypt takes tens of milliseconds: keep it off the event loop.
    if not await asyncio.to_thread(verify_password, password, stored) or person is None:
        raise ApiError(ErrorKind.INVALID_CREDENTIALS, "The user name or XSI password is wrong.")
    return Caller(_stand_in_token(person), person)


def _basic_credentials(credentials: str) -> tuple[str, str]:
    try:
        decoded = base64.b64decode(credentials, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError) as exc:
        raise ApiError(
            ErrorKind.INVALID_CREDENTIALS, "Basic credentials must be base64 of 'user:password'."
        ) from exc
    username, colon, password = decoded.partition(":")
    if not colon or not username:
        raise ApiError(
            ErrorKind.INVALID_CREDENTIALS, "Basic credentials must be base64 of 'user:password'."
        )
    return username, password


def _stand_in_token(person: Person) -> Token:
    now = utcnow()
    return Token(
        id=uuid.UUID(int=0),
        org_id=person.org_id,
        person_id=person.id,
        role=Role.USER,
        scopes=_PASSWORD_SCOPES,
        location_ids=frozenset(),
        managed_org_ids=frozenset(),
        label=f"XSI password of {person.email}",
        created=now,
        expires=now + timedelta(minutes=1),
    )


async def addressed_person(
    conn: AsyncConnection, caller: Caller, user_ref: str, rule: auth.Rule
) -> tuple[Person, Organization]:
    """Resolve the {userId} of a path for `caller` under `rule`: 404, 403 or the person."""
    person = await find_user(conn, user_ref)
    if person is None or not auth.acts_in_org(caller.token, person.org_id):
        raise ApiError(ErrorKind.PERSON_NOT_FOUND, "User not found.")
    if caller.person is not None and caller.person.id != person.id:
        raise ApiError(
            ErrorKind.ROLE_NOT_ALLOWED,
            "An XSI password gives access to its own person's services only.",
        )
    rule.check_person(caller.token, person)
    return person, await org_or_404(conn, person.org_id)


def actor(request: AnyRequest, caller: Caller) -> Actor:
    """Return who makes a change through XSI, for the audit trail."""
    if caller.person is None:
        return token_actor(request, caller.token, DIALECT)
    return Actor(
        token=None,
        actor_id=str(caller.person.id),
        name=caller.token.label,
        tracking_id=str(request.scope.get(TRACKING_ID_KEY, "")),
        dialect=DIALECT,
    )
