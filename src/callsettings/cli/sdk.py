"""Commands that use the SDK: read and change one person's settings on any backend.

`callsettings forwarding get|set`, `dnd get|on|off`, `voicemail get|set`,
`callwaiting get|on|off` and `forward-always get`. The token comes from --token or
CALLSETTINGS_TOKEN (read here, never by the SDK).
"""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import click
from rich.table import Table

from callsettings.cli.common import console
from callsettings.sdk import BackendName, CallSettingResponse, CallSettingsClient
from callsettings.settings.documents import merge_patch

F = TypeVar("F", bound=Callable[..., Any])
Call = Callable[[CallSettingsClient], CallSettingResponse[Any]]

DEFAULT_BASE_URL = "http://127.0.0.1:8000/v1"


def client_options(func: F) -> F:
    """Add the options that say where the settings are, whose, and how to print them."""
    options = [
        click.option(
            "--base-url",
            default=DEFAULT_BASE_URL,
            show_default=True,
            envvar="CALLSETTINGS_BASE_URL",
            help="The API root including /v1, as in https://webexapis.com/v1.",
        ),
        click.option(
            "--token",
            envvar="CALLSETTINGS_TOKEN",
            required=True,
            help="Access token (env CALLSETTINGS_TOKEN).",
        ),
        click.option("--person", required=True, help="The person's Webex id or raw UUID."),
        click.option("--org", default=None, help="The organization's Webex id or raw UUID."),
        click.option(
            "--backend",
            type=click.Choice([b.value for b in BackendName]),
            default=BackendName.WXC.value,
            show_default=True,
            help="wxc: Webex Calling, bwrks: BroadWorks XSI, ucm: UCM.",
        ),
        click.option(
            "--xsi-endpoint",
            default=None,
            help="The XSI-Actions root; discovered from /organizations when left out.",
        ),
        click.option("--timeout", type=float, default=10.0, show_default=True),
        click.option(
            "--output",
            type=click.Choice(["table", "json"]),
            default="table",
            show_default=True,
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def run(options: dict[str, Any], call: Call) -> None:
    """Make one SDK call with the command's options, print the answer, exit 1 on FAILURE."""
    output = options.pop("output")
    try:
        client = CallSettingsClient(**options)
    except ValueError as exc:
        raise click.UsageError(str(exc)) from exc
    with client:
        response = call(client)
    if output == "json":
        click.echo(json.dumps(response.to_dict(), indent=2))
    else:
        _print_table(response)
    if not response.ok:
        sys.exit(1)


def _print_table(response: CallSettingResponse[Any]) -> None:
    if not response.ok:
        error = response.error
        console.print(f"[red]FAILURE[/] {response.status_code}: {response.data}")
        if error is not None and (error.detail or error.code or error.tracking_id):
            console.print(f"  {error}")
        return
    table = Table("setting", "value", title=f"SUCCESS {response.status_code}")
    for path, value in _flatten(response.call_setting or {}):
        table.add_row(path, json.dumps(value) if not isinstance(value, str) else value)
    console.print(table)


def _flatten(document: dict[str, Any], prefix: str = "") -> Iterator[tuple[str, Any]]:
    for key, value in document.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict):
            yield from _flatten(value, f"{path}.")
        else:
            yield path, value


def _document(text: str | None) -> dict[str, Any]:
    """Return the JSON object given as text, @file or - (stdin); {} when none was given."""
    if text is None:
        return {}
    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        text = Path(text[1:]).read_text()
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise click.BadParameter(f"not JSON: {exc}", param_hint="--json") from exc
    if not isinstance(document, dict):
        raise click.BadParameter("must be a JSON object", param_hint="--json")
    return document


def _set(patch: dict[str, Any], path: str, value: Any) -> None:
    if value is None:
        return
    *parents, last = path.split(".")
    node = patch
    for key in parents:
        node = node.setdefault(key, {})
    node[last] = value


def _changes(document: str | None, changes: dict[str, Any]) -> dict[str, Any]:
    """Return the JSON document with the option changes on top; UsageError when empty."""
    patch: dict[str, Any] = {}
    for path, value in changes.items():
        _set(patch, path, value)
    merged = merge_patch(_document(document), patch)
    if not merged:
        raise click.UsageError("nothing to change: give options or --json")
    return merged


def _rule(target: str | None, off: bool) -> dict[str, Any]:
    """Return the fields of a forwarding rule switched on to `target` or off."""
    if target is not None and off:
        raise click.UsageError("a rule cannot be switched on and off at once")
    if target is not None:
        return {"enabled": True, "destination": target}
    return {"enabled": False} if off else {}


def _call(method: str, *args: Any) -> Call:
    def call(client: CallSettingsClient) -> CallSettingResponse[Any]:
        response: CallSettingResponse[Any] = getattr(client, method)(*args)
        return response

    return call


@click.group()
def forwarding() -> None:
    """Call forwarding: always, busy, no answer and business continuity."""


@forwarding.command("get")
@client_options
def forwarding_get(**options: Any) -> None:
    """Read the person's call forwarding."""
    run(options, _call("get_call_forward_setting"))


@forwarding.command("set")
@client_options
@click.option("--always-to", metavar="NUMBER", help="Forward every call to NUMBER.")
@click.option("--always-off", is_flag=True, help="Stop forwarding every call.")
@click.option("--ring-reminder/--no-ring-reminder", default=None)
@click.option("--busy-to", metavar="NUMBER")
@click.option("--busy-off", is_flag=True)
@click.option("--no-answer-to", metavar="NUMBER")
@click.option("--no-answer-rings", type=int, metavar="N")
@click.option("--no-answer-off", is_flag=True)
@click.option("--continuity-to", metavar="NUMBER", help="Business continuity destination.")
@click.option("--continuity-off", is_flag=True)
@click.option("--json", "document", help="A (partial) CallForwardSetting: JSON, @file or -.")
def forwarding_set(
    always_to: str | None,
    always_off: bool,
    ring_reminder: bool | None,
    busy_to: str | None,
    busy_off: bool,
    no_answer_to: str | None,
    no_answer_rings: int | None,
    no_answer_off: bool,
    continuity_to: str | None,
    continuity_off: bool,
    document: str | None,
    **options: Any,
) -> None:
    """Change the person's call forwarding; only what is given changes."""
    rules = {
        "callForwarding.always": _rule(always_to, always_off),
        "callForwarding.busy": _rule(busy_to, busy_off),
        "callForwarding.noAnswer": _rule(no_answer_to, no_answer_off),
        "businessContinuity": _rule(continuity_to, continuity_off),
    }
    changes = {
        f"{rule}.{key}": value for rule, fields in rules.items() for key, value in fields.items()
    }
    changes["callForwarding.always.ringReminderEnabled"] = ring_reminder
    changes["callForwarding.noAnswer.numberOfRings"] = no_answer_rings
    run(options, _call("set_call_forward_setting", _changes(document, changes)))


@click.group()
def dnd() -> None:
    """Do Not Disturb."""


@dnd.command("get")
@client_options
def dnd_get(**options: Any) -> None:
    """Read the person's Do Not Disturb."""
    run(options, _call("get_do_not_disturb_setting"))


@dnd.command("on")
@client_options
def dnd_on(**options: Any) -> None:
    """Switch Do Not Disturb on (ring splash keeps its value)."""
    run(options, _call("set_do_not_disturb_setting", True))


@dnd.command("off")
@client_options
def dnd_off(**options: Any) -> None:
    """Switch Do Not Disturb off."""
    run(options, _call("set_do_not_disturb_setting", False))


@click.group()
def voicemail() -> None:
    """Voicemail."""


@voicemail.command("get")
@client_options
def voicemail_get(**options: Any) -> None:
    """Read the person's voicemail settings."""
    run(options, _call("get_voicemail_setting"))


@voicemail.command("set")
@client_options
@click.option("--enabled/--disabled", default=None, help="Voicemail on or off.")
@click.option("--send-all/--no-send-all", default=None, help="Send every call to voicemail.")
@click.option("--send-busy/--no-send-busy", default=None)
@click.option("--send-unanswered/--no-send-unanswered", default=None)
@click.option("--rings", type=int, metavar="N", help="Rings before an unanswered call goes.")
@click.option("--notify", metavar="EMAIL", help="Send new-message notifications to EMAIL.")
@click.option("--notify-off", is_flag=True)
@click.option("--json", "document", help="A (partial) VoicemailSetting: JSON, @file or -.")
def voicemail_set(
    enabled: bool | None,
    send_all: bool | None,
    send_busy: bool | None,
    send_unanswered: bool | None,
    rings: int | None,
    notify: str | None,
    notify_off: bool,
    document: str | None,
    **options: Any,
) -> None:
    """Change the person's voicemail settings; only what is given changes."""
    changes = {
        "enabled": enabled,
        "sendAllCalls.enabled": send_all,
        "sendBusyCalls.enabled": send_busy,
        "sendUnansweredCalls.enabled": send_unanswered,
        "sendUnansweredCalls.numberOfRings": rings,
        **{f"notifications.{k}": v for k, v in _rule(notify, notify_off).items()},
    }
    run(options, _call("set_voicemail_setting", _changes(document, changes)))


@click.group()
def callwaiting() -> None:
    """Call waiting."""


@callwaiting.command("get")
@client_options
def callwaiting_get(**options: Any) -> None:
    """Read the person's call waiting."""
    run(options, _call("get_call_waiting_setting"))


@callwaiting.command("on")
@client_options
def callwaiting_on(**options: Any) -> None:
    """Switch call waiting on."""
    run(options, _call("set_call_waiting_setting", True))


@callwaiting.command("off")
@client_options
def callwaiting_off(**options: Any) -> None:
    """Switch call waiting off."""
    run(options, _call("set_call_waiting_setting", False))


@click.group("forward-always")
def forward_always() -> None:
    """Where every call goes: a forward-always destination or voicemail."""


@forward_always.command("get")
@client_options
@click.option("--dn", default=None, help="The directory number (required on UCM).")
def forward_always_get(dn: str | None, **options: Any) -> None:
    """Read the person's forward-always setting, with voicemail's precedence."""
    run(options, _call("get_call_forward_always_setting", dn))


def register(cli_group: click.Group) -> None:
    for group in (forwarding, dnd, voicemail, callwaiting, forward_always):
        cli_group.add_command(group)
