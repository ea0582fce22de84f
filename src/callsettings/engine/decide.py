"""The order of evaluation: one compiled decision for one incoming call.

1. DND -> busy treatment.  2. Always -> forward.  3. Voicemail send-all -> voicemail.
4. Not reachable -> business continuity, else unavailable voicemail, else 480.
5. Busy (in a call, call waiting off) -> busy forward, else busy voicemail, else 486.
6. Ring for the ring budget, with the busy, no-answer and unreachable branches compiled in.
"""

from __future__ import annotations

from collections.abc import Callable

from callsettings.engine.model import (
    DEFAULT_POLICY,
    Call,
    Decision,
    Forward,
    Greeting,
    Policy,
    Presence,
    Reason,
    Reject,
    Ring,
    Subscriber,
    Treatment,
    VoicemailDrop,
)
from callsettings.settings.forwarding import (
    AlwaysRule,
    BusinessContinuityRule,
    BusyRule,
    NoAnswerRule,
)

Lookup = Callable[[str], "Subscriber | None"]
Rule = AlwaysRule | BusyRule | NoAnswerRule | BusinessContinuityRule
Step = tuple[str, str, str]


class _Trace:
    """Collects the steps of a decision; a branch's steps carry the branch's condition.

    Steps are kept as parts and joined only when someone reads the trace: a proxy asking
    for a decision rarely does, and formatting was a third of the cost of a decision.
    """

    __slots__ = ("consulted", "prefix", "steps")

    def __init__(
        self, steps: list[Step] | None = None, prefix: str = "", consulted: set[str] | None = None
    ) -> None:
        self.steps: list[Step] = [] if steps is None else steps
        self.prefix = prefix
        self.consulted: set[str] = set() if consulted is None else consulted

    def __call__(self, who: str, what: str) -> None:
        self.steps.append((who, self.prefix, what))

    def branch(self, condition: str) -> _Trace:
        return _Trace(self.steps, self.prefix + condition, self.consulted)


def decide(
    call: Call,
    served: Subscriber,
    presence: Presence | None,
    lookup: Lookup,
    policy: Policy = DEFAULT_POLICY,
) -> Decision:
    """Return what to do with `call` to `served`, and why.

    `presence` None means the caller of the engine does not know it (a proxy before it
    rings): the answer is then a Ring whose branches cover every outcome.
    """
    trace = _Trace()
    treatment = _evaluate(call, served, presence, lookup, policy, trace)
    return Decision(treatment, tuple(trace.steps), frozenset(trace.consulted))


def _evaluate(
    call: Call,
    served: Subscriber,
    presence: Presence | None,
    lookup: Lookup,
    policy: Policy,
    trace: _Trace,
) -> Treatment:
    if served.dnd.enabled:
        trace(_who(served), "DND is on: busy treatment")
        return _busy_mailbox_or_reject(served, trace, Reason.DO_NOT_DISTURB)
    trace(_who(served), "DND is off")
    always = served.forwarding.call_forwarding.always
    forwarded = _by_rule(call, served, always, Reason.UNCONDITIONAL, lookup, policy, trace)
    if forwarded is not None:
        return forwarded
    vm = served.voicemail
    if vm.enabled and vm.send_all_calls.enabled:
        trace(_who(served), "voicemail takes every call")
        return VoicemailDrop(served.id, Greeting.UNAVAILABLE)
    if presence is Presence.UNREGISTERED:
        trace(_who(served), "no device is registered")
        return _unreachable(call, served, lookup, policy, trace)
    if presence is Presence.IN_CALL and not served.call_waiting.enabled:
        trace(_who(served), "in a call and call waiting is off")
        return _busy(call, served, lookup, policy, trace)
    return _ring(call, served, lookup, policy, trace)


def _who(person: Subscriber) -> str:
    return person.extension or person.id


def _busy_mailbox_or_reject(served: Subscriber, trace: _Trace, reason: Reason) -> Treatment:
    vm = served.voicemail
    if vm.enabled and vm.send_busy_calls.enabled:
        trace(_who(served), "busy, to voicemail")
        return VoicemailDrop(served.id, Greeting.BUSY)
    trace(_who(served), "busy, no busy voicemail: 486")
    return Reject(486, reason.value)


def _by_rule(
    call: Call,
    served: Subscriber,
    rule: Rule,
    reason: Reason,
    lookup: Lookup,
    policy: Policy,
    trace: _Trace,
) -> Treatment | None:
    """The forward a rule asks for, or None when it is off or must not be taken."""
    if not (rule.enabled and isinstance(rule.destination, str)):
        return None
    return _forward(
        call,
        served,
        rule.destination,
        reason,
        rule.destination_voicemail_enabled,
        lookup,
        policy,
        trace,
    )


def _busy(
    call: Call, served: Subscriber, lookup: Lookup, policy: Policy, trace: _Trace
) -> Treatment:
    rule = served.forwarding.call_forwarding.busy
    forwarded = _by_rule(call, served, rule, Reason.USER_BUSY, lookup, policy, trace)
    return forwarded or _busy_mailbox_or_reject(served, trace, Reason.USER_BUSY)


def _no_answer(
    call: Call, served: Subscriber, lookup: Lookup, policy: Policy, trace: _Trace
) -> Treatment:
    rule = served.forwarding.call_forwarding.no_answer
    forwarded = _by_rule(call, served, rule, Reason.NO_ANSWER, lookup, policy, trace)
    return forwarded or _unanswered_mailbox_or_reject(served, trace, "no answer")


def _unreachable(
    call: Call, served: Subscriber, lookup: Lookup, policy: Policy, trace: _Trace
) -> Treatment:
    rule = served.forwarding.business_continuity
    forwarded = _by_rule(call, served, rule, Reason.UNAVAILABLE, lookup, policy, trace)
    return forwarded or _unanswered_mailbox_or_reject(served, trace, "not reachable")


def _unanswered_mailbox_or_reject(served: Subscriber, trace: _Trace, why: str) -> Treatment:
    vm = served.voicemail
    if vm.enabled and vm.send_unanswered_calls.enabled:
        trace(_who(served), why + ", to voicemail")
        return VoicemailDrop(served.id, Greeting.UNAVAILABLE)
    trace(_who(served), why + ", no voicemail: 480")
    return Reject(480, "temporarily unavailable")


def ring_budget_ms(served: Subscriber, policy: Policy) -> int:
    """Rings times the organization's ring length, from the rule that ends the ringing."""
    no_answer = served.forwarding.call_forwarding.no_answer
    vm = served.voicemail
    if no_answer.enabled and isinstance(no_answer.destination, str):
        rings = no_answer.number_of_rings
    elif vm.enabled and vm.send_unanswered_calls.enabled:
        rings = vm.send_unanswered_calls.number_of_rings
    else:
        rings = policy.max_rings
    return rings * policy.ring_ms


def _ring(call: Call, served: Subscriber, lookup: Lookup, policy: Policy, trace: _Trace) -> Ring:
    budget = ring_budget_ms(served, policy)
    trace(_who(served), f"ring for {budget // 1000} s")
    return Ring(
        ring_ms=budget,
        on_busy=_busy(call, served, lookup, policy, trace.branch("if busy: ")),
        on_no_answer=_no_answer(call, served, lookup, policy, trace.branch("if no answer: ")),
        on_unreachable=_unreachable(call, served, lookup, policy, trace.branch("if unreachable: ")),
        ring_splash=served.forwarding.call_forwarding.always.ring_reminder_enabled,
    )


def _forward(
    call: Call,
    served: Subscriber,
    destination: str,
    reason: Reason,
    to_voicemail: bool,
    lookup: Lookup,
    policy: Policy,
    trace: _Trace,
) -> Treatment | None:
    """Return the forward to `destination`, or None when it must not happen."""
    target = lookup(destination)
    name = f"{destination} ({target.name})" if target else destination
    if target is not None and target.id == served.id:
        trace(_who(served), f"ignoring {reason.value} forwarding to themself")
        return None
    visited = {d.by for d in call.history} | {served.id}
    if target is not None and target.id in visited:
        trace(_who(served), f"{reason.value} forwarding to {name} would loop back: not taken")
        return _last_resort(served, reason, trace)
    if len(call.history) >= policy.diversion_cap:
        trace(_who(served), f"diversion cap {policy.diversion_cap} reached")
        return _last_resort(served, reason, trace)
    trace(_who(served), f"{reason.value} forwarding to {name}")
    if target is not None and to_voicemail:
        trace.consulted.add(target.id)  # whether it lands in their voicemail is theirs to say
    if target is not None and to_voicemail and target.voicemail.enabled:
        trace(name, "lands in their voicemail")
        greeting = Greeting.BUSY if reason is Reason.USER_BUSY else Greeting.UNAVAILABLE
        return VoicemailDrop(target.id, greeting)
    return Forward(
        destination, reason, len(call.history) + 1, None if target is None else target.id
    )


def _last_resort(served: Subscriber, reason: Reason, trace: _Trace) -> Treatment:
    """The diverting person's own voicemail, else a busy reply."""
    if served.voicemail.enabled:
        greeting = Greeting.BUSY if reason is Reason.USER_BUSY else Greeting.UNAVAILABLE
        trace(_who(served), "to their own voicemail instead")
        return VoicemailDrop(served.id, greeting)
    trace(_who(served), "no voicemail: 486")
    return Reject(486, "too many diversions")
