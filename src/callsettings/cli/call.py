"""`callsettings call simulate`: what the stored settings do to a call, explained."""

from __future__ import annotations

from typing import Any

import click

from callsettings.cli.common import console, database_option, print_json, run_with_engine
from callsettings.engine import (
    Call,
    Decision,
    Outcome,
    Presence,
    Subscriber,
    decide,
    follow,
    treatment_to_json,
)
from callsettings.server import features
from callsettings.server.treatment import StoredDirectory, policy_of, settle
from callsettings.settings import InvalidSetting
from callsettings.settings.destinations import is_extension, to_e164
from callsettings.settings.ids import IdType, MalformedId, parse_ref
from callsettings.storage import repositories as repo
from callsettings.storage.database import given
from callsettings.storage.records import Organization, Person

STATES = [p.value for p in Presence]


def _state_of(pairs: tuple[str, ...]) -> dict[str, Presence]:
    """Parse repeated `EXT=STATE` options."""
    states: dict[str, Presence] = {}
    for pair in pairs:
        who, sep, state = pair.partition("=")
        if not sep or state not in STATES:
            raise click.BadParameter(
                f"expected EXT=STATE with STATE one of {', '.join(STATES)}, got {pair!r}",
                param_hint="--state-of",
            )
        states[who.strip()] = Presence(state)
    return states


@click.group()
def call() -> None:
    """Calls: see what people's settings do to them."""


@call.command("simulate")
@database_option
@click.option("--to", "called", required=True, help="The extension or number dialled.")
@click.option("--from", "caller", default=None, help="Who calls (extension or number).")
@click.option(
    "--state",
    type=click.Choice(STATES),
    default=None,
    help="The called person's presence; leave it out to see every branch of the ring.",
)
@click.option("--follow", "follow_chain", is_flag=True, help="Play the chain out to its end.")
@click.option(
    "--state-of",
    "state_of",
    multiple=True,
    metavar="EXT=STATE",
    help="With --follow: the presence of another person on the chain (repeat). Default idle.",
)
@click.option(
    "--org", "org_ref", default=None, help="Organization id or name (needed when several)."
)
@click.option("--json", "as_json", is_flag=True, help="Print the decision as JSON.")
def simulate(
    database_url: str,
    called: str,
    caller: str | None,
    state: str | None,
    follow_chain: bool,
    state_of: tuple[str, ...],
    org_ref: str | None,
    as_json: bool,
) -> None:
    """Decide a call to --to with the stored settings and print the decision and its trace."""
    presence = None if state is None else Presence(state)
    others = _state_of(state_of)

    async def work(engine: Any) -> tuple[Subscriber, Decision | Outcome]:
        async with engine.connect() as conn:
            org = await _organization(conn, org_ref)
            dialled = _dialled(called, org)
            person = await repo.find_person_by_dial(conn, org.id, dialled)
            if person is None:
                raise click.ClickException(f"nobody in {org.display_name} has {dialled}")

            async def load(someone: Person) -> Subscriber:
                return features.as_subscriber(someone, await features.read_all(conn, someone, org))

            served = await load(person)
            directory = StoredDirectory(given(conn), org, load)
            policy = policy_of(org)
            the_call = Call(dialled, caller)
            if not follow_chain:
                return served, await settle(
                    lambda lookup: decide(the_call, served, presence, lookup, policy), directory
                )

            def presence_of(someone: Subscriber) -> Presence:
                if someone.id == served.id:
                    return presence or Presence.IDLE
                return others.get(someone.extension or "", Presence.IDLE)

            return served, await settle(
                lambda lookup: follow(the_call, served, presence_of, lookup, policy), directory
            )

    served, result = run_with_engine(database_url, work)
    if as_json:
        print_json(_as_json(served, result))
    else:
        _print(served, result)


async def _organization(conn: Any, ref: str | None) -> Organization:
    """The organization named by id, UUID or display name; the only one when not named."""
    orgs: list[Organization] = list(await repo.list_organizations(conn))
    if ref is not None:
        named = [o for o in orgs if o.display_name == ref]
        if not named:
            try:
                wanted = parse_ref(IdType.ORGANIZATION, ref)
            except MalformedId:
                wanted = None
            named = [o for o in orgs if o.id == wanted]
        if not named:
            raise click.BadParameter(f"no organization {ref!r}", param_hint="--org")
        return named[0]
    if len(orgs) != 1:
        names = ", ".join(repr(o.display_name) for o in orgs) or "none"
        raise click.UsageError(f"name the organization with --org (there are: {names})")
    return orgs[0]


def _dialled(raw: str, org: Organization) -> str:
    text = raw.strip()
    if is_extension(text):
        return text
    try:
        return to_e164(text, org.country, field="--to")
    except InvalidSetting as exc:
        raise click.BadParameter(exc.message, param_hint="--to") from exc


def _as_json(served: Subscriber, result: Decision | Outcome) -> dict[str, Any]:
    base: dict[str, Any] = {"called": served.label}
    if isinstance(result, Decision):
        return {**base, "treatment": treatment_to_json(result.treatment), "trace": result.trace}
    return {
        **base,
        "ended": result.ended,
        "endedWith": None if result.person is None else result.person.label,
        "treatment": None if result.treatment is None else treatment_to_json(result.treatment),
        "path": list(result.path),
        "trace": list(result.trace),
    }


def _print(served: Subscriber, result: Decision | Outcome) -> None:
    console.print(f"[bold]Call to {served.label}[/]")
    for line in result.trace:
        console.print(f"  {line}")
    if isinstance(result, Decision):
        described = _describe(treatment_to_json(result.treatment))
        console.print(f"[bold]Decision:[/] {described.replace(served.id, served.label)}")
        return
    console.print(f"[bold]Path:[/] {' -> '.join(result.path)}")
    ended = result.ended
    if result.person is not None:
        ended += f" ({result.person.label})"
    elif result.treatment is not None:
        ended += f": {_describe(treatment_to_json(result.treatment))}"
    console.print(f"[bold]Ends:[/] {ended}")


def _describe(treatment: dict[str, Any]) -> str:
    action = treatment["action"]
    if action == "reject":
        return f"reject {treatment['code']} ({treatment['reason']})"
    if action == "forward":
        why = f"{treatment['reason']}, diversion {treatment['counter']}"
        return f"forward to {treatment['target']} ({why})"
    if action == "voicemail":
        return f"voicemail of {treatment['mailbox']} ({treatment['greeting']} greeting)"
    return (
        f"ring {treatment['ringMs'] // 1000} s; if busy: {_describe(treatment['onBusy'])}; "
        f"if no answer: {_describe(treatment['onNoAnswer'])}; "
        f"if unreachable: {_describe(treatment['onUnreachable'])}"
    )
