"""The settings domain: wire models of each feature and their rules. No I/O."""

from __future__ import annotations

from callsettings.settings.documents import apply_patch, convert, merge_patch, to_builtins
from callsettings.settings.errors import ForwardingLoop, InvalidSetting, SettingsError
from callsettings.settings.forwarding import CallForwarding, Owner, validate_forwarding
from callsettings.settings.toggles import CallWaiting, DoNotDisturb
from callsettings.settings.voicemail import Mailbox, Voicemail, validate_voicemail

__all__ = [
    "CallForwarding",
    "CallWaiting",
    "DoNotDisturb",
    "ForwardingLoop",
    "InvalidSetting",
    "Mailbox",
    "Owner",
    "SettingsError",
    "Voicemail",
    "apply_patch",
    "convert",
    "merge_patch",
    "to_builtins",
    "validate_forwarding",
    "validate_voicemail",
]
