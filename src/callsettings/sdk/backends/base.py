"""What every backend shares: whose settings, how requests are built, and the defaults.

A backend turns each CallSettingsClient method into a sans-I/O flow (see ``sdk/flow.py``).
Methods a backend cannot serve answer 501 without a request, as the JS SDK's UCM
connector does.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any, ClassVar, TypeVar

import httpx
import msgspec

from callsettings.sdk.flow import Flow, flow, new_tracking_id, succeeded
from callsettings.sdk.response import CallSettingResponse, failed
from callsettings.sdk.retry import RetryPolicy
from callsettings.settings.documents import to_builtins
from callsettings.settings.forwarding import AlwaysRule, CallForwarding
from callsettings.settings.ids import IdType, encode_id, parse_ref
from callsettings.settings.toggles import CallWaiting, DoNotDisturb
from callsettings.settings.voicemail import Voicemail

M = TypeVar("M", bound=msgspec.Struct)

VOICEMAIL_DESTINATION = "VOICEMAIL"
VOICEMAIL_READ_FAILED = "Unable to retrieve voicemail settings."


class BackendName(StrEnum):
    """The calling backends of the JS SDK."""

    WXC = "wxc"  # Webex Calling
    BWRKS = "bwrks"  # BroadWorks
    UCM = "ucm"  # Cisco Unified Communications Manager


@dataclass(frozen=True, slots=True)
class Target:
    """Whose settings, where, and the token to use.

    Args:
        base_url: the API root including ``/v1``, as in ``https://webexapis.com/v1``.
        token: the access token, sent as ``Authorization: Bearer``.
        user_uuid: the person's raw UUID (the Webex person id is derived from it).
        org_uuid: the organization's raw UUID; None lets the service use the token's own.
    """

    base_url: str
    token: str
    user_uuid: uuid.UUID
    org_uuid: uuid.UUID | None = None

    @classmethod
    def of(cls, base_url: str, token: str, person: str, org: str | None = None) -> Target:
        """Return the target for a person and an organization given as Webex ids or UUIDs.

        Raises:
            ValueError: `person` or `org` is neither a Webex id of its kind nor a UUID,
                or `base_url` is not an http(s) URL.
        """
        if not base_url.startswith(("http://", "https://")):
            raise ValueError(f"base_url must be an http(s) URL, got {base_url!r}")
        if not isinstance(token, str) or not token:
            raise ValueError("token must be a non-empty string")
        org_uuid = None if org is None else parse_ref(IdType.ORGANIZATION, org)
        return cls(base_url.rstrip("/"), token, parse_ref(IdType.PEOPLE, person), org_uuid)

    @property
    def person_id(self) -> str:
        return encode_id(IdType.PEOPLE, self.user_uuid)

    @property
    def org_id(self) -> str | None:
        return None if self.org_uuid is None else encode_id(IdType.ORGANIZATION, self.org_uuid)

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, str] | None = None,
        json: Any = None,
        content: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Request:
        all_headers = {
            "Authorization": f"Bearer {self.token}",
            "TrackingID": new_tracking_id(),
            **(headers or {}),
        }
        return httpx.Request(
            method, url, params=params, json=json, content=content, headers=all_headers
        )


def setting_argument(value: object, model: type[M], name: str) -> dict[str, Any]:
    """Return a setting given as a typed model or a camelCase mapping, as JSON to send.

    A mapping may be partial: only what it holds is sent, and the service keeps the rest.

    Raises:
        TypeError: `value` is neither a `model` nor a mapping.
        ValueError: a mapping whose values do not fit `model` (msgspec.ValidationError).
    """
    if isinstance(value, model):
        return to_builtins(value)
    if not isinstance(value, Mapping):
        raise TypeError(
            f"{name} must be a {model.__name__} or a mapping of its camelCase fields, "
            f"got {type(value).__name__}"
        )
    wire = msgspec.json.decode(msgspec.json.encode(dict(value)))
    msgspec.convert(wire, model)
    assert isinstance(wire, dict)
    return wire


def enabled_argument(enabled: object) -> bool:
    """Return `enabled`; raise TypeError unless it is a bool (1 or "yes" are bugs)."""
    if not isinstance(enabled, bool):
        raise TypeError(f"enabled must be True or False, got {enabled!r}")
    return enabled


class Backend:
    """A backend answering no method (501, no request); subclasses serve what they can."""

    name: ClassVar[BackendName]

    def __init__(self, target: Target, retry: RetryPolicy) -> None:
        self.target = target
        self.retry = retry

    def get_call_waiting_setting(self) -> Flow[CallWaiting]:
        return unsupported()

    def set_call_waiting_setting(self, enabled: bool) -> Flow[CallWaiting]:
        enabled_argument(enabled)
        return unsupported()

    def get_do_not_disturb_setting(self) -> Flow[DoNotDisturb]:
        return unsupported()

    def set_do_not_disturb_setting(self, enabled: bool) -> Flow[DoNotDisturb]:
        enabled_argument(enabled)
        return unsupported()

    def get_call_forward_setting(self) -> Flow[CallForwarding]:
        return unsupported()

    def set_call_forward_setting(self, setting: object) -> Flow[CallForwarding]:
        setting_argument(setting, CallForwarding, "setting")
        return unsupported()

    def get_voicemail_setting(self) -> Flow[Voicemail]:
        return unsupported()

    def set_voicemail_setting(self, setting: object) -> Flow[Voicemail]:
        setting_argument(setting, Voicemail, "setting")
        return unsupported()

    def get_call_forward_always_setting(
        self, directory_number: str | None = None
    ) -> Flow[AlwaysRule]:
        if directory_number is not None and not isinstance(directory_number, str):
            raise TypeError(f"directory_number must be a string, got {directory_number!r}")
        return self._forward_always_from_settings()

    @flow
    def _forward_always_from_settings(self) -> Flow[AlwaysRule]:
        """Apply the JS SDK's precedence: a forward-always destination, then voicemail."""
        forwarding = yield from self.get_call_forward_setting()
        if not forwarding.ok or forwarding.call_setting is None:
            return forwarding  # type: ignore[return-value]
        always = dict(forwarding.call_setting.get("callForwarding", {}).get("always", {}))
        if always.get("enabled") and always.get("destination"):
            return succeeded(forwarding.status_code, always, AlwaysRule)
        voicemail = yield from self.get_voicemail_setting()
        if not voicemail.ok:
            return _voicemail_unreadable(voicemail)
        always.pop("destination", None)
        mailbox = voicemail.setting
        if mailbox.enabled and mailbox.send_all_calls.enabled:
            always.update(enabled=True, destination=VOICEMAIL_DESTINATION)
        else:
            always["enabled"] = False
        return succeeded(forwarding.status_code, always, AlwaysRule)


def _voicemail_unreadable(voicemail: CallSettingResponse[Voicemail]) -> CallSettingResponse[Any]:
    error = voicemail.error
    return failed(
        voicemail.status_code,
        error.kind if error else "http",
        text=VOICEMAIL_READ_FAILED,
        code=error.code if error else None,
        tracking_id=error.tracking_id if error else None,
        detail=error.detail if error else None,
    )


def unsupported() -> Flow[Any]:
    """A flow that answers 501 without sending anything."""
    yield from ()
    return failed(501, "unsupported")
