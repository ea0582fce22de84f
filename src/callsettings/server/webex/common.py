"""Request plumbing shared by the Webex routes: auth, ids, bodies, responses."""

from __future__ import annotations

import uuid
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.response.base import ASGIResponse
from sqlalchemy.ext.asyncio import AsyncConnection

from callsettings.server.auth import Access, Rule, bearer_secret, check_usable, target_org
from callsettings.server.errors import TRACKING_ID_KEY, ApiError, ErrorKind
from callsettings.server.features import Actor
from callsettings.server.reads import CachedReader
from callsettings.server.services import services_of
from callsettings.settings.ids import IdType, MalformedId, decode_id
from callsettings.storage import repositories as repo
from callsettings.storage.records import Organization, Person, Token

AnyRequest = Request[Any, Any, Any]
JSON = "application/json"


def scope_header(request: AnyRequest, name: bytes) -> str | None:
    """Return a header straight from the ASGI scope (cheaper than building Headers)."""
    for key, value in request.scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


async def authenticate(request: AnyRequest) -> Token:
    secret = bearer_secret(scope_header(request, b"authorization"))
    return check_usable(await services_of(request).tokens.lookup(secret))


def query_id(request: AnyRequest, name: str, kind: IdType) -> uuid.UUID | None:
    """Return the decoded id in query parameter `name`; a malformed one is a 400."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        return decode_id(kind, raw.replace(" ", "+"))
    except MalformedId as exc:
        raise ApiError(ErrorKind.INVALID_QUERY, f"{name}: {exc}") from exc


def path_id(text: str, kind: IdType, what: str) -> uuid.UUID:
    """Return the decoded id in a path; a malformed one is a 404 (no such resource)."""
    try:
        return decode_id(kind, text)
    except MalformedId as exc:
        raise ApiError(
            ErrorKind.PERSON_NOT_FOUND if kind is IdType.PEOPLE else ErrorKind.NOT_FOUND,
            f"{what} not found.",
        ) from exc


def requested_org(request: AnyRequest, token: Token) -> uuid.UUID:
    return target_org(token, query_id(request, "orgId", IdType.ORGANIZATION))


async def org_or_404(conn: AsyncConnection, org_id: uuid.UUID) -> Organization:
    org = await repo.get_organization(conn, org_id)
    if org is None:
        raise ApiError(ErrorKind.NOT_FOUND, "Organization not found.")
    return org


async def person_in_org(conn: AsyncConnection, person_id: uuid.UUID, org_id: uuid.UUID) -> Person:
    """Return the person, hiding people of other organizations behind a 404."""
    person = await repo.get_person(conn, person_id)
    if person is None or person.org_id != org_id:
        raise ApiError(ErrorKind.PERSON_NOT_FOUND, "Person not found.")
    return person


async def authorized_person(
    request: AnyRequest, conn: AsyncConnection, token: Token, person_ref: str, rule: Rule
) -> tuple[Person, Organization]:
    """Resolve a {personId} for `token` under `rule`: 403, 404 or the person and their org."""
    rule.check_token(token)
    org_id = requested_org(request, token)
    person_id = path_id(person_ref, IdType.PEOPLE, "Person")
    if rule.access is Access.WRITE:
        await repo.lock_person(conn, person_id)
    person = await person_in_org(conn, person_id, org_id)
    rule.check_person(token, person)
    return person, await org_or_404(conn, org_id)


async def authorized_reader_person(
    request: AnyRequest, reader: CachedReader, token: Token, person_ref: str, rule: Rule
) -> tuple[Person, Organization]:
    """Like authorized_person, for reads: from the cache when it can."""
    rule.check_token(token)
    org_id = requested_org(request, token)
    person = await reader.person(path_id(person_ref, IdType.PEOPLE, "Person"))
    if person is None or person.org_id != org_id:
        raise ApiError(ErrorKind.PERSON_NOT_FOUND, "Person not found.")
    rule.check_person(token, person)
    org = await reader.org(org_id)
    if org is None:
        raise ApiError(ErrorKind.NOT_FOUND, "Organization not found.")
    return person, org


async def json_body(request: AnyRequest) -> Any:
    """Return the decoded JSON body; 415 when it is not JSON, 400 when it is malformed."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media != JSON and not media.endswith("+json"):
        raise ApiError(
            ErrorKind.UNSUPPORTED_MEDIA_TYPE,
            f"The body must be JSON (Content-Type: application/json), got {content_type!r}.",
        )
    limit = services_of(request).config.max_json_body_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise ApiError(ErrorKind.BODY_TOO_LARGE, f"JSON bodies are limited to {limit} bytes.")
    body = await request.body()
    if len(body) > limit:
        raise ApiError(ErrorKind.BODY_TOO_LARGE, f"JSON bodies are limited to {limit} bytes.")
    try:
        return msgspec.json.decode(body)
    except RecursionError as exc:
        raise ApiError(ErrorKind.MALFORMED_JSON, "The body is nested too deeply.") from exc
    except msgspec.DecodeError as exc:
        raise ApiError(ErrorKind.MALFORMED_JSON, f"The body is not valid JSON: {exc}.") from exc


def actor(request: AnyRequest, token: Token, dialect: str = "webex") -> Actor:
    return actor_of(request.scope, token, dialect)


def actor_of(scope: Any, token: Token, dialect: str = "webex") -> Actor:
    """Who changes settings, as audited: the token's person (or the token) and the
    request's tracking id (the edge layer put it in the scope)."""
    return Actor(
        token=token,
        actor_id=str(token.person_id or token.id),
        name=token.label or token.role.value,
        tracking_id=str(scope.get(TRACKING_ID_KEY, "")),
        dialect=dialect,
    )


def json_response(content: bytes, status_code: int = 200) -> Response[bytes]:
    return Response(content=content, status_code=status_code, media_type=JSON)


class RawJson(ASGIResponse):
    """A 200 JSON response sent as is: the read path's answer, without header objects.

    Handlers returning it are annotated `-> ASGIResponse`, so Litestar passes it through.
    """

    __slots__ = ("_content",)

    # Deliberately skips the base initializer: its header objects are the cost avoided here.
    def __init__(self, content: bytes) -> None:
        self._content = content

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        headers = [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(self._content)).encode()),
        ]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": self._content, "more_body": False})


def raw_json(content: bytes) -> ASGIResponse:
    return RawJson(content)
