"""Properties that hold for any settings of any number of people."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from callsettings.engine import Call, Forward, Policy, Presence, Reason, follow
from tests.engine.people import VM_ALL, person

EXTENSIONS = [f"{1000 + i}" for i in range(8)]


@st.composite
def organizations(draw: st.DrawFn) -> tuple[list, dict]:  # type: ignore[type-arg]
    size = draw(st.integers(min_value=1, max_value=len(EXTENSIONS)))
    exts = EXTENSIONS[:size]
    destination = st.sampled_from([*exts, "+14085550199"])
    people = []
    for ext in exts:
        rules = {}
        for rule in ("always", "busy", "noAnswer"):
            if draw(st.booleans()):
                rules[rule] = {
                    "enabled": True,
                    "destination": draw(destination),
                    "destinationVoicemailEnabled": draw(st.booleans()),
                }
        fwd: dict = {"callForwarding": rules}  # type: ignore[type-arg]
        if draw(st.booleans()):
            fwd["businessContinuity"] = {"enabled": True, "destination": draw(destination)}
        people.append(
            person(
                ext,
                fwd=fwd,
                dnd=draw(st.booleans()) and draw(st.booleans()),
                cw=draw(st.booleans()),
                vm=VM_ALL if draw(st.booleans()) else None,
            )
        )
    states = {ext: draw(st.sampled_from(list(Presence))) for ext in exts}
    return people, states


@settings(max_examples=300, deadline=None)
@given(organizations(), st.integers(min_value=1, max_value=6))
def test_every_chain_ends_within_the_cap_and_never_revisits(org: tuple, cap: int) -> None:  # type: ignore[type-arg]
    people, states = org
    index = {p.extension: p for p in people}
    decisions = 0

    def lookup(dialled: str):  # type: ignore[no-untyped-def]
        nonlocal decisions
        decisions += 1
        return index.get(dialled)

    outcome = follow(
        Call(people[0].extension),
        people[0],
        lambda p: states[p.extension],
        lookup,
        Policy(diversion_cap=cap),
    )
    assert len(outcome.path) <= cap + 1
    assert len(set(outcome.path)) == len(outcome.path)  # nobody is visited twice
    # Each decision looks up at most four destinations (always, busy, no answer, continuity).
    assert decisions <= 4 * (cap + 1)
    if isinstance(outcome.treatment, Forward):
        assert outcome.treatment.counter <= cap
        assert outcome.treatment.target != people[0].extension or len(outcome.path) > 1


@settings(max_examples=200, deadline=None)
@given(organizations())
def test_nobody_is_forwarded_to_themself(org: tuple) -> None:  # type: ignore[type-arg]
    from callsettings.engine import decide

    people, states = org
    index = {p.extension: p for p in people}
    for p in people:
        decision = decide(Call(p.extension), p, states[p.extension], index.get)
        for branch in _branches(decision.treatment):
            if isinstance(branch, Forward):
                assert branch.person_id != p.id
                assert branch.reason in Reason


def _branches(treatment):  # type: ignore[no-untyped-def]
    from callsettings.engine import Ring

    if isinstance(treatment, Ring):
        yield treatment
        for branch in (treatment.on_busy, treatment.on_no_answer, treatment.on_unreachable):
            yield from _branches(branch)
    else:
        yield treatment
