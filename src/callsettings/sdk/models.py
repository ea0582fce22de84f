"""Typed settings: the msgspec models of the settings domain, with camelCase wire names.

Attributes are snake_case (``call_forwarding.no_answer.number_of_rings``); on the wire and
in ``CallSettingResponse.to_dict()`` they are camelCase (``numberOfRings``).
"""

from __future__ import annotations

from callsettings.settings.forwarding import (
    AlwaysRule,
    BusinessContinuityRule,
    BusyRule,
    CallForwarding,
    ForwardingRules,
    NoAnswerRule,
)
from callsettings.settings.toggles import CallWaiting, DoNotDisturb
from callsettings.settings.voicemail import Voicemail

# The JS SDK's names for the same shapes.
CallForwardSetting = CallForwarding
CallForwardAlwaysSetting = AlwaysRule
VoicemailSetting = Voicemail

__all__ = [
    "AlwaysRule",
    "BusinessContinuityRule",
    "BusyRule",
    "CallForwardAlwaysSetting",
    "CallForwardSetting",
    "CallForwarding",
    "CallWaiting",
    "DoNotDisturb",
    "ForwardingRules",
    "NoAnswerRule",
    "Voicemail",
    "VoicemailSetting",
]
