"""Fixtures for SDK tests: the real service on an ephemeral port, with a seeded world."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from callsettings.sdk import AsyncCallSettingsClient, CallSettingsClient
from callsettings.storage.database import create_engine
from tests.factories import World, build_world
from tests.live import serve_for_test


@dataclass(frozen=True)
class Live:
    """A running service: its API root (with /v1), its XSI root and the seeded world."""

    base_url: str
    xsi_endpoint: str
    world: World
    database_url: str

    def options(self, token: str = "full", person: str = "ann", **extra: Any) -> dict[str, Any]:
        """Return client arguments for `person` (a World attribute, else an id as is)."""
        target = getattr(self.world, person, None)
        values: dict[str, Any] = {
            "base_url": self.base_url,
            "token": self.world.tokens[token],
            "person": person if target is None else self.world.pid(target),
            "org": self.world.oid(self.world.org),
        }
        return {**values, **extra}


def seed(database_url: str) -> World:
    async def build() -> World:
        engine = create_engine(database_url)
        try:
            return await build_world(engine)
        finally:
            await engine.dispose()

    return asyncio.run(build())


@pytest.fixture
def live(database_url: str) -> Iterator[Live]:
    world = seed(database_url)
    with serve_for_test(database_url) as root:
        yield Live(f"{root}/v1", f"{root}/com.broadsoft.xsi-actions", world, database_url)


class AwaitableClient:
    """The sync client behind the async client's interface, so one test drives both."""

    def __init__(self, client: CallSettingsClient) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)

        async def call(*args: Any) -> Any:
            return method(*args)

        return call


@pytest.fixture(params=["sync", "async"])
async def make_client(
    request: pytest.FixtureRequest, live: Live
) -> AsyncIterator[Callable[..., Any]]:
    """Return a factory of clients on the live service: sync (adapted) or async."""
    made: list[CallSettingsClient | AsyncCallSettingsClient] = []

    def make(token: str = "full", person: str = "ann", **extra: Any) -> Any:
        options = live.options(token, person, **extra)
        if request.param == "sync":
            client = CallSettingsClient(**options)
            made.append(client)
            return AwaitableClient(client)
        async_client = AsyncCallSettingsClient(**options)
        made.append(async_client)
        return async_client

    yield make
    for client in made:
        if isinstance(client, CallSettingsClient):
            client.close()
        else:
            await client.aclose()
