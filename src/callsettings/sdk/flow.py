"""Sans-I/O flows: backends yield requests and pauses, and the clients perform them.

A backend method is a generator. It yields an ``httpx.Request`` and receives the
``httpx.Response`` (or a ``TransportFailure``), or yields a ``Pause`` and receives None,
and finally returns a CallSettingResponse. The sync client drives it with ``httpx.Client``
and ``time.sleep``, the async client with ``httpx.AsyncClient`` and ``asyncio.sleep``;
every protocol decision, retries included, is made here once.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import Any, Literal, ParamSpec, TypeAlias, TypeVar

import httpx
import msgspec

from callsettings.sdk.response import (
    NO_HTTP_STATUS,
    CallSettingResponse,
    CallSettingsError,
    failed,
    failure,
    success,
)
from callsettings.sdk.retry import RetryPolicy
from callsettings.settings.xsi import parse_xml

S = TypeVar("S")
T = TypeVar("T")
P = ParamSpec("P")

TRACKING_PREFIX = "CALLSETTINGS_PY"


@dataclass(frozen=True, slots=True)
class Pause:
    """Wait this many seconds, then resume the flow with None."""

    seconds: float


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """No HTTP answer at all: the connection failed or timed out."""

    kind: Literal["network", "timeout"]
    detail: str


Effect: TypeAlias = httpx.Request | Pause
Outcome: TypeAlias = httpx.Response | TransportFailure
# What a flow receives after each effect: an Outcome after a request, None after a pause.
Received: TypeAlias = Outcome | None
Steps: TypeAlias = Generator[Effect, Received, T]
Flow: TypeAlias = Generator[Effect, Received, CallSettingResponse[S]]


class Failed(Exception):
    """Stop the flow with this FAILURE; raised by the helpers below, caught by @flow."""

    def __init__(self, response: CallSettingResponse[Any]) -> None:
        super().__init__(response.data)
        self.response = response


def flow(method: Callable[P, Flow[S]]) -> Callable[P, Flow[S]]:
    """Make a flow return its FAILURE instead of raising when a helper stops it."""

    @functools.wraps(method)
    def run(*args: P.args, **kwargs: P.kwargs) -> Flow[S]:
        try:
            return (yield from method(*args, **kwargs))
        except Failed as stop:
            return stop.response

    return run


def exchange(request: httpx.Request, retry: RetryPolicy) -> Steps[httpx.Response]:
    """Send `request`, retrying per `retry`; return a 2xx response or raise Failed."""
    attempt = 1
    while True:
        outcome = yield request
        assert outcome is not None, "a request is answered with an outcome"
        if isinstance(outcome, TransportFailure):
            raise Failed(failed(NO_HTTP_STATUS, outcome.kind, detail=outcome.detail))
        pause = retry.delay(attempt, outcome.status_code, outcome.headers.get("retry-after"))
        if pause is None:
            return checked(outcome)
        yield Pause(pause)
        attempt += 1


def checked(response: httpx.Response) -> httpx.Response:
    """Return a 2xx `response`; raise Failed with the JS SDK's text otherwise."""
    if response.is_success:
        return response
    code, detail = _error_details(response)
    raise Failed(
        failed(
            response.status_code,
            code=code,
            tracking_id=response.headers.get("trackingid"),
            detail=detail,
        )
    )


def _error_details(response: httpx.Response) -> tuple[int | None, str | None]:
    """Return the service's error code and message from a Webex or XSI error body."""
    content_type = response.headers.get("content-type", "")
    try:
        if "json" in content_type:
            body = msgspec.json.decode(response.content)
            if isinstance(body, dict) and isinstance(body.get("message"), str):
                code = body.get("errorCode")
                if code is None and body.get("errors"):
                    code = body["errors"][0].get("errorCode")
                return (code if isinstance(code, int) else None), body["message"]
        elif "xml" in content_type:
            values = dict(parse_xml(response.content, "ErrorInfo").values)
            code_text = values.get("errorCode") or ""
            return (int(code_text) if code_text.isdigit() else None), values.get("summary")
    except (msgspec.DecodeError, ValueError, LookupError, AttributeError):
        pass
    return None, None


def parse_failure(response: httpx.Response, detail: str) -> Failed:
    """Return the Failed for a 2xx answer whose body is not what was expected."""
    return Failed(
        failed(
            NO_HTTP_STATUS,
            "parse",
            tracking_id=response.headers.get("trackingid"),
            detail=detail,
        )
    )


def decode(response: httpx.Response, model: type[T]) -> tuple[dict[str, Any], T]:
    """Return a JSON object body and its typed form; raise Failed (422) if it is neither."""
    try:
        body = msgspec.json.decode(response.content)
        if not isinstance(body, dict):
            raise parse_failure(response, f"expected a JSON object, got {type(body).__name__}")
        return body, msgspec.convert(body, model)
    except (msgspec.DecodeError, msgspec.ValidationError) as exc:
        raise parse_failure(response, str(exc)) from exc


def succeeded(status: int, call_setting: dict[str, Any], model: type[S]) -> CallSettingResponse[S]:
    try:
        return success(status, call_setting, model)
    except msgspec.ValidationError as exc:
        raise Failed(failed(NO_HTTP_STATUS, "parse", detail=str(exc))) from exc


def stop(error: CallSettingsError) -> Failed:
    return Failed(failure(error))


def new_tracking_id() -> str:
    return f"{TRACKING_PREFIX}_{uuid.uuid4()}"
