"""wxc_sdk, the most used Python SDK for Webex Calling, against the real server over HTTP."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import Any

import pytest
from wxc_sdk import WebexSimpleApi
from wxc_sdk.rest import RestError

from callsettings.storage.database import create_engine
from tests.factories import World, build_world
from tests.live import serve_for_test


@pytest.fixture
def wxc(sqlite_url: str) -> Iterator[tuple[WebexSimpleApi, World]]:
    async def seed() -> World:
        engine = create_engine(sqlite_url)
        try:
            return await build_world(engine)
        finally:
            await engine.dispose()

    world = asyncio.run(seed())
    with serve_for_test(sqlite_url) as base_url:
        api = WebexSimpleApi(tokens=world.tokens["full"], retry_429=False)
        # wxc_sdk's documented way to point it at another server.
        api.session.BASE = f"{base_url}/v1"
        try:
            yield api, world
        finally:
            api.close()


def test_wxc_sdk_reads_modifies_and_reads_back_call_forwarding(wxc: Any) -> None:
    api, world = wxc
    person_id = world.pid(world.ann)
    forwarding = api.person_settings.forwarding.read(person_id)
    assert forwarding.call_forwarding.always.enabled is False
    assert forwarding.call_forwarding.no_answer.number_of_rings == 3

    forwarding.call_forwarding.always.enabled = True
    forwarding.call_forwarding.always.destination = "1002"
    forwarding.call_forwarding.no_answer.number_of_rings = 6
    forwarding.business_continuity.enabled = True
    forwarding.business_continuity.destination = "+1 408 555 0299"
    api.person_settings.forwarding.configure(person_id, forwarding)

    again = api.person_settings.forwarding.read(person_id)
    assert again.call_forwarding.always.enabled is True
    assert again.call_forwarding.always.destination == "1002"
    assert again.call_forwarding.no_answer.number_of_rings == 6
    assert again.business_continuity.destination == "+14085550299"


def test_wxc_sdk_sees_webex_errors_with_code_and_tracking_id(wxc: Any) -> None:
    api, world = wxc
    forwarding = api.person_settings.forwarding.read(world.pid(world.ann))
    forwarding.call_forwarding.no_answer.number_of_rings = 40
    with pytest.raises(RestError) as caught:
        api.person_settings.forwarding.configure(world.pid(world.ann), forwarding)
    assert caught.value.response.status_code == 400
    assert caught.value.code == 40001
    assert "numberOfRings" in caught.value.description


def test_wxc_sdk_with_a_partner_token_names_the_customer_org(wxc: Any) -> None:
    api, world = wxc
    partner = WebexSimpleApi(tokens=world.tokens["partner"], retry_429=False)
    partner.session.BASE = api.session.BASE
    try:
        got = partner.person_settings.forwarding.read(
            world.pid(world.zed), org_id=world.oid(world.other_org)
        )
    finally:
        partner.close()
    assert got.call_forwarding.busy.enabled is False
