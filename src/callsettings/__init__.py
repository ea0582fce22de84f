"""callsettings: a self-hostable call-settings service, SDK and call-treatment engine."""

from __future__ import annotations

__version__ = "0.1.0"
