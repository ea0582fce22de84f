"""The Python SDK: the JS Calling SDK's CallSettingsClient, sync and async.

It depends on the settings domain only, never on the server or storage, and never reads
environment variables.
"""

from __future__ import annotations

from callsettings.sdk.backends import BackendName, BackendNotIdentified, choose_backend
from callsettings.sdk.client import AsyncCallSettingsClient, CallSettingsClient
from callsettings.sdk.models import (
    AlwaysRule,
    CallForwardAlwaysSetting,
    CallForwarding,
    CallForwardSetting,
    CallWaiting,
    DoNotDisturb,
    Voicemail,
    VoicemailSetting,
)
from callsettings.sdk.response import (
    FAILURE,
    SUCCESS,
    CallSettingResponse,
    CallSettingsError,
    error_text,
)
from callsettings.sdk.retry import NO_RETRY, RetryPolicy

__all__ = [
    "FAILURE",
    "NO_RETRY",
    "SUCCESS",
    "AlwaysRule",
    "AsyncCallSettingsClient",
    "BackendName",
    "BackendNotIdentified",
    "CallForwardAlwaysSetting",
    "CallForwardSetting",
    "CallForwarding",
    "CallSettingResponse",
    "CallSettingsClient",
    "CallSettingsError",
    "CallWaiting",
    "DoNotDisturb",
    "RetryPolicy",
    "Voicemail",
    "VoicemailSetting",
    "choose_backend",
    "error_text",
]
