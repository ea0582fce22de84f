"""Warm reads answered before the framework: the read path's ceiling is the HTTP server.

A GET of a person's feature whose token, person, organization and document are all in
this replica's caches is answered here, after the same checks the routed handler makes
(the same functions, in the same order). Anything else, every error included, falls
through to the routed handler, so errors and cold reads have exactly one implementation.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qs

from callsettings.server.auth import Rule, bearer_secret, check_usable, target_org
from callsettings.server.errors import ApiError
from callsettings.server.services import Services
from callsettings.server.webex.features import DEFAULT_RULES, RULES
from callsettings.settings.ids import IdType, MalformedId, decode_id
from callsettings.storage.records import Feature

_FEATURE_GET = re.compile(
    r"/v1/people/([^/]+)/features/(callForwarding|doNotDisturb|callWaiting|voicemail)"
)
_READ_RULES: dict[str, Rule] = {
    feature.value: RULES.get(feature, DEFAULT_RULES)[0] for feature in Feature
}


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _org_param(query_string: bytes) -> str | None:
    if not query_string:
        return None
    values = parse_qs(query_string.decode("latin-1")).get("orgId")
    # The routed handler reads the raw value the same way: "+" in a padded id survives.
    return values[0].replace(" ", "+") if values else None


def warm_read(
    services: Services, scope: dict[str, Any], person_ref: str, feature: str
) -> bytes | None:
    """Return the document if every check passes from memory alone, else None."""
    token = services.tokens.peek(bearer_secret(_header(scope, b"authorization")))
    if token is None:
        return None
    check_usable(token)
    rule = _READ_RULES[feature]
    rule.check_token(token)
    org_param = _org_param(scope.get("query_string", b""))
    org_id = target_org(token, None if not org_param else decode_id(IdType.ORGANIZATION, org_param))
    cache = services.cache
    person = cache.people.get(decode_id(IdType.PEOPLE, person_ref))
    if person is None or person.org_id != org_id or cache.orgs.get(org_id) is None:
        return None
    rule.check_person(token, person)
    return cache.documents.get((person.id, feature))


class FastReads:
    """An ASGI layer in front of the Litestar app that serves warm feature reads."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            match = _FEATURE_GET.fullmatch(scope["path"])
            services = getattr(self.app.state, "services", None)
            if match is not None and services is not None:
                body = _try(services, scope, match[1], match[2])
                if body is not None:
                    await _send_json(send, body)
                    return
        await self.app(scope, receive, send)


def _try(services: Services, scope: dict[str, Any], person_ref: str, feature: str) -> bytes | None:
    try:
        return warm_read(services, scope, person_ref, feature)
    except (ApiError, MalformedId):
        return None  # the routed handler answers the error, with its one error mapping


async def _send_json(send: Any, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
