"""`python -m callsettings` runs the command line."""

from __future__ import annotations

from callsettings.cli.main import cli

cli()
