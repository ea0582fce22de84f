"""The one place where errors become HTTP responses.

The body is the Webex error body, except below the XSI-Actions root, where it is the XSI
ErrorInfo document (as BadgerFish JSON when the request asks for ``format=json``).
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any
from urllib.parse import parse_qs

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from callsettings.settings import xsi
from callsettings.settings.errors import ForwardingLoop, InvalidSetting
from callsettings.settings.ids import MalformedId

log = logging.getLogger("callsettings.server")


class ErrorKind(Enum):
    """Every kind of error the service answers, with its HTTP status and stable code."""

    INVALID_VALUE = (400, 40001)
    MALFORMED_JSON = (400, 40002)
    INVALID_QUERY = (400, 40003)
    FORWARDING_LOOP = (400, 40004)
    MALFORMED_XML = (400, 40005)
    MISSING_TOKEN = (401, 40101)
    INVALID_TOKEN = (401, 40102)
    EXPIRED_TOKEN = (401, 40103)
    REVOKED_TOKEN = (401, 40104)
    INVALID_CREDENTIALS = (401, 40105)
    MISSING_SCOPE = (403, 40301)
    ROLE_NOT_ALLOWED = (403, 40302)
    ORG_NOT_MANAGED = (403, 40303)
    NOT_FOUND = (404, 40401)
    PERSON_NOT_FOUND = (404, 40402)
    METHOD_NOT_ALLOWED = (405, 40501)
    CONFLICT = (409, 40901)
    BODY_TOO_LARGE = (413, 41301)
    UNSUPPORTED_MEDIA_TYPE = (415, 41501)
    RATE_LIMITED = (429, 42901)
    INTERNAL = (500, 50001)
    DATABASE_UNAVAILABLE = (503, 50301)

    @property
    def status(self) -> int:
        return self.value[0]

    @property
    def code(self) -> int:
        return self.value[1]


class ApiError(Exception):
    """An error the service answers on purpose; raised by handlers, mapped here."""

    def __init__(
        self, kind: ErrorKind, message: str, *, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message
        self.headers = headers or {}


class ErrorDetail(msgspec.Struct, rename="camel"):
    description: str
    error_code: int


class ErrorBody(msgspec.Struct, rename="camel"):
    message: str
    errors: list[ErrorDetail]
    tracking_id: str
    error_code: int


TRACKING_ID_KEY = "callsettings.tracking_id"


def tracking_id_of(scope: Any) -> str:
    return str(scope.get(TRACKING_ID_KEY, ""))


def error_bytes(kind: ErrorKind, message: str, tracking_id: str) -> bytes:
    body = ErrorBody(
        message=message,
        errors=[ErrorDetail(description=message, error_code=kind.code)],
        tracking_id=tracking_id,
        error_code=kind.code,
    )
    return msgspec.json.encode(body)


class ErrorDialect(Enum):
    """How an error is written: the Webex JSON body, or XSI ErrorInfo as XML or JSON."""

    WEBEX = "webex"
    XSI = "xsi"
    XSI_JSON = "xsi-json"


def dialect_of(path: str, query_string: bytes | str = b"") -> ErrorDialect:
    """Return the error dialect of a request path and its raw query string."""
    if path != xsi.ACTIONS_ROOT and not path.startswith(xsi.ACTIONS_ROOT + "/"):
        return ErrorDialect.WEBEX
    query = query_string.decode("latin-1") if isinstance(query_string, bytes) else query_string
    formats = parse_qs(query).get("format", [""])
    return ErrorDialect.XSI_JSON if formats[-1].lower() == "json" else ErrorDialect.XSI


_CHALLENGES = {
    ErrorDialect.WEBEX: 'Bearer realm="callsettings"',
    ErrorDialect.XSI: 'Basic realm="callsettings XSI", Bearer realm="callsettings"',
    ErrorDialect.XSI_JSON: 'Basic realm="callsettings XSI", Bearer realm="callsettings"',
}


def error_payload(
    kind: ErrorKind, message: str, tracking_id: str, dialect: ErrorDialect = ErrorDialect.WEBEX
) -> tuple[bytes, str]:
    """Return the error body and its media type in `dialect`."""
    if dialect is ErrorDialect.WEBEX:
        return error_bytes(kind, message, tracking_id), "application/json"
    info = xsi.error_info(message, kind.code)
    if dialect is ErrorDialect.XSI_JSON:
        return msgspec.json.encode(xsi.render_badgerfish(info)), "application/json"
    return xsi.render_xml(info), xsi.XML_MEDIA_TYPE


def error_response(
    kind: ErrorKind,
    message: str,
    tracking_id: str,
    headers: dict[str, str] | None = None,
    dialect: ErrorDialect = ErrorDialect.WEBEX,
) -> Response[bytes]:
    # The edge middleware adds the TrackingID header to every response, errors included.
    all_headers = dict(headers or {})
    if kind.status == 401:
        all_headers.setdefault("WWW-Authenticate", _CHALLENGES[dialect])
    content, media_type = error_payload(kind, message, tracking_id, dialect)
    return Response(
        content=content, status_code=kind.status, media_type=media_type, headers=all_headers
    )


def _from_http_exception(exc: HTTPException) -> tuple[ErrorKind, str, dict[str, str]]:
    headers = dict(exc.headers or {})
    status = exc.status_code
    if status == 404:
        return ErrorKind.NOT_FOUND, "The requested resource could not be found.", headers
    if status == 405:
        allow = headers.get("allow", "")
        return (
            ErrorKind.METHOD_NOT_ALLOWED,
            f"Method not allowed; allowed: {allow}.",
            {"Allow": allow},
        )
    if status == 413:
        return ErrorKind.BODY_TOO_LARGE, "The request body is too large.", {}
    if status == 415:
        return ErrorKind.UNSUPPORTED_MEDIA_TYPE, str(exc.detail), {}
    if 400 <= status < 500:
        return ErrorKind.INVALID_QUERY, _detail(exc), {}
    return ErrorKind.INTERNAL, "An unexpected error occurred.", {}


def _detail(exc: HTTPException) -> str:
    extra = exc.extra if isinstance(exc.extra, list) else []
    parts = [f"{e.get('key')}: {e.get('message')}" for e in extra if isinstance(e, dict)]
    return "; ".join(parts) or str(exc.detail)


def _is_database_outage(exc: BaseException) -> bool:
    if isinstance(exc, OperationalError | InterfaceError | PoolTimeout):
        return True
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    return isinstance(exc, ConnectionError | TimeoutError | OSError)


def handle_exception(request: Request[Any, Any, Any], exc: Exception) -> Response[bytes]:
    """Map any exception to the error body of the request's dialect; internals never leak."""
    kind, message, headers = _classify(request, exc)
    dialect = dialect_of(request.scope.get("path", ""), request.scope.get("query_string", b""))
    return error_response(kind, message, tracking_id_of(request.scope), headers, dialect)


def _classify(
    request: Request[Any, Any, Any], exc: Exception
) -> tuple[ErrorKind, str, dict[str, str]]:
    tracking_id = tracking_id_of(request.scope)
    if isinstance(exc, ApiError):
        return exc.kind, exc.message, exc.headers
    if isinstance(exc, InvalidSetting):
        if isinstance(exc, ForwardingLoop):
            return ErrorKind.FORWARDING_LOOP, str(exc), {}
        return ErrorKind.INVALID_VALUE, str(exc), {}
    if isinstance(exc, xsi.MalformedDocument):
        return ErrorKind.MALFORMED_XML, f"The body is not an acceptable XSI document: {exc}.", {}
    if isinstance(exc, MalformedId):
        return ErrorKind.INVALID_QUERY, str(exc), {}
    if isinstance(exc, HTTPException):
        kind, message, headers = _from_http_exception(exc)
        if kind is ErrorKind.INTERNAL:
            log.error("HTTP exception %s (%s)", exc, tracking_id)
        return kind, message, headers
    if _is_database_outage(exc):
        log.error("database unavailable (%s): %r", tracking_id, exc)
        retry = str(request.app.state.get("retry_after_unavailable", 5))
        return (
            ErrorKind.DATABASE_UNAVAILABLE,
            "The settings database is unavailable; try again later.",
            {"Retry-After": retry},
        )
    log.exception("unexpected error (%s)", tracking_id, exc_info=exc)
    return ErrorKind.INTERNAL, "An unexpected error occurred.", {}
