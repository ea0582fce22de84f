"""The Webex REST dialect."""

from __future__ import annotations

from typing import Any

from callsettings.server.webex import (
    audit,
    directory,
    features,
    me,
    organizations,
    treatment,
    voicemail_actions,
)

ROUTES: list[Any] = [
    *features.ROUTES,
    *treatment.ROUTES,
    *voicemail_actions.ROUTES,
    *me.ROUTES,
    *directory.ROUTES,
    *organizations.ROUTES,
    *audit.ROUTES,
]
