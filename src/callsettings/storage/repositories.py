"""Queries and writes. Repositories never commit: the caller owns the transaction."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import msgspec
import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import ARRAY
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncConnection

from callsettings.storage import tables as t
from callsettings.storage.driver import Statement, all_alone, first, first_alone, run
from callsettings.storage.records import (
    AuditEvent,
    Change,
    Location,
    Organization,
    Person,
    PhoneNumber,
    Role,
    Token,
    as_utc,
    utcnow,
)

_json = msgspec.json.Encoder()


def _dump(value: Any) -> str:
    return _json.encode(value).decode()


def _uuids(text: str) -> frozenset[uuid.UUID]:
    return frozenset(uuid.UUID(v) for v in msgspec.json.decode(text))


# ---- organizations and locations -------------------------------------------------------


def _organization(row: Sequence[Any]) -> Organization:
    # A row of the organizations table's columns, in their order (a Row or a driver tuple).
    org_id, display_name, country, max_rings, ring_seconds, diversion_cap, created = row
    return Organization(
        id=uuid.UUID(org_id),
        display_name=display_name,
        country=country,
        system_max_rings=max_rings,
        ring_seconds=ring_seconds,
        diversion_cap=diversion_cap,
        created=as_utc(created),
    )


async def insert_organization(conn: AsyncConnection, org: Organization) -> None:
    await conn.execute(
        t.organizations.insert().values(
            id=str(org.id),
            display_name=org.display_name,
            country=org.country,
            system_max_rings=org.system_max_rings,
            ring_seconds=org.ring_seconds,
            diversion_cap=org.diversion_cap,
            created=org.created,
        )
    )


# The write path's statements are built once: building a statement and its cache key
# each time cost more than running it (a PUT runs five of them under the writer lock).
# They run on the driver itself (see storage/driver.py).
_ORGANIZATION = Statement(
    sa.select(t.organizations).where(t.organizations.c.id == sa.bindparam("id"))
)


async def get_organization(conn: AsyncConnection, org_id: uuid.UUID) -> Organization | None:
    row = await first(conn, _ORGANIZATION, {"id": str(org_id)})
    return None if row is None else _organization(row)


async def list_organizations(
    conn: AsyncConnection, org_ids: Iterable[uuid.UUID] | None = None
) -> list[Organization]:
    query = sa.select(t.organizations).order_by(t.organizations.c.display_name)
    if org_ids is not None:
        query = query.where(t.organizations.c.id.in_([str(o) for o in org_ids]))
    return [_organization(row) for row in await conn.execute(query)]


def _location(row: sa.Row[Any]) -> Location:
    return Location(
        id=uuid.UUID(row.id),
        org_id=uuid.UUID(row.org_id),
        name=row.name,
        time_zone=row.time_zone,
        address=row.address,
        created=as_utc(row.created),
    )


async def insert_location(conn: AsyncConnection, location: Location) -> None:
    await conn.execute(
        t.locations.insert().values(
            id=str(location.id),
            org_id=str(location.org_id),
            name=location.name,
            time_zone=location.time_zone,
            address=location.address,
            created=location.created,
        )
    )


async def get_location(conn: AsyncConnection, location_id: uuid.UUID) -> Location | None:
    row = (
        await conn.execute(sa.select(t.locations).where(t.locations.c.id == str(location_id)))
    ).first()
    return None if row is None else _location(row)


async def list_locations(
    conn: AsyncConnection, org_id: uuid.UUID, *, name: str | None = None
) -> list[Location]:
    query = (
        sa.select(t.locations)
        .where(t.locations.c.org_id == str(org_id))
        .order_by(t.locations.c.name, t.locations.c.id)
    )
    if name:
        query = query.where(t.locations.c.name == name)
    return [_location(row) for row in await conn.execute(query)]


# ---- people ----------------------------------------------------------------------------


async def insert_person(conn: AsyncConnection, person: Person) -> None:
    await conn.execute(
        t.people.insert().values(
            id=str(person.id),
            org_id=str(person.org_id),
            location_id=None if person.location_id is None else str(person.location_id),
            email=person.email.lower(),
            display_name=person.display_name,
            first_name=person.first_name,
            last_name=person.last_name,
            extension=person.extension,
            roles=_dump(list(person.roles)),
            created=person.created,
            last_modified=person.last_modified,
        )
    )
    if person.phone_numbers:
        await conn.execute(
            t.phone_numbers.insert(),
            [
                {
                    "person_id": str(person.id),
                    "org_id": str(person.org_id),
                    "number": n.number,
                    "type": n.type,
                    "is_primary": n.primary,
                }
                for n in person.phone_numbers
            ],
        )


def _person(row: sa.Row[Any], numbers: Sequence[PhoneNumber]) -> Person:
    return Person(
        id=uuid.UUID(row.id),
        org_id=uuid.UUID(row.org_id),
        location_id=None if row.location_id is None else uuid.UUID(row.location_id),
        email=row.email,
        display_name=row.display_name,
        first_name=row.first_name,
        last_name=row.last_name,
        extension=row.extension,
        phone_numbers=tuple(numbers),
        roles=tuple(msgspec.json.decode(row.roles)),
        created=as_utc(row.created),
        last_modified=as_utc(row.last_modified),
    )


# Statements with IN built once: building `column.in_(values)` per call clones a bind
# parameter into a reference cycle, which only the cyclic collector frees; the service
# collects rarely (app.py), and a page of people a request left 14 KB behind until then.
_NUMBERS_OF = (
    sa.select(t.phone_numbers)
    .where(t.phone_numbers.c.person_id.in_(sa.bindparam("ids", expanding=True)))
    .order_by(t.phone_numbers.c.is_primary.desc(), t.phone_numbers.c.number)
)
_FEATURES_OF = sa.select(
    t.feature_settings.c.person_id, t.feature_settings.c.feature, t.feature_settings.c.document
).where(t.feature_settings.c.person_id.in_(sa.bindparam("ids", expanding=True)))


async def _with_numbers(conn: AsyncConnection, rows: Sequence[sa.Row[Any]]) -> list[Person]:
    if not rows:
        return []
    ids = [row.id for row in rows]
    numbers: dict[str, list[PhoneNumber]] = {i: [] for i in ids}
    for n in await conn.execute(_NUMBERS_OF, {"ids": ids}):
        numbers[n.person_id].append(PhoneNumber(n.number, n.type, bool(n.is_primary)))
    return [_person(row, numbers[row.id]) for row in rows]


_PERSON = (
    sa.select(
        t.people,
        t.phone_numbers.c.number,
        t.phone_numbers.c.type.label("number_type"),
        t.phone_numbers.c.is_primary,
    )
    .outerjoin(t.phone_numbers, t.phone_numbers.c.person_id == t.people.c.id)
    .where(t.people.c.id == sa.bindparam("id"))
    .order_by(t.phone_numbers.c.is_primary.desc(), t.phone_numbers.c.number)
)


async def get_person(conn: AsyncConnection, person_id: uuid.UUID) -> Person | None:
    """Return one person with their numbers, in one query (the write path's hot read)."""
    rows = (await conn.execute(_PERSON, {"id": str(person_id)})).all()
    if not rows:
        return None
    numbers = [
        PhoneNumber(row.number, row.number_type, bool(row.is_primary))
        for row in rows
        if row.number is not None
    ]
    return _person(rows[0], numbers)


_LOCK_PERSON = Statement(
    sa.select(t.people.c.id).where(t.people.c.id == sa.bindparam("id")).with_for_update()
)


_fs = t.feature_settings
_FOR_READ = (
    sa.select(*t.organizations.c, _fs.c.document)
    .select_from(
        t.people.join(t.organizations, t.organizations.c.id == t.people.c.org_id).outerjoin(
            _fs, (_fs.c.person_id == t.people.c.id) & (_fs.c.feature == sa.bindparam("feature"))
        )
    )
    .where(t.people.c.id == sa.bindparam("id"))
)
_FOR_CHANGE = Statement(_FOR_READ)
_FOR_CHANGE_LOCKED = Statement(_FOR_READ.with_for_update(of=t.people))


async def lock_for_change(
    conn: AsyncConnection, person_id: uuid.UUID, feature: str
) -> tuple[Organization, str | None] | None:
    """Lock the person (as lock_person) and read their organization and stored `feature`
    document (None: the default). None when the person is gone.

    On PostgreSQL the lock and the read are two statements: a statement that waited for the
    lock still reads from the snapshot taken before it waited, so one statement doing both
    returns the document as it was before the writer it waited for committed (a lost update).
    """
    values = {"id": str(person_id), "feature": feature}
    if conn.dialect.name == "sqlite":
        # The database's write lock is already held: one statement reads it all.
        row = await first(conn, _FOR_CHANGE_LOCKED, values)
    else:
        await lock_person(conn, person_id)
        row = await first(conn, _FOR_CHANGE, values)
    return _for_change(row)


async def read_for_change(
    conn: AsyncConnection, person_id: uuid.UUID, feature: str
) -> tuple[Organization, str | None] | None:
    """As lock_for_change, without a lock, as a statement of its own (PostgreSQL): what a
    conditional save (`save_features_if`) then checks is still there."""
    row = await first_alone(conn, _FOR_CHANGE, {"id": str(person_id), "feature": feature})
    return _for_change(row)


def _for_change(row: tuple[Any, ...] | None) -> tuple[Organization, str | None] | None:
    if row is None:
        return None
    *org, document = row
    return _organization(org), document


async def lock_person(conn: AsyncConnection, person_id: uuid.UUID) -> None:
    """Serialize writers of one person's settings (PostgreSQL; SQLite locks the database)."""
    if conn.dialect.name != "sqlite":
        await first(conn, _LOCK_PERSON, {"id": str(person_id)})


async def get_person_by_email(conn: AsyncConnection, email: str) -> Person | None:
    rows = (await conn.execute(sa.select(t.people).where(t.people.c.email == email.lower()))).all()
    people = await _with_numbers(conn, rows)
    return people[0] if people else None


async def find_person_by_dial(
    conn: AsyncConnection, org_id: uuid.UUID, dialled: str
) -> Person | None:
    """Return the person of `org_id` whose extension or phone number is `dialled`."""
    by_extension = sa.select(t.people.c.id).where(
        t.people.c.org_id == str(org_id), t.people.c.extension == dialled
    )
    by_number = sa.select(t.phone_numbers.c.person_id).where(
        t.phone_numbers.c.org_id == str(org_id), t.phone_numbers.c.number == dialled
    )
    person_id = (await conn.execute(by_extension.union(by_number).limit(1))).scalar()
    return None if person_id is None else await get_person(conn, uuid.UUID(person_id))


async def list_people(
    conn: AsyncConnection,
    org_id: uuid.UUID,
    *,
    after: tuple[str, str] | None = None,
    limit: int = 100,
    email: str | None = None,
    display_name: str | None = None,
    ids: Sequence[uuid.UUID] | None = None,
    location_ids: Iterable[uuid.UUID] | None = None,
) -> list[Person]:
    """Return a page of people ordered by (display name, id), after the keyset `after`."""
    params: dict[str, Any] = {"org_id": str(org_id), "limit": limit}
    if email is not None:
        params["email"] = email.lower()
    if display_name is not None:
        params["name_prefix"] = _prefix(display_name)
    if ids is not None:
        params["ids"] = [str(i) for i in ids]
    if location_ids is not None:
        params["locations"] = [str(i) for i in location_ids]
    if after is not None:
        params["after_name"], params["after_id"] = after
    query = _people_query(frozenset(params))
    return await _with_numbers(conn, (await conn.execute(query, params)).all())


@functools.cache
def _people_query(filters: frozenset[str]) -> sa.Select[Any]:
    """The page query for this set of filters, built once (see _NUMBERS_OF: IN clones)."""
    p = t.people.c
    query = sa.select(t.people).where(p.org_id == sa.bindparam("org_id"))
    if "email" in filters:
        query = query.where(p.email == sa.bindparam("email"))
    if "name_prefix" in filters:
        # ILIKE on PostgreSQL, lower() LIKE lower() on SQLite: the same answer on both.
        query = query.where(p.display_name.ilike(sa.bindparam("name_prefix"), escape="\\"))
    if "ids" in filters:
        query = query.where(p.id.in_(sa.bindparam("ids", expanding=True)))
    if "locations" in filters:
        query = query.where(p.location_id.in_(sa.bindparam("locations", expanding=True)))
    if "after_name" in filters:
        after = (
            sa.bindparam("after_name", type_=p.display_name.type),
            sa.bindparam("after_id", type_=p.id.type),
        )
        query = query.where(sa.tuple_(p.display_name, p.id) > sa.tuple_(*after))
    return query.order_by(p.display_name, p.id).limit(sa.bindparam("limit", type_=sa.Integer))


def _prefix(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return escaped + "%"


async def count_people(conn: AsyncConnection, org_id: uuid.UUID) -> int:
    query = sa.select(sa.func.count()).select_from(t.people).where(t.people.c.org_id == str(org_id))
    return int((await conn.execute(query)).scalar_one())


async def set_xsi_password(conn: AsyncConnection, person_id: uuid.UUID, hashed: str) -> None:
    await conn.execute(
        t.people.update().where(t.people.c.id == str(person_id)).values(xsi_password_hash=hashed)
    )


async def get_xsi_password(conn: AsyncConnection, person_id: uuid.UUID) -> str | None:
    query = sa.select(t.people.c.xsi_password_hash).where(t.people.c.id == str(person_id))
    return (await conn.execute(query)).scalar()


# ---- feature documents and the audit trail ---------------------------------------------


_FEATURE = Statement(
    sa.select(t.feature_settings.c.document).where(
        t.feature_settings.c.person_id == sa.bindparam("person_id"),
        t.feature_settings.c.feature == sa.bindparam("feature"),
    )
)


async def get_feature(conn: AsyncConnection, person_id: uuid.UUID, feature: str) -> str | None:
    row = await first(conn, _FEATURE, {"person_id": str(person_id), "feature": feature})
    return None if row is None else str(row[0])


_EXTENSION_TAKEN = sa.select(t.people.c.id).where(
    t.people.c.org_id == sa.bindparam("org_id"), t.people.c.extension == sa.bindparam("extension")
)


async def extension_taken(conn: AsyncConnection, org_id: uuid.UUID, extension: str) -> bool:
    """Whether someone in the organization has this extension."""
    params = {"org_id": str(org_id), "extension": extension}
    return (await conn.execute(_EXTENSION_TAKEN, params)).first() is not None


async def get_features(conn: AsyncConnection, person_id: uuid.UUID) -> dict[str, str]:
    query = sa.select(t.feature_settings.c.feature, t.feature_settings.c.document).where(
        t.feature_settings.c.person_id == str(person_id)
    )
    return {row.feature: row.document for row in await conn.execute(query)}


async def org_features(conn: AsyncConnection, org_id: uuid.UUID, feature: str) -> dict[str, str]:
    """Return {person id: document} of one feature for every person of an org."""
    query = (
        sa.select(t.feature_settings.c.person_id, t.feature_settings.c.document)
        .join(t.people, t.people.c.id == t.feature_settings.c.person_id)
        .where(t.people.c.org_id == str(org_id), t.feature_settings.c.feature == feature)
    )
    return {row.person_id: row.document for row in await conn.execute(query)}


async def features_of(
    conn: AsyncConnection, person_ids: Sequence[uuid.UUID]
) -> dict[tuple[uuid.UUID, str], str]:
    """Return {(person id, feature): document} of every stored document of these people."""
    wanted = {str(i): i for i in person_ids}
    rows = await conn.execute(_FEATURES_OF, {"ids": list(wanted)})
    return {(wanted[r.person_id], r.feature): r.document for r in rows}


def _binds(table: sa.Table, *names: str) -> dict[str, sa.BindParameter[Any]]:
    return {name: sa.bindparam(name, type_=table.c[name].type) for name in names}


_UPDATE_FEATURE = Statement(
    t.feature_settings.update()
    .where(
        t.feature_settings.c.person_id == sa.bindparam("person_id"),
        t.feature_settings.c.feature == sa.bindparam("feature"),
    )
    .values(_binds(t.feature_settings, "document", "updated"))
)
_INSERT_FEATURE = Statement(
    t.feature_settings.insert().values(
        _binds(t.feature_settings, "person_id", "feature", "document", "updated")
    )
)


async def save_feature(conn: AsyncConnection, change: Change) -> int:
    """Store the new document and its audit event in the caller's transaction; return the
    event's id."""
    now = utcnow()
    assert change.after is not None
    audit = _audit_values(change, now)
    if conn.dialect.name == "postgresql":
        row = await first(conn, _SAVE_WITH_AUDIT, audit)  # one round trip for both
        assert row is not None
        return int(row[0])
    values = {
        "person_id": audit["person_id"],
        "feature": audit["feature"],
        "document": change.after,
        "updated": now,
    }
    if await run(conn, _UPDATE_FEATURE, values) == 0:
        await run(conn, _INSERT_FEATURE, values)
    return await record_audit(conn, change, now)


_AUDITED = [c.name for c in t.audit_events.c if c.name != "id"]
_INSERT_AUDIT = Statement(
    t.audit_events.insert().values(_binds(t.audit_events, *_AUDITED)).returning(t.audit_events.c.id)
)


def _saved_document() -> Any:
    """PostgreSQL's upsert of the document, as a CTE of the audit insert (same values)."""
    fs = t.feature_settings
    upsert = pg_insert(fs).values(
        person_id=sa.bindparam("person_id", type_=fs.c.person_id.type),
        feature=sa.bindparam("feature", type_=fs.c.feature.type),
        document=sa.bindparam("after", type_=fs.c.document.type),
        updated=sa.bindparam("created", type_=fs.c.updated.type),
    )
    return upsert.on_conflict_do_update(
        index_elements=[fs.c.person_id, fs.c.feature],
        set_={"document": upsert.excluded.document, "updated": upsert.excluded.updated},
    ).cte("saved")


_SAVE_WITH_AUDIT = Statement(
    t.audit_events.insert()
    .values(_binds(t.audit_events, *_AUDITED))
    .returning(t.audit_events.c.id)
    .add_cte(_saved_document())
)


# The organization's values a change is validated against (its maximum of rings, country
# for numbers, the engine's ring time and diversion cap, which read-only fields carry).
_VALIDATING = ("country", "system_max_rings", "ring_seconds", "diversion_cap")


def validating_values(org: Organization) -> tuple[Any, ...]:
    """The organization's values a change is validated against, to compare."""
    return tuple(getattr(org, name) for name in _VALIDATING)


def _save_all_if_unchanged() -> sa.Insert:
    """PostgreSQL: for each of several changes (of different people), lock the person, save
    the document if the stored one is still the expected one and the organization still has
    the values it was validated with, and audit it. One statement, so in autocommit one
    round trip and one commit for all of them.

    The changes come as one array per column, unnested into rows. People are locked in id
    order, so two such statements (or a locking writer, lock_for_change and lock_person)
    take one person's lock after the other. The stored document is compared where it is
    written: a writer that committed in between leaves a newer row, which the comparison is
    re-checked on (READ COMMITTED re-evaluates an UPDATE's condition on the updated row),
    so nothing is written for that change and its caller reads afresh. A missing row is the
    default document (rows are never deleted): a change expecting none, or expecting the
    default document with `or_absent`, is inserted where there is no row, unless one
    appeared meanwhile.
    """
    fs, orgs, people, audit = t.feature_settings, t.organizations, t.people, t.audit_events
    typed = {name: audit.c[name].type for name in _AUDITED}
    typed["expected"] = fs.c.document.type
    typed["or_absent"] = sa.Boolean()
    typed.update({name: orgs.c[name].type for name in _VALIDATING})
    unnested = sa.func.unnest(
        *[sa.bindparam(name, type_=ARRAY(kind)) for name, kind in typed.items()]
    ).table_valued(*[sa.column(name, kind) for name, kind in typed.items()])
    items = sa.select(unnested.render_derived("item")).cte("items")
    locked = (
        sa.select(people.c.id)
        .join(orgs, orgs.c.id == people.c.org_id)
        .join(items, items.c.person_id == people.c.id)
        .where(*[orgs.c[name] == items.c[name] for name in _VALIDATING])
        .order_by(people.c.id)
        .with_for_update(of=people)
        .cte("locked")
    )
    is_locked = items.c.person_id.in_(sa.select(locked.c.id))
    updated = (
        fs.update()
        .where(
            fs.c.person_id == items.c.person_id,
            fs.c.feature == items.c.feature,
            fs.c.document == items.c.expected,
            is_locked,
        )
        .values(document=items.c.after, updated=items.c.created)
        .returning(fs.c.person_id, fs.c.feature)
        .cte("updated")
    )
    first_rows = sa.select(items.c.person_id, items.c.feature, items.c.after, items.c.created)
    inserted = (
        pg_insert(fs)
        .from_select(
            ["person_id", "feature", "document", "updated"],
            first_rows.where(sa.or_(items.c.expected.is_(None), items.c.or_absent), is_locked),
        )
        # Where there is a row (one `updated` wrote included), nothing is inserted.
        .on_conflict_do_nothing()
        .returning(fs.c.person_id, fs.c.feature)
        .cte("inserted")
    )
    saved = sa.union_all(
        sa.select(updated.c.person_id, updated.c.feature),
        sa.select(inserted.c.person_id, inserted.c.feature),
    ).cte("saved")
    audited = sa.select(*[items.c[name] for name in _AUDITED]).join(
        saved, (saved.c.person_id == items.c.person_id) & (saved.c.feature == items.c.feature)
    )
    return (
        audit.insert()
        .from_select(_AUDITED, audited)
        .returning(audit.c.id, audit.c.person_id)
        .add_cte(locked)
        .add_cte(updated)
        .add_cte(inserted)
    )


_SAVE_ALL_IF_UNCHANGED = Statement(_save_all_if_unchanged())


@dataclass(frozen=True, slots=True)
class ConditionalSave:
    """A change to store if the stored document is still `expected` (None: no row, the
    default) and the organization still validates as `org`. With `or_absent`, `expected`
    is the default document, and no row is what it was merged into too: a replica holds
    a person who never changed the feature as the default document, not as "no row"."""

    change: Change
    expected: str | None
    org: Organization
    or_absent: bool = False


async def save_features_if(
    conn: AsyncConnection, saves: Sequence[ConditionalSave]
) -> list[int | None]:
    """PostgreSQL, as one statement of its own: store each of `saves` (no two of one
    person) with its audit event where its condition holds. Return each one's event id, or
    None where nothing was written."""
    now = utcnow()
    columns: dict[str, list[Any]] = {}
    for save in saves:
        values = _audit_values(save.change, now)
        values["expected"] = save.expected
        values["or_absent"] = save.or_absent
        values.update({name: getattr(save.org, name) for name in _VALIDATING})
        for name, value in values.items():
            columns.setdefault(name, []).append(value)
    people = columns["person_id"]
    if len(set(people)) != len(people):
        raise ValueError("one statement saves one change per person")
    rows = await all_alone(conn, _SAVE_ALL_IF_UNCHANGED, columns)
    written = {person: int(event_id) for event_id, person in rows}
    return [written.get(person) for person in people]


def _audit_values(change: Change, now: datetime) -> dict[str, Any]:
    return {
        "org_id": str(change.person.org_id),
        "actor_id": change.actor_id,
        "actor_name": change.actor_name,
        "token_id": None if change.token_id is None else str(change.token_id),
        "person_id": str(change.person.id),
        "feature": change.feature.value,
        "dialect": change.dialect,
        "before": change.before,
        "after": change.after,
        "tracking_id": change.tracking_id,
        "created": now,
    }


async def record_audit(conn: AsyncConnection, change: Change, now: datetime | None = None) -> int:
    """Append an audit event; return its id."""
    row = await first(conn, _INSERT_AUDIT, _audit_values(change, now or utcnow()))
    assert row is not None
    return int(row[0])


def _audit(row: sa.Row[Any]) -> AuditEvent:
    return AuditEvent(
        id=int(row.id),
        org_id=uuid.UUID(row.org_id),
        actor_id=row.actor_id,
        actor_name=row.actor_name,
        token_id=None if row.token_id is None else uuid.UUID(row.token_id),
        person_id=uuid.UUID(row.person_id),
        feature=row.feature,
        dialect=row.dialect,
        before=row.before,
        after=row.after,
        tracking_id=row.tracking_id,
        created=as_utc(row.created),
    )


async def last_change_id(conn: AsyncConnection) -> int:
    """The id of the newest audit event: where a change feed starts reading."""
    found = (await conn.execute(sa.select(sa.func.max(t.audit_events.c.id)))).scalar()
    return int(found or 0)


async def changes_after(
    conn: AsyncConnection, after_id: int, limit: int
) -> list[tuple[int, uuid.UUID, str, str | None]]:
    """(id, person, what changed, what it became) of the audit events after `after_id`,
    oldest first."""
    a = t.audit_events.c
    query = (
        sa.select(a.id, a.person_id, a.feature, a.after)
        .where(a.id > after_id)
        .order_by(a.id)
        .limit(limit)
    )
    if conn.dialect.name == "postgresql":
        # asyncpg prepares this statement once per connection, and after five runs
        # PostgreSQL may keep one generic plan for it: made while the table was small, a
        # scan of the whole table is such a plan, and it stays while the table grows (until
        # the table is analyzed again). Seen in the benchmark after 150,000 changes: polls
        # of 1.2-1.5 s reading the table from disk. A plan for the id at hand takes the
        # primary key (0.05 ms for the same poll).
        await conn.exec_driver_sql("SET LOCAL plan_cache_mode = force_custom_plan")
    rows = (await conn.execute(query)).all()
    return [(int(i), uuid.UUID(str(p)), str(f), after) for i, p, f, after in rows]


async def list_audit_events(
    conn: AsyncConnection,
    org_id: uuid.UUID,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    before_id: int | None = None,
    limit: int = 100,
    person_id: uuid.UUID | None = None,
) -> list[AuditEvent]:
    """Return audit events of an org, newest first, older than `before_id` when given."""
    a = t.audit_events.c
    query = sa.select(t.audit_events).where(a.org_id == str(org_id))
    if since is not None:
        query = query.where(a.created >= since)
    if until is not None:
        query = query.where(a.created < until)
    if before_id is not None:
        query = query.where(a.id < before_id)
    if person_id is not None:
        query = query.where(a.person_id == str(person_id))
    query = query.order_by(a.id.desc()).limit(limit)
    return [_audit(row) for row in await conn.execute(query)]


# ---- tokens ----------------------------------------------------------------------------


def _token(row: sa.Row[Any]) -> Token:
    return Token(
        id=uuid.UUID(row.id),
        org_id=uuid.UUID(row.org_id),
        person_id=None if row.person_id is None else uuid.UUID(row.person_id),
        role=Role(row.role),
        scopes=frozenset(msgspec.json.decode(row.scopes)),
        location_ids=_uuids(row.location_ids),
        managed_org_ids=_uuids(row.managed_org_ids),
        label=row.label,
        created=as_utc(row.created),
        expires=as_utc(row.expires),
        revoked=None if row.revoked is None else as_utc(row.revoked),
    )


async def insert_token(conn: AsyncConnection, token: Token, token_hash: str) -> None:
    await conn.execute(
        t.tokens.insert().values(
            id=str(token.id),
            token_hash=token_hash,
            org_id=str(token.org_id),
            person_id=None if token.person_id is None else str(token.person_id),
            role=token.role.value,
            scopes=_dump(sorted(token.scopes)),
            location_ids=_dump(sorted(str(i) for i in token.location_ids)),
            managed_org_ids=_dump(sorted(str(i) for i in token.managed_org_ids)),
            label=token.label,
            created=token.created,
            expires=token.expires,
            revoked=token.revoked,
        )
    )


async def get_token_by_hash(conn: AsyncConnection, token_hash: str) -> Token | None:
    row = (
        await conn.execute(sa.select(t.tokens).where(t.tokens.c.token_hash == token_hash))
    ).first()
    return None if row is None else _token(row)


async def list_tokens(conn: AsyncConnection, org_id: uuid.UUID | None = None) -> list[Token]:
    query = sa.select(t.tokens).order_by(t.tokens.c.created)
    if org_id is not None:
        query = query.where(t.tokens.c.org_id == str(org_id))
    return [_token(row) for row in await conn.execute(query)]


async def revoke_token(conn: AsyncConnection, token_id: uuid.UUID) -> bool:
    result = await conn.execute(
        t.tokens.update()
        .where(t.tokens.c.id == str(token_id), t.tokens.c.revoked.is_(None))
        .values(revoked=utcnow())
    )
    return bool(result.rowcount)


async def get_demo_document(conn: AsyncConnection, name: str = "demo") -> str | None:
    query = sa.select(t.demo_credentials.c.document).where(t.demo_credentials.c.name == name)
    return (await conn.execute(query)).scalar()


async def save_demo_document(conn: AsyncConnection, document: str, name: str = "demo") -> None:
    await conn.execute(t.demo_credentials.insert().values(name=name, document=document))


# ---- voicemail greetings and passcodes -------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredGreeting:
    kind: str
    filename: str
    content_type: str
    audio: bytes
    duration_ms: int
    uploaded: datetime


async def save_greeting(
    conn: AsyncConnection, person_id: uuid.UUID, greeting: StoredGreeting
) -> None:
    """Store a person's greeting of one kind, replacing the one before."""
    g = t.greetings.c
    await conn.execute(
        t.greetings.delete().where(g.person_id == str(person_id), g.kind == greeting.kind)
    )
    await conn.execute(
        t.greetings.insert().values(
            person_id=str(person_id),
            kind=greeting.kind,
            filename=greeting.filename,
            content_type=greeting.content_type,
            audio=greeting.audio,
            duration_ms=greeting.duration_ms,
            uploaded=greeting.uploaded,
        )
    )


async def get_greeting(
    conn: AsyncConnection, person_id: uuid.UUID, kind: str
) -> StoredGreeting | None:
    g = t.greetings.c
    query = sa.select(t.greetings).where(g.person_id == str(person_id), g.kind == kind)
    row = (await conn.execute(query)).first()
    if row is None:
        return None
    return StoredGreeting(
        kind=row.kind,
        filename=row.filename,
        content_type=row.content_type,
        audio=bytes(row.audio),
        duration_ms=row.duration_ms,
        uploaded=as_utc(row.uploaded),
    )


@dataclass(frozen=True, slots=True)
class PasscodeState:
    passcode_hash: str | None
    must_reset: bool
    updated: datetime


async def get_passcode(conn: AsyncConnection, person_id: uuid.UUID) -> PasscodeState | None:
    p = t.voicemail_passcodes.c
    row = (
        await conn.execute(sa.select(t.voicemail_passcodes).where(p.person_id == str(person_id)))
    ).first()
    if row is None:
        return None
    return PasscodeState(row.passcode_hash, bool(row.must_reset), as_utc(row.updated))


async def save_passcode(
    conn: AsyncConnection, person_id: uuid.UUID, passcode_hash: str | None, *, must_reset: bool
) -> None:
    """Store a passcode digest (None: no passcode) and whether it must be changed at login."""
    p = t.voicemail_passcodes.c
    values = {"passcode_hash": passcode_hash, "must_reset": must_reset, "updated": utcnow()}
    updated = await conn.execute(
        t.voicemail_passcodes.update().where(p.person_id == str(person_id)).values(**values)
    )
    if updated.rowcount == 0:
        await conn.execute(
            t.voicemail_passcodes.insert().values(person_id=str(person_id), **values)
        )


async def record_action(
    conn: AsyncConnection,
    person: Person,
    what: str,
    before: str | None,
    after: str | None,
    *,
    actor_id: str,
    actor_name: str,
    token_id: uuid.UUID | None,
    tracking_id: str,
    dialect: str = "webex",
) -> None:
    """Write an audit event for a change that is not a feature document (a greeting, a PIN)."""
    await conn.execute(
        t.audit_events.insert().values(
            org_id=str(person.org_id),
            actor_id=actor_id,
            actor_name=actor_name,
            token_id=None if token_id is None else str(token_id),
            person_id=str(person.id),
            feature=what,
            dialect=dialect,
            before=before,
            after=after,
            tracking_id=tracking_id,
            created=utcnow(),
        )
    )
