"""The BroadWorks XSI-Actions dialect."""

from __future__ import annotations

from typing import Any

from callsettings.server.xsi.actions import UserServices

ROUTES: list[Any] = [UserServices]
