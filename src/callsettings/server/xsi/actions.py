"""GET /com.broadsoft.xsi-actions/v2.0/user/{userId}/services[/{Name}] and PUT of a service.

Every change goes through the shared feature service as a Webex-shaped patch, so XSI and the
Webex dialect apply the same rules and write the same audit trail.
"""

from __future__ import annotations

import msgspec
from litestar import Controller, Response, get, put
from litestar.params import FromPath

from callsettings.server import auth, features
from callsettings.server.errors import ApiError, ErrorDialect, ErrorKind, dialect_of
from callsettings.server.services import changing, services_of
from callsettings.server.webex.common import AnyRequest
from callsettings.server.xsi.access import actor, addressed_person, authenticate
from callsettings.settings import xsi
from callsettings.settings.errors import InvalidSetting
from callsettings.storage import repositories as repo
from callsettings.storage.records import Feature

# Service documents are a few hundred bytes; nothing legitimate comes near this.
MAX_BODY_BYTES = 64 * 1024
_XML_MEDIA_TYPES = {"application/xml", "text/xml"}


def _service(name: str) -> xsi.Service:
    found = xsi.find_service(name)
    if found is None:
        raise ApiError(ErrorKind.NOT_FOUND, f"The service {name!r} is not assigned to the user.")
    return found


def _respond(request: AnyRequest, tree: xsi.Node) -> Response[bytes]:
    # The same reading of ?format=json as for errors.
    dialect = dialect_of(request.scope["path"], request.scope.get("query_string", b""))
    if dialect is ErrorDialect.XSI_JSON:
        body = msgspec.json.encode(xsi.render_badgerfish(tree))
        return Response(content=body, media_type="application/json")
    return Response(content=xsi.render_xml(tree), media_type=xsi.XML_MEDIA_TYPE)


async def _xml_body(request: AnyRequest) -> bytes:
    """Return the raw body: 415 unless XML, 413 past MAX_BODY_BYTES (read no further)."""
    content_type = request.headers.get("content-type", "")
    media = content_type.split(";", 1)[0].strip().lower()
    if media and media not in _XML_MEDIA_TYPES and not media.endswith("+xml"):
        raise ApiError(
            ErrorKind.UNSUPPORTED_MEDIA_TYPE,
            f"XSI bodies are XML (Content-Type: application/xml), got {content_type!r}.",
        )
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise ApiError(
                ErrorKind.BODY_TOO_LARGE, f"XSI bodies are limited to {MAX_BODY_BYTES} bytes."
            )
        chunks.append(chunk)
    return b"".join(chunks)


class UserServices(Controller):
    path = f"{xsi.ACTIONS_ROOT}/{xsi.VERSION}/user/{{user_id:str}}/services"
    tags = ["BroadWorks XSI-Actions"]

    @get("/", summary="List the user's configurable services")
    async def list_services(self, request: AnyRequest, user_id: FromPath[str]) -> Response[bytes]:
        caller = await authenticate(request)
        auth.PEOPLE_READ.check_token(caller.token)
        async with services_of(request).engine.connect() as conn:
            await addressed_person(conn, caller, user_id, auth.PEOPLE_READ)
        return _respond(request, xsi.services_tree(user_id))

    @get("/{service_name:str}", summary="Read one service of the user")
    async def read(
        self, request: AnyRequest, user_id: FromPath[str], service_name: FromPath[str]
    ) -> Response[bytes]:
        caller = await authenticate(request)
        auth.PEOPLE_READ.check_token(caller.token)
        service = _service(service_name)
        async with services_of(request).engine.connect() as conn:
            person, org = await addressed_person(conn, caller, user_id, auth.PEOPLE_READ)
            document = await features.read(conn, person, org, Feature(service.feature))
        return _respond(request, xsi.to_document(service, document).tree())

    @put("/{service_name:str}", summary="Change one service of the user (partial document)")
    async def change(
        self, request: AnyRequest, user_id: FromPath[str], service_name: FromPath[str]
    ) -> Response[bytes]:
        caller = await authenticate(request)
        auth.PEOPLE_WRITE.check_token(caller.token)
        service = _service(service_name)
        patch = xsi.to_patch(service, xsi.parse_xml(await _xml_body(request), service.name))
        async with changing(services_of(request)) as conn:
            person, org = await addressed_person(conn, caller, user_id, auth.PEOPLE_WRITE)
            await repo.lock_person(conn, person.id)
            try:
                await features.update(
                    conn, person, org, Feature(service.feature), patch, actor(request, caller)
                )
            except InvalidSetting as exc:
                raise xsi.in_xsi_terms(service, exc) from exc
        return Response(content=b"", status_code=200)
