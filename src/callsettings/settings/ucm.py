"""The UCM view of forward-always: one entry per line of a person. No I/O.

UCM configures forwarding per line (directory number), while the settings here are per person,
so every line shows the same forward-always state. Voicemail takes precedence, as on UCM where
"forward all to voicemail" overrides the destination: when voicemail is on and sends all calls
there, each line has ``destinationVoicemailEnabled: true`` and no ``destination``. Otherwise a
line carries the forward-always destination while forward-always is enabled.
"""

from __future__ import annotations

from collections.abc import Sequence

import msgspec
from msgspec import UNSET, UnsetType

from callsettings.settings.forwarding import CallForwarding
from callsettings.settings.voicemail import Voicemail


class ForwardAlwaysLine(msgspec.Struct, rename="camel", kw_only=True):
    dn: str
    destination: str | UnsetType = UNSET
    destination_voicemail_enabled: bool
    e164_number: str


class ForwardAlwaysLines(msgspec.Struct, rename="camel"):
    always: list[ForwardAlwaysLine]


class UcmCallForwarding(msgspec.Struct, rename="camel"):
    """The body of GET /v1/uc/config/people/{userUuid}/features/callforwarding."""

    call_forwarding: ForwardAlwaysLines


def lines(extension: str | None, numbers: Sequence[str]) -> list[tuple[str, str]]:
    """Return (dn, e164Number) for each line of a person.

    The extension pairs with the first (primary) number; every further number is a line of
    its own, with the number as its directory number.
    """
    if not numbers:
        return [(extension, "")] if extension else []
    first, *rest = numbers
    return [(extension or first, first), *((number, number) for number in rest)]


def forward_always_view(
    extension: str | None,
    numbers: Sequence[str],
    forwarding: CallForwarding,
    voicemail: Voicemail,
) -> UcmCallForwarding:
    """Return the UCM view of forward-always for a person's lines."""
    always = forwarding.call_forwarding.always
    to_voicemail = voicemail.enabled and voicemail.send_all_calls.enabled
    destination: str | UnsetType = UNSET
    if always.enabled and not to_voicemail:
        destination = always.destination
    return UcmCallForwarding(
        ForwardAlwaysLines(
            [
                ForwardAlwaysLine(
                    dn=dn,
                    destination=destination,
                    destination_voicemail_enabled=to_voicemail,
                    e164_number=e164,
                )
                for dn, e164 in lines(extension, numbers)
            ]
        )
    )
