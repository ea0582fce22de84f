"""The Webex Calling backend: the person feature endpoints, and call waiting over XSI.

As in the JS SDK, DND, call forwarding and voicemail use
``/people/{personId}/features/{feature}?orgId=``, while call waiting is read over
BroadWorks XSI-Actions: the XSI host comes from ``/organizations?callingData=true``
(``items[0].xsiActionsEndpoint``) and the document from
``{xsi}/v2.0/user/{rawUserUuid}/services/CallWaiting`` with the same Bearer token.

Differences from the JS SDK, on purpose:
- a failed XSI discovery is tried again on the next call instead of being remembered;
- DND is switched with ``{"enabled": ...}`` alone, so ring splash keeps its value;
- call waiting can be switched too, with a PUT of the same XSI document (the JS SDK has no
  setter; the REST callWaiting endpoint is for admins, XSI also admits the person).
"""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar

import msgspec

from callsettings.sdk.backends.base import (
    Backend,
    BackendName,
    Target,
    enabled_argument,
    setting_argument,
)
from callsettings.sdk.flow import (
    Flow,
    Steps,
    decode,
    exchange,
    flow,
    parse_failure,
    succeeded,
)
from callsettings.sdk.retry import RetryPolicy
from callsettings.settings import xsi
from callsettings.settings.forwarding import CallForwarding
from callsettings.settings.toggles import CallWaiting, DoNotDisturb
from callsettings.settings.voicemail import Voicemail

M = TypeVar("M", bound=msgspec.Struct)

# The status a successful write reports on every backend: the Webex PUT's 204.
WRITE_STATUS = 204


class _Organization(msgspec.Struct, rename="camel"):
    xsi_actions_endpoint: str | None = None


class _Organizations(msgspec.Struct):
    items: list[_Organization]


class XsiHost:
    """Where XSI-Actions lives for a target: given, or discovered once it succeeds."""

    def __init__(self, target: Target, retry: RetryPolicy, endpoint: str | None = None) -> None:
        self.target = target
        self.retry = retry
        self.endpoint = None if endpoint is None else endpoint.rstrip("/")

    def root(self) -> Steps[str]:
        """Return the XSI-Actions root URL, discovering it if not known yet."""
        if self.endpoint is None:
            self.endpoint = yield from self._discover()
        return self.endpoint

    def _discover(self) -> Steps[str]:
        url = f"{self.target.base_url}/organizations"
        request = self.target.request("GET", url, params={"callingData": "true"})
        response = yield from exchange(request, self.retry)
        _, body = decode(response, _Organizations)
        endpoint = body.items[0].xsi_actions_endpoint if body.items else None
        if not endpoint:
            raise parse_failure(response, "the organization has no xsiActionsEndpoint")
        return endpoint.rstrip("/")

    def service_url(self, root: str, user: str, service: str) -> str:
        return f"{root}/{xsi.VERSION}/user/{user}/services/{service}"


def read_active(content: bytes, service: str) -> bool:
    """Return whether a service document's <active> is true (xs:boolean: true or 1).

    Raises:
        ValueError: the body is not the service's document or has no <active>.
    """
    try:
        values = dict(xsi.parse_xml(content, service).values)
    except xsi.MalformedDocument as exc:
        raise ValueError(str(exc)) from exc
    active = values.get("active")
    if active is None:
        raise ValueError(f"<{service}> has no <active> element")
    return active.strip() in ("true", "1")


class WebexCallingBackend(Backend):
    name: ClassVar[BackendName] = BackendName.WXC

    def __init__(self, target: Target, retry: RetryPolicy, xsi_endpoint: str | None = None) -> None:
        super().__init__(target, retry)
        self.xsi = XsiHost(target, retry, xsi_endpoint)

    def get_do_not_disturb_setting(self) -> Flow[DoNotDisturb]:
        return self._read("doNotDisturb", DoNotDisturb)

    def set_do_not_disturb_setting(self, enabled: bool) -> Flow[DoNotDisturb]:
        return self._write("doNotDisturb", {"enabled": enabled_argument(enabled)}, DoNotDisturb)

    def get_call_forward_setting(self) -> Flow[CallForwarding]:
        return self._read("callForwarding", CallForwarding)

    def set_call_forward_setting(self, setting: object) -> Flow[CallForwarding]:
        body = setting_argument(setting, CallForwarding, "setting")
        return self._write("callForwarding", body, CallForwarding)

    def get_voicemail_setting(self) -> Flow[Voicemail]:
        return self._read("voicemail", Voicemail)

    def set_voicemail_setting(self, setting: object) -> Flow[Voicemail]:
        return self._write("voicemail", setting_argument(setting, Voicemail, "setting"), Voicemail)

    def get_call_waiting_setting(self) -> Flow[CallWaiting]:
        return self._read_call_waiting()

    def set_call_waiting_setting(self, enabled: bool) -> Flow[CallWaiting]:
        return self._write_call_waiting(enabled_argument(enabled))

    def _feature(self, feature: str) -> tuple[str, dict[str, str]]:
        url = f"{self.target.base_url}/people/{self.target.person_id}/features/{feature}"
        org_id = self.target.org_id
        return url, ({"orgId": org_id} if org_id else {})

    @flow
    def _read(self, feature: str, model: type[M]) -> Flow[M]:
        url, params = self._feature(feature)
        request = self.target.request("GET", url, params=params)
        response = yield from exchange(request, self.retry)
        body, _ = decode(response, model)
        return succeeded(response.status_code, body, model)

    @flow
    def _write(self, feature: str, body: dict[str, Any], model: type[M]) -> Flow[M]:
        url, params = self._feature(feature)
        request = self.target.request("PUT", url, params=params, json=body)
        response = yield from exchange(request, self.retry)
        # As the JS SDK: the real status, and the request body echoed as the setting.
        return succeeded(response.status_code, body, model)

    def _call_waiting_url(self, root: str) -> str:
        return self.xsi.service_url(root, str(self.target.user_uuid), "CallWaiting")

    @flow
    def _read_call_waiting(self) -> Flow[CallWaiting]:
        root = yield from self.xsi.root()
        request = self.target.request("GET", self._call_waiting_url(root))
        response = yield from exchange(request, self.retry)
        try:
            enabled = read_active(response.content, "CallWaiting")
        except ValueError as exc:
            raise parse_failure(response, str(exc)) from exc
        return succeeded(response.status_code, {"enabled": enabled}, CallWaiting)

    @flow
    def _write_call_waiting(self, enabled: bool) -> Flow[CallWaiting]:
        root = yield from self.xsi.root()
        document = xsi.XsiDocument("CallWaiting", (("active", "true" if enabled else "false"),))
        request = self.target.request(
            "PUT",
            self._call_waiting_url(root),
            content=xsi.render_xml(document.tree()),
            headers={"Content-Type": xsi.XML_MEDIA_TYPE},
        )
        yield from exchange(request, self.retry)
        return succeeded(WRITE_STATUS, {"enabled": enabled}, CallWaiting)
