"""Calls played out through several people, and the write-time cycle check."""

from __future__ import annotations

from callsettings.engine import (
    Call,
    Forward,
    Policy,
    Presence,
    Reason,
    VoicemailDrop,
    follow,
    unconditional_cycle,
)
from tests.engine.people import VM_ALL, always, busy, directory, no_answer, person


def test_a_chain_across_three_people_ends_where_the_settings_say() -> None:
    a = person("1001", fwd=always("1002"), name="Ann Lee")
    b = person("1002", fwd=busy("1003"), cw=False, name="Bob Bell")
    c = person("1003", fwd=no_answer("1004", rings=2), name="Cat Cole")
    d = person("1004", vm=VM_ALL, name="Dan Dee")
    states = {"1002": Presence.IN_CALL, "1003": Presence.NO_REPLY, "1004": Presence.IDLE}
    outcome = follow(
        Call("1001"), a, lambda p: states.get(p.extension, Presence.IDLE), directory(a, b, c, d)
    )
    assert outcome.ended == "answered"
    assert outcome.person == d
    assert outcome.path == (
        "1001 (Ann Lee)",
        "1002 (Bob Bell)",
        "1003 (Cat Cole)",
        "1004 (Dan Dee)",
    )
    assert "1002: user-busy forwarding to 1003 (Cat Cole)" in outcome.trace
    assert "1003: if no answer: no-answer forwarding to 1004 (Dan Dee)" in outcome.trace


def test_a_chain_ends_in_another_persons_voicemail() -> None:
    a = person("1001", fwd=always("1002"))
    b = person("1002", fwd=always("1003", vm=True))
    c = person("1003", vm=VM_ALL)
    outcome = follow(Call("1001"), a, lambda p: Presence.IDLE, directory(a, b, c))
    assert outcome.ended == "voicemail"
    assert outcome.treatment == VoicemailDrop(c.id, outcome.treatment.greeting)  # type: ignore[union-attr]


def test_the_cap_stops_a_long_chain() -> None:
    people = [person(f"{1001 + i}", fwd=always(f"{1002 + i}")) for i in range(8)]
    people.append(person("1009"))
    outcome = follow(
        Call("1001"),
        people[0],
        lambda p: Presence.IDLE,
        directory(*people),
        Policy(diversion_cap=3),
    )
    assert outcome.ended == "rejected"
    assert len(outcome.path) == 4
    assert any("diversion cap 3 reached" in step for step in outcome.trace)


def test_an_external_forward_ends_the_chain() -> None:
    a = person("1001", fwd=always("+14085550199"))
    outcome = follow(Call("1001"), a, lambda p: Presence.IDLE, directory(a))
    assert outcome.ended == "external"
    assert outcome.treatment == Forward("+14085550199", Reason.UNCONDITIONAL, 1, None)


def test_an_unregistered_person_without_fallback_rejects() -> None:
    a = person("1001")
    outcome = follow(Call("1001"), a, lambda p: Presence.UNREGISTERED, directory(a))
    assert outcome.ended == "rejected"
    assert outcome.trace[-1] == "rejected with 480"


def test_a_ring_that_is_busy_follows_the_busy_branch() -> None:
    a = person("1001", fwd=busy("1002"))
    b = person("1002", vm=VM_ALL)
    states = {"1001": Presence.BUSY, "1002": Presence.UNREACHABLE}
    outcome = follow(Call("1001"), a, lambda p: states[p.extension], directory(a, b))
    assert outcome.ended == "voicemail"
    assert outcome.person == b


def test_cycle_check_names_the_cycle_it_would_close() -> None:
    a = person("1001", fwd=always("1002"), name="Ann Lee")
    b = person("1002", fwd=always("+12125551003"), name="Bob Bell")
    c = person("1003", fwd=always("1001"), name="Cat Cole")
    assert unconditional_cycle(a, directory(a, b, c)) == [
        "1001 (Ann Lee)",
        "1002 (Bob Bell)",
        "1003 (Cat Cole)",
        "1001 (Ann Lee)",
    ]


def test_cycle_check_passes_chains_that_end_or_leave() -> None:
    a = person("1001", fwd=always("1002"))
    b = person("1002", fwd=always("+14085550199"))
    assert unconditional_cycle(a, directory(a, b)) is None
    assert unconditional_cycle(person("1001"), directory()) is None


def test_cycle_check_ignores_an_existing_cycle_among_others() -> None:
    a = person("1001", fwd=always("1002"))
    b = person("1002", fwd=always("1003"))
    c = person("1003", fwd=always("1002"))
    assert unconditional_cycle(a, directory(a, b, c)) is None


def test_cycle_check_is_bounded() -> None:
    import callsettings.engine.loops as loops

    chain = [person(f"{2000 + i}", fwd=always(f"{2001 + i}")) for i in range(loops.MAX_HOPS + 5)]
    assert unconditional_cycle(chain[0], directory(*chain)) is None
