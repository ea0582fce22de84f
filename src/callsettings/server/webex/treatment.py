"""GET /v1/callsettings/treatment: one compiled call decision, for SIP proxies.

Not a Webex endpoint: it is this service's own, served with the Webex error contract and
tokens so that proxies use the same credentials machinery as every other client.
"""

from __future__ import annotations

import zlib
from typing import Any

import msgspec
from litestar import get
from litestar.response.base import ASGIResponse

from callsettings.engine import (
    Call,
    Decision,
    Diversion,
    Presence,
    Reason,
    Subscriber,
    decide,
    treatment_to_json,
)
from callsettings.server import tokens as scopes
from callsettings.server.errors import ApiError, ErrorKind
from callsettings.server.reads import CachedReader
from callsettings.server.services import services_of
from callsettings.server.treatment import policy_of, settle
from callsettings.server.webex.common import AnyRequest, authenticate, raw_json, requested_org
from callsettings.server.webex.openapi import responses
from callsettings.settings import InvalidSetting
from callsettings.settings.destinations import is_extension, to_e164
from callsettings.settings.ids import IdType, encode_id
from callsettings.storage.records import Organization, Token

MAX_HISTORY = 32
_encoder = msgspec.json.Encoder()


class CalledPerson(msgspec.Struct, rename="camel"):
    id: str
    display_name: str
    extension: str | None


class TreatmentAnswer(msgspec.Struct, rename="camel"):
    """The decision: `treatment` is reject, forward, voicemail or ring (with its branches)."""

    called: CalledPerson
    diversions: int
    treatment: dict[str, Any]
    trace: list[str] | msgspec.UnsetType = msgspec.UNSET  # with explain=true


def check_scope(token: Token) -> None:
    if scopes.TREATMENT_READ not in token.scopes:
        raise ApiError(
            ErrorKind.MISSING_SCOPE,
            f"The access token needs the scope {scopes.TREATMENT_READ} (a service token).",
        )


def _dialled(raw: str, org: Organization, name: str) -> str:
    """Return an extension as is, or a number in E.164 read in the organization's country."""
    text = raw.strip()
    if is_extension(text):
        return text
    try:
        return to_e164(text, org.country, field=name)
    except InvalidSetting as exc:
        raise ApiError(ErrorKind.INVALID_QUERY, str(exc)) from exc


def presence_of(raw: str | None) -> Presence | None:
    if raw is None or raw == "":
        return None
    try:
        return Presence(raw)
    except ValueError:
        allowed = ", ".join(p.value for p in Presence)
        raise ApiError(
            ErrorKind.INVALID_QUERY, f"state: must be one of {allowed}, got {raw!r}."
        ) from None


def diversion_count(raw: str | None) -> int:
    if raw is None or raw == "":
        return 0
    if not raw.isdigit() or int(raw) > MAX_HISTORY:
        raise ApiError(
            ErrorKind.INVALID_QUERY,
            f"diversions: must be a whole number from 0 to {MAX_HISTORY}, got {raw!r}.",
        )
    return int(raw)


async def _history(
    reader: CachedReader, org: Organization, raw: str | None, count: int
) -> tuple[Diversion, ...]:
    """The diversions so far: `history` names who diverted ("1001" or "1001:no-answer").

    Entries name people so that a chain never comes back to someone it passed; `diversions`
    alone (a proxy that only kept the Diversion counter) still counts towards the cap.
    """
    entries = [e for e in (raw or "").split(",") if e.strip()]
    if len(entries) > MAX_HISTORY:
        raise ApiError(ErrorKind.INVALID_QUERY, f"history: at most {MAX_HISTORY} entries.")
    history: list[Diversion] = []
    for entry in entries:
        dialled, _, reason_text = entry.partition(":")
        try:
            reason = Reason(reason_text.strip() or Reason.UNCONDITIONAL.value)
        except ValueError:
            allowed = ", ".join(r.value for r in Reason)
            raise ApiError(
                ErrorKind.INVALID_QUERY,
                f"history: reason must be one of {allowed}, got {reason_text!r}.",
            ) from None
        number = _dialled(dialled, org, "history")
        person = await reader.person_by_dial(org, number)
        by = number if person is None else encode_id(IdType.PEOPLE, person.id)
        history.append(Diversion(by, reason))
    return (*padding(count - len(history)), *history)


def padding(count: int) -> tuple[Diversion, ...]:
    """Diversions known only by the counter: they count towards the cap and name no one."""
    return (Diversion("", Reason.UNCONDITIONAL),) * max(0, count)


class _ReaderDirectory:
    def __init__(self, reader: CachedReader, org: Organization) -> None:
        self._reader = reader
        self._org = org

    async def by_dial(self, dialled: str) -> Any:
        person = await self._reader.person_by_dial(self._org, dialled)
        return None if person is None else await self._reader.subscriber(person, self._org)


@get(
    "/v1/callsettings/treatment",
    name="call-treatment",
    tags=["Call treatment"],
    summary="Decide what happens to one incoming call (for SIP proxies; service tokens)",
    description=(
        "Query: called (extension or number, required), caller, diversions (the Diversion "
        "counter so far), history (comma-separated extensions or numbers that diverted the "
        "call, each optionally ':reason'), state (the called person's presence when known: "
        "idle, busy, in-call, unregistered, unreachable, no-reply; leave it out to get a ring "
        "with every branch compiled), explain (true: add the trace, the decision's steps in "
        "words), orgId (partner tokens)."
    ),
    responses={**responses(TreatmentAnswer)},
)
async def call_treatment(request: AnyRequest) -> ASGIResponse:
    token = await authenticate(request)
    check_scope(token)
    org_id = requested_org(request, token)
    query = request.query_params
    called_raw = query.get("called")
    if not called_raw or not called_raw.strip():
        raise ApiError(
            ErrorKind.INVALID_QUERY, "called: the extension or number dialled is required."
        )
    presence = presence_of(query.get("state"))
    count = diversion_count(query.get("diversions"))
    explain = explains(query.get("explain"))
    async with CachedReader(services_of(request)) as reader:
        org = await reader.org(org_id)
        if org is None:
            raise ApiError(ErrorKind.NOT_FOUND, "Organization not found.")
        called = _dialled(called_raw, org, "called")
        person = await reader.person_by_dial(org, called)
        if person is None:
            raise ApiError(
                ErrorKind.PERSON_NOT_FOUND,
                f"No person in this organization has the extension or number {called}.",
            )
        history = await _history(reader, org, query.get("history"), count)
        served = await reader.subscriber(person, org)
        call = Call(called, query.get("caller"), history)
        policy = policy_of(org)
        decision = await settle(
            lambda lookup: decide(call, served, presence, lookup, policy),
            _ReaderDirectory(reader, org),
        )
    return raw_json(encode_answer(served, decision, len(history), explain))


def explains(raw: str | None) -> bool:
    """Whether the caller asked for the trace: people and logs do, a proxy's hot path not."""
    if raw is None or raw in ("", "false", "0"):
        return False
    if raw in ("true", "1"):
        return True
    raise ApiError(ErrorKind.INVALID_QUERY, f"explain: must be true or false, got {raw!r}.")


def encode_answer(served: Subscriber, decision: Decision, diversions: int, explain: bool) -> bytes:
    """The JSON answer; the warm path in fastpath.py sends the same bytes."""
    answer = TreatmentAnswer(
        called=CalledPerson(served.id, served.name, served.extension),
        diversions=diversions,
        treatment=treatment_to_json(decision.treatment),
        trace=list(decision.trace) if explain else msgspec.UNSET,
    )
    return _encoder.encode(answer)


# Where the called person's own id goes in an answer's shape (the mailboxes a decision
# names are theirs): a NUL byte, which JSON text never holds unescaped.
_OWN_ID = b"\x00"

# A shape that forwards names its targets, so it is its person's alone (most shapes are
# shared): it is deflated against the answers' own vocabulary, 300 bytes to about 40, and
# inflated in about 1 us. Packed shapes start with this byte; JSON ones with "{".
_PACKED = 1
_VOCABULARY = b"".join(
    (
        b'{"action":"forward","target":"","reason":"unconditional","counter":1,"internal":false}',
        b'{"action":"voicemail","mailbox":"\x00","greeting":"busy"}',
        b'"onUnreachable":{"action":"voicemail","mailbox":"\x00","greeting":"unavailable"}',
        b'"onUnreachable":{"action":"forward","target":"","reason":"unavailable","counter":1,',
        b'"internal":true}"onNoAnswer":{"action":"voicemail","mailbox":"\x00",',
        b'"greeting":"unavailable"}"onNoAnswer":{"action":"forward","target":"",',
        b'"reason":"no-answer","counter":1,"internal":true}{"action":"ring","ringMs":18000,',
        b'"ringSplash":false,"onBusy":{"action":"forward","target":"","reason":"user-busy",',
        b'"counter":1,"internal":true},"onNoAnswer":{"action":"voicemail","mailbox":"\x00",',
        b'"greeting":"unavailable"},',
    )
)


def answer_shape(served: Subscriber, decision: Decision) -> bytes:
    """A new call's answer without who was called: what a replica keeps per person.

    People with the same settings share one shape, so keeping everyone's answer costs
    little more than a reference each.
    """
    encoded = _encoder.encode(treatment_to_json(decision.treatment))
    shape = encoded.replace(served.id.encode(), _OWN_ID)
    if b'"target"' not in shape:
        return shape
    packer = zlib.compressobj(9, zlib.DEFLATED, -15, 9, zlib.Z_DEFAULT_STRATEGY, _VOCABULARY)
    return bytes((_PACKED,)) + packer.compress(shape) + packer.flush()


def answer_from_shape(person_id: str, name: str, extension: str | None, shape: bytes) -> bytes:
    """The bytes encode_answer makes for a new call (no diversions, no trace), from a shape."""
    if shape[0] == _PACKED:
        shape = zlib.decompressobj(-15, zdict=_VOCABULARY).decompress(memoryview(shape)[1:])
    called = _encoder.encode(CalledPerson(person_id, name, extension))
    treatment = shape.replace(_OWN_ID, person_id.encode())
    return b"".join((b'{"called":', called, b',"diversions":0,"treatment":', treatment, b"}"))


ROUTES: list[Any] = [call_treatment]
