"""The calling backends, and how the JS SDK picks one for a user."""

from __future__ import annotations

from collections.abc import Iterable

from callsettings.sdk.backends.base import Backend, BackendName, Target
from callsettings.sdk.backends.bwrks import BroadWorksBackend
from callsettings.sdk.backends.ucm import UcmBackend
from callsettings.sdk.backends.webex import WebexCallingBackend
from callsettings.sdk.retry import RetryPolicy

NATIVE_WEBEX_TEAMS_CALLING = "NATIVE_WEBEX_TEAMS_CALLING"
NATIVE_SIP_CALL_TO_UCM = "NATIVE_SIP_CALL_TO_UCM"
WEBEX_CALLING_ENTITLEMENTS = frozenset({"bc-sp-basic", "bc-sp-standard"})
BROADWORKS_ENTITLEMENT = "broadworks-connector"
BACKEND_NOT_IDENTIFIED = "Calling backend is not identified, exiting...."


class BackendNotIdentified(ValueError):
    """No backend fits the calling behaviour and entitlements (the JS SDK's message)."""

    def __init__(self) -> None:
        super().__init__(BACKEND_NOT_IDENTIFIED)


def choose_backend(calling_behavior: str, entitlements: Iterable[str]) -> BackendName:
    """Return the backend the JS SDK picks for a device's calling behaviour and entitlements.

    ``NATIVE_SIP_CALL_TO_UCM`` is UCM; ``NATIVE_WEBEX_TEAMS_CALLING`` is Webex Calling with
    ``bc-sp-basic`` or ``bc-sp-standard`` (these win) and BroadWorks with
    ``broadworks-connector``.

    Raises:
        BackendNotIdentified: nothing fits.
    """
    if calling_behavior == NATIVE_SIP_CALL_TO_UCM:
        return BackendName.UCM
    if calling_behavior == NATIVE_WEBEX_TEAMS_CALLING:
        held = set(entitlements)
        if held & WEBEX_CALLING_ENTITLEMENTS:
            return BackendName.WXC
        if BROADWORKS_ENTITLEMENT in held:
            return BackendName.BWRKS
    raise BackendNotIdentified


def create_backend(
    name: BackendName | str,
    target: Target,
    retry: RetryPolicy,
    *,
    xsi_endpoint: str | None = None,
    xsi_credentials: tuple[str, str] | None = None,
) -> Backend:
    """Return the backend `name` for `target`.

    Raises:
        ValueError: `name` is not a known backend.
    """
    chosen = BackendName(name)
    if chosen is BackendName.WXC:
        return WebexCallingBackend(target, retry, xsi_endpoint)
    if chosen is BackendName.BWRKS:
        return BroadWorksBackend(target, retry, xsi_endpoint, xsi_credentials)
    return UcmBackend(target, retry)


__all__ = [
    "Backend",
    "BackendName",
    "BackendNotIdentified",
    "Target",
    "choose_backend",
    "create_backend",
]
