"""Factories for organizations, people and tokens: one small world every API test can use."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server import provisioning
from callsettings.server.tokens import issue_token
from callsettings.settings.ids import IdType, encode_id
from callsettings.storage.database import write_transaction
from callsettings.storage.records import Location, Organization, Person, Role


@dataclass
class World:
    """Org A (two locations, three people), org B (one person) managed by a partner org."""

    org: Organization
    other_org: Organization
    partner_org: Organization
    hq: Location
    branch: Location
    ann: Person  # HQ, 1001
    bob: Person  # HQ, 1002
    cat: Person  # branch, 2001
    zed: Person  # org B, 1001
    tokens: dict[str, str] = field(default_factory=dict)

    def pid(self, person: Person) -> str:
        return encode_id(IdType.PEOPLE, person.id)

    def oid(self, org: Organization) -> str:
        return encode_id(IdType.ORGANIZATION, org.id)

    def auth(self, name: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[name]}"}

    @property
    def unknown_pid(self) -> str:
        return encode_id(IdType.PEOPLE, uuid.UUID(int=7))


async def seed_world(database_url: str) -> World:
    """Build the world in the database at `database_url` with an engine of its own."""
    from callsettings.storage.database import create_engine

    engine = create_engine(database_url)
    try:
        return await build_world(engine)
    finally:
        await engine.dispose()


async def build_world(engine: AsyncEngine) -> World:
    async with write_transaction(engine) as conn:
        org = await provisioning.create_organization(conn, "Org A", country="US")
        other = await provisioning.create_organization(conn, "Org B", country="GB")
        partner = await provisioning.create_organization(conn, "Partner P")
        hq = await provisioning.create_location(conn, org, "HQ")
        branch = await provisioning.create_location(conn, org, "Branch")
        b_site = await provisioning.create_location(conn, other, "London")

        async def person(o: Organization, loc: Location, first: str, ext: str, num: str) -> Person:
            return await provisioning.create_person(
                conn,
                o,
                email=f"{first.lower()}@{o.display_name[-1].lower()}.example",
                first_name=first,
                last_name="Test",
                extension=ext,
                numbers=[num],
                location=loc,
            )

        world = World(
            org=org,
            other_org=other,
            partner_org=partner,
            hq=hq,
            branch=branch,
            ann=await person(org, hq, "Ann", "1001", "+12125550101"),
            bob=await person(org, hq, "Bob", "1002", "+12125550102"),
            cat=await person(org, branch, "Cat", "2001", "+14085550201"),
            zed=await person(other, b_site, "Zed", "1001", "+442071838750"),
        )

        async def token(name: str, o: Organization, role: Role, **kw: object) -> None:
            secret, _ = await issue_token(conn, org_id=o.id, role=role, label=name, **kw)  # type: ignore[arg-type]
            world.tokens[name] = secret

        await token("full", org, Role.FULL_ADMIN)
        await token("user_admin", org, Role.USER_ADMIN)
        await token("read_only", org, Role.READ_ONLY_ADMIN)
        await token("location", org, Role.LOCATION_ADMIN, location_ids=frozenset({hq.id}))
        await token("partner", partner, Role.PARTNER_ADMIN, managed_org_ids=frozenset({other.id}))
        await token("ann", org, Role.USER, person_id=world.ann.id)
        await token("bob", org, Role.USER, person_id=world.bob.id)
        await token("other_full", other, Role.FULL_ADMIN)
        await token("expired", org, Role.FULL_ADMIN, lifetime=timedelta(seconds=-1))
        await token("no_scopes", org, Role.FULL_ADMIN, scopes=frozenset())
        await token("service", org, Role.SERVICE)
    return world


async def add_person(
    engine: AsyncEngine, world: World, first: str, extension: str, numbers: Sequence[str] = ()
) -> Person:
    """Provision one more person at Org A's HQ, after the world (and any service) started."""
    async with write_transaction(engine) as conn:
        return await provisioning.create_person(
            conn,
            world.org,
            email=f"{first.lower()}@a.example",
            first_name=first,
            last_name="Test",
            extension=extension,
            numbers=numbers,
            location=world.hq,
        )
