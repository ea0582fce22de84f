"""Errors of the settings domain; they know nothing of HTTP."""

from __future__ import annotations


class SettingsError(Exception):
    """Root of every error raised by the settings domain."""


class InvalidSetting(SettingsError):
    """A value breaks a rule; `field` is the JSON path of the offending value."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}" if field else message)
        self.field = field
        self.message = message


class ForwardingLoop(InvalidSetting):
    """A change would close a cycle of unconditional forwards."""

    def __init__(self, field: str, cycle: list[str]) -> None:
        path = " -> ".join(cycle)
        super().__init__(field, f"this change would create a forwarding loop: {path}")
        self.cycle = cycle
