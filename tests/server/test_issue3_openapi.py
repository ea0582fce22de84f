"""Every route of the voicemail actions, the me API, the directory and the audit trail is
documented in /openapi.json with its method, success status and bodies."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient

Client = AsyncTestClient[Any]
ACTIONS = "/v1/people/{person_id}/features/voicemail/actions"
ME = "/v1/telephony/config/people/me/settings"

# (path, method, success status)
DOCUMENTED = [
    (f"{ACTIONS}/uploadBusyGreeting/invoke", "post", "201"),
    (f"{ACTIONS}/uploadNoAnswerGreeting/invoke", "post", "201"),
    (f"{ACTIONS}/resetPin/invoke", "post", "204"),
    ("/v1/people/{person_id}/features/voicemail/greetings/{kind}", "get", "200"),
    ("/v1/telephony/config/people/{person_id}/voicemail/passcode", "put", "204"),
    *[
        (f"{ME}/{f}", m, s)
        for f in ("callForwarding", "doNotDisturb", "callWaiting", "voicemail")
        for m, s in (("get", "200"), ("put", "204"))
    ],
    (f"{ME}/voicemail/actions/busyGreetingUpload/invoke", "post", "201"),
    (f"{ME}/voicemail/actions/noAnswerGreetingUpload/invoke", "post", "201"),
    ("/v1/people", "get", "200"),
    ("/v1/people/me", "get", "200"),
    ("/v1/people/{person_id}", "get", "200"),
    ("/v1/people/{person_id}/features/numbers", "get", "200"),
    ("/v1/organizations", "get", "200"),
    ("/v1/organizations/{org_id}", "get", "200"),
    ("/v1/locations", "get", "200"),
    ("/v1/locations/{location_id}", "get", "200"),
    ("/v1/adminAudit/events", "get", "200"),
]


@pytest.fixture
async def schema(client: Client) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    body: dict[str, Any] = response.json()
    return body


@pytest.mark.parametrize(("path", "method", "status"), DOCUMENTED)
async def test_route_is_documented(
    schema: dict[str, Any], path: str, method: str, status: str
) -> None:
    operation = schema["paths"][path][method]
    assert operation["summary"]
    assert status in operation["responses"]
    assert "401" in operation["responses"]


async def test_uploads_document_a_multipart_file_part(schema: dict[str, Any]) -> None:
    for path in (
        f"{ACTIONS}/uploadBusyGreeting/invoke",
        f"{ME}/voicemail/actions/busyGreetingUpload/invoke",
    ):
        body = schema["paths"][path]["post"]["requestBody"]["content"]["multipart/form-data"]
        assert body["schema"]["required"] == ["file"]
        assert body["schema"]["properties"]["file"]["format"] == "binary"


async def test_listings_document_their_item_schemas(schema: dict[str, Any]) -> None:
    people = schema["paths"]["/v1/people"]["get"]["responses"]["200"]
    ref = people["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[-1]
    assert set(schema["components"]["schemas"][ref]["properties"]) == {"items", "notFoundIds"}
    passcode = schema["paths"]["/v1/telephony/config/people/{person_id}/voicemail/passcode"]["put"]
    assert "passcode" in str(passcode["requestBody"])
