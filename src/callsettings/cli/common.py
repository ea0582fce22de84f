"""Options every server-side command shares, and how they become a ServerConfig."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import click
from rich.console import Console

from callsettings.server.config import DEFAULT_DATABASE_URL, ServerConfig
from callsettings.storage.database import create_engine

T = TypeVar("T")
F = TypeVar("F", bound=Callable[..., Any])

console = Console()


def database_option(func: F) -> F:
    return click.option(
        "--database-url",
        envvar="CALLSETTINGS_DATABASE_URL",
        default=DEFAULT_DATABASE_URL,
        show_default=True,
        help="sqlite:///path or postgresql://user@host/db (env CALLSETTINGS_DATABASE_URL).",
    )(func)


def server_config(**overrides: Any) -> ServerConfig:
    """Return the configuration from CALLSETTINGS_* with command-line values on top."""
    return ServerConfig(**{k: v for k, v in overrides.items() if v is not None})


def run_with_engine(database_url: str, work: Callable[[Any], Awaitable[T]]) -> T:
    """Run `work(engine)` on a fresh engine and dispose of it afterwards."""

    async def main() -> T:
        engine = create_engine(database_url)
        try:
            return await work(engine)
        finally:
            await engine.dispose()

    return asyncio.run(main())


def print_json(value: Any) -> None:
    click.echo(json.dumps(value, indent=2, default=str))
