"""What the engine reads (a call, a subscriber, their presence) and what it answers."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Literal

from callsettings.settings import CallForwarding, CallWaiting, DoNotDisturb, Voicemail

DEFAULT_RING_MS = 6_000
DEFAULT_DIVERSION_CAP = 5


class Presence(StrEnum):
    """What the served user's devices are doing when the call arrives."""

    IDLE = "idle"  # registered; a device rings and is answered
    BUSY = "busy"  # registered; every device answers 486
    IN_CALL = "in-call"  # registered and on another call
    UNREGISTERED = "unregistered"  # no device registered
    UNREACHABLE = "unreachable"  # registered, but no device replies at all
    NO_REPLY = "no-reply"  # devices ring and nobody answers (rings out)


class Reason(StrEnum):
    """Diversion reasons as carried in a SIP Diversion header (RFC 5806)."""

    UNCONDITIONAL = "unconditional"
    USER_BUSY = "user-busy"
    NO_ANSWER = "no-answer"
    UNAVAILABLE = "unavailable"
    DO_NOT_DISTURB = "do-not-disturb"


class Greeting(StrEnum):
    BUSY = "busy"
    UNAVAILABLE = "unavailable"


@dataclass(frozen=True, slots=True)
class Subscriber:
    """A person whose settings decide their calls."""

    id: str
    name: str
    extension: str | None = None
    numbers: frozenset[str] = frozenset()
    forwarding: CallForwarding = field(default_factory=CallForwarding)
    dnd: DoNotDisturb = field(default_factory=DoNotDisturb)
    call_waiting: CallWaiting = field(default_factory=CallWaiting)
    voicemail: Voicemail = field(default_factory=Voicemail)

    @property
    def label(self) -> str:
        return f"{self.extension or next(iter(sorted(self.numbers)), self.id)} ({self.name})"


@dataclass(frozen=True, slots=True)
class Diversion:
    """One forward this call has already been through."""

    by: str  # the id of the person who diverted
    reason: Reason


@dataclass(frozen=True, slots=True)
class Call:
    called: str
    caller: str | None = None
    history: tuple[Diversion, ...] = ()


@dataclass(frozen=True, slots=True)
class Policy:
    """Per-organization parameters of call treatment."""

    ring_ms: int = DEFAULT_RING_MS
    diversion_cap: int = DEFAULT_DIVERSION_CAP
    max_rings: int = 20


# ---- treatments: what a proxy carries out, with no per-feature logic of its own ----


@dataclass(frozen=True, slots=True)
class Reject:
    code: int
    reason: str
    kind: Literal["reject"] = "reject"


@dataclass(frozen=True, slots=True)
class Forward:
    target: str  # what to dial: an extension or an E.164 number
    reason: Reason
    counter: int  # the Diversion counter on the forwarded leg
    person_id: str | None = None  # set when the target is a person of this organization
    kind: Literal["forward"] = "forward"


@dataclass(frozen=True, slots=True)
class VoicemailDrop:
    mailbox: str  # the person id whose mailbox takes the call
    greeting: Greeting
    kind: Literal["voicemail"] = "voicemail"


@dataclass(frozen=True, slots=True)
class Ring:
    ring_ms: int
    on_busy: Treatment
    on_no_answer: Treatment
    on_unreachable: Treatment
    ring_splash: bool = False
    kind: Literal["ring"] = "ring"


Treatment = Reject | Forward | VoicemailDrop | Ring


@dataclass(frozen=True, slots=True)
class Decision:
    treatment: Treatment
    steps: tuple[tuple[str, str, str], ...]  # (who, branch condition, what)
    # Whose settings, besides the called person's, shaped the treatment (a forward that
    # lands in a colleague's voicemail depends on theirs): what a kept answer depends on.
    consulted: frozenset[str] = frozenset()

    @property
    def trace(self) -> tuple[str, ...]:
        """The decision explained, one line a step: "1002: busy forwarding to 1003 (Ann)"."""
        return tuple(f"{who}: {condition}{what}" for who, condition, what in self.steps)


DEFAULT_POLICY = Policy()
