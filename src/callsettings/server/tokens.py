"""Opaque bearer tokens: 256 random bits, stored only as a SHA-256 digest."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import uuid
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncConnection

from callsettings.storage import repositories as repo
from callsettings.storage.records import Role, Token, utcnow

TOKEN_PREFIX = "cst_"  # noqa: S105 - a marker for secret scanners, not a secret

# Scopes as Webex names them; the service token's scope is this project's own.
ADMIN_READ = "spark-admin:people_read"
ADMIN_WRITE = "spark-admin:people_write"
ADMIN_TELEPHONY_READ = "spark-admin:telephony_config_read"
ADMIN_TELEPHONY_WRITE = "spark-admin:telephony_config_write"
USER_READ = "spark:people_read"
USER_WRITE = "spark:people_write"
USER_TELEPHONY_READ = "spark:telephony_config_read"
USER_TELEPHONY_WRITE = "spark:telephony_config_write"
AUDIT_READ = "audit:events_read"
ORGS_READ = "spark:organizations_read"
ADMIN_ORGS_READ = "spark-admin:organizations_read"
TREATMENT_READ = "callsettings:treatment_read"

USER_SCOPES = frozenset(
    {USER_READ, USER_WRITE, USER_TELEPHONY_READ, USER_TELEPHONY_WRITE, ORGS_READ}
)
_ADMIN_READ_SCOPES = frozenset(
    {ADMIN_READ, ADMIN_TELEPHONY_READ, AUDIT_READ, ADMIN_ORGS_READ, ORGS_READ}
)
_ADMIN_WRITE_SCOPES = _ADMIN_READ_SCOPES | {ADMIN_WRITE, ADMIN_TELEPHONY_WRITE}

ROLE_SCOPES: dict[Role, frozenset[str]] = {
    Role.FULL_ADMIN: _ADMIN_WRITE_SCOPES,
    Role.USER_ADMIN: _ADMIN_WRITE_SCOPES,
    Role.LOCATION_ADMIN: _ADMIN_WRITE_SCOPES,
    Role.PARTNER_ADMIN: _ADMIN_WRITE_SCOPES,
    Role.READ_ONLY_ADMIN: _ADMIN_READ_SCOPES,
    Role.USER: USER_SCOPES,
    Role.SERVICE: frozenset({TREATMENT_READ}),
}


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def same_digest(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def new_secret() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


async def issue_token(
    conn: AsyncConnection,
    *,
    org_id: uuid.UUID,
    role: Role,
    person_id: uuid.UUID | None = None,
    scopes: frozenset[str] | None = None,
    location_ids: frozenset[uuid.UUID] = frozenset(),
    managed_org_ids: frozenset[uuid.UUID] = frozenset(),
    label: str = "",
    lifetime: timedelta = timedelta(days=365),
    secret: str | None = None,
    now: datetime | None = None,
) -> tuple[str, Token]:
    """Store a new token and return its secret (shown once) with its record."""
    created = now or utcnow()
    token = Token(
        id=uuid.uuid4(),
        org_id=org_id,
        person_id=person_id,
        role=role,
        scopes=ROLE_SCOPES[role] if scopes is None else scopes,
        location_ids=location_ids,
        managed_org_ids=managed_org_ids,
        label=label,
        created=created,
        expires=created + lifetime,
    )
    secret = secret or new_secret()
    await repo.insert_token(conn, token, digest(secret))
    return secret, token
