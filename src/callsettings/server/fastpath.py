"""Warm requests answered before the framework: the ceiling is the HTTP server.

A GET of a person's feature whose token, person, organization and document are all in
this replica's caches is answered here, after the same checks the routed handler makes
(the same functions, in the same order); so is a call decision whose people are all
cached, and a PUT of a feature whose token, person and organization are (the change
itself is the routed handler's own `apply_change`). Anything else, every error included,
falls through to the routed handler, so errors and cold requests have exactly one
implementation.
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import parse_qs

import msgspec

from callsettings.engine import Call, Subscriber, decide
from callsettings.server import features
from callsettings.server.auth import Rule, bearer_secret, check_usable, target_org
from callsettings.server.cache import NOBODY, SettingsCache
from callsettings.server.errors import ApiError
from callsettings.server.services import Services
from callsettings.server.treatment import policy_of
from callsettings.server.webex import treatment
from callsettings.server.webex.common import JSON, actor_of
from callsettings.server.webex.features import DEFAULT_RULES, RULES, apply_change
from callsettings.settings.destinations import is_extension
from callsettings.settings.ids import IdType, MalformedId, decode_id, encode_id
from callsettings.storage.records import Feature, Organization, Token

_FEATURE_PATH = re.compile(
    r"/v1/people/([^/]+)/features/(callForwarding|doNotDisturb|callWaiting|voicemail)"
)
_TREATMENT = "/v1/callsettings/treatment"
_READ_RULES: dict[str, Rule] = {
    feature.value: RULES.get(feature, DEFAULT_RULES)[0] for feature in Feature
}
_WRITE_RULES: dict[str, Rule] = {
    feature.value: RULES.get(feature, DEFAULT_RULES)[1] for feature in Feature
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


def _held(
    services: Services, scope: dict[str, Any], person_ref: str, rule: Rule
) -> tuple[Token, uuid.UUID, Organization] | None:
    """The token, person id and organization of a request about a person, when the person
    and organization are held and `rule` admits it; None when one is not held. The routed
    handler's checks: what they refuse (ApiError, MalformedId) is for it to answer."""
    token = services.tokens.peek(bearer_secret(_header(scope, b"authorization")))
    if token is None:
        return None
    check_usable(token)
    rule.check_token(token)
    org_param = _org_param(_query(scope))
    org_id = target_org(token, None if not org_param else decode_id(IdType.ORGANIZATION, org_param))
    cache = services.cache
    person_id = decode_id(IdType.PEOPLE, person_ref)
    placed = cache.placement(person_id)
    org = cache.orgs.get(org_id)
    if placed is None or placed[0] != org_id or org is None:
        return None
    rule.check_placement(token, person_id, placed[1])
    return token, person_id, org


def warm_read(
    services: Services, scope: dict[str, Any], person_ref: str, feature: str
) -> bytes | None:
    """Return the document if every check passes from memory alone, else None."""
    held = _held(services, scope, person_ref, _READ_RULES[feature])
    return None if held is None else services.cache.document(held[1], feature)


async def warm_change(
    services: Services, scope: dict[str, Any], body: bytes, person_ref: str, feature: str
) -> bool:
    """Change the feature if who may change whom is decided from memory alone, with the
    routed handler's checks; False when not tried (then nothing was written).

    Raises:
        ApiError, MalformedId, msgspec.DecodeError, InvalidSetting: for the routed handler
        to answer; nothing was written.
        Others: as apply_change's.
    """
    held = _held(services, scope, person_ref, _WRITE_RULES[feature])
    person = None if held is None else services.cache.person(held[1])
    if held is None or person is None:
        return False
    token, _, org = held
    patch = msgspec.json.decode(body)
    await apply_change(services, person, org, Feature(feature), patch, actor_of(scope, token))
    return True


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
    # `is`: owner() gives the constant, and UUID's == is Python code reading the int out
    # of the person's UUID, from memory long out of the CPU's caches at 100,000 people.
    if person_id is None or person_id is NOBODY:
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
    # Whose settings the answer read: of those it found, the ones the engine consulted (a
    # forward target's identity never changes; whether it lands in their voicemail does).
    read = [reach.found[other] for other in decision.consulted if other in reach.found]
    cache.put_answer(person_id, shape, evictions, consulted=read, expiring=reach.outside)
    return served, shape


class _Reach:
    """The engine's look-up on the cache; notes whom it found (by the id the engine knows
    them by) and whether it met a number nobody has."""

    __slots__ = ("_cache", "_org", "found", "outside", "unknown")

    def __init__(self, cache: SettingsCache, org: Organization) -> None:
        self._cache = cache
        self._org = org
        self.outside = False
        self.found: dict[str, uuid.UUID] = {}
        self.unknown: str | None = None  # what was dialled whose owner is not known here

    def __call__(self, dialled: str) -> Subscriber | None:
        owner = self._cache.owner(self._org.id, dialled)
        if owner is None:
            self.unknown = dialled
            raise _Cold
        if owner is NOBODY:  # the constant owner() gives
            self.outside = True  # someone may be given this number later
            return None
        compiled = _compiled(self._cache, owner, self._org)
        self.found[compiled.id] = owner
        return compiled


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
        if person_id is None or person_id == NOBODY:
            continue
        if cache.answer(person_id, asked=False) is not None:
            continue  # kept; looking is not asking (see SettingsCache.expire_answers)
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
    """An ASGI layer in front of the Litestar app that serves warm requests."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        services = getattr(self.app.state, "services", None) if scope["type"] == "http" else None
        if services is not None and scope["method"] == "GET":
            body = _try(services, scope)
            if body is not None:
                await _send_json(send, body)
                return
        elif services is not None and scope["method"] == "PUT":
            replayed = await _try_put(services, scope, receive, send)
            if replayed is None:
                return
            receive = replayed
        await self.app(scope, receive, send)


def _try(services: Services, scope: dict[str, Any]) -> bytes | None:
    try:
        path = scope["path"]
        if path == _TREATMENT:
            return warm_decision(services, scope)
        match = _FEATURE_PATH.fullmatch(path)
        return None if match is None else warm_read(services, scope, match[1], match[2])
    except (ApiError, MalformedId):
        return None  # the routed handler answers the error, with its one error mapping


async def _try_put(services: Services, scope: dict[str, Any], receive: Any, send: Any) -> Any:
    """Answer a warm feature PUT; None when answered, else the `receive` that replays what
    was read of the body to the routed handler."""
    match = _FEATURE_PATH.fullmatch(scope["path"])
    limit = services.config.max_json_body_bytes
    if match is None or not _json_within(scope, limit):
        return receive
    read = await _read_body(receive, limit)
    if read.body is not None and await _try_change(services, scope, read.body, match):
        await _send_no_content(send)
        return None
    return read.replay(receive)


async def _try_change(
    services: Services, scope: dict[str, Any], body: bytes, match: re.Match[str]
) -> bool:
    try:
        return await warm_change(services, scope, body, match[1], match[2])
    except Exception:
        # The routed handler answers, with its one error mapping: a refused change (bad
        # token, id or body, an invalid setting) wrote nothing; after any other failure
        # it tries again, and merging the same patch again changes nothing more.
        return False


def _json_within(scope: dict[str, Any], limit: int) -> bool:
    """Whether the body says it is JSON and does not say it is too large (what the routed
    handler refuses with 415 and 413 before reading it)."""
    media = (_header(scope, b"content-type") or "").split(";", 1)[0].strip().lower()
    if media != JSON and not media.endswith("+json"):
        return False
    declared = _header(scope, b"content-length")
    return declared is None or not declared.isdigit() or int(declared) <= limit


@dataclass(slots=True)
class _Body:
    """A request body read here, and the messages it came in, to replay when the routed
    handler answers after all."""

    body: bytes | None  # None: over the limit, or the client went away
    messages: list[dict[str, Any]]

    def replay(self, receive: Any) -> Any:
        pending = self.messages

        async def replayed() -> dict[str, Any]:
            return pending.pop(0) if pending else await receive()

        return replayed


async def _read_body(receive: Any, limit: int) -> _Body:
    messages: list[dict[str, Any]] = []
    size = 0
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            return _Body(None, messages)
        size += len(message.get("body", b""))
        if size > limit:
            return _Body(None, messages)
        if not message.get("more_body", False):
            return _Body(b"".join(m.get("body", b"") for m in messages), messages)


async def _send_no_content(send: Any) -> None:
    await send({"type": "http.response.start", "status": 204, "headers": []})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _send_json(send: Any, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body, "more_body": False})
