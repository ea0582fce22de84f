"""Voicemail: when calls go to the mailbox, greetings, notifications and storage."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from enum import StrEnum
from typing import Literal

import msgspec
from email_validator import EmailNotValidError, validate_email
from msgspec import UNSET, UnsetType

from callsettings.settings.destinations import normalize_optional, to_e164
from callsettings.settings.errors import InvalidSetting
from callsettings.settings.forwarding import DEFAULT_RINGS, DEFAULT_SYSTEM_MAX_RINGS, check_rings

Greeting = Literal["DEFAULT", "CUSTOM"]
StorageType = Literal["INTERNAL", "EXTERNAL"]


class GreetingKind(StrEnum):
    BUSY = "busy"
    NO_ANSWER = "noAnswer"


class SendAllCalls(msgspec.Struct, rename="camel"):
    enabled: bool = False


class SendBusyCalls(msgspec.Struct, rename="camel"):
    enabled: bool = False
    greeting: Greeting = "DEFAULT"
    greeting_uploaded: bool = False


class SendUnansweredCalls(msgspec.Struct, rename="camel"):
    enabled: bool = False
    greeting: Greeting = "DEFAULT"
    greeting_uploaded: bool = False
    number_of_rings: int = DEFAULT_RINGS
    system_max_number_of_rings: int = DEFAULT_SYSTEM_MAX_RINGS


class Notifications(msgspec.Struct, rename="camel"):
    enabled: bool = False
    destination: str | UnsetType = UNSET


class TransferToNumber(msgspec.Struct, rename="camel"):
    enabled: bool = False
    destination: str | UnsetType = UNSET


class EmailCopyOfMessage(msgspec.Struct, rename="camel"):
    enabled: bool = False
    email_id: str | UnsetType = UNSET


class MessageStorage(msgspec.Struct, rename="camel"):
    mwi_enabled: bool = True
    storage_type: StorageType = "INTERNAL"
    external_email: str | UnsetType = UNSET


class FaxMessage(msgspec.Struct, rename="camel"):
    enabled: bool = False
    phone_number: str | UnsetType = UNSET
    extension: str | UnsetType = UNSET


class Voicemail(msgspec.Struct, rename="camel"):
    """The whole voicemail document, as GET returns it."""

    enabled: bool = False
    send_all_calls: SendAllCalls = msgspec.field(default_factory=SendAllCalls)
    send_busy_calls: SendBusyCalls = msgspec.field(default_factory=SendBusyCalls)
    send_unanswered_calls: SendUnansweredCalls = msgspec.field(default_factory=SendUnansweredCalls)
    notifications: Notifications = msgspec.field(default_factory=Notifications)
    transfer_to_number: TransferToNumber = msgspec.field(default_factory=TransferToNumber)
    email_copy_of_message: EmailCopyOfMessage = msgspec.field(default_factory=EmailCopyOfMessage)
    message_storage: MessageStorage = msgspec.field(default_factory=MessageStorage)
    fax_message: FaxMessage = msgspec.field(default_factory=FaxMessage)
    voice_message_forwarding_enabled: bool = False


@dataclass(frozen=True, slots=True)
class Mailbox:
    """What the voicemail rules need to know about the person and their greetings."""

    country: str
    system_max_rings: int = DEFAULT_SYSTEM_MAX_RINGS
    busy_greeting_uploaded: bool = False
    no_answer_greeting_uploaded: bool = False


def validate_voicemail(document: Voicemail, mailbox: Mailbox) -> Voicemail:
    """Return `document` normalized, after checking every rule.

    Raises:
        InvalidSetting: naming the field and the rule that failed.
    """
    _check_greetings(document, mailbox)
    unanswered = document.send_unanswered_calls
    check_rings(
        unanswered.number_of_rings,
        mailbox.system_max_rings,
        "sendUnansweredCalls.numberOfRings",
    )
    unanswered.system_max_number_of_rings = mailbox.system_max_rings
    _check_emails(document)
    _check_transfer(document.transfer_to_number, mailbox.country)
    _check_fax(document.fax_message, mailbox.country)
    return document


def _check_greetings(document: Voicemail, mailbox: Mailbox) -> None:
    busy, unanswered = document.send_busy_calls, document.send_unanswered_calls
    busy.greeting_uploaded = mailbox.busy_greeting_uploaded
    unanswered.greeting_uploaded = mailbox.no_answer_greeting_uploaded
    for path, part in (("sendBusyCalls", busy), ("sendUnansweredCalls", unanswered)):
        if part.greeting == "CUSTOM" and not part.greeting_uploaded:
            raise InvalidSetting(
                f"{path}.greeting",
                "CUSTOM needs an uploaded greeting of this kind; upload one first or use DEFAULT",
            )


def _check_emails(document: Voicemail) -> None:
    notifications = document.notifications
    notifications.destination = _email(
        notifications.destination, notifications.enabled, "notifications.destination"
    )
    copy = document.email_copy_of_message
    copy.email_id = _email(copy.email_id, copy.enabled, "emailCopyOfMessage.emailId")
    storage = document.message_storage
    storage.external_email = _email(
        storage.external_email,
        storage.storage_type == "EXTERNAL",
        "messageStorage.externalEmail",
    )


def _email(value: str | UnsetType, required: bool, path: str) -> str | UnsetType:
    if value is UNSET or value.strip() == "":
        if required:
            raise InvalidSetting(path, "an email address is required here")
        return UNSET
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise InvalidSetting(path, f"{value!r} is not a valid email address: {exc}") from exc
    return checked.normalized


def _check_transfer(transfer: TransferToNumber, country: str) -> None:
    path = "transferToNumber.destination"
    raw = None if transfer.destination is UNSET else transfer.destination
    destination = normalize_optional(raw, country, field=path)
    if destination is None and transfer.enabled:
        raise InvalidSetting(path, "is required when transfer to number is enabled")
    transfer.destination = UNSET if destination is None else destination


def _check_fax(fax: FaxMessage, country: str) -> None:
    path = "faxMessage.phoneNumber"
    if fax.phone_number is UNSET or fax.phone_number.strip() == "":
        if fax.enabled:
            raise InvalidSetting(path, "is required when fax messaging is enabled")
        fax.phone_number = UNSET
    else:
        fax.phone_number = to_e164(fax.phone_number.strip(), country, field=path)
    if fax.extension is not UNSET and fax.extension and not fax.extension.isdigit():
        raise InvalidSetting("faxMessage.extension", f"must be digits, got {fax.extension!r}")


PASSCODE_MIN_LENGTH = 6
PASSCODE_MAX_LENGTH = 30


def check_passcode(passcode: object, extension: str | None, numbers: frozenset[str]) -> str:
    """Return `passcode` if it is an acceptable voicemail passcode.

    Raises:
        InvalidSetting: not 6..30 digits, or trivial (one repeated digit, an ascending or
            descending run, the person's extension or phone number).
    """
    if not isinstance(passcode, str):
        raise InvalidSetting("passcode", f"must be a string of digits, got {passcode!r}")
    if not passcode.isascii() or not passcode.isdigit():
        raise InvalidSetting("passcode", "must contain digits only")
    if not PASSCODE_MIN_LENGTH <= len(passcode) <= PASSCODE_MAX_LENGTH:
        raise InvalidSetting(
            "passcode",
            f"must have {PASSCODE_MIN_LENGTH} to {PASSCODE_MAX_LENGTH} digits, got {len(passcode)}",
        )
    if len(set(passcode)) == 1:
        raise InvalidSetting("passcode", "must not repeat one digit")
    steps = {(int(b) - int(a)) % 10 for a, b in itertools.pairwise(passcode)}
    if steps in ({1}, {9}):
        raise InvalidSetting("passcode", "must not be an ascending or descending run of digits")
    if extension and (extension in passcode or extension[::-1] in passcode):
        raise InvalidSetting("passcode", "must not contain the person's extension")
    if any(passcode in number.lstrip("+") for number in numbers):
        raise InvalidSetting("passcode", "must not be part of the person's phone number")
    return passcode
