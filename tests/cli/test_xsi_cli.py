"""`callsettings xsi set-password`: an admin sets the password a person's XSI client uses."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner, Result
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.cli import xsi as xsi_cli
from callsettings.cli.common import run_with_engine
from callsettings.server.xsi.passwords import verify_password
from callsettings.storage import repositories as repo
from callsettings.storage.records import Person
from tests.factories import World, build_world


@click.group()
def cli() -> None:
    """A stand-in for the main group, which registers the command the same way."""


xsi_cli.register(cli)


def run(database_url: str, *args: str, prompt_input: str | None = None) -> Result:
    return CliRunner().invoke(
        cli, ["xsi", "set-password", "--database-url", database_url, *args], input=prompt_input
    )


@pytest.fixture
def world(sqlite_url: str) -> World:
    return run_with_engine(sqlite_url, build_world)


def stored_hash(database_url: str, person: Person) -> str | None:
    async def read(engine: AsyncEngine) -> str | None:
        async with engine.connect() as conn:
            return await repo.get_xsi_password(conn, person.id)

    return run_with_engine(database_url, read)


def test_set_password_by_email_stores_a_hash_that_verifies(sqlite_url: str, world: World) -> None:
    result = run(sqlite_url, "--person", "Ann@A.example", "--password", "s3cret-enough")
    assert result.exit_code == 0, result.output
    assert f"XSI password set for ann@a.example ({world.ann.id})" in result.output
    stored = stored_hash(sqlite_url, world.ann)
    assert stored is not None
    assert "s3cret-enough" not in stored
    assert verify_password("s3cret-enough", stored)
    assert not verify_password("s3cret-enougH", stored)
    assert stored_hash(sqlite_url, world.bob) is None


def test_the_password_is_prompted_for_twice_when_left_out(sqlite_url: str, world: World) -> None:
    result = run(
        sqlite_url, "--person", str(world.bob.id), prompt_input="typed-in-pw\ntyped-in-pw\n"
    )
    assert result.exit_code == 0, result.output
    assert "typed-in-pw" not in result.output
    stored = stored_hash(sqlite_url, world.bob)
    assert stored is not None
    assert verify_password("typed-in-pw", stored)


def test_a_short_password_is_refused_and_nothing_is_stored(sqlite_url: str, world: World) -> None:
    result = run(sqlite_url, "--person", world.pid(world.ann), "--password", "short")
    assert result.exit_code == 2
    assert "8 to 1024 characters, got 5" in result.output
    assert stored_hash(sqlite_url, world.ann) is None


def test_an_unknown_person_is_an_error(sqlite_url: str, world: World) -> None:
    result = run(sqlite_url, "--person", "nobody@a.example", "--password", "long enough pw")
    assert result.exit_code == 1
    assert "no person nobody@a.example" in result.output
