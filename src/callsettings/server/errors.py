"""The one place where errors become HTTP responses (the Webex error body)."""

from __future__ import annotations

import logging
from enum import Enum
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.exc import TimeoutError as PoolTimeout

from callsettings.settings.errors import ForwardingLoop, InvalidSetting
from callsettings.settings.ids import MalformedId

log = logging.getLogger("callsettings.server")


class ErrorKind(Enum):
    """Every kind of error the service answers, with its HTTP status and stable code."""

    INVALID_VALUE = (400, 40001)
    MALFORMED_JSON = (400, 40002)
    INVALID_QUERY = (400, 40003)
    FORWARDING_LOOP = (400, 40004)
    MISSING_TOKEN = (401, 40101)
    INVALID_TOKEN = (401, 40102)
    EXPIRED_TOKEN = (401, 40103)
    REVOKED_TOKEN = (401, 40104)
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


def error_response(
    kind: ErrorKind, message: str, tracking_id: str, headers: dict[str, str] | None = None
) -> Response[bytes]:
    # The edge middleware adds the TrackingID header to every response, errors included.
    all_headers = dict(headers or {})
    if kind.status == 401:
        all_headers.setdefault("WWW-Authenticate", 'Bearer realm="callsettings"')
    return Response(
        content=error_bytes(kind, message, tracking_id),
        status_code=kind.status,
        media_type="application/json",
        headers=all_headers,
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
    """Map any exception to the Webex error body; internals never leak."""
    tracking_id = tracking_id_of(request.scope)
    if isinstance(exc, ApiError):
        return error_response(exc.kind, exc.message, tracking_id, exc.headers)
    if isinstance(exc, InvalidSetting):
        kind = (
            ErrorKind.FORWARDING_LOOP
            if isinstance(exc, ForwardingLoop)
            else ErrorKind.INVALID_VALUE
        )
        return error_response(kind, str(exc), tracking_id)
    if isinstance(exc, MalformedId):
        return error_response(ErrorKind.INVALID_QUERY, str(exc), tracking_id)
    if isinstance(exc, HTTPException):
        kind, message, headers = _from_http_exception(exc)
        if kind is ErrorKind.INTERNAL:
            log.error("HTTP exception %s (%s)", exc, tracking_id)
        return error_response(kind, message, tracking_id, headers)
    if _is_database_outage(exc):
        log.error("database unavailable (%s): %r", tracking_id, exc)
        retry = str(request.app.state.get("retry_after_unavailable", 5))
        return error_response(
            ErrorKind.DATABASE_UNAVAILABLE,
            "The settings database is unavailable; try again later.",
            tracking_id,
            {"Retry-After": retry},
        )
    log.exception("unexpected error (%s)", tracking_id, exc_info=exc)
    return error_response(ErrorKind.INTERNAL, "An unexpected error occurred.", tracking_id)
