"""wxc_sdk pointed at a real server on an ephemeral port, seeded with the test world."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

from wxc_sdk import WebexSimpleApi

from tests.factories import World, seed_world
from tests.live import serve_for_test


@contextmanager
def wxc_against_live_server(database_url: str) -> Iterator[tuple[WebexSimpleApi, World]]:
    world = asyncio.run(seed_world(database_url))
    with serve_for_test(database_url) as base_url:
        api = WebexSimpleApi(tokens=world.tokens["full"], retry_429=False)
        # wxc_sdk's documented way to point it at another server.
        api.session.BASE = f"{base_url}/v1"
        try:
            yield api, world
        finally:
            api.close()
