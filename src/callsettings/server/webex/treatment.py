"""GET /v1/callsettings/treatment: one compiled call decision, for SIP proxies.

Not a Webex endpoint: it is this service's own, served with the Webex error contract and
tokens so that proxies use the same credentials machinery as every other client.
"""

from __future__ import annotations

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


ROUTES: list[Any] = [call_treatment]
