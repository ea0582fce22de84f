"""Every row of call-treatment.md and every branch of the order of evaluation."""

from __future__ import annotations

import pytest

from callsettings.engine import (
    Call,
    Forward,
    Greeting,
    Policy,
    Presence,
    Reason,
    Reject,
    Ring,
    VoicemailDrop,
    decide,
    follow,
    resolve,
    ring_budget_ms,
    treatment_to_json,
)
from tests.engine.people import VM_ALL, always, busy, continuity, directory, no_answer, person

A = person("1001", name="Ann Lee")
C = person("1003", name="Cat Cole")
C_VM = person("1003", name="Cat Cole", vm=VM_ALL)
D = person("1004", name="Dan Dee")


DEFAULT_POLICY = Policy()


def decide_for(b, presence, *others, policy=DEFAULT_POLICY):  # type: ignore[no-untyped-def]
    return decide(Call(b.extension, A.extension), b, presence, directory(A, b, *others), policy)


# The scenario table of call-treatment.md, in order.
def test_idle_with_no_settings_rings_and_is_answered() -> None:
    b = person("1002")
    decision = decide_for(b, Presence.IDLE)
    assert isinstance(decision.treatment, Ring)
    outcome = follow(Call("1002"), b, lambda p: Presence.IDLE, directory(b))
    assert (outcome.ended, outcome.person) == ("answered", b)


@pytest.mark.parametrize("presence", list(Presence))
def test_always_forwards_without_ringing_in_any_state(presence: Presence) -> None:
    b = person("1002", fwd=always("1003"))
    treatment = decide_for(b, presence, C).treatment
    assert treatment == Forward("1003", Reason.UNCONDITIONAL, 1, C.id)


def test_device_486_with_busy_forward_goes_to_the_busy_destination() -> None:
    b = person("1002", fwd=busy("1003"))
    ring = decide_for(b, Presence.BUSY, C).treatment
    assert isinstance(ring, Ring)
    assert resolve(ring, Presence.BUSY) == Forward("1003", Reason.USER_BUSY, 1, C.id)


def test_in_a_call_without_call_waiting_or_busy_voicemail_is_486() -> None:
    b = person("1002", cw=False)
    assert decide_for(b, Presence.IN_CALL).treatment == Reject(486, "user-busy")


def test_no_answer_forward_after_its_rings() -> None:
    b = person("1002", fwd=no_answer("1003", rings=3))
    ring = decide_for(b, Presence.NO_REPLY, C).treatment
    assert isinstance(ring, Ring)
    assert ring.ring_ms == 3 * 6_000
    assert ring.on_no_answer == Forward("1003", Reason.NO_ANSWER, 1, C.id)


def test_unregistered_with_business_continuity_forwards_at_once() -> None:
    b = person("1002", fwd=continuity("1003"))
    assert decide_for(b, Presence.UNREGISTERED, C).treatment == Forward(
        "1003", Reason.UNAVAILABLE, 1, C.id
    )


def test_dnd_wins_over_always_and_c_never_rings() -> None:
    b = person("1002", dnd=True, fwd=always("1003"))
    decision = decide_for(b, Presence.IDLE, C)
    assert decision.treatment == Reject(486, "do-not-disturb")
    assert decision.trace[0] == "1002: DND is on: busy treatment"


def test_busy_forward_with_destination_voicemail_lands_in_cs_voicemail() -> None:
    b = person("1002", fwd=busy("1003", vm=True))
    ring = decide_for(b, Presence.BUSY, C_VM).treatment
    assert isinstance(ring, Ring)
    assert ring.on_busy == VoicemailDrop(C_VM.id, Greeting.BUSY)


# Every branch of the order of evaluation.
BRANCHES = [
    (
        "dnd with busy voicemail",
        {"dnd": True, "vm": VM_ALL},
        Presence.IDLE,
        VoicemailDrop("id-1002", Greeting.BUSY),
    ),
    (
        "send all calls",
        {"vm": {**VM_ALL, "sendAllCalls": {"enabled": True}}},
        Presence.IDLE,
        VoicemailDrop("id-1002", Greeting.UNAVAILABLE),
    ),
    (
        "unregistered, unanswered voicemail",
        {"vm": VM_ALL},
        Presence.UNREGISTERED,
        VoicemailDrop("id-1002", Greeting.UNAVAILABLE),
    ),
    ("unregistered, nothing", {}, Presence.UNREGISTERED, Reject(480, "temporarily unavailable")),
    (
        "in call, busy forward",
        {"cw": False, "fwd": busy("1003")},
        Presence.IN_CALL,
        Forward("1003", Reason.USER_BUSY, 1, "id-1003"),
    ),
    (
        "in call, busy voicemail",
        {"cw": False, "vm": VM_ALL},
        Presence.IN_CALL,
        VoicemailDrop("id-1002", Greeting.BUSY),
    ),
    (
        "external always",
        {"fwd": always("+14085550199")},
        Presence.IDLE,
        Forward("+14085550199", Reason.UNCONDITIONAL, 1, None),
    ),
    (
        "always with destination voicemail",
        {"fwd": always("1003", vm=True)},
        Presence.IDLE,
        VoicemailDrop("id-1003", Greeting.UNAVAILABLE),
    ),
]


@pytest.mark.parametrize(
    ("_name", "settings", "presence", "expected"), BRANCHES, ids=[b[0] for b in BRANCHES]
)
def test_order_of_evaluation(
    _name: str,
    settings: dict,
    presence: Presence,  # type: ignore[type-arg]
    expected: object,
) -> None:
    b = person("1002", **settings)
    assert decide_for(b, presence, C_VM).treatment == expected


def test_in_a_call_with_call_waiting_on_rings() -> None:
    b = person("1002", cw=True)
    assert isinstance(decide_for(b, Presence.IN_CALL).treatment, Ring)


def test_destination_voicemail_to_a_person_without_voicemail_rings_them() -> None:
    b = person("1002", fwd=always("1003", vm=True))
    assert decide_for(b, Presence.IDLE, C).treatment == Forward(
        "1003", Reason.UNCONDITIONAL, 1, C.id
    )


@pytest.mark.parametrize(
    ("settings", "rings"),
    [
        ({"fwd": no_answer("1003", rings=5), "vm": VM_ALL}, 5),
        ({"vm": VM_ALL}, 4),
        ({}, 20),
    ],
)
def test_ring_budget_is_rings_times_the_org_ring_length(settings: dict, rings: int) -> None:  # type: ignore[type-arg]
    b = person("1002", **settings)
    assert ring_budget_ms(b, Policy(ring_ms=5_000)) == rings * 5_000


def test_ring_branches_compile_every_outcome() -> None:
    b = person("1002", fwd={**busy("1003"), **continuity("+14085550199")}, vm=VM_ALL)
    b = person(
        "1002",
        fwd={"callForwarding": busy("1003")["callForwarding"], **continuity("+14085550199")},
        vm=VM_ALL,
    )
    ring = decide_for(b, None, C).treatment
    assert isinstance(ring, Ring)
    assert ring.on_busy == Forward("1003", Reason.USER_BUSY, 1, C.id)
    assert ring.on_no_answer == VoicemailDrop(b.id, Greeting.UNAVAILABLE)
    assert ring.on_unreachable == Forward("+14085550199", Reason.UNAVAILABLE, 1, None)
    assert resolve(ring, Presence.UNREACHABLE) == ring.on_unreachable
    assert resolve(ring, Presence.IDLE) is None
    assert treatment_to_json(ring) == {
        "action": "ring",
        "ringMs": 24_000,
        "ringSplash": False,
        "onBusy": {
            "action": "forward",
            "target": "1003",
            "reason": "user-busy",
            "counter": 1,
            "internal": True,
        },
        "onNoAnswer": {"action": "voicemail", "mailbox": "id-1002", "greeting": "unavailable"},
        "onUnreachable": {
            "action": "forward",
            "target": "+14085550199",
            "reason": "unavailable",
            "counter": 1,
            "internal": False,
        },
    }


def test_no_answer_without_any_fallback_is_480() -> None:
    ring = decide_for(person("1002"), None).treatment
    assert isinstance(ring, Ring)
    assert ring.on_no_answer == Reject(480, "temporarily unavailable")
    assert ring.on_busy == Reject(486, "user-busy")


def test_the_trace_explains_the_decision() -> None:
    b = person("1002", fwd=always("1003"))
    trace = decide_for(b, Presence.IDLE, C).trace
    assert trace == ("1002: DND is off", "1002: unconditional forwarding to 1003 (Cat Cole)")


def test_a_forward_to_oneself_is_ignored_and_never_reaches_the_own_mailbox() -> None:
    b = person("1002", fwd=always("1002"), vm=VM_ALL)
    decision = decide_for(b, Presence.IDLE)
    assert isinstance(decision.treatment, Ring)
    assert "ignoring unconditional forwarding to themself" in decision.trace[1]


def test_the_diversion_cap_gives_the_last_divertings_voicemail_or_486() -> None:
    from callsettings.engine import Diversion

    history = tuple(Diversion(f"other-{i}", Reason.UNCONDITIONAL) for i in range(5))
    with_vm = person("1002", fwd=always("1003"), vm=VM_ALL)
    without = person("1002", fwd=always("1003"))
    for b, expected in (
        (with_vm, VoicemailDrop(with_vm.id, Greeting.UNAVAILABLE)),
        (without, Reject(486, "too many diversions")),
    ):
        decision = decide(Call("1002", None, history), b, Presence.IDLE, directory(b, C))
        assert decision.treatment == expected
        assert any("diversion cap 5 reached" in step for step in decision.trace)


def test_a_forward_back_to_someone_already_on_the_path_is_not_taken() -> None:
    from callsettings.engine import Diversion

    b = person("1002", fwd=busy("1001"), cw=False, vm=VM_ALL)
    call = Call("1002", None, (Diversion(A.id, Reason.NO_ANSWER),))
    decision = decide(call, b, Presence.IN_CALL, directory(A, b))
    assert decision.treatment == VoicemailDrop(b.id, Greeting.BUSY)
    assert any("would loop back" in step for step in decision.trace)


def test_a_loop_back_without_voicemail_is_486() -> None:
    from callsettings.engine import Diversion

    b = person("1002", fwd=always("1001"))
    call = Call("1002", None, (Diversion(A.id, Reason.UNCONDITIONAL),))
    assert decide(call, b, Presence.IDLE, directory(A, b)).treatment == Reject(
        486, "too many diversions"
    )


def test_every_treatment_has_a_json_form() -> None:
    assert treatment_to_json(Reject(486, "user-busy")) == {
        "action": "reject",
        "code": 486,
        "reason": "user-busy",
    }
    assert treatment_to_json(VoicemailDrop("id-1", Greeting.BUSY)) == {
        "action": "voicemail",
        "mailbox": "id-1",
        "greeting": "busy",
    }
    assert treatment_to_json(Forward("1003", Reason.NO_ANSWER, 2, None))["internal"] is False


# What a kept answer depends on besides the called person: whose settings were read.
@pytest.mark.parametrize(
    ("fwd", "presence", "consulted"),
    [
        ({}, None, set()),
        (always("1003"), None, set()),  # where the call goes is the rule's own: 1003 is named
        (always("1003", vm=True), None, {C_VM.id}),  # whether it lands in their voicemail
        (always("+15550100", vm=True), None, set()),  # outside: nobody's settings to read
        (busy("1003", vm=True), None, {C_VM.id}),  # a ring's branch counts too
        (busy("1003", vm=True), Presence.IDLE, {C_VM.id}),
        (no_answer("1003", vm=True), Presence.UNREGISTERED, set()),  # branch not taken
    ],
)
def test_a_decision_names_whose_settings_shaped_it(
    fwd: dict[str, object], presence: Presence | None, consulted: set[str]
) -> None:
    b = person("1002", fwd=fwd, vm={"enabled": True})
    assert decide_for(b, presence, C_VM).consulted == consulted
