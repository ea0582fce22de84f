"""The JS SDK's error texts and status rules, for every method, on both clients.

MockTransport stands in for the service here because the table needs every status, and
network failures on demand; the live tests cover the same rules against the real service.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from callsettings.sdk import NO_RETRY, CallSettingsClient, CallSettingsError
from tests.sdk.mocks import METHODS, async_client, options, sync_client

# Every status the wire contract names, with the JS SDK's text for it.
TEXTS = {
    400: "400 Bad request",
    401: "User is unauthorised, possible token expiry",
    403: "User request is forbidden",
    404: "User info not found",
    405: "405 Exception has occurred",
    408: "Request to the server timedout",
    409: "409 Exception has occurred",
    410: "410 Exception has occurred",
    415: "415 Exception has occurred",
    423: "423 Exception has occurred",
    428: "428 Exception has occurred",
    429: "429 Exception has occurred",
    500: "Internal server error occurred",
    501: "Method is not implemented at the backend",
    502: "502 Exception has occurred",
    503: "Unable to establish a connection with the server",
    504: "504 Exception has occurred",
}


def webex_error(status: int) -> httpx.Response:
    body = {
        "message": "explained",
        "errors": [{"description": "explained", "errorCode": status * 100 + 1}],
        "trackingId": "SRV_123",
        "errorCode": status * 100 + 1,
    }
    return httpx.Response(status, json=body, headers={"TrackingID": "SRV_123"})


@pytest.mark.parametrize(("status", "text"), TEXTS.items())
@pytest.mark.parametrize(("method", "args"), METHODS)
def test_an_http_error_is_a_failure_with_the_js_text(
    status: int, text: str, method: str, args: tuple[Any, ...]
) -> None:
    with sync_client(lambda request: webex_error(status), retry=NO_RETRY) as client:
        response = getattr(client, method)(*args)
    assert response.to_dict() == {
        "statusCode": status,
        "data": {"error": text},
        "message": "FAILURE",
    }
    assert response.error is not None
    assert (response.error.status_code, response.error.kind) == (status, "http")


@pytest.mark.parametrize(("status", "text"), TEXTS.items())
@pytest.mark.parametrize(("method", "args"), METHODS)
async def test_the_async_client_maps_errors_the_same_way(
    status: int, text: str, method: str, args: tuple[Any, ...]
) -> None:
    async with async_client(lambda request: webex_error(status), retry=NO_RETRY) as client:
        response = await getattr(client, method)(*args)
    assert (response.status_code, response.data, response.message) == (status, text, "FAILURE")


def test_the_error_carries_the_services_code_message_and_tracking_id() -> None:
    with sync_client(lambda request: webex_error(404), retry=NO_RETRY) as client:
        response = client.get_call_forward_setting()
    error = response.error
    assert isinstance(error, CallSettingsError)
    assert (error.code, error.tracking_id, error.detail) == (40401, "SRV_123", "explained")
    assert str(error) == (
        "404 User info not found (http failure, code 40401, tracking id SRV_123): explained"
    )
    with pytest.raises(CallSettingsError) as raised:
        response.raise_for_status()
    assert raised.value is error
    with pytest.raises(CallSettingsError):
        _ = response.setting


def test_an_xsi_error_info_gives_its_code_and_summary() -> None:
    body = (
        b'<?xml version="1.0" encoding="UTF-8"?><ErrorInfo xmlns="http://schema.broadsoft.com/xsi">'
        b"<summary>User not found.</summary><summaryEnglish>User not found.</summaryEnglish>"
        b"<errorCode>40402</errorCode></ErrorInfo>"
    )

    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(404, content=body, headers={"Content-Type": "application/xml"})

    with sync_client(handler, retry=NO_RETRY) as client:
        response = client.get_call_waiting_setting()
    assert response.to_dict()["data"] == {"error": "User info not found"}
    assert response.error is not None
    assert (response.error.code, response.error.detail) == (40402, "User not found.")


def failing(exc: Exception) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        raise exc

    return handler


NO_STATUS = {
    "statusCode": 422,
    "data": {"error": "422 Exception has occurred"},
    "message": "FAILURE",
}


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (httpx.ConnectError("refused"), "network"),
        (httpx.RemoteProtocolError("peer closed"), "network"),
        (httpx.ReadTimeout("slow"), "timeout"),
        (httpx.ConnectTimeout("slow"), "timeout"),
    ],
)
@pytest.mark.parametrize(("method", "args"), METHODS)
def test_a_failure_without_http_status_is_422(
    exc: Exception, kind: str, method: str, args: tuple[Any, ...]
) -> None:
    with sync_client(failing(exc)) as client:
        response = getattr(client, method)(*args)
    assert response.to_dict() == NO_STATUS
    assert response.error is not None
    assert response.error.kind == kind
    assert type(exc).__name__ in (response.error.detail or "")


@pytest.mark.parametrize(
    ("method", "body"),
    [
        ("get_call_forward_setting", b"<html>oops</html>"),
        ("get_call_forward_setting", b"[1, 2]"),
        ("get_do_not_disturb_setting", b'{"enabled": "yes"}'),
        ("get_voicemail_setting", b'{"enabled": true, "sendAllCalls": 3}'),
        ("get_call_forward_always_setting", b"{"),
        ("get_call_waiting_setting", b'{"enabled": true}'),
        ("get_call_waiting_setting", b'<CallWaiting xmlns="http://schema.broadsoft.com/xsi"/>'),
        ("get_call_waiting_setting", b"<CallWaiting><active>true</active></CallWaiting>"),
    ],
)
def test_an_unparseable_body_is_422(method: str, body: bytes) -> None:
    with sync_client(lambda request: httpx.Response(200, content=body)) as client:
        response = getattr(client, method)()
    assert response.to_dict() == NO_STATUS
    assert response.error is not None
    assert response.error.kind == "parse"


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port that accepts connections (into the backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(8)
        yield sock.getsockname()[1]


def test_a_real_read_timeout_is_422_after_the_configured_timeout(silent_port: int) -> None:
    base = f"http://127.0.0.1:{silent_port}/v1"
    with CallSettingsClient(**options(base_url=base, timeout=0.2)) as client:
        response = client.get_do_not_disturb_setting()
    assert response.to_dict() == NO_STATUS
    assert response.error is not None
    assert response.error.kind == "timeout"


def test_a_refused_connection_is_422() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with CallSettingsClient(**options(base_url=f"http://127.0.0.1:{port}/v1")) as client:
        response = client.get_voicemail_setting()
    assert response.to_dict() == NO_STATUS
    assert response.error is not None
    assert response.error.kind == "network"


@pytest.mark.parametrize(
    ("method", "args", "exception"),
    [
        ("set_do_not_disturb_setting", (1,), TypeError),
        ("set_do_not_disturb_setting", ("yes",), TypeError),
        ("set_call_waiting_setting", (None,), TypeError),
        ("set_call_forward_setting", ("always",), TypeError),
        ("set_call_forward_setting", ({"callForwarding": {"always": {"enabled": 1}}},), ValueError),
        ("set_voicemail_setting", ([True],), TypeError),
        ("set_voicemail_setting", ({"sendUnansweredCalls": {"numberOfRings": "4"}},), ValueError),
        ("get_call_forward_always_setting", (1001,), TypeError),
    ],
)
def test_wrong_argument_types_raise_without_a_request(
    method: str, args: tuple[Any, ...], exception: type[Exception]
) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(204)

    with sync_client(handler) as client, pytest.raises(exception):
        getattr(client, method)(*args)
    assert sent == []


BACKEND_METHODS = [
    *(("bwrks", method, args) for method, args in METHODS),
    ("ucm", "get_call_forward_always_setting", ("1001",)),
]


@pytest.mark.parametrize(("status", "text"), TEXTS.items())
@pytest.mark.parametrize(("backend", "method", "args"), BACKEND_METHODS)
def test_the_broadworks_and_ucm_backends_map_errors_the_same_way(
    status: int, text: str, backend: str, method: str, args: tuple[Any, ...]
) -> None:
    with sync_client(lambda r: webex_error(status), retry=NO_RETRY, backend=backend) as client:
        response = getattr(client, method)(*args)
    assert response.to_dict() == {
        "statusCode": status,
        "data": {"error": text},
        "message": "FAILURE",
    }


@pytest.mark.parametrize(
    ("backend", "method", "args"), [m for m in BACKEND_METHODS if m[1].startswith("get_")]
)
def test_the_broadworks_and_ucm_backends_report_unparseable_bodies_as_422(
    backend: str, method: str, args: tuple[Any, ...]
) -> None:
    with sync_client(lambda r: httpx.Response(200, content=b"<x/>"), backend=backend) as client:
        response = getattr(client, method)(*args)
    assert response.to_dict() == NO_STATUS


@pytest.mark.parametrize(("method", "args"), METHODS[:-1])
def test_ucm_answers_501_without_a_request(method: str, args: tuple[Any, ...]) -> None:
    sent: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json={})

    with sync_client(handler, backend="ucm") as client:
        response = getattr(client, method)(*args)
    assert response.to_dict() == {
        "statusCode": 501,
        "data": {"error": "Method is not implemented at the backend"},
        "message": "FAILURE",
    }
    assert sent == []
