"""Administration: organizations, locations, people and tokens."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import click
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.cli.common import console, database_option, print_json, run_with_engine
from callsettings.server import provisioning
from callsettings.server.tokens import ROLE_SCOPES, issue_token
from callsettings.settings.errors import InvalidSetting
from callsettings.settings.ids import IdType, MalformedId, encode_id, parse_ref
from callsettings.storage import repositories as repo
from callsettings.storage.database import write_transaction
from callsettings.storage.records import Organization, Role


def _ref(kind: IdType, text: str) -> uuid.UUID:
    try:
        return parse_ref(kind, text)
    except MalformedId as exc:
        raise click.BadParameter(str(exc)) from exc


def _run(database_url: str, work: Any) -> Any:
    try:
        return run_with_engine(database_url, work)
    except InvalidSetting as exc:
        raise click.ClickException(str(exc)) from exc


async def _org(conn: Any, ref: str) -> Organization:
    org = await repo.get_organization(conn, _ref(IdType.ORGANIZATION, ref))
    if org is None:
        raise click.ClickException(f"no organization {ref}")
    return org


@click.group()
def org() -> None:
    """Organizations."""


@org.command("create")
@database_option
@click.argument("name")
@click.option("--country", default="US", show_default=True, help="ISO country for numbers.")
@click.option("--system-max-rings", default=20, show_default=True, type=int)
@click.option("--ring-seconds", default=6, show_default=True, type=int)
@click.option("--diversion-cap", default=5, show_default=True, type=int)
def org_create(
    database_url: str,
    name: str,
    country: str,
    system_max_rings: int,
    ring_seconds: int,
    diversion_cap: int,
) -> None:
    """Create an organization and print its id."""

    async def work(engine: AsyncEngine) -> Organization:
        async with write_transaction(engine) as conn:
            return await provisioning.create_organization(
                conn,
                name,
                country=country,
                system_max_rings=system_max_rings,
                ring_seconds=ring_seconds,
                diversion_cap=diversion_cap,
            )

    created = _run(database_url, work)
    print_json(
        {
            "id": encode_id(IdType.ORGANIZATION, created.id),
            "uuid": str(created.id),
            "displayName": created.display_name,
        }
    )


@org.command("list")
@database_option
def org_list(database_url: str) -> None:
    """List organizations."""

    async def work(engine: AsyncEngine) -> list[Organization]:
        async with engine.connect() as conn:
            return await repo.list_organizations(conn)

    table = Table("id", "uuid", "name", "country")
    for o in _run(database_url, work):
        table.add_row(encode_id(IdType.ORGANIZATION, o.id), str(o.id), o.display_name, o.country)
    console.print(table)


@click.group()
def location() -> None:
    """Locations."""


@location.command("create")
@database_option
@click.option("--org", "org_ref", required=True, help="Organization id or UUID.")
@click.argument("name")
@click.option("--time-zone", default="America/New_York", show_default=True)
@click.option("--address", default="")
def location_create(
    database_url: str, org_ref: str, name: str, time_zone: str, address: str
) -> None:
    """Create a location in an organization."""

    async def work(engine: AsyncEngine) -> Any:
        async with write_transaction(engine) as conn:
            return await provisioning.create_location(
                conn, await _org(conn, org_ref), name, time_zone=time_zone, address=address
            )

    created = _run(database_url, work)
    print_json(
        {
            "id": encode_id(IdType.LOCATION, created.id),
            "uuid": str(created.id),
            "name": created.name,
        }
    )


@click.group()
def person() -> None:
    """People."""


@person.command("create")
@database_option
@click.option("--org", "org_ref", required=True, help="Organization id or UUID.")
@click.option("--email", required=True)
@click.option("--first-name", required=True)
@click.option("--last-name", required=True)
@click.option("--display-name")
@click.option("--extension")
@click.option("--number", "numbers", multiple=True, help="Phone number (repeatable).")
@click.option("--location", "location_ref", help="Location id or UUID.")
def person_create(
    database_url: str,
    org_ref: str,
    email: str,
    first_name: str,
    last_name: str,
    display_name: str | None,
    extension: str | None,
    numbers: tuple[str, ...],
    location_ref: str | None,
) -> None:
    """Create a person."""

    async def work(engine: AsyncEngine) -> Any:
        async with write_transaction(engine) as conn:
            organization = await _org(conn, org_ref)
            place = None
            if location_ref:
                place = await repo.get_location(conn, _ref(IdType.LOCATION, location_ref))
                if place is None:
                    raise click.ClickException(f"no location {location_ref}")
            return await provisioning.create_person(
                conn,
                organization,
                email=email,
                first_name=first_name,
                last_name=last_name,
                display_name=display_name,
                extension=extension,
                numbers=numbers,
                location=place,
            )

    created = _run(database_url, work)
    print_json(
        {
            "id": encode_id(IdType.PEOPLE, created.id),
            "uuid": str(created.id),
            "email": created.email,
            "extension": created.extension,
        }
    )


@click.group()
def token() -> None:
    """Access tokens."""


@token.command("create")
@database_option
@click.option("--org", "org_ref", required=True, help="The token's organization.")
@click.option("--role", type=click.Choice([r.value for r in Role]), required=True)
@click.option("--person", "person_ref", help="The person the token acts as (user role).")
@click.option("--location", "location_refs", multiple=True, help="Managed location (repeat).")
@click.option("--manages", "managed_refs", multiple=True, help="Managed customer org (repeat).")
@click.option("--scope", "scopes", multiple=True, help="Scopes (default: the role's).")
@click.option("--days", default=365, show_default=True, type=click.IntRange(1, 3650))
@click.option("--label", default="")
def token_create(
    database_url: str,
    org_ref: str,
    role: str,
    person_ref: str | None,
    location_refs: tuple[str, ...],
    managed_refs: tuple[str, ...],
    scopes: tuple[str, ...],
    days: int,
    label: str,
) -> None:
    """Issue a token; its secret is printed once and stored only as a digest."""
    chosen = Role(role)
    if chosen is Role.USER and not person_ref:
        raise click.UsageError("a user token needs --person")
    if chosen is Role.LOCATION_ADMIN and not location_refs:
        raise click.UsageError("a location admin token needs at least one --location")
    if chosen is Role.PARTNER_ADMIN and not managed_refs:
        raise click.UsageError("a partner admin token needs at least one --manages ORG")

    async def work(engine: AsyncEngine) -> tuple[str, Any]:
        async with write_transaction(engine) as conn:
            organization = await _org(conn, org_ref)
            person_id = _ref(IdType.PEOPLE, person_ref) if person_ref else None
            if person_id is not None:
                found = await repo.get_person(conn, person_id)
                if found is None or found.org_id != organization.id:
                    raise click.ClickException(f"no person {person_ref} in that organization")
            return await issue_token(
                conn,
                org_id=organization.id,
                role=chosen,
                person_id=person_id,
                scopes=frozenset(scopes) if scopes else ROLE_SCOPES[chosen],
                location_ids=frozenset(_ref(IdType.LOCATION, r) for r in location_refs),
                managed_org_ids=frozenset(_ref(IdType.ORGANIZATION, r) for r in managed_refs),
                label=label or f"{chosen.value} token",
                lifetime=timedelta(days=days),
            )

    secret, record = _run(database_url, work)
    print_json(
        {
            "token": secret,
            "id": str(record.id),
            "role": record.role.value,
            "scopes": sorted(record.scopes),
            "expires": record.expires.isoformat(),
        }
    )


@token.command("revoke")
@database_option
@click.argument("token_id")
def token_revoke(database_url: str, token_id: str) -> None:
    """Revoke a token by its id (not its secret)."""
    try:
        parsed = uuid.UUID(token_id)
    except ValueError as exc:
        raise click.BadParameter(f"{token_id!r} is not a token id (a UUID)") from exc

    async def work(engine: AsyncEngine) -> bool:
        async with write_transaction(engine) as conn:
            return await repo.revoke_token(conn, parsed)

    if not _run(database_url, work):
        raise click.ClickException(f"no active token {token_id}")
    click.echo(f"revoked {token_id}")


@token.command("list")
@database_option
@click.option("--org", "org_ref", help="Only this organization's tokens.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def token_list(database_url: str, org_ref: str | None, as_json: bool) -> None:
    """List tokens (never their secrets)."""

    async def work(engine: AsyncEngine) -> Any:
        async with engine.connect() as conn:
            org_id = _ref(IdType.ORGANIZATION, org_ref) if org_ref else None
            return await repo.list_tokens(conn, org_id)

    found = _run(database_url, work)
    if as_json:
        print_json(
            [
                {
                    "id": str(t.id),
                    "role": t.role.value,
                    "label": t.label,
                    "scopes": sorted(t.scopes),
                    "expires": t.expires.isoformat(),
                    "revoked": t.revoked.isoformat() if t.revoked else None,
                }
                for t in found
            ]
        )
        return
    table = Table("id", "role", "label", "expires", "revoked")
    for t in found:
        table.add_row(
            str(t.id),
            t.role.value,
            t.label,
            t.expires.isoformat(timespec="minutes"),
            t.revoked.isoformat(timespec="minutes") if t.revoked else "",
        )
    console.print(table)


def register(cli: click.Group) -> None:
    for group in (org, location, person, token):
        cli.add_command(group)
