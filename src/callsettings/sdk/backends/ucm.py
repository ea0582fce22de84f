"""The UCM backend: forward-always per directory number; nothing else, as in the JS SDK.

``GET {base}/uc/config/people/{rawUserUuid}/features/callforwarding?orgId={rawOrgUuid}``
lists the person's lines; the first whose ``dn`` or ``e164Number`` ends with the number
asked for decides. Every other method answers 501 without a request.
"""

from __future__ import annotations

from typing import Any, ClassVar

from callsettings.sdk.backends.base import VOICEMAIL_DESTINATION, Backend, BackendName
from callsettings.sdk.flow import Flow, decode, exchange, flow, succeeded
from callsettings.sdk.response import failed
from callsettings.settings.forwarding import AlwaysRule
from callsettings.settings.ucm import ForwardAlwaysLine, UcmCallForwarding

DN_REQUIRED = "Directory Number is mandatory for UCM backend"
DN_NOT_ASSIGNED = "Directory Number is not assigned to the user"


class UcmBackend(Backend):
    name: ClassVar[BackendName] = BackendName.UCM

    def get_call_forward_always_setting(
        self, directory_number: str | None = None
    ) -> Flow[AlwaysRule]:
        if directory_number is not None and not isinstance(directory_number, str):
            raise TypeError(f"directory_number must be a string, got {directory_number!r}")
        return self._forward_always(directory_number or "")

    @flow
    def _forward_always(self, directory_number: str) -> Flow[AlwaysRule]:
        if not directory_number:
            return failed(400, text=DN_REQUIRED)
        target = self.target
        url = f"{target.base_url}/uc/config/people/{target.user_uuid}/features/callforwarding"
        params = {} if target.org_uuid is None else {"orgId": str(target.org_uuid)}
        response = yield from exchange(target.request("GET", url, params=params), self.retry)
        _, view = decode(response, UcmCallForwarding)
        line = _line_of(view.call_forwarding.always, directory_number)
        if line is None:
            return failed(404, text=DN_NOT_ASSIGNED)
        return succeeded(response.status_code, _always(line), AlwaysRule)


def _line_of(lines: list[ForwardAlwaysLine], number: str) -> ForwardAlwaysLine | None:
    return next(
        (line for line in lines if line.dn.endswith(number) or line.e164_number.endswith(number)),
        None,
    )


def _always(line: ForwardAlwaysLine) -> dict[str, Any]:
    # Voicemail first, as UCM's "forward all to voicemail" overrides the number.
    if line.destination_voicemail_enabled:
        return {"enabled": True, "destination": VOICEMAIL_DESTINATION}
    if isinstance(line.destination, str) and line.destination:
        return {"enabled": True, "destination": line.destination}
    return {"enabled": False}
