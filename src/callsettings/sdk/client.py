"""CallSettingsClient and AsyncCallSettingsClient: thin drivers of the backends' flows.

Both take the same arguments and have the same methods; the async one's are coroutines.
Every method returns a CallSettingResponse and never raises for HTTP, network, timeout or
parse failures. Wrong argument types (a programming error) still raise TypeError or
ValueError.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from types import TracebackType
from typing import Any, Self, TypeVar

import httpx

from callsettings.sdk.backends import Backend, BackendName, Target, choose_backend, create_backend
from callsettings.sdk.flow import Flow, Outcome, Pause, TransportFailure
from callsettings.sdk.response import CallSettingResponse
from callsettings.sdk.retry import RetryPolicy
from callsettings.settings.forwarding import AlwaysRule, CallForwarding
from callsettings.settings.toggles import CallWaiting, DoNotDisturb
from callsettings.settings.voicemail import Voicemail

S = TypeVar("S")

DEFAULT_TIMEOUT = 10.0


class _ClientCore:
    """What both clients share: the target, the backend, the retry policy and the timeout."""

    def __init__(
        self,
        *,
        base_url: str,
        token: str,
        person: str,
        org: str | None = None,
        backend: BackendName | str = BackendName.WXC,
        xsi_endpoint: str | None = None,
        xsi_credentials: tuple[str, str] | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | httpx.Timeout = DEFAULT_TIMEOUT,
    ) -> None:
        """Point a client at one person's settings.

        Args:
            base_url: the API root including ``/v1``, as in ``https://webexapis.com/v1``.
            token: the access token (the SDK never reads it from the environment).
            person: the person's Webex id or raw user UUID.
            org: the organization's Webex id or raw UUID; None means the token's own.
            backend: ``wxc``, ``bwrks`` or ``ucm``; see ``choose_backend`` for the JS rules.
            xsi_endpoint: the XSI-Actions root (``https://host/com.broadsoft.xsi-actions``);
                when left out it is discovered through ``/organizations?callingData=true``.
            xsi_credentials: an XSI user and password; the BroadWorks backend then uses
                HTTP Basic on XSI instead of the token.
            retry: when 429 and 503 are retried; default 3 attempts, at most 60 s apart.
            timeout: seconds (or an ``httpx.Timeout``) for each request.

        Raises:
            ValueError: an id, the URL or the backend name is malformed.
        """
        self.target = Target.of(base_url, token, person, org)
        self.retry = retry or RetryPolicy()
        self.timeout = timeout if isinstance(timeout, httpx.Timeout) else httpx.Timeout(timeout)
        self.backend: Backend = create_backend(
            backend,
            self.target,
            self.retry,
            xsi_endpoint=xsi_endpoint,
            xsi_credentials=xsi_credentials,
        )

    @classmethod
    def for_calling_behavior(
        cls, calling_behavior: str, entitlements: Iterable[str], **kwargs: Any
    ) -> Self:
        """Return a client on the backend the JS SDK would pick for this user.

        Raises:
            BackendNotIdentified: no backend fits ("Calling backend is not identified, ...").
        """
        return cls(backend=choose_backend(calling_behavior, entitlements), **kwargs)


def _transport_failure(exc: httpx.RequestError) -> TransportFailure:
    detail = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, httpx.TimeoutException):
        return TransportFailure("timeout", detail)
    return TransportFailure("network", detail)


class CallSettingsClient(_ClientCore):
    """Read and change one person's call settings (blocking)."""

    def __init__(
        self,
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        **options: Any,
    ) -> None:
        """Take the arguments of ``_ClientCore`` plus an httpx transport and a sleep function.

        ``trust_env`` is off: proxies and certificates come from the transport you pass,
        never from environment variables.
        """
        super().__init__(**options)
        self._sleep = sleep
        self._http = httpx.Client(transport=transport, timeout=self.timeout, trust_env=False)

    def _run(self, flow: Flow[S]) -> CallSettingResponse[S]:
        try:
            effect = next(flow)
            while True:
                if isinstance(effect, Pause):
                    self._sleep(effect.seconds)
                    effect = flow.send(None)
                else:
                    effect = flow.send(self._send(effect))
        except StopIteration as finished:
            result: CallSettingResponse[S] = finished.value
            return result

    def _send(self, request: httpx.Request) -> Outcome:
        try:
            return self._http.send(request)
        except httpx.RequestError as exc:
            return _transport_failure(exc)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def get_call_waiting_setting(self) -> CallSettingResponse[CallWaiting]:
        return self._run(self.backend.get_call_waiting_setting())

    def set_call_waiting_setting(self, enabled: bool) -> CallSettingResponse[CallWaiting]:
        return self._run(self.backend.set_call_waiting_setting(enabled))

    def get_do_not_disturb_setting(self) -> CallSettingResponse[DoNotDisturb]:
        return self._run(self.backend.get_do_not_disturb_setting())

    def set_do_not_disturb_setting(self, enabled: bool) -> CallSettingResponse[DoNotDisturb]:
        return self._run(self.backend.set_do_not_disturb_setting(enabled))

    def get_call_forward_setting(self) -> CallSettingResponse[CallForwarding]:
        return self._run(self.backend.get_call_forward_setting())

    def set_call_forward_setting(
        self, setting: CallForwarding | dict[str, Any]
    ) -> CallSettingResponse[CallForwarding]:
        return self._run(self.backend.set_call_forward_setting(setting))

    def get_voicemail_setting(self) -> CallSettingResponse[Voicemail]:
        return self._run(self.backend.get_voicemail_setting())

    def set_voicemail_setting(
        self, setting: Voicemail | dict[str, Any]
    ) -> CallSettingResponse[Voicemail]:
        return self._run(self.backend.set_voicemail_setting(setting))

    def get_call_forward_always_setting(
        self, directory_number: str | None = None
    ) -> CallSettingResponse[AlwaysRule]:
        return self._run(self.backend.get_call_forward_always_setting(directory_number))


class AsyncCallSettingsClient(_ClientCore):
    """Read and change one person's call settings (asyncio)."""

    def __init__(
        self,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        **options: Any,
    ) -> None:
        """Take the arguments of ``_ClientCore`` plus an httpx transport and a sleep function."""
        super().__init__(**options)
        self._sleep = sleep
        self._http = httpx.AsyncClient(transport=transport, timeout=self.timeout, trust_env=False)

    async def _run(self, flow: Flow[S]) -> CallSettingResponse[S]:
        try:
            effect = next(flow)
            while True:
                if isinstance(effect, Pause):
                    await self._sleep(effect.seconds)
                    effect = flow.send(None)
                else:
                    effect = flow.send(await self._send(effect))
        except StopIteration as finished:
            result: CallSettingResponse[S] = finished.value
            return result

    async def _send(self, request: httpx.Request) -> Outcome:
        try:
            return await self._http.send(request)
        except httpx.RequestError as exc:
            return _transport_failure(exc)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def get_call_waiting_setting(self) -> CallSettingResponse[CallWaiting]:
        return await self._run(self.backend.get_call_waiting_setting())

    async def set_call_waiting_setting(self, enabled: bool) -> CallSettingResponse[CallWaiting]:
        return await self._run(self.backend.set_call_waiting_setting(enabled))

    async def get_do_not_disturb_setting(self) -> CallSettingResponse[DoNotDisturb]:
        return await self._run(self.backend.get_do_not_disturb_setting())

    async def set_do_not_disturb_setting(self, enabled: bool) -> CallSettingResponse[DoNotDisturb]:
        return await self._run(self.backend.set_do_not_disturb_setting(enabled))

    async def get_call_forward_setting(self) -> CallSettingResponse[CallForwarding]:
        return await self._run(self.backend.get_call_forward_setting())

    async def set_call_forward_setting(
        self, setting: CallForwarding | dict[str, Any]
    ) -> CallSettingResponse[CallForwarding]:
        return await self._run(self.backend.set_call_forward_setting(setting))

    async def get_voicemail_setting(self) -> CallSettingResponse[Voicemail]:
        return await self._run(self.backend.get_voicemail_setting())

    async def set_voicemail_setting(
        self, setting: Voicemail | dict[str, Any]
    ) -> CallSettingResponse[Voicemail]:
        return await self._run(self.backend.set_voicemail_setting(setting))

    async def get_call_forward_always_setting(
        self, directory_number: str | None = None
    ) -> CallSettingResponse[AlwaysRule]:
        return await self._run(self.backend.get_call_forward_always_setting(directory_number))
