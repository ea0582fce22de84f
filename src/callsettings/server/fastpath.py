"""Warm reads answered before the framework: the read path's ceiling is the HTTP server.

A GET of a person's feature whose token, person, organization and document are all in
this replica's caches is answered here, after the same checks the routed handler makes
(the same functions, in the same order); so is a call decision whose people are all
cached. Anything else, every error included, falls through to the routed handler, so
errors and cold reads have exactly one implementation.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, cast
from urllib.parse import parse_qs

from callsettings.engine import Call, Subscriber, decide
from callsettings.server import features
from callsettings.server.auth import Rule, bearer_secret, check_usable, target_org
from callsettings.server.cache import NOBODY, SettingsCache
from callsettings.server.errors import ApiError
from callsettings.server.services import Services
from callsettings.server.treatment import policy_of
from callsettings.server.webex import treatment
from callsettings.server.webex.features import DEFAULT_RULES, RULES
from callsettings.settings.destinations import is_extension
from callsettings.settings.ids import IdType, MalformedId, decode_id, encode_id
from callsettings.storage.records import Feature, Organization

_FEATURE_GET = re.compile(
    r"/v1/people/([^/]+)/features/(callForwarding|doNotDisturb|callWaiting|voicemail)"
)
_TREATMENT = "/v1/callsettings/treatment"
_READ_RULES: dict[str, Rule] = {
    feature.value: RULES.get(feature, DEFAULT_RULES)[0] for feature in Feature
}


def _header(scope: dict[str, Any], name: bytes) -> str | None:
    for key, value in scope["headers"]:
        if key == name:
            return bytes(value).decode("latin-1")
    return None


def _query(scope: dict[str, Any]) -> dict[str, list[str]]:
    """The query as parse_qs reads it; without escapes, split here (parse_qs took 3 us of
    the 20 a warm decision costs, unquoting names and values that hold nothing to unquote)."""
    query_string: bytes = scope.get("query_string", b"")
    if not query_string:
        return {}
    text = query_string.decode("latin-1")
    if "%" in text or "+" in text:
        return parse_qs(text)
    query: dict[str, list[str]] = {}
    for pair in text.split("&"):
        name, _, value = pair.partition("=")
        if value:  # parse_qs drops blank values, and names without "="
            query.setdefault(name, []).append(value)
    return query


def _org_param(query: dict[str, list[str]]) -> str | None:
    values = query.get("orgId")
    # The routed handler reads the raw value the same way: "+" in a padded id survives.
    return values[0].replace(" ", "+") if values else None


def _first(query: dict[str, list[str]], name: str) -> str | None:
    values = query.get(name)
    return values[0] if values else None


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
    org_param = _org_param(_query(scope))
    org_id = target_org(token, None if not org_param else decode_id(IdType.ORGANIZATION, org_param))
    cache = services.cache
    person = cache.person(decode_id(IdType.PEOPLE, person_ref))
    if person is None or person.org_id != org_id or cache.orgs.get(org_id) is None:
        return None
    rule.check_person(token, person)
    return cache.document(person.id, feature)


class _Cold(Exception):
    """Someone the decision needs is not in the cache: let the routed handler fetch them."""


def warm_decision(services: Services, scope: dict[str, Any]) -> bytes | None:
    """Return the decision API's answer if the token and every person it needs are cached."""
    token = services.tokens.peek(bearer_secret(_header(scope, b"authorization")))
    if token is None:
        return None
    check_usable(token)
    treatment.check_scope(token)
    query = _query(scope)
    called = _first(query, "called")
    # History names people to resolve, and numbers need their country: the routed handler.
    if called is None or not is_extension(called) or "history" in query:
        return None
    org_param = _org_param(query)
    org_id = target_org(token, None if not org_param else decode_id(IdType.ORGANIZATION, org_param))
    cache = services.cache
    org = cache.orgs.get(org_id)
    if org is None:
        return None
    presence = treatment.presence_of(_first(query, "state"))
    count = treatment.diversion_count(_first(query, "diversions"))
    explain = treatment.explains(_first(query, "explain"))

    person_id = cache.owner(org_id, called)
    if person_id is None or person_id == NOBODY:
        return None  # not known, or nobody to serve: the routed handler answers
    try:
        # A new call (no state, no diversions, no trace) is what proxies ask most: its
        # answer is kept for everyone (see keep_answers); other questions share a small map.
        if presence is None and count == 0 and not explain:
            return new_call_answer(cache, org, called, person_id)
        key = (org_id, called, presence, count, explain)
        answered = cache.decisions.get(key)
        if answered is not None and answered[0] == cache.evictions:
            return answered[1]
        evictions = cache.evictions
        history = treatment.padding(count)
        served = _compiled(cache, person_id, org)
        call = Call(called, _first(query, "caller"), history)
        decision = decide(call, served, presence, _Reach(cache, org), policy_of(org))
    except _Cold:
        return None
    answer = treatment.encode_answer(served, decision, len(history), explain)
    cache.decisions.put(key, (evictions, answer))
    return answer


def new_call_answer(
    cache: SettingsCache, org: Organization, called: str, person_id: uuid.UUID
) -> bytes:
    """The answer to a new call to `called` (held as `person_id`), kept or decided now.

    Raises _Cold when someone the decision needs is not held.
    """
    shape = cache.answer(person_id)
    who = None if shape is None else cache.name_and_extension(person_id)
    if shape is not None and who is not None:
        return treatment.answer_from_shape(encode_id(IdType.PEOPLE, person_id), *who, shape)
    served, shape = _decide_new_call(cache, org, called, person_id)
    return treatment.answer_from_shape(served.id, served.name, served.extension, shape)


def _decide_new_call(
    cache: SettingsCache,
    org: Organization,
    called: str,
    person_id: uuid.UUID,
    unknown: list[str] | None = None,
) -> tuple[Subscriber, bytes]:
    evictions = cache.evictions
    served = _compiled(cache, person_id, org)
    reach = _Reach(cache, org)
    try:
        decision = decide(Call(called, None, ()), served, None, reach, policy_of(org))
    except _Cold:
        if unknown is not None and reach.unknown is not None:
            unknown.append(reach.unknown)
        raise
    shape = treatment.answer_shape(served, decision)
    reaching = bool(decision.consulted)
    cache.put_answer(person_id, shape, evictions, reaching=reaching, expiring=reach.outside)
    return served, shape


class _Reach:
    """The engine's look-up on the cache; notes whether it met a number nobody has."""

    __slots__ = ("_cache", "_org", "outside", "unknown")

    def __init__(self, cache: SettingsCache, org: Organization) -> None:
        self._cache = cache
        self._org = org
        self.outside = False
        self.unknown: str | None = None  # what was dialled whose owner is not known here

    def __call__(self, dialled: str) -> Subscriber | None:
        owner = self._cache.owner(self._org.id, dialled)
        if owner is None:
            self.unknown = dialled
            raise _Cold
        if owner == NOBODY:
            self.outside = True  # someone may be given this number later
            return None
        return _compiled(self._cache, owner, self._org)


def keep_answers(
    cache: SettingsCache,
    org: Organization,
    extensions: list[str],
    unknown: list[str] | None = None,
) -> int:
    """Decide a new call to each of these extensions whose answer is not kept; say how many.

    A proxy asks for anyone, so waiting for each person's first call would leave a large
    organization's answers cold for millions of requests (see warmup.warm_answers). What
    was dialled and is not known here (a number nobody in the cache has) goes to `unknown`.
    """
    decided = 0
    for extension in extensions:
        person_id = cache.owner(org.id, extension)
        if person_id is None or person_id == NOBODY or cache.answer(person_id) is not None:
            continue
        try:
            _decide_new_call(cache, org, extension, person_id, unknown)
        except _Cold:
            continue  # someone they reach is not held: their first call decides it
        decided += 1
    return decided


def _compiled(cache: SettingsCache, person_id: uuid.UUID, org: Organization) -> Subscriber:
    """A held person's compiled form, compiled now from the held documents if needed."""
    compiled = cache.subscribers.get(person_id)
    if compiled is not None:
        return compiled
    generation = cache.generation(person_id)
    person = cache.person(person_id)
    encoded = [cache.document(person_id, feature.value) for feature in features.MODELS]
    if person is None or None in encoded:
        raise _Cold
    compiled = features.compile_encoded(person, org, cast(list[bytes], encoded))
    cache.put_subscriber(person_id, compiled, generation)
    return compiled


class FastReads:
    """An ASGI layer in front of the Litestar app that serves warm feature reads."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["method"] == "GET":
            services = getattr(self.app.state, "services", None)
            body = None if services is None else _try(services, scope)
            if body is not None:
                await _send_json(send, body)
                return
        await self.app(scope, receive, send)


def _try(services: Services, scope: dict[str, Any]) -> bytes | None:
    try:
        path = scope["path"]
        if path == _TREATMENT:
            return warm_decision(services, scope)
        match = _FEATURE_GET.fullmatch(path)
        return None if match is None else warm_read(services, scope, match[1], match[2])
    except (ApiError, MalformedId):
        return None  # the routed handler answers the error, with its one error mapping


async def _send_json(send: Any, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
