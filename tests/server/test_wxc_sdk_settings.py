"""wxc_sdk against the real server: DND, voicemail, call waiting and the people directory."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine
from wxc_sdk import WebexSimpleApi
from wxc_sdk.person_settings.voicemail import VoicemailSettings
from wxc_sdk.rest import RestError

from callsettings.storage import repositories as repo
from callsettings.storage.database import create_engine
from tests.factories import World
from tests.server.audio import wav_bytes
from tests.server.wxc_support import wxc_against_live_server

Live = tuple[WebexSimpleApi, World, str]


@pytest.fixture
def wxc(sqlite_url: str) -> Iterator[Live]:
    with wxc_against_live_server(sqlite_url) as (api, world):
        yield api, world, sqlite_url


def read_db(url: str, work: Any) -> Any:
    async def run() -> Any:
        engine: AsyncEngine = create_engine(url)
        try:
            async with engine.connect() as conn:
                return await work(conn)
        finally:
            await engine.dispose()

    return asyncio.run(run())


def test_wxc_sdk_do_not_disturb(wxc: Live) -> None:
    api, world, _ = wxc
    person_id = world.pid(world.bob)
    dnd = api.person_settings.dnd.read(person_id)
    assert (dnd.enabled, dnd.ring_splash_enabled) == (False, False)
    dnd.enabled, dnd.ring_splash_enabled = True, True
    api.person_settings.dnd.configure(person_id, dnd)
    again = api.person_settings.dnd.read(person_id)
    assert (again.enabled, again.ring_splash_enabled, again.webex_go_override_enabled) == (
        True,
        True,
        False,
    )


def test_wxc_sdk_call_waiting(wxc: Live) -> None:
    api, world, _ = wxc
    person_id = world.pid(world.cat)
    assert api.person_settings.call_waiting.read(person_id) is True
    api.person_settings.call_waiting.configure(person_id, False)
    assert api.person_settings.call_waiting.read(person_id) is False


def test_wxc_sdk_voicemail_read_and_configure(wxc: Live) -> None:
    api, world, _ = wxc
    person_id = world.pid(world.ann)
    voicemail = api.person_settings.voicemail.read(person_id)
    assert voicemail.enabled is False
    assert voicemail.send_unanswered_calls.system_max_number_of_rings == 20
    voicemail.enabled = True
    voicemail.send_unanswered_calls.enabled = True
    voicemail.send_unanswered_calls.number_of_rings = 6
    voicemail.notifications.enabled = True
    voicemail.notifications.destination = "ann.mobile@a.example"
    api.person_settings.voicemail.configure(person_id, voicemail)
    again = api.person_settings.voicemail.read(person_id)
    assert again.enabled is True
    assert again.send_unanswered_calls.number_of_rings == 6
    assert again.notifications.destination == "ann.mobile@a.example"

    again.send_unanswered_calls.number_of_rings = 1
    with pytest.raises(RestError) as caught:
        api.person_settings.voicemail.configure(person_id, again)
    assert caught.value.response.status_code == 400
    assert "numberOfRings" in caught.value.description


def test_wxc_sdk_uploads_both_greetings_then_uses_them(wxc: Live, tmp_path: Path) -> None:
    api, world, url = wxc
    person_id = world.pid(world.ann)
    busy_audio, no_answer_audio = wav_bytes(1.0, tone_hz=350), wav_bytes(0.5, rate=16000)
    busy_file = tmp_path / "busy.wav"
    busy_file.write_bytes(busy_audio)
    no_answer_file = tmp_path / "recorded-on-phone.wav"
    no_answer_file.write_bytes(no_answer_audio)
    voicemail = api.person_settings.voicemail
    voicemail.configure_busy_greeting(person_id, str(busy_file))
    with no_answer_file.open("rb") as reader:
        voicemail.configure_no_answer_greeting(person_id, reader, upload_as="no_answer.wav")
    settings: VoicemailSettings = voicemail.read(person_id)
    assert settings.send_busy_calls.greeting_uploaded is True
    assert settings.send_unanswered_calls.greeting_uploaded is True
    settings.send_busy_calls.greeting = "CUSTOM"  # type: ignore[assignment]
    settings.send_unanswered_calls.greeting = "CUSTOM"  # type: ignore[assignment]
    voicemail.configure(person_id, settings)
    assert voicemail.read(person_id).send_busy_calls.greeting == "CUSTOM"

    async def greetings(conn: Any) -> tuple[Any, Any]:
        busy = await repo.get_greeting(conn, world.ann.id, "busy")
        no_answer = await repo.get_greeting(conn, world.ann.id, "noAnswer")
        return busy, no_answer

    busy, no_answer = read_db(url, greetings)
    assert (busy.filename, busy.audio) == ("busy.wav", busy_audio)
    assert (no_answer.filename, no_answer.audio) == ("no_answer.wav", no_answer_audio)


def test_wxc_sdk_refuses_to_upload_a_fake_greeting(wxc: Live, tmp_path: Path) -> None:
    api, world, _ = wxc
    fake = tmp_path / "fake.wav"
    fake.write_bytes(b"not audio at all")
    with pytest.raises(RestError) as caught:
        api.person_settings.voicemail.configure_busy_greeting(world.pid(world.ann), str(fake))
    assert caught.value.response.status_code == 400
    assert "WAV" in caught.value.description


def test_wxc_sdk_passcode_and_reset_pin(wxc: Live) -> None:
    api, world, url = wxc
    person_id = world.pid(world.bob)
    voicemail = api.person_settings.voicemail
    with pytest.raises(RestError) as caught:
        voicemail.modify_passcode(person_id, "111111")
    assert caught.value.response.status_code == 400
    voicemail.modify_passcode(person_id, "582914")

    async def state(conn: Any) -> Any:
        return await repo.get_passcode(conn, world.bob.id)

    stored = read_db(url, state)
    assert stored.passcode_hash.startswith("scrypt$")
    assert stored.must_reset is False
    voicemail.reset_pin(person_id)
    reset = read_db(url, state)
    assert (reset.passcode_hash, reset.must_reset) == (None, True)


def test_wxc_sdk_lists_people_across_pages(wxc: Live) -> None:
    api, world, _ = wxc
    people = list(api.people.list(max=1))
    assert [p.display_name for p in people] == ["Ann Test", "Bob Test", "Cat Test"]
    assert people[0].person_id == world.pid(world.ann)
    assert people[0].emails == ["ann@a.example"]
    assert people[0].extension == "1001"
    assert people[0].phone_numbers[0].value == "+12125550101"
    found = list(api.people.list(display_name="Ca", max=1))
    assert [p.emails for p in found] == [["cat@a.example"]]
    me = WebexSimpleApi(tokens=world.tokens["ann"], retry_429=False)
    me.session.BASE = api.session.BASE
    try:
        assert me.people.me().display_name == "Ann Test"
        (org,) = me.organizations.list(calling_data=True)
        assert org.xsi_actions_endpoint == api.session.BASE[: -len("/v1")] + (
            "/com.broadsoft.xsi-actions"
        )
    finally:
        me.close()


def test_wxc_sdk_reads_locations_and_numbers(wxc: Live) -> None:
    api, world, _ = wxc
    assert [loc.name for loc in api.locations.list()] == ["Branch", "HQ"]
    numbers = api.person_settings.numbers.read(world.pid(world.cat))
    assert numbers.phone_numbers[0].direct_number == "+14085550201"
    assert numbers.phone_numbers[0].extension == "2001"
