"""The JSON form of a treatment, as the decision API sends it to proxies."""

from __future__ import annotations

from typing import Any

from callsettings.engine.model import Forward, Reject, Treatment, VoicemailDrop


def treatment_to_json(treatment: Treatment) -> dict[str, Any]:
    """Return a JSON-ready dict; a ring nests its three branches."""
    if isinstance(treatment, Reject):
        return {"action": "reject", "code": treatment.code, "reason": treatment.reason}
    if isinstance(treatment, Forward):
        return {
            "action": "forward",
            "target": treatment.target,
            "reason": treatment.reason.value,
            "counter": treatment.counter,
            "internal": treatment.person_id is not None,
        }
    if isinstance(treatment, VoicemailDrop):
        return {
            "action": "voicemail",
            "mailbox": treatment.mailbox,
            "greeting": treatment.greeting.value,
        }
    return {
        "action": "ring",
        "ringMs": treatment.ring_ms,
        "ringSplash": treatment.ring_splash,
        "onBusy": treatment_to_json(treatment.on_busy),
        "onNoAnswer": treatment_to_json(treatment.on_no_answer),
        "onUnreachable": treatment_to_json(treatment.on_unreachable),
    }
