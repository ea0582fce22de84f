"""GET and PUT /v1/people/{personId}/features/{feature}."""

from __future__ import annotations

from litestar import Controller, Response, get, put
from litestar.params import FromPath

from callsettings.server import auth
from callsettings.server import features as service
from callsettings.server.errors import ApiError, ErrorKind
from callsettings.server.services import services_of
from callsettings.server.webex.common import (
    AnyRequest,
    actor,
    authenticate,
    authorized_person,
    json_body,
    json_response,
)
from callsettings.storage.database import write_transaction
from callsettings.storage.records import Feature

_RULES = {
    Feature.CALL_WAITING: (auth.ADMIN_ONLY_READ, auth.ADMIN_ONLY_WRITE),
}
_DEFAULT_RULES = (auth.PEOPLE_READ, auth.PEOPLE_WRITE)


def _feature(name: str) -> Feature:
    try:
        return Feature(name)
    except ValueError as exc:
        raise ApiError(ErrorKind.NOT_FOUND, f"There is no person feature {name!r}.") from exc


class PersonFeatures(Controller):
    path = "/v1/people/{person_id:str}/features"
    tags = ["Person call settings"]

    @get("/{feature_name:str}", summary="Read a person's call setting")
    async def read(
        self, request: AnyRequest, person_id: FromPath[str], feature_name: FromPath[str]
    ) -> Response[bytes]:
        feature = _feature(feature_name)
        rule = _RULES.get(feature, _DEFAULT_RULES)[0]
        token = await authenticate(request)
        async with services_of(request).engine.connect() as conn:
            person, org = await authorized_person(request, conn, token, person_id, rule)
            document = await service.read(conn, person, org, feature)
        return json_response(service.encode(document))

    @put(
        "/{feature_name:str}",
        summary="Change a person's call setting (partial update)",
        status_code=204,
    )
    async def change(
        self, request: AnyRequest, person_id: FromPath[str], feature_name: FromPath[str]
    ) -> None:
        feature = _feature(feature_name)
        rule = _RULES.get(feature, _DEFAULT_RULES)[1]
        token = await authenticate(request)
        rule.check_token(token)
        patch = await json_body(request)
        async with write_transaction(services_of(request).engine) as conn:
            person, org = await authorized_person(request, conn, token, person_id, rule)
            await service.update(conn, person, org, feature, patch, actor(request, token))
