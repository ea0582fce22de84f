"""What request handlers share: the database, caches and limits, built once per app."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server.auth import TokenCache
from callsettings.server.cache import SettingsCache
from callsettings.server.config import ServerConfig
from callsettings.server.invalidation import Invalidator
from callsettings.server.ratelimit import RateLimitStore


@dataclass
class Services:
    config: ServerConfig
    engine: AsyncEngine
    tokens: TokenCache
    rate_limits: RateLimitStore
    cache: SettingsCache
    invalidator: Invalidator


def services_of(request: Any) -> Services:
    found: Services = request.app.state.services
    return found
