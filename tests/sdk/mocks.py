"""Clients on httpx.MockTransport, for the error and retry tables only."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

import httpx

from callsettings.sdk import AsyncCallSettingsClient, CallSettingsClient, RetryPolicy

BASE_URL = "https://api.test/v1"
XSI_ENDPOINT = "https://xsi.test/com.broadsoft.xsi-actions"
USER = uuid.UUID("0f3b3c1e-0000-4000-8000-000000000001")
ORG = uuid.UUID("0f3b3c1e-0000-4000-8000-0000000000aa")

Handler = Callable[[httpx.Request], httpx.Response]

# Every method with the arguments it is called with.
METHODS: list[tuple[str, tuple[Any, ...]]] = [
    ("get_call_waiting_setting", ()),
    ("set_call_waiting_setting", (True,)),
    ("get_do_not_disturb_setting", ()),
    ("set_do_not_disturb_setting", (True,)),
    ("get_call_forward_setting", ()),
    ("set_call_forward_setting", ({"callForwarding": {"busy": {"enabled": False}}},)),
    ("get_voicemail_setting", ()),
    ("set_voicemail_setting", ({"enabled": True},)),
    ("get_call_forward_always_setting", ()),
]


class Sleeps:
    """A sleep function that records what it was asked to wait, and waits for nothing."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)

    async def asleep(self, seconds: float) -> None:
        self.waits.append(seconds)


def options(**extra: Any) -> dict[str, Any]:
    values: dict[str, Any] = {
        "base_url": BASE_URL,
        "token": "secret-token",
        "person": str(USER),
        "org": str(ORG),
        "xsi_endpoint": XSI_ENDPOINT,
    }
    return {**values, **extra}


def sync_client(
    handler: Handler, sleeps: Sleeps | None = None, retry: RetryPolicy | None = None, **extra: Any
) -> CallSettingsClient:
    return CallSettingsClient(
        transport=httpx.MockTransport(handler),
        sleep=sleeps or Sleeps(),
        retry=retry,
        **options(**extra),
    )


def async_client(
    handler: Handler, sleeps: Sleeps | None = None, retry: RetryPolicy | None = None, **extra: Any
) -> AsyncCallSettingsClient:
    return AsyncCallSettingsClient(
        transport=httpx.MockTransport(handler),
        sleep=(sleeps or Sleeps()).asleep,
        retry=retry,
        **options(**extra),
    )
