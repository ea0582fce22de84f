"""Call treatment: pure functions from settings and call state to a decision. No I/O."""

from __future__ import annotations

from callsettings.engine.decide import Lookup, decide, ring_budget_ms
from callsettings.engine.follow import Outcome, follow, resolve
from callsettings.engine.loops import unconditional_cycle
from callsettings.engine.model import (
    Call,
    Decision,
    Diversion,
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
from callsettings.engine.wire import treatment_to_json

__all__ = [
    "Call",
    "Decision",
    "Diversion",
    "Forward",
    "Greeting",
    "Lookup",
    "Outcome",
    "Policy",
    "Presence",
    "Reason",
    "Reject",
    "Ring",
    "Subscriber",
    "Treatment",
    "VoicemailDrop",
    "decide",
    "follow",
    "resolve",
    "ring_budget_ms",
    "treatment_to_json",
    "unconditional_cycle",
]
