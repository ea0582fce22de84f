"""Playing a call out to its end, through forwards, with each person's presence assumed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from callsettings.engine.decide import Lookup, decide
from callsettings.engine.model import (
    DEFAULT_POLICY,
    Call,
    Diversion,
    Forward,
    Policy,
    Presence,
    Reject,
    Ring,
    Subscriber,
    Treatment,
    VoicemailDrop,
)


@dataclass(frozen=True, slots=True)
class Outcome:
    """Where a call ended: answered by someone, a mailbox, a reject or an outside number."""

    ended: str  # "answered" | "voicemail" | "rejected" | "external"
    treatment: Treatment | None
    person: Subscriber | None
    path: tuple[str, ...]  # the people (labels) the call went through, in order
    trace: tuple[str, ...]


def resolve(ring: Ring, presence: Presence) -> Treatment | None:
    """Return the branch a ring takes for `presence`, or None when it is answered."""
    if presence is Presence.BUSY:
        return ring.on_busy
    if presence is Presence.NO_REPLY:
        return ring.on_no_answer
    if presence in (Presence.UNREACHABLE, Presence.UNREGISTERED):
        return ring.on_unreachable
    return None


def follow(
    call: Call,
    served: Subscriber,
    presence_of: Callable[[Subscriber], Presence],
    lookup: Lookup,
    policy: Policy = DEFAULT_POLICY,
) -> Outcome:
    """Decide hop after hop until the call ends; at most diversion_cap + 1 decisions."""
    trace: list[str] = []
    path: list[str] = []
    person: Subscriber = served
    while True:
        path.append(person.label)
        presence = presence_of(person)
        decision = decide(call, person, presence, lookup, policy)
        trace.extend(decision.trace)
        treatment: Treatment | None = decision.treatment
        if isinstance(treatment, Ring):
            treatment = resolve(treatment, presence)
            if treatment is None:
                trace.append(f"answered by {person.label}")
                return Outcome("answered", None, person, tuple(path), tuple(trace))
        if isinstance(treatment, Forward) and treatment.person_id is not None:
            nxt = lookup(treatment.target)
            assert nxt is not None  # the engine set person_id from this same lookup
            call = Call(
                treatment.target,
                call.caller,
                (*call.history, Diversion(person.id, treatment.reason)),
            )
            person = nxt
            continue
        return _ended(treatment, person, path, trace)


def _ended(
    treatment: Treatment | None, person: Subscriber, path: list[str], trace: list[str]
) -> Outcome:
    if isinstance(treatment, VoicemailDrop):
        owner = person if treatment.mailbox == person.id else None
        where = owner.label if owner else f"mailbox {treatment.mailbox}"
        trace.append(f"ends in voicemail: {where}, {treatment.greeting.value} greeting")
        return Outcome("voicemail", treatment, owner, tuple(path), tuple(trace))
    if isinstance(treatment, Reject):
        trace.append(f"rejected with {treatment.code}")
        return Outcome("rejected", treatment, None, tuple(path), tuple(trace))
    assert isinstance(treatment, Forward)
    trace.append(f"forwarded outside to {treatment.target}")
    return Outcome("external", treatment, None, tuple(path), tuple(trace))
