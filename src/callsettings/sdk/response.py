"""The response every CallSettingsClient method returns, and the errors it can carry.

The shape and the texts are the JS Calling SDK's, so code ported from it reads the same
fields: ``statusCode``, ``data.callSetting`` or ``data.error``, and ``message``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Generic, Literal, TypeVar

import msgspec

S = TypeVar("S")

SUCCESS: Final = "SUCCESS"
FAILURE: Final = "FAILURE"
# The JS SDK's status for a failure that has no HTTP status: network, timeout, parse.
NO_HTTP_STATUS = 422

_TEXTS = {
    400: "400 Bad request",
    401: "User is unauthorised, possible token expiry",
    403: "User request is forbidden",
    404: "User info not found",
    408: "Request to the server timedout",
    500: "Internal server error occurred",
    501: "Method is not implemented at the backend",
    503: "Unable to establish a connection with the server",
}

FailureKind = Literal["http", "network", "timeout", "parse", "unsupported", "argument"]


def error_text(status: int) -> str:
    """Return the JS SDK's error text for a failed call with HTTP status `status`."""
    return _TEXTS.get(status, f"{status} Exception has occurred")


class CallSettingsError(Exception):
    """Why a call failed: its status, the service's error code and the TrackingID.

    Public client methods return it inside a FAILURE response (``response.error``) rather
    than raising it; ``response.raise_for_status()`` raises it for callers who prefer that.
    """

    def __init__(
        self,
        text: str,
        *,
        status_code: int,
        kind: FailureKind = "http",
        code: int | None = None,
        tracking_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(text)
        self.text = text
        self.status_code = status_code
        self.kind = kind
        self.code = code
        self.tracking_id = tracking_id
        self.detail = detail

    def __str__(self) -> str:
        extras = [f"{self.kind} failure"]
        if self.code is not None:
            extras.append(f"code {self.code}")
        if self.tracking_id:
            extras.append(f"tracking id {self.tracking_id}")
        detail = f": {self.detail}" if self.detail else ""
        return f"{self.status_code} {self.text} ({', '.join(extras)}){detail}"

    def __repr__(self) -> str:
        return (
            f"CallSettingsError({self.text!r}, status_code={self.status_code}, "
            f"kind={self.kind!r}, code={self.code!r}, tracking_id={self.tracking_id!r})"
        )


@dataclass(frozen=True, slots=True)
class CallSettingResponse(Generic[S]):
    """What a call returned: ``data`` is the typed setting on SUCCESS, the error text otherwise.

    ``call_setting`` is the setting as the wire carried it (camelCase keys, only the keys
    the backend gave), which is what ``to_dict()`` puts under ``data.callSetting``.
    """

    status_code: int
    message: Literal["SUCCESS", "FAILURE"]
    data: S | str
    call_setting: dict[str, Any] | None = None
    error: CallSettingsError | None = None

    @property
    def ok(self) -> bool:
        return self.message == SUCCESS

    @property
    def setting(self) -> S:
        """Return the typed setting.

        Raises:
            CallSettingsError: the call failed.
        """
        self.raise_for_status()
        return self.data  # type: ignore[return-value]

    def raise_for_status(self) -> CallSettingResponse[S]:
        """Return self on SUCCESS; raise the CallSettingsError of a FAILURE."""
        if self.error is not None:
            raise self.error
        return self

    def to_dict(self) -> dict[str, Any]:
        """Return the JS SDK's CallSettingResponse object."""
        if self.ok:
            data: dict[str, Any] = {"callSetting": self.call_setting}
        else:
            data = {"error": self.data}
        return {"statusCode": self.status_code, "data": data, "message": self.message}


def success(status: int, call_setting: dict[str, Any], model: type[S]) -> CallSettingResponse[S]:
    """Return a SUCCESS carrying `call_setting` and its typed form.

    Raises:
        msgspec.ValidationError: `call_setting` does not fit `model`.
    """
    typed = msgspec.convert(call_setting, model)
    return CallSettingResponse(status, SUCCESS, typed, call_setting)


def failure(error: CallSettingsError) -> CallSettingResponse[Any]:
    return CallSettingResponse(error.status_code, FAILURE, error.text, None, error)


def failed(
    status: int,
    kind: FailureKind = "http",
    *,
    text: str | None = None,
    code: int | None = None,
    tracking_id: str | None = None,
    detail: str | None = None,
) -> CallSettingResponse[Any]:
    """Return a FAILURE with the JS SDK's text for `status` unless `text` is given."""
    return failure(
        CallSettingsError(
            text or error_text(status),
            status_code=status,
            kind=kind,
            code=code,
            tracking_id=tracking_id,
            detail=detail,
        )
    )
