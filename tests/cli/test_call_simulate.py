"""`callsettings call simulate`: decisions and whole chains from the stored settings."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from click.testing import CliRunner

from callsettings.cli.main import cli
from callsettings.server import features
from callsettings.server.features import Actor
from callsettings.storage import repositories as repo
from callsettings.storage.database import create_engine, write_transaction
from callsettings.storage.records import Feature
from tests.factories import World, build_world

SETTINGS: list[tuple[str, Feature, dict[str, Any]]] = [
    # Ann always -> Bob; Bob busy -> Cat; Cat has voicemail for unanswered calls.
    (
        "ann",
        Feature.CALL_FORWARDING,
        {"callForwarding": {"always": {"enabled": True, "destination": "1002"}}},
    ),
    (
        "bob",
        Feature.CALL_FORWARDING,
        {"callForwarding": {"busy": {"enabled": True, "destination": "2001"}}},
    ),
    ("cat", Feature.VOICEMAIL, {"enabled": True, "sendUnansweredCalls": {"enabled": True}}),
]


@pytest.fixture
def org_a(sqlite_url: str) -> tuple[str, World]:
    """Org A of the test world, with the settings above stored through the service layer."""

    async def build() -> World:
        engine = create_engine(sqlite_url)
        try:
            world = await build_world(engine)
            async with write_transaction(engine) as conn:
                for name, feature, patch in SETTINGS:
                    person = getattr(world, name)
                    org = await repo.get_organization(conn, person.org_id)
                    assert org is not None
                    actor = Actor(None, "test", "test", "t-1")
                    await features.update(conn, person, org, feature, patch, actor)
            return world
        finally:
            await engine.dispose()

    return sqlite_url, asyncio.run(build())


def simulate(db: str, *args: str, ok: bool = True) -> Any:
    result = CliRunner().invoke(
        cli, ["call", "simulate", "--database-url", db, "--org", "Org A", *args]
    )
    if ok:
        assert result.exit_code == 0, result.output
    return result


def test_a_decision_prints_its_trace_and_the_compiled_treatment(org_a: tuple[str, World]) -> None:
    db, _ = org_a
    output = simulate(db, "--to", "1001", "--from", "2001").output
    assert "Call to 1001 (Ann Test)" in output
    assert "1001: unconditional forwarding to 1002 (Bob Test)" in output
    assert "Decision: forward to 1002 (unconditional, diversion 1)" in output


@pytest.mark.parametrize(
    ("args", "ended", "path"),
    [
        # Bob answers.
        ((), "answered", ["1001 (Ann Test)", "1002 (Bob Test)"]),
        # Bob is busy: on to Cat, who answers.
        (
            ("--state-of", "1002=busy"),
            "answered",
            ["1001 (Ann Test)", "1002 (Bob Test)", "2001 (Cat Test)"],
        ),
        # Bob busy, Cat rings out: Cat's voicemail.
        (
            ("--state-of", "1002=busy", "--state-of", "2001=no-reply"),
            "voicemail",
            ["1001 (Ann Test)", "1002 (Bob Test)", "2001 (Cat Test)"],
        ),
    ],
)
def test_follow_plays_the_chain_out_with_each_persons_state(
    org_a: tuple[str, World], args: tuple[str, ...], ended: str, path: list[str]
) -> None:
    db, _ = org_a
    answer = json.loads(simulate(db, "--to", "1001", "--follow", "--json", *args).output)
    assert answer["ended"] == ended
    assert answer["path"] == path


def test_the_called_persons_state_shapes_a_single_decision(org_a: tuple[str, World]) -> None:
    db, world = org_a
    answer = json.loads(simulate(db, "--to", "2001", "--state", "unregistered", "--json").output)
    assert answer["treatment"] == {
        "action": "voicemail",
        "mailbox": world.pid(world.cat),
        "greeting": "unavailable",
    }
    assert answer["trace"][-1] == "2001: not reachable, to voicemail"


def test_a_number_in_national_form_finds_the_person(org_a: tuple[str, World]) -> None:
    db, _ = org_a
    answer = json.loads(simulate(db, "--to", "(212) 555-0102", "--json").output)
    assert answer["called"] == "1002 (Bob Test)"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--to", "1999"), "nobody in Org A has 1999"),
        (("--to", "12"), "nobody in Org A has 12"),
        (("--to", "not-a-number"), "--to"),
        (("--to", "1001", "--state", "asleep"), "asleep"),
        (("--to", "1001", "--follow", "--state-of", "1002"), "EXT=STATE"),
    ],
)
def test_bad_input_is_refused_with_a_clear_message(
    org_a: tuple[str, World], args: tuple[str, ...], message: str
) -> None:
    db, _ = org_a
    result = simulate(db, *args, ok=False)
    assert result.exit_code != 0
    assert message in result.output


def test_several_organizations_need_org(org_a: tuple[str, World]) -> None:
    db, _ = org_a
    result = CliRunner().invoke(cli, ["call", "simulate", "--database-url", db, "--to", "1001"])
    assert result.exit_code == 2
    assert "--org" in result.output
    assert "'Org B'" in result.output
