"""Call forwarding: always, busy, no answer and business continuity."""

from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
from msgspec import UNSET, UnsetType

from callsettings.settings.destinations import normalize_optional
from callsettings.settings.errors import InvalidSetting

MIN_RINGS = 2
DEFAULT_RINGS = 3
DEFAULT_SYSTEM_MAX_RINGS = 20


class AlwaysRule(msgspec.Struct, rename="camel"):
    enabled: bool = False
    destination: str | UnsetType = UNSET
    ring_reminder_enabled: bool = False
    destination_voicemail_enabled: bool = False


class BusyRule(msgspec.Struct, rename="camel"):
    enabled: bool = False
    destination: str | UnsetType = UNSET
    destination_voicemail_enabled: bool = False


class NoAnswerRule(msgspec.Struct, rename="camel"):
    enabled: bool = False
    destination: str | UnsetType = UNSET
    number_of_rings: int = DEFAULT_RINGS
    system_max_number_of_rings: int = DEFAULT_SYSTEM_MAX_RINGS
    destination_voicemail_enabled: bool = False


class BusinessContinuityRule(msgspec.Struct, rename="camel"):
    enabled: bool = False
    destination: str | UnsetType = UNSET
    destination_voicemail_enabled: bool = False


class ForwardingRules(msgspec.Struct, rename="camel"):
    always: AlwaysRule = msgspec.field(default_factory=AlwaysRule)
    busy: BusyRule = msgspec.field(default_factory=BusyRule)
    no_answer: NoAnswerRule = msgspec.field(default_factory=NoAnswerRule)


class CallForwarding(msgspec.Struct, rename="camel"):
    """The whole call-forwarding document, as GET returns it."""

    call_forwarding: ForwardingRules = msgspec.field(default_factory=ForwardingRules)
    business_continuity: BusinessContinuityRule = msgspec.field(
        default_factory=BusinessContinuityRule
    )


Rule = AlwaysRule | BusyRule | NoAnswerRule | BusinessContinuityRule


@dataclass(frozen=True, slots=True)
class Owner:
    """What the rules need to know about the person whose settings change."""

    country: str
    extension: str | None = None
    numbers: frozenset[str] = field(default_factory=frozenset)
    system_max_rings: int = DEFAULT_SYSTEM_MAX_RINGS

    def owns(self, destination: str) -> bool:
        return destination == self.extension or destination in self.numbers


def rules_by_path(document: CallForwarding) -> list[tuple[str, Rule]]:
    """Return each rule with its JSON path, in the order errors are reported."""
    rules = document.call_forwarding
    return [
        ("callForwarding.always", rules.always),
        ("callForwarding.busy", rules.busy),
        ("callForwarding.noAnswer", rules.no_answer),
        ("businessContinuity", document.business_continuity),
    ]


def validate_forwarding(document: CallForwarding, owner: Owner) -> CallForwarding:
    """Return `document` with destinations normalized, after checking every rule.

    Raises:
        InvalidSetting: naming the field and the rule that failed.
    """
    for path, rule in rules_by_path(document):
        rule.destination = _checked_destination(rule, owner, path)
    rings = document.call_forwarding.no_answer
    check_rings(
        rings.number_of_rings, owner.system_max_rings, "callForwarding.noAnswer.numberOfRings"
    )
    rings.system_max_number_of_rings = owner.system_max_rings
    return document


def _checked_destination(rule: Rule, owner: Owner, path: str) -> str | UnsetType:
    raw = None if rule.destination is UNSET else rule.destination
    destination = normalize_optional(raw, owner.country, field=f"{path}.destination")
    if destination is None:
        if rule.enabled:
            raise InvalidSetting(f"{path}.destination", "is required when the rule is enabled")
        return UNSET
    if owner.owns(destination):
        raise InvalidSetting(
            f"{path}.destination",
            f"cannot forward a person to their own extension or number ({destination})",
        )
    return destination


def check_rings(rings: int, system_max: int, field_path: str) -> None:
    """Raise InvalidSetting unless `rings` is within MIN_RINGS..system_max."""
    if not MIN_RINGS <= rings <= system_max:
        raise InvalidSetting(
            field_path, f"must be between {MIN_RINGS} and {system_max}, got {rings}"
        )


def destinations(document: CallForwarding) -> list[tuple[str, str]]:
    """Return (path, destination) for every rule that has one."""
    return [
        (path, rule.destination)
        for path, rule in rules_by_path(document)
        if isinstance(rule.destination, str)
    ]
