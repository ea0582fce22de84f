"""The schema, as SQLAlchemy Core tables. Alembic migrations are the only way it changes."""

from __future__ import annotations

import sqlalchemy as sa

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# UUIDs are stored as their 36-character text so SQLite and PostgreSQL compare them alike.
Uuid = sa.String(36)
Timestamp = sa.DateTime(timezone=True)

organizations = sa.Table(
    "organizations",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("country", sa.String(2), nullable=False),
    sa.Column("system_max_rings", sa.Integer, nullable=False),
    sa.Column("ring_seconds", sa.Integer, nullable=False),
    sa.Column("diversion_cap", sa.Integer, nullable=False),
    sa.Column("created", Timestamp, nullable=False),
)

locations = sa.Table(
    "locations",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("org_id", Uuid, sa.ForeignKey("organizations.id"), nullable=False, index=True),
    sa.Column("name", sa.String(200), nullable=False),
    sa.Column("time_zone", sa.String(64), nullable=False),
    sa.Column("address", sa.Text, nullable=False),
    sa.Column("created", Timestamp, nullable=False),
)

people = sa.Table(
    "people",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("org_id", Uuid, sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("location_id", Uuid, sa.ForeignKey("locations.id"), nullable=True),
    sa.Column("email", sa.String(320), nullable=False, unique=True),
    sa.Column("display_name", sa.String(200), nullable=False),
    sa.Column("first_name", sa.String(100), nullable=False),
    sa.Column("last_name", sa.String(100), nullable=False),
    sa.Column("extension", sa.String(10), nullable=True),
    sa.Column("roles", sa.Text, nullable=False),
    sa.Column("xsi_password_hash", sa.String(200), nullable=True),
    sa.Column("created", Timestamp, nullable=False),
    sa.Column("last_modified", Timestamp, nullable=False),
    sa.UniqueConstraint("org_id", "extension", name="uq_people_org_extension"),
    sa.Index("ix_people_org_display_name", "org_id", "display_name", "id"),
    sa.Index("ix_people_org_location", "org_id", "location_id", "display_name"),
)

phone_numbers = sa.Table(
    "phone_numbers",
    metadata,
    sa.Column("person_id", Uuid, sa.ForeignKey("people.id"), primary_key=True),
    sa.Column("number", sa.String(20), primary_key=True),
    sa.Column("org_id", Uuid, sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("type", sa.String(20), nullable=False),
    sa.Column("is_primary", sa.Boolean, nullable=False),
    sa.UniqueConstraint("org_id", "number", name="uq_phone_numbers_org_number"),
)

feature_settings = sa.Table(
    "feature_settings",
    metadata,
    sa.Column("person_id", Uuid, sa.ForeignKey("people.id"), primary_key=True),
    sa.Column("feature", sa.String(40), primary_key=True),
    # The feature's JSON document, exactly as the Webex dialect reads it.
    sa.Column("document", sa.Text, nullable=False),
    sa.Column("updated", Timestamp, nullable=False),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", Uuid, primary_key=True),
    sa.Column("token_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("org_id", Uuid, sa.ForeignKey("organizations.id"), nullable=False),
    sa.Column("person_id", Uuid, sa.ForeignKey("people.id"), nullable=True),
    sa.Column("role", sa.String(30), nullable=False),
    sa.Column("scopes", sa.Text, nullable=False),
    sa.Column("location_ids", sa.Text, nullable=False),
    sa.Column("managed_org_ids", sa.Text, nullable=False),
    sa.Column("label", sa.String(200), nullable=False),
    sa.Column("created", Timestamp, nullable=False),
    sa.Column("expires", Timestamp, nullable=False),
    sa.Column("revoked", Timestamp, nullable=True),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer, "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("org_id", Uuid, nullable=False),
    sa.Column("actor_id", sa.String(36), nullable=False),
    sa.Column("actor_name", sa.String(200), nullable=False),
    sa.Column("token_id", Uuid, nullable=True),
    sa.Column("person_id", Uuid, nullable=False),
    sa.Column("feature", sa.String(40), nullable=False),
    sa.Column("dialect", sa.String(20), nullable=False),
    sa.Column("before", sa.Text, nullable=True),
    sa.Column("after", sa.Text, nullable=True),
    sa.Column("tracking_id", sa.String(200), nullable=False),
    sa.Column("created", Timestamp, nullable=False),
    sa.Index("ix_audit_events_org_created", "org_id", "created", "id"),
)

greetings = sa.Table(
    "greetings",
    metadata,
    sa.Column("person_id", Uuid, sa.ForeignKey("people.id"), primary_key=True),
    sa.Column("kind", sa.String(20), primary_key=True),
    sa.Column("filename", sa.String(255), nullable=False),
    sa.Column("content_type", sa.String(100), nullable=False),
    sa.Column("audio", sa.LargeBinary, nullable=False),
    sa.Column("duration_ms", sa.Integer, nullable=False),
    sa.Column("uploaded", Timestamp, nullable=False),
)

voicemail_passcodes = sa.Table(
    "voicemail_passcodes",
    metadata,
    sa.Column("person_id", Uuid, sa.ForeignKey("people.id"), primary_key=True),
    sa.Column("passcode_hash", sa.String(200), nullable=True),
    sa.Column("must_reset", sa.Boolean, nullable=False),
    sa.Column("updated", Timestamp, nullable=False),
)

# The demo organization's public credentials, so `callsettings demo` can print them again.
# Only demo tokens live here; every real token is stored as a digest alone.
demo_credentials = sa.Table(
    "demo_credentials",
    metadata,
    sa.Column("name", sa.String(40), primary_key=True),
    sa.Column("document", sa.Text, nullable=False),
)
