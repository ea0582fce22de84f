"""wxc_sdk, the most used Python SDK for Webex Calling, against the real server over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from wxc_sdk import WebexSimpleApi
from wxc_sdk.rest import RestError

from tests.factories import World
from tests.server.wxc_support import wxc_against_live_server


@pytest.fixture
def wxc(sqlite_url: str) -> Iterator[tuple[WebexSimpleApi, World]]:
    with wxc_against_live_server(sqlite_url) as (api, world):
        yield api, world


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
