"""A kept answer is its treatment without the called person: the same bytes, rebuilt."""

from __future__ import annotations

import msgspec
import pytest

from callsettings.engine import Call, Decision, Subscriber, decide, treatment_to_json
from callsettings.server.webex.treatment import answer_from_shape, answer_shape, encode_answer
from tests.engine.people import always, busy, person


def treatment_json(decision: Decision) -> bytes:
    return msgspec.json.encode(treatment_to_json(decision.treatment))


COLLEAGUE = person("2002", vm={"enabled": True}, name='Bo "the" Colleague')
DIRECTORY = {"2002": COLLEAGUE}


@pytest.mark.parametrize(
    "served",
    [
        person("1001"),
        person("1001", vm={"enabled": True}),
        person("1001", dnd=True, vm={"enabled": True}),
        person("1001", fwd=busy("2002"), vm={"enabled": True}),
        person("1001", fwd=always("2002", vm=True)),  # the colleague's mailbox, not theirs
        person("1001", fwd=always("+15550100")),
        person("1001", name="Ann \\ Ünïcode \u0000"),
    ],
)
def test_an_answer_rebuilt_from_its_shape_is_the_encoded_answer(served: Subscriber) -> None:
    decision = decide(Call("1001", None, ()), served, None, DIRECTORY.get)
    shape = answer_shape(served, decision)
    assert served.id.encode() not in shape
    rebuilt = answer_from_shape(served.id, served.name, served.extension, shape)
    assert rebuilt == encode_answer(served, decision, 0, explain=False)


def test_people_with_the_same_settings_share_a_shape() -> None:
    shapes: set[bytes] = set()
    for ext in ("1001", "1003", "1004"):
        served = person(ext, vm={"enabled": True})
        shapes.add(answer_shape(served, decide(Call(ext, None, ()), served, None, DIRECTORY.get)))
    assert len(shapes) == 1


def test_another_persons_mailbox_stays_named() -> None:
    served = person("1001", fwd=always("2002", vm=True))
    shape = answer_shape(served, decide(Call("1001", None, ()), served, None, DIRECTORY.get))
    assert COLLEAGUE.id.encode() in shape


def test_a_shape_naming_a_forward_target_is_its_persons_alone_and_packed_small() -> None:
    served = person("1001", fwd=busy("2002"), vm={"enabled": True})
    decision = decide(Call("1001", None, ()), served, None, DIRECTORY.get)
    shape = answer_shape(served, decision)
    assert len(shape) < len(treatment_json(decision)) / 3
