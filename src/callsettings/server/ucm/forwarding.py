"""GET /v1/uc/config/people/{userUuid}/features/callforwarding?orgId={orgUuid}.

The JS SDK's UCM backend reads forward-always here, one entry per line. The ids are raw UUIDs
(what the SDK sends) or Webex ids. The view is read-only and derived from the same documents
the other dialects change (see settings/ucm.py for how voicemail shows).
"""

from __future__ import annotations

import uuid

import msgspec
from litestar import Controller, Response, get
from litestar.params import FromPath

from callsettings.server import auth, features
from callsettings.server.errors import ApiError, ErrorKind
from callsettings.server.services import services_of
from callsettings.server.webex.common import (
    AnyRequest,
    authenticate,
    json_response,
    org_or_404,
    person_in_org,
)
from callsettings.settings import CallForwarding, Voicemail
from callsettings.settings.ids import IdType, MalformedId, parse_ref
from callsettings.settings.ucm import forward_always_view
from callsettings.storage.records import Feature, Token


def _org_id(request: AnyRequest, token: Token) -> uuid.UUID:
    raw = request.query_params.get("orgId") or None
    try:
        requested = None if raw is None else parse_ref(IdType.ORGANIZATION, raw.replace(" ", "+"))
    except MalformedId as exc:
        raise ApiError(ErrorKind.INVALID_QUERY, f"orgId: {exc}") from exc
    return auth.target_org(token, requested)


def _person_id(text: str) -> uuid.UUID:
    try:
        return parse_ref(IdType.PEOPLE, text)
    except MalformedId as exc:
        raise ApiError(ErrorKind.PERSON_NOT_FOUND, "Person not found.") from exc


class ForwardAlwaysView(Controller):
    path = "/v1/uc/config/people/{person_id:str}/features"
    tags = ["UCM"]

    @get("/callforwarding", summary="Read forward-always per line, as UCM shows it")
    async def read(self, request: AnyRequest, person_id: FromPath[str]) -> Response[bytes]:
        token = await authenticate(request)
        rule = auth.PEOPLE_READ
        rule.check_token(token)
        org_id = _org_id(request, token)
        async with services_of(request).engine.connect() as conn:
            person = await person_in_org(conn, _person_id(person_id), org_id)
            rule.check_person(token, person)
            org = await org_or_404(conn, org_id)
            forwarding = await features.read(conn, person, org, Feature.CALL_FORWARDING)
            voicemail = await features.read(conn, person, org, Feature.VOICEMAIL)
        assert isinstance(forwarding, CallForwarding)
        assert isinstance(voicemail, Voicemail)
        numbers = [n.number for n in person.phone_numbers]
        view = forward_always_view(person.extension, numbers, forwarding, voicemail)
        return json_response(msgspec.json.encode(view))
