"""The "me" API: /v1/telephony/config/people/me/settings/... for a person's own token.

Same documents, partial updates and rules as the admin form; the person is the token's own
and there is no orgId.
"""

from __future__ import annotations

from typing import Any

from litestar import Response, get, post, put
from litestar.response.base import ASGIResponse

from callsettings.server import auth
from callsettings.server import features as service
from callsettings.server.errors import ApiError, ErrorKind
from callsettings.server.reads import CachedReader
from callsettings.server.services import changing, services_of
from callsettings.server.webex.common import (
    AnyRequest,
    actor,
    authenticate,
    json_body,
    person_in_org,
    raw_json,
)
from callsettings.server.webex.openapi import json_body_operation, responses
from callsettings.server.webex.voicemail_actions import UPLOAD_DOCS, upload_for
from callsettings.settings.voicemail import GreetingKind
from callsettings.storage import repositories as repo
from callsettings.storage.records import Feature, Organization, Person, Token

TAGS = ["Call settings for me"]
ME = "/v1/telephony/config/people/me/settings"


def _own_person_id(token: Token) -> Any:
    if token.person_id is None:
        raise ApiError(
            ErrorKind.PERSON_NOT_FOUND,
            "This token belongs to no person; the 'me' API needs a person's own token.",
        )
    return token.person_id


async def _me(reader: CachedReader, token: Token, rule: auth.Rule) -> tuple[Person, Organization]:
    rule.check_token(token)
    person = await reader.person(_own_person_id(token))
    org = await reader.org(token.org_id)
    if person is None or org is None or person.org_id != token.org_id:
        raise ApiError(ErrorKind.PERSON_NOT_FOUND, "Person not found.")
    rule.check_person(token, person)
    return person, org


def me_handlers(feature: Feature) -> list[Any]:
    model = service.MODELS[feature]
    path = f"{ME}/{feature.value}"

    @get(
        path,
        name=f"me-read-{feature.value}",
        tags=TAGS,
        summary=f"Read my {feature.value}",
        responses=responses(model, 401, 403, 404, 429),
    )
    async def read(request: AnyRequest) -> ASGIResponse:
        token = await authenticate(request)
        async with CachedReader(services_of(request)) as reader:
            person, org = await _me(reader, token, auth.ME_READ)
            return raw_json(await reader.document(person, org, feature))

    @put(
        path,
        name=f"me-change-{feature.value}",
        tags=TAGS,
        status_code=204,
        summary=f"Change my {feature.value} (partial update)",
        operation_class=json_body_operation(model, "Any subset of the document"),
        responses=responses(None, 400, 401, 403, 404, 413, 415, 429),
    )
    async def change(request: AnyRequest) -> None:
        token = await authenticate(request)
        auth.ME_WRITE.check_token(token)
        patch = await json_body(request)
        async with changing(services_of(request)) as conn:
            person_id = _own_person_id(token)
            await repo.lock_person(conn, person_id)
            person = await person_in_org(conn, person_id, token.org_id)
            auth.ME_WRITE.check_person(token, person)
            org = await repo.get_organization(conn, token.org_id)
            assert org is not None  # a person's org always exists (foreign key)
            await service.update(conn, person, org, feature, patch, actor(request, token))

    return [read, change]


def _upload_handler(action: str, kind: GreetingKind) -> Any:
    @post(
        f"{ME}/voicemail/actions/{action}/invoke",
        name=f"me-{action}",
        summary=f"Upload my {kind.value} greeting (WAV)",
        **{**UPLOAD_DOCS, "tags": TAGS},
    )
    async def upload(request: AnyRequest) -> Response[bytes]:
        token = await authenticate(request)
        async with CachedReader(services_of(request)) as reader:
            person, org = await _me(reader, token, auth.ME_WRITE)
        return await upload_for(request, person, org, kind, actor(request, token))

    return upload


ROUTES: list[Any] = [
    *(handler for feature in Feature for handler in me_handlers(feature)),
    _upload_handler("busyGreetingUpload", GreetingKind.BUSY),
    _upload_handler("noAnswerGreetingUpload", GreetingKind.NO_ANSWER),
]
