"""Forwarding destinations: an internal extension or a phone number stored in E.164."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

import phonenumbers

from callsettings.settings.errors import InvalidSetting

EXTENSION_MIN_DIGITS = 2
EXTENSION_MAX_DIGITS = 6
MAX_DESTINATION_CHARS = 40
# Characters people type as visual separators in phone numbers; stripped before parsing.
_SEPARATORS = re.compile(r"[\s\-().]")
_ALLOWED = re.compile(r"\+?[0-9]+")


class DestinationKind(StrEnum):
    EXTENSION = "extension"
    NUMBER = "number"


@dataclass(frozen=True, slots=True)
class Destination:
    kind: DestinationKind
    value: str

    def __str__(self) -> str:
        return self.value


def is_extension(text: str) -> bool:
    """Return whether `text` has the shape of an internal extension."""
    return text.isdigit() and EXTENSION_MIN_DIGITS <= len(text) <= EXTENSION_MAX_DIGITS


def parse_destination(raw: str, country: str, *, field: str) -> Destination:
    """Return the normalized destination for what a client typed.

    Extensions are 2 to 6 digits; anything longer is a phone number, parsed with the
    organization's country and stored in E.164.

    Raises:
        InvalidSetting: letters, over-long values, or a number that cannot be dialled.
    """
    if len(raw) > MAX_DESTINATION_CHARS:
        raise InvalidSetting(
            field, f"must be at most {MAX_DESTINATION_CHARS} characters, got {len(raw)}"
        )
    compact = _SEPARATORS.sub("", raw)
    if not _ALLOWED.fullmatch(compact):
        raise InvalidSetting(
            field,
            f"must be an extension or a phone number (digits, optionally a leading +), got {raw!r}",
        )
    if is_extension(compact):
        return Destination(DestinationKind.EXTENSION, compact)
    return Destination(DestinationKind.NUMBER, to_e164(compact, country, field=field))


def to_e164(number: str, country: str, *, field: str) -> str:
    """Return `number` in E.164, read in `country` when it has no leading +.

    Raises:
        InvalidSetting: the number cannot be a phone number in that numbering plan.
    """
    try:
        parsed = phonenumbers.parse(number, country.upper())
    except phonenumbers.NumberParseException as exc:
        raise InvalidSetting(field, f"{number!r} is not a phone number: {exc}") from exc
    # Local-only numbers (seven digits in the US) cannot be dialled from another area.
    reason = phonenumbers.is_possible_number_with_reason(parsed)
    if reason != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise InvalidSetting(
            field, f"{number!r} is not a possible phone number in {country.upper()}"
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalize_optional(raw: str | None, country: str, *, field: str) -> str | None:
    """Return the stored form of an optional destination; "" and None mean none."""
    if raw is None or raw.strip() == "":
        return None
    return parse_destination(raw.strip(), country, field=field).value
