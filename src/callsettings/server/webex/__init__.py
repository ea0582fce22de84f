"""The Webex REST dialect."""

from __future__ import annotations

from typing import Any

from callsettings.server.webex.features import PersonFeatures

ROUTES: list[Any] = [PersonFeatures]
