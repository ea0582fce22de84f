"""`callsettings`: run and operate the service, and use any call-settings backend."""

from __future__ import annotations

import os
from typing import Any

import click
from rich.table import Table

from callsettings import __version__
from callsettings.cli import admin
from callsettings.cli import call as call_cli
from callsettings.cli import sdk as sdk_cli
from callsettings.cli import xsi as xsi_cli
from callsettings.cli.common import console, database_option, print_json, run_with_engine
from callsettings.server.demo import demo_document
from callsettings.storage.database import migrate as apply_migrations


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="callsettings")
def cli() -> None:
    """Manage call settings: serve the API, administer it, and use it."""


@cli.command()
@database_option
def migrate(database_url: str) -> None:
    """Apply the database migrations (idempotent)."""
    apply_migrations(database_url)
    click.echo(f"database is at the latest schema: {database_url}")


@cli.command()
@database_option
@click.option("--json", "as_json", is_flag=True, help="Print the demo description as JSON.")
def demo(database_url: str, as_json: bool) -> None:
    """Seed the demo organizations (once) and print their ids and tokens."""
    apply_migrations(database_url)
    document = run_with_engine(database_url, demo_document)
    if as_json:
        print_json(document)
    else:
        _print_demo(document)


def _print_demo(document: dict[str, Any]) -> None:
    tokens = document["tokens"]
    console.print(f"[bold]{document['displayName']}[/] orgId {document['orgId']}")
    table = Table("ext", "name", "email", "uuid")
    for person in document["people"]:
        table.add_row(person["extension"], person["displayName"], person["email"], person["uuid"])
    console.print(table)
    console.print(f"full admin token:     {tokens['fullAdmin']}")
    console.print(f"read-only admin:      {tokens['readOnlyAdmin']}")
    console.print(f"location admin:       {tokens['locationAdmin']['token']}")
    console.print(f"partner admin:        {tokens['partnerAdmin']['token']}")
    console.print("every token, with each person's own: callsettings demo --json")


@cli.command()
@database_option
@click.option("--host", default="127.0.0.1", show_default=True, envvar="CALLSETTINGS_HOST")
@click.option("--port", default=8000, show_default=True, type=int, envvar="CALLSETTINGS_PORT")
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(1, 64),
    envvar="CALLSETTINGS_WORKERS",
)
@click.option(
    "--demo/--no-demo",
    "with_demo",
    default=False,
    help="Seed the demo organizations if the database has none.",
)
@click.option("--migrate/--no-migrate", "run_migrations", default=True, show_default=True)
@click.option("--log-level", default="info", show_default=True)
def serve(
    database_url: str,
    host: str,
    port: int,
    workers: int,
    with_demo: bool,
    run_migrations: bool,
    log_level: str,
) -> None:
    """Start the service with uvicorn."""
    import uvicorn

    if run_migrations:
        apply_migrations(database_url)
    if with_demo:
        document = run_with_engine(database_url, demo_document)
        _print_demo(document)
    console.print(
        f"callsettings {__version__} on http://{host}:{port}  (API docs: http://{host}:{port}/docs)"
    )
    # Workers are separate processes: they read the same settings from the environment.
    os.environ["CALLSETTINGS_DATABASE_URL"] = database_url
    uvicorn.run(
        "callsettings.server.app:app_from_env",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level=log_level,
        # Below "info" the access log would be discarded, but uvicorn still formats each
        # line's client address and path: 6 % of a warm read in a py-spy profile.
        access_log=log_level.lower() in ("trace", "debug", "info"),
        proxy_headers=False,
    )


admin.register(cli)
xsi_cli.register(cli)
sdk_cli.register(cli)
cli.add_command(call_cli.call)
