"""The Webex REST dialect."""

from __future__ import annotations

from typing import Any

from callsettings.server.webex import features, me, treatment, voicemail_actions

ROUTES: list[Any] = [*features.ROUTES, *treatment.ROUTES, *voicemail_actions.ROUTES, *me.ROUTES]
