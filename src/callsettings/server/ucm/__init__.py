"""The UCM forwarding view."""

from __future__ import annotations

from typing import Any

from callsettings.server.ucm.forwarding import ForwardAlwaysView

ROUTES: list[Any] = [ForwardAlwaysView]
