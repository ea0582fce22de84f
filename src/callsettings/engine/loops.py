"""Write-time loop protection: refuse a change that closes a cycle of unconditional forwards."""

from __future__ import annotations

from callsettings.engine.decide import Lookup
from callsettings.engine.model import Subscriber

MAX_HOPS = 64


def always_destination(person: Subscriber) -> str | None:
    always = person.forwarding.call_forwarding.always
    if always.enabled and isinstance(always.destination, str):
        return always.destination
    return None


def unconditional_cycle(changed: Subscriber, lookup: Lookup) -> list[str] | None:
    """Return the labels of the cycle `changed` (with its new settings) would close, or None.

    Follows "always" forwards from `changed` through people of the organization; a chain
    that leaves the organization, stops, or loops without returning to `changed` (a cycle
    among others, which their own writes would have refused) closes nothing.
    """
    path = [changed]
    seen = {changed.id}
    current = changed
    for _ in range(MAX_HOPS):
        destination = always_destination(current)
        target = None if destination is None else lookup(destination)
        if target is None:
            return None
        if target.id == changed.id:
            return [p.label for p in path] + [changed.label]
        if target.id in seen:
            return None
        seen.add(target.id)
        path.append(target)
        current = target
    return None
