"""GET /v1/adminAudit/events: the organization's audit trail, newest first, Link paging."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import msgspec
from litestar import Response, get

from callsettings.server import auth
from callsettings.server.errors import ApiError, ErrorKind
from callsettings.server.services import services_of
from callsettings.server.webex.common import AnyRequest, authenticate, requested_org
from callsettings.server.webex.directory import timestamp
from callsettings.server.webex.openapi import responses
from callsettings.server.webex.paging import decode_cursor, next_link, page_size
from callsettings.settings.ids import IdType, encode_id
from callsettings.storage import repositories as repo
from callsettings.storage.records import AuditEvent, Role, Token

# As on Webex: the trail is for full and read-only admins (and partners for their customers).
AUDIT_ROLES = frozenset({Role.FULL_ADMIN, Role.READ_ONLY_ADMIN, Role.PARTNER_ADMIN})


class AuditEventOut(msgspec.Struct, rename="camel", omit_defaults=True):
    id: str
    created: str
    org_id: str
    actor_id: str
    actor_name: str
    person_id: str
    feature: str
    dialect: str
    before: Any
    after: Any
    tracking_id: str
    token_id: str | None = None


class AuditEvents(msgspec.Struct):
    items: list[AuditEventOut]


_encoder = msgspec.json.Encoder()


def _document(text: str | None) -> Any:
    if text is None:
        return None
    try:
        return msgspec.json.decode(text)
    except msgspec.DecodeError:
        return text


def event_out(event: AuditEvent) -> AuditEventOut:
    return AuditEventOut(
        id=str(event.id),
        created=timestamp(event.created),
        org_id=encode_id(IdType.ORGANIZATION, event.org_id),
        actor_id=event.actor_id,
        actor_name=event.actor_name,
        person_id=encode_id(IdType.PEOPLE, event.person_id),
        feature=event.feature,
        dialect=event.dialect,
        before=_document(event.before),
        after=_document(event.after),
        tracking_id=event.tracking_id,
        token_id=None if event.token_id is None else str(event.token_id),
    )


def _moment(request: AnyRequest, name: str) -> datetime | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    try:
        moment = datetime.fromisoformat(raw.replace(" ", "+"))
    except ValueError as exc:
        raise ApiError(
            ErrorKind.INVALID_QUERY,
            f"{name} must be an ISO 8601 time such as 2024-05-01T00:00:00Z, got {raw!r}.",
        ) from exc
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _check_role(token: Token) -> None:
    auth.AUDIT_READ.check_token(token)
    if token.role not in AUDIT_ROLES:
        raise ApiError(
            ErrorKind.ROLE_NOT_ALLOWED,
            f"The {token.role.value} role cannot read the audit trail; "
            "full, read-only and partner administrators can.",
        )


@get(
    "/v1/adminAudit/events",
    name="list-audit-events",
    tags=["Admin audit events"],
    summary="List the organization's audit events, newest first (from, to, max; Link paging)",
    responses=responses(AuditEvents, 400, 401, 403, 429),
)
async def list_audit_events(request: AnyRequest) -> Response[bytes]:
    token = await authenticate(request)
    _check_role(token)
    org_id = requested_org(request, token)
    since, until = _moment(request, "from"), _moment(request, "to")
    if since is not None and until is not None and since >= until:
        raise ApiError(ErrorKind.INVALID_QUERY, "from must be earlier than to.")
    size = page_size(request, 100, 1000)
    before_id = decode_cursor(request, int)
    async with services_of(request).engine.connect() as conn:
        events = await repo.list_audit_events(
            conn, org_id, since=since, until=until, before_id=before_id, limit=size + 1
        )
    page = AuditEvents(items=[event_out(e) for e in events[:size]])
    headers = {}
    if len(events) > size:
        headers["Link"] = next_link(request, events[size - 1].id)
    return Response(content=_encoder.encode(page), media_type="application/json", headers=headers)


ROUTES: list[Any] = [list_audit_events]
