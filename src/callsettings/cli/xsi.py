"""BroadWorks XSI-Actions: the per-person passwords XSI clients log in with (HTTP Basic)."""

from __future__ import annotations

import click
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.cli.common import database_option, run_with_engine
from callsettings.server.xsi.access import find_user
from callsettings.server.xsi.passwords import MAX_LENGTH, MIN_LENGTH, hash_password
from callsettings.storage import repositories as repo
from callsettings.storage.database import write_transaction
from callsettings.storage.records import Person


@click.group()
def xsi() -> None:
    """BroadWorks XSI-Actions access."""


@xsi.command("set-password")
@database_option
@click.option("--person", "person_ref", required=True, help="The person's email, UUID or id.")
@click.option(
    "--password",
    prompt="XSI password",
    hide_input=True,
    confirmation_prompt=True,
    help=(
        f"{MIN_LENGTH} to {MAX_LENGTH} characters; prompted for when left out, which keeps it "
        "out of the shell history."
    ),
)
def set_password(database_url: str, person_ref: str, password: str) -> None:
    """Set the password a person's XSI client logs in with (replacing any earlier one)."""
    try:
        hashed = hash_password(password)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--password") from exc

    async def work(engine: AsyncEngine) -> Person | None:
        async with write_transaction(engine) as conn:
            person = await find_user(conn, person_ref)
            if person is not None:
                await repo.set_xsi_password(conn, person.id, hashed)
            return person

    person = run_with_engine(database_url, work)
    if person is None:
        raise click.ClickException(f"no person {person_ref}")
    click.echo(f"XSI password set for {person.email} ({person.id})")


def register(cli_group: click.Group) -> None:
    cli_group.add_command(xsi)
