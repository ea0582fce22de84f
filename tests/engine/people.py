"""Building subscribers for engine tests from the same partial documents the API takes."""

from __future__ import annotations

from typing import Any

from callsettings.engine import Subscriber
from callsettings.settings import CallForwarding, CallWaiting, DoNotDisturb, Voicemail, apply_patch


def person(
    ext: str,
    *,
    fwd: dict[str, Any] | None = None,
    dnd: bool = False,
    cw: bool = True,
    vm: dict[str, Any] | None = None,
    name: str | None = None,
) -> Subscriber:
    return Subscriber(
        id=f"id-{ext}",
        name=name or f"Person {ext}",
        extension=ext,
        numbers=frozenset({f"+1212555{ext}"}),
        forwarding=apply_patch(CallForwarding(), fwd or {}),
        dnd=DoNotDisturb(enabled=dnd),
        call_waiting=CallWaiting(enabled=cw),
        voicemail=apply_patch(Voicemail(), vm or {}),
    )


def always(dest: str, vm: bool = False) -> dict[str, Any]:
    return {
        "callForwarding": {
            "always": {"enabled": True, "destination": dest, "destinationVoicemailEnabled": vm}
        }
    }


def busy(dest: str, vm: bool = False) -> dict[str, Any]:
    return {
        "callForwarding": {
            "busy": {"enabled": True, "destination": dest, "destinationVoicemailEnabled": vm}
        }
    }


def no_answer(dest: str, rings: int = 3, vm: bool = False) -> dict[str, Any]:
    return {
        "callForwarding": {
            "noAnswer": {
                "enabled": True,
                "destination": dest,
                "numberOfRings": rings,
                "destinationVoicemailEnabled": vm,
            }
        }
    }


def continuity(dest: str) -> dict[str, Any]:
    return {"businessContinuity": {"enabled": True, "destination": dest}}


VM_ALL = {
    "enabled": True,
    "sendBusyCalls": {"enabled": True},
    "sendUnansweredCalls": {"enabled": True, "numberOfRings": 4},
}


def directory(*people: Subscriber) -> Any:
    index = {}
    for p in people:
        index[p.extension] = p
        for n in p.numbers:
            index[n] = p
    return index.get
