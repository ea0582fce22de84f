"""Reading and changing a person's feature documents, shared by every dialect."""

from __future__ import annotations

import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from sqlalchemy.ext.asyncio import AsyncConnection

from callsettings.engine import Subscriber, unconditional_cycle
from callsettings.server.services import Changed, Services, committed, mark_changed
from callsettings.server.treatment import StoredDirectory, settle
from callsettings.settings import (
    CallForwarding,
    CallWaiting,
    DoNotDisturb,
    ForwardingLoop,
    InvalidSetting,
    Mailbox,
    Owner,
    Voicemail,
    apply_patch,
    validate_forwarding,
    validate_voicemail,
)
from callsettings.settings.destinations import is_extension
from callsettings.settings.forwarding import destinations
from callsettings.settings.ids import IdType, encode_id
from callsettings.storage import repositories as repo
from callsettings.storage.database import Connect, given, on_demand
from callsettings.storage.records import Change, Feature, Organization, Person, Token

Document = CallForwarding | DoNotDisturb | CallWaiting | Voicemail

MODELS: dict[Feature, type[Document]] = {
    Feature.CALL_FORWARDING: CallForwarding,
    Feature.DO_NOT_DISTURB: DoNotDisturb,
    Feature.CALL_WAITING: CallWaiting,
    Feature.VOICEMAIL: Voicemail,
}

_decoders = {feature: msgspec.json.Decoder(model) for feature, model in MODELS.items()}
_encoder = msgspec.json.Encoder()


def encode(document: Document) -> bytes:
    return _encoder.encode(document)


@dataclass(frozen=True, slots=True)
class Actor:
    """Who makes a change, for the audit trail."""

    token: Token | None
    actor_id: str
    name: str
    tracking_id: str
    dialect: str = "webex"


def decode(feature: Feature, raw: str | bytes | None, org: Organization) -> Document:
    """Return the stored document, or the default one, with org-wide read-only values."""
    document = MODELS[feature]() if raw is None else _decoders[feature].decode(raw)
    if isinstance(document, CallForwarding):
        document.call_forwarding.no_answer.system_max_number_of_rings = org.system_max_rings
    elif isinstance(document, Voicemail):
        document.send_unanswered_calls.system_max_number_of_rings = org.system_max_rings
    return document


async def read(
    conn: AsyncConnection, person: Person, org: Organization, feature: Feature
) -> Document:
    return decode(feature, await repo.get_feature(conn, person.id, feature.value), org)


async def read_all(conn: AsyncConnection, person: Person, org: Organization) -> list[Document]:
    """Every feature document of `person`, in the order of MODELS."""
    return [await read(conn, person, org, feature) for feature in MODELS]


def _identity(person: Person) -> dict[str, Any]:
    """Who a person is to the engine. Their id is their Webex id, so decisions name
    mailboxes as the API does."""
    return {
        "id": encode_id(IdType.PEOPLE, person.id),
        "name": person.display_name,
        "extension": person.extension,
        "numbers": person.numbers,
    }


def _forwarding_only(person: Person, forwarding: CallForwarding) -> Subscriber:
    """A person as the loop check sees them: their forwarding, every other feature default."""
    return Subscriber(**_identity(person), forwarding=forwarding)


# Each feature's default document per system maximum of rings, encoded and decoded: most
# people keep most defaults, and the engine only reads documents, so they share one.
_defaults: dict[tuple[Feature, int], tuple[bytes, Document]] = {}


def _default(feature: Feature, org: Organization) -> tuple[bytes, Document]:
    key = (feature, org.system_max_rings)
    found = _defaults.get(key)
    if found is None:
        document = decode(feature, None, org)
        found = _defaults[key] = (encode(document), document)
    return found


def default_encoded(feature: Feature, org: Organization) -> bytes:
    """The document a person has who never changed `feature`, encoded as GET serves it."""
    return _default(feature, org)[0]


def served(feature: Feature, stored: str | None, org: Organization) -> bytes:
    """A stored document (None: no row) encoded as GET serves it under `org`."""
    return default_encoded(feature, org) if stored is None else encode(decode(feature, stored, org))


_FEATURES = {feature.value: feature for feature in MODELS}


def served_as_written(name: str, written: str, org: Organization) -> bytes | None:
    """What an audit event says a change wrote, encoded as GET serves it under `org`; None
    when the event is not of a feature document, or its text does not read as one (a
    replica of another version wrote it: then it is read back from the table)."""
    feature = _FEATURES.get(name)
    if feature is None:
        return None
    try:
        return served(feature, written, org)
    except msgspec.DecodeError:
        return None


def _engine_document(feature: Feature, raw: bytes, org: Organization) -> Document:
    encoded, document = _default(feature, org)
    return document if raw == encoded else decode(feature, raw, org)


def compile_encoded(person: Person, org: Organization, encoded: list[bytes]) -> Subscriber:
    """The engine's view of a person from their encoded documents (in the order of MODELS).

    Default documents are shared between people: the result is for the engine to read.
    """
    documents = [
        _engine_document(feature, raw, org) for feature, raw in zip(MODELS, encoded, strict=True)
    ]
    return as_subscriber(person, documents)


def as_subscriber(person: Person, documents: list[Document]) -> Subscriber:
    """The engine's view of a person (documents in the order of MODELS)."""
    forwarding, dnd, call_waiting, voicemail = documents
    assert isinstance(forwarding, CallForwarding)
    assert isinstance(dnd, DoNotDisturb)
    assert isinstance(call_waiting, CallWaiting)
    assert isinstance(voicemail, Voicemail)
    return Subscriber(
        **_identity(person),
        forwarding=forwarding,
        dnd=dnd,
        call_waiting=call_waiting,
        voicemail=voicemail,
    )


# A person of the organization by extension or number, from memory, or None when not known
# there (then the database is asked). Identities never change once provisioned, so a
# held one is as good as a read; settings are always read in the transaction.
KnownPerson = Callable[[str], Person | None]


def _none_known(_dialled: str) -> Person | None:
    return None


# A validator reads (with the Connect) only when memory cannot answer: a new internal
# extension nobody is known to have, an "always" forward to check for a loop.
Validator = Callable[[Connect, Any, Any, Person, Organization, KnownPerson], Awaitable[Document]]


async def update(
    conn: AsyncConnection,
    person: Person,
    org: Organization,
    feature: Feature,
    patch: Any,
    actor: Actor,
    known: KnownPerson = _none_known,
    current: Document | None = None,
) -> Document:
    """Merge `patch` into the stored document (`current`, when the caller read it in this
    transaction), validate, store and audit it.

    Raises:
        InvalidSetting: the merged document breaks a rule; nothing is stored.
    """
    if current is None:
        current = await read(conn, person, org, feature)
    candidate = apply_patch(current, patch)
    checked = await VALIDATORS[feature](given(conn), candidate, current, person, org, known)
    await store(conn, person, feature, current, checked, actor)
    return checked


async def store(
    conn: AsyncConnection,
    person: Person,
    feature: Feature,
    before: Document,
    after: Document,
    actor: Actor,
) -> None:
    """Write `after` with its audit event, unless nothing changed."""
    encoded = encode(after)
    old, new = encode(before).decode(), encoded.decode()
    if old == new:
        return
    event_id = await repo.save_feature(conn, _change(person, feature, old, new, actor))
    # `after` carries the organization's read-only values, so it is what GET will serve.
    mark_changed(conn, person.id, feature.value, encoded, event_id)


def _change(person: Person, feature: Feature, old: str, new: str, actor: Actor) -> Change:
    return Change(
        person=person,
        feature=feature,
        before=old,
        after=new,
        actor_id=actor.actor_id,
        actor_name=actor.name,
        token_id=None if actor.token is None else actor.token.id,
        tracking_id=actor.tracking_id,
        dialect=actor.dialect,
    )


# What an attempt of change_at_once concluded: written (the event and the document),
# nothing to write, or undecided (what it started from may be stale).
_UNCHANGED = (None, b"")


async def change_at_once(
    services: Services,
    person: Person,
    org: Organization,
    feature: Feature,
    patch: Any,
    actor: Actor,
    known: KnownPerson,
) -> bool:
    """Change a feature document with no transaction held open (PostgreSQL): merge,
    validate, then save with one statement that writes only if the stored document and
    the organization are still what the change was validated against; concurrent saves
    share a statement and its commit (`storage/saves.py`).

    First from the document this replica holds, with no read at all; when that may be
    stale (someone else wrote, the merge does not validate, or nothing would change) once
    more from a fresh read. Return False when the caller must take the locking path:
    on SQLite (one writer at a time already), or when another writer won both attempts.
    Raises InvalidSetting only when the change is invalid against fresh data.
    """
    if services.engine.dialect.name != "postgresql":
        return False
    cache = services.cache
    generation = cache.generation(person.id)
    held = cache.document(person.id, feature.value)
    attempt = _Attempt(services, person, feature, patch, actor, known)
    outcome = None
    if held is not None:
        # A held default may be a row of that text or no row (the person never changed
        # the feature): either was what the change was merged into.
        absent = held == default_encoded(feature, org)
        outcome = await attempt.run(org, held.decode(), fresh=False, or_absent=absent)
    if outcome is None:
        async with services.engine.connect() as conn:
            found = await repo.read_for_change(conn, person.id, feature.value)
        if found is None:
            return False  # the locking path says the person is gone
        fresh_org, stored = found
        outcome = await attempt.run(fresh_org, stored, fresh=True)
    if outcome is None:
        return False
    event_id, encoded = outcome
    if event_id is not None:
        change = Changed(person.id, feature.value, encoded, event_id)
        await committed(services, [change], {person.id: generation})
    return True


@dataclass(slots=True)
class _Attempt:
    services: Services
    person: Person
    feature: Feature
    patch: Any
    actor: Actor
    known: KnownPerson

    async def run(
        self, org: Organization, expected: str | None, *, fresh: bool, or_absent: bool = False
    ) -> tuple[int | None, bytes] | None:
        """Merge into `expected` (the stored text; None: no row; with `or_absent`, the
        default document, which no row is too), validate, save if still stored. None:
        undecided (only when not `fresh`, or when another writer won)."""
        current = decode(self.feature, expected, org)
        candidate = apply_patch(current, self.patch)
        # The validators' reads, if any, on a connection given back before the save waits.
        try:
            checked = await _validated(
                self.services, self.person, org, self.feature, self.known, current, candidate
            )
        except InvalidSetting:
            if fresh:
                raise
            return None
        old, encoded = encode(current), encode(checked)
        if old == encoded:
            return _UNCHANGED if fresh else None
        change = _change(self.person, self.feature, old.decode(), encoded.decode(), self.actor)
        save = repo.ConditionalSave(change, expected, org, or_absent)
        event_id = await self.services.saves.save(save)
        return None if event_id is None else (event_id, encoded)


@dataclass(frozen=True, slots=True)
class Prepared:
    """A change merged and validated outside the write lock (SQLite), from the document this
    replica holds. Under the lock it is stored as it is if the stored document and the
    organization are still what it was validated against; otherwise it is decided again
    there from what is stored."""

    held: bytes
    held_is_default: bool  # then no row at all is what it was merged into too
    org: Organization
    before: Document
    after: Document

    def still_holds(self, org: Organization, stored: str | None) -> bool:
        if repo.validating_values(org) != repo.validating_values(self.org):
            return False
        if stored is None:
            return self.held_is_default
        return stored.encode() == self.held


async def prepare_change(
    services: Services,
    person: Person,
    org: Organization,
    feature: Feature,
    patch: Any,
    known: KnownPerson,
) -> Prepared | None:
    """Merge and validate a change against the held document before taking SQLite's write
    lock, which one writer of all the workers holds at a time: the lock then covers one
    read and the writes, not the merge and validation (a fifth of a PUT inside it, profiled
    at 1,000 people). None when nothing is held, the change is invalid against the held
    copy (perhaps only because it is stale), or validating it reads other people's settings
    (an "always" forward is checked for loops against what is stored under the lock)."""
    if services.engine.dialect.name != "sqlite":
        return None  # PostgreSQL locks one person, not every writer: see change_at_once
    held = services.cache.document(person.id, feature.value)
    if held is None:
        return None
    current = decode(feature, held, org)
    try:
        candidate = apply_patch(current, patch)
        if _reads_others(candidate):
            return None
        checked = await _validated(services, person, org, feature, known, current, candidate)
    except InvalidSetting:
        return None
    return Prepared(held, held == default_encoded(feature, org), org, current, checked)


async def _validated(
    services: Services,
    person: Person,
    org: Organization,
    feature: Feature,
    known: KnownPerson,
    current: Document,
    candidate: Document,
) -> Document:
    """`candidate` validated outside any transaction; its reads, if any, on a connection
    taken from the pool only when asked for and given back at once."""
    async with on_demand(services.engine) as connect:
        return await VALIDATORS[feature](connect, candidate, current, person, org, known)


def _reads_others(candidate: Document) -> bool:
    return isinstance(candidate, CallForwarding) and candidate.call_forwarding.always.enabled


async def _validate_forwarding(
    connect: Connect,
    candidate: Any,
    current: Any,
    person: Person,
    org: Organization,
    known: KnownPerson,
) -> Document:
    owner = Owner(
        country=org.country,
        extension=person.extension,
        numbers=person.numbers,
        system_max_rings=org.system_max_rings,
    )
    checked = validate_forwarding(candidate, owner)
    await _check_internal_extensions(connect, checked, current, org.id, known)
    await _refuse_unconditional_loop(connect, checked, person, org, known)
    return checked


async def _refuse_unconditional_loop(
    connect: Connect,
    document: CallForwarding,
    person: Person,
    org: Organization,
    known: KnownPerson,
) -> None:
    """Refuse an "always" forward that would lead back to `person` through always-forwards."""
    if not document.call_forwarding.always.enabled:
        return
    changed = _forwarding_only(person, document)

    async def load(other: Person) -> Subscriber:
        # Only "always" rules can close a cycle: the other documents are not read.
        forwarding = await read(await connect(), other, org, Feature.CALL_FORWARDING)
        assert isinstance(forwarding, CallForwarding)
        return _forwarding_only(other, forwarding)

    directory = StoredDirectory(connect, org, load, pending=[changed], known=known)
    cycle = await settle(lambda lookup: unconditional_cycle(changed, lookup), directory)
    if cycle is not None:
        raise ForwardingLoop("callForwarding.always.destination", cycle)


async def _check_internal_extensions(
    connect: Connect,
    document: CallForwarding,
    current: CallForwarding,
    org_id: uuid.UUID,
    known: KnownPerson,
) -> None:
    """Refuse extensions nobody has; only new ones are looked up (a stored one was checked)."""
    stored = set(destinations(current))
    for path, destination in destinations(document):
        if (
            is_extension(destination)
            and (path, destination) not in stored
            and known(destination) is None
            and not await repo.extension_taken(await connect(), org_id, destination)
        ):
            raise InvalidSetting(
                f"{path}.destination",
                f"extension {destination} is not assigned to anyone in this organization",
            )


async def _validate_voicemail(
    _connect: Connect,
    candidate: Any,
    current: Any,
    _person: Person,
    org: Organization,
    _known: KnownPerson,
) -> Document:
    mailbox = Mailbox(
        country=org.country,
        system_max_rings=org.system_max_rings,
        busy_greeting_uploaded=current.send_busy_calls.greeting_uploaded,
        no_answer_greeting_uploaded=current.send_unanswered_calls.greeting_uploaded,
    )
    return validate_voicemail(candidate, mailbox)


async def _as_is(
    _connect: Connect,
    candidate: Any,
    _current: Any,
    _person: Person,
    _org: Organization,
    _known: KnownPerson,
) -> Document:
    document: Document = candidate
    return document


VALIDATORS: dict[Feature, Validator] = {
    Feature.CALL_FORWARDING: _validate_forwarding,
    Feature.DO_NOT_DISTURB: _as_is,
    Feature.CALL_WAITING: _as_is,
    Feature.VOICEMAIL: _validate_voicemail,
}
