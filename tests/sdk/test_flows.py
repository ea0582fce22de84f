"""Multi-step flows whose failures need a scripted service: XSI discovery and forward-always.

The live tests cover the same flows against the real service when they succeed.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from callsettings.sdk import NO_RETRY
from tests.sdk.mocks import BASE_URL, USER, XSI_ENDPOINT, async_client, sync_client

ORGS_URL = f"{BASE_URL}/organizations?callingData=true"
CW_PATH = f"/com.broadsoft.xsi-actions/v2.0/user/{USER}/services/CallWaiting"
CALL_WAITING = (
    b'<?xml version="1.0" encoding="UTF-8"?>'
    b'<CallWaiting xmlns="http://schema.broadsoft.com/xsi"><active>false</active></CallWaiting>'
)
FORWARDING_OFF = {
    "callForwarding": {
        "always": {"enabled": False, "ringReminderEnabled": True},
        "busy": {"enabled": False},
        "noAnswer": {"enabled": False},
    },
    "businessContinuity": {"enabled": False},
}


class Script:
    """A service that answers by path, from a list of answers per path, and logs requests."""

    def __init__(self, **answers: list[httpx.Response]) -> None:
        self.answers = answers
        self.sent: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.sent.append(request)
        for key, queue in self.answers.items():
            if request.url.path.endswith(key.replace("__", "/")):
                return queue.pop(0) if len(queue) > 1 else queue[0]
        return httpx.Response(404, json={"message": "no route", "trackingId": "T"})

    def paths(self) -> list[str]:
        return [request.url.path for request in self.sent]


def organizations(endpoint: str | None = XSI_ENDPOINT) -> httpx.Response:
    item: dict[str, Any] = {"id": "org", "displayName": "Org"}
    if endpoint is not None:
        item["xsiActionsEndpoint"] = endpoint
    return httpx.Response(200, json={"items": [item]})


def test_call_waiting_discovers_the_xsi_host_once_and_reuses_it() -> None:
    script = Script(
        organizations=[organizations()],
        CallWaiting=[httpx.Response(200, content=CALL_WAITING)],
    )
    with sync_client(script, xsi_endpoint=None) as client:
        first = client.get_call_waiting_setting()
        second = client.get_call_waiting_setting()
    assert first.to_dict() == second.to_dict()
    assert first.to_dict() == {
        "statusCode": 200,
        "data": {"callSetting": {"enabled": False}},
        "message": "SUCCESS",
    }
    assert script.paths() == ["/v1/organizations", CW_PATH, CW_PATH]
    assert str(script.sent[0].url) == ORGS_URL
    assert script.sent[1].headers["Authorization"] == "Bearer secret-token"


def test_a_failed_discovery_is_tried_again_on_the_next_call() -> None:
    # The JS SDK caches the failure and never recovers; here the next call discovers again.
    script = Script(
        organizations=[
            httpx.Response(503, json={"message": "down", "trackingId": "T"}),
            organizations(),
        ],
        CallWaiting=[httpx.Response(200, content=CALL_WAITING)],
    )
    with sync_client(script, retry=NO_RETRY, xsi_endpoint=None) as client:
        failed = client.get_call_waiting_setting()
        recovered = client.get_call_waiting_setting()
    assert failed.to_dict() == {
        "statusCode": 503,
        "data": {"error": "Unable to establish a connection with the server"},
        "message": "FAILURE",
    }
    assert recovered.setting.enabled is False
    assert script.paths() == ["/v1/organizations", "/v1/organizations", CW_PATH]


@pytest.mark.parametrize(
    "answer",
    [
        organizations(endpoint=None),
        httpx.Response(200, json={"items": []}),
        httpx.Response(200, json={"items": [{"xsiActionsEndpoint": 5}]}),
        httpx.Response(200, content=b"not json"),
    ],
)
async def test_a_discovery_answer_without_an_endpoint_is_422(answer: httpx.Response) -> None:
    script = Script(organizations=[answer])
    async with async_client(script, xsi_endpoint=None) as client:
        response = await client.set_call_waiting_setting(True)
    assert response.to_dict() == {
        "statusCode": 422,
        "data": {"error": "422 Exception has occurred"},
        "message": "FAILURE",
    }
    assert script.paths() == ["/v1/organizations"]


def test_switching_call_waiting_puts_the_xsi_document() -> None:
    script = Script(CallWaiting=[httpx.Response(200)])
    with sync_client(script) as client:
        response = client.set_call_waiting_setting(True)
    assert response.to_dict()["data"] == {"callSetting": {"enabled": True}}
    request = script.sent[0]
    assert request.method == "PUT"
    assert request.headers["Content-Type"].startswith("application/xml")
    assert b'<CallWaiting xmlns="http://schema.broadsoft.com/xsi"><active>true</active>' in (
        request.content
    )


def test_forward_always_reports_an_unreadable_voicemail() -> None:
    script = Script(
        callForwarding=[httpx.Response(200, json=FORWARDING_OFF)],
        voicemail=[
            httpx.Response(
                500, json={"message": "boom", "trackingId": "VM"}, headers={"TrackingID": "VM"}
            )
        ],
    )
    with sync_client(script, retry=NO_RETRY) as client:
        response = client.get_call_forward_always_setting()
    assert response.to_dict() == {
        "statusCode": 500,
        "data": {"error": "Unable to retrieve voicemail settings."},
        "message": "FAILURE",
    }
    assert response.error is not None
    assert response.error.tracking_id == "VM"


def test_forward_always_returns_a_failed_forwarding_read_as_it_is() -> None:
    script = Script(callForwarding=[httpx.Response(401, json={"message": "no", "trackingId": "T"})])
    with sync_client(script) as client:
        response = client.get_call_forward_always_setting()
    assert response.to_dict() == {
        "statusCode": 401,
        "data": {"error": "User is unauthorised, possible token expiry"},
        "message": "FAILURE",
    }
    assert len(script.sent) == 1


def test_rest_requests_carry_the_org_id_token_and_a_tracking_id() -> None:
    script = Script(doNotDisturb=[httpx.Response(204)])
    with sync_client(script) as client:
        client.set_do_not_disturb_setting(False)
    request = script.sent[0]
    assert request.url.params["orgId"].startswith("Y2lzY29zcGFyazovL3VzL09SR0FOSVpBVElPTi")
    assert request.url.path.startswith("/v1/people/Y2lzY29zcGFyazovL3VzL1BFT1BMRS")
    assert request.headers["TrackingID"].startswith("CALLSETTINGS_PY_")
    assert request.content == b'{"enabled":false}'
