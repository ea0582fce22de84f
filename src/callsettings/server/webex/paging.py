"""Keyset pagination the Webex way: `max`, and an absolute `Link: <...>; rel="next"` URL.

wxc_sdk follows the Link URL verbatim and fails on a relative one, so the URL is built from
`public_base_url` when configured (behind a proxy), else from the request's own base.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any
from urllib.parse import urlencode

import msgspec

from callsettings.server.errors import ApiError, ErrorKind
from callsettings.server.services import services_of
from callsettings.server.webex.common import AnyRequest

CURSOR = "cursor"


def page_size(request: AnyRequest, default: int, cap: int) -> int:
    """Return `max` from the query: an integer 1..1000 (default `default`), capped at `cap`."""
    raw = request.query_params.get("max")
    if raw is None or raw == "":
        return min(default, cap)
    if not raw.isdigit() or not 1 <= int(raw) <= 1000:
        raise ApiError(ErrorKind.INVALID_QUERY, f"max must be an integer 1..1000, got {raw!r}.")
    return min(int(raw), cap)


def encode_cursor(position: Any) -> str:
    return base64.urlsafe_b64encode(msgspec.json.encode(position)).decode().rstrip("=")


def decode_cursor(request: AnyRequest, shape: type[Any]) -> Any:
    """Return the decoded `cursor` parameter as `shape`, or None; a forged one is a 400."""
    raw = request.query_params.get(CURSOR)
    if not raw:
        return None
    try:
        data = base64.urlsafe_b64decode(raw + "=" * (-len(raw) % 4))
        return msgspec.json.decode(data, type=shape)
    except (binascii.Error, ValueError, msgspec.DecodeError) as exc:
        raise ApiError(
            ErrorKind.INVALID_QUERY, "cursor is not one this service issued; start again."
        ) from exc


def base_url(request: AnyRequest) -> str:
    """Return the absolute base URL of this service, without a trailing slash."""
    configured = services_of(request).config.public_base_url
    return (configured or str(request.base_url)).rstrip("/")


def next_link(request: AnyRequest, position: Any) -> str:
    """Return the Link header value pointing at the page after `position`."""
    params = [(k, v) for k, v in request.query_params.multi_items() if k != CURSOR]
    params.append((CURSOR, encode_cursor(position)))
    url = f"{base_url(request)}{request.url.path}?{urlencode(params)}"
    return f'<{url}>; rel="next"'
