"""Fixtures for API tests: the app under test, in process, with its lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from litestar.testing import AsyncTestClient

from callsettings.server.app import create_app
from callsettings.server.config import ServerConfig


def make_config(database_url: str, **overrides: Any) -> ServerConfig:
    # The production defaults, so tests exercise the caches and the warm read path.
    values: dict[str, Any] = {"database_url": database_url}
    return ServerConfig(**{**values, **overrides})


@pytest.fixture
async def client(database_url: str, world: Any) -> AsyncIterator[AsyncTestClient[Any]]:
    app = create_app(make_config(database_url))
    async with AsyncTestClient(app=app, base_url="http://testserver.local") as test_client:
        yield test_client
