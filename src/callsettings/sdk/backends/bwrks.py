"""The BroadWorks backend: every method over XSI-Actions, in Webex-shaped settings.

Each Webex feature is one or more XSI services (the tables in ``settings/xsi.py``, which the
service's XSI dialect uses too): a read GETs the services and turns their elements into the
Webex fields they stand for; a write turns the Webex fields given into partial service
documents and PUTs each service that has something to change.

What the caller sees, compared with the Webex Calling backend:
- ``callSetting`` holds only the fields XSI carries. Call forwarding has no
  ``destinationVoicemailEnabled`` and no ``systemMaxNumberOfRings``; DND has no
  ``webexGoOverrideEnabled``; voicemail has no greetings, storage type, external email,
  fax, no-answer rings or message forwarding. In the typed ``data`` those fields hold the
  model's defaults.
- A write ignores Webex fields without an XSI element (the same list); they are not sent.
- A forwarding write spans up to four PUTs (always, busy, no answer, not reachable) and is
  not atomic: if one fails, the ones before it stay applied. The FAILURE is the failed PUT's.
- XSI answers a PUT with 200; a successful write reports 204, as on every backend.
- XSI ``numberOfRings`` 0 (the system default) reads as 3.
"""

from __future__ import annotations

import base64
from typing import Any, ClassVar, TypeVar

import msgspec

from callsettings.sdk.backends.base import (
    Backend,
    BackendName,
    Target,
    enabled_argument,
    setting_argument,
)
from callsettings.sdk.backends.webex import WRITE_STATUS, XsiHost
from callsettings.sdk.flow import Flow, Steps, exchange, flow, parse_failure, succeeded
from callsettings.sdk.retry import RetryPolicy
from callsettings.settings import xsi
from callsettings.settings.documents import merge_patch
from callsettings.settings.errors import InvalidSetting
from callsettings.settings.forwarding import CallForwarding
from callsettings.settings.toggles import CallWaiting, DoNotDisturb
from callsettings.settings.voicemail import Voicemail

M = TypeVar("M", bound=msgspec.Struct)


def _services(feature: str) -> tuple[xsi.Service, ...]:
    return tuple(service for service in xsi.SERVICES if service.feature == feature)


FORWARDING = _services("callForwarding")
DO_NOT_DISTURB = _services("doNotDisturb")
CALL_WAITING = _services("callWaiting")
VOICEMAIL = _services("voicemail")


class BroadWorksBackend(Backend):
    name: ClassVar[BackendName] = BackendName.BWRKS

    def __init__(
        self,
        target: Target,
        retry: RetryPolicy,
        xsi_endpoint: str | None = None,
        credentials: tuple[str, str] | None = None,
    ) -> None:
        """Use HTTP Basic with `credentials` (XSI user, password) if given, else the token."""
        super().__init__(target, retry)
        self.xsi = XsiHost(target, retry, xsi_endpoint)
        self._authorization: dict[str, str] = {}
        if credentials is not None:
            user, password = credentials
            encoded = base64.b64encode(f"{user}:{password}".encode()).decode()
            self._authorization = {"Authorization": f"Basic {encoded}"}

    def get_call_waiting_setting(self) -> Flow[CallWaiting]:
        return self._read(CALL_WAITING, CallWaiting)

    def set_call_waiting_setting(self, enabled: bool) -> Flow[CallWaiting]:
        return self._write(CALL_WAITING, {"enabled": enabled_argument(enabled)}, CallWaiting)

    def get_do_not_disturb_setting(self) -> Flow[DoNotDisturb]:
        return self._read(DO_NOT_DISTURB, DoNotDisturb)

    def set_do_not_disturb_setting(self, enabled: bool) -> Flow[DoNotDisturb]:
        return self._write(DO_NOT_DISTURB, {"enabled": enabled_argument(enabled)}, DoNotDisturb)

    def get_call_forward_setting(self) -> Flow[CallForwarding]:
        return self._read(FORWARDING, CallForwarding)

    def set_call_forward_setting(self, setting: object) -> Flow[CallForwarding]:
        body = setting_argument(setting, CallForwarding, "setting")
        return self._write(FORWARDING, body, CallForwarding)

    def get_voicemail_setting(self) -> Flow[Voicemail]:
        return self._read(VOICEMAIL, Voicemail)

    def set_voicemail_setting(self, setting: object) -> Flow[Voicemail]:
        return self._write(VOICEMAIL, setting_argument(setting, Voicemail, "setting"), Voicemail)

    @flow
    def _read(self, services: tuple[xsi.Service, ...], model: type[M]) -> Flow[M]:
        root = yield from self.xsi.root()
        setting: dict[str, Any] = {}
        status = 200
        for service in services:
            patch, status = yield from self._read_service(root, service)
            setting = merge_patch(setting, patch)
        return succeeded(status, setting, model)

    def _read_service(self, root: str, service: xsi.Service) -> Steps[tuple[dict[str, Any], int]]:
        request = self.target.request("GET", self._url(root, service), headers=self._authorization)
        response = yield from exchange(request, self.retry)
        try:
            document = xsi.parse_xml(response.content, service.name)
            return xsi.to_patch(service, document), response.status_code
        except (xsi.MalformedDocument, InvalidSetting) as exc:
            raise parse_failure(response, str(exc)) from exc

    @flow
    def _write(
        self, services: tuple[xsi.Service, ...], setting: dict[str, Any], model: type[M]
    ) -> Flow[M]:
        # "destination": "" renders as an empty element, which clears the number on XSI
        # just as "" means "no destination" on the Webex dialect.
        changes = [
            (service, document)
            for service in services
            if (document := xsi.to_document(service, setting)).values
        ]
        if changes:
            root = yield from self.xsi.root()
            for service, document in changes:
                request = self.target.request(
                    "PUT",
                    self._url(root, service),
                    content=xsi.render_xml(document.tree()),
                    headers={"Content-Type": xsi.XML_MEDIA_TYPE, **self._authorization},
                )
                yield from exchange(request, self.retry)
        return succeeded(WRITE_STATUS, setting, model)

    def _url(self, root: str, service: xsi.Service) -> str:
        return self.xsi.service_url(root, str(self.target.user_uuid), service.name)
