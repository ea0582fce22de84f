"""Partial updates shared by every feature and dialect.

A PUT carries only what the client sets. The patch is merged into the stored document as
plain JSON, then the result is converted back to the typed model, so a type error names the
exact path (``$.callForwarding.always.enabled``) and unknown keys are ignored, as wxc_sdk
needs (it echoes back every field it read).
"""

from __future__ import annotations

from typing import Any, TypeVar

import msgspec

from callsettings.settings.errors import InvalidSetting

T = TypeVar("T", bound=msgspec.Struct)


def to_builtins(document: msgspec.Struct) -> dict[str, Any]:
    """Return the JSON-shaped form of a settings document."""
    result = msgspec.to_builtins(document)
    assert isinstance(result, dict)
    return result


def merge_patch(current: dict[str, Any], patch: dict[str, Any]) -> dict[str, Any]:
    """Return `current` with `patch` merged in; a null clears an optional value."""
    merged = dict(current)
    for key, value in patch.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge_patch(merged[key], value)
        elif value is None and (key not in merged or isinstance(merged[key], str)):
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def convert(data: Any, model: type[T]) -> T:
    """Return `data` as a `model`, raising InvalidSetting that names the offending path."""
    try:
        return msgspec.convert(data, model, strict=True)
    except msgspec.ValidationError as exc:
        message = str(exc)
        field = ""
        if " - at `" in message:
            message, _, at = message.partition(" - at `")
            field = at.rstrip("`").removeprefix("$.").removeprefix("$")
        raise InvalidSetting(field, message[0].lower() + message[1:]) from exc


def apply_patch(current: T, patch: Any) -> T:
    """Return `current` updated by a partial document `patch` (a decoded JSON object)."""
    if not isinstance(patch, dict):
        raise InvalidSetting("", f"the body must be a JSON object, got {type(patch).__name__}")
    return convert(merge_patch(to_builtins(current), patch), type(current))
