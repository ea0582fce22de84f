"""Who is calling (authentication) and what they may touch (authorization)."""

from __future__ import annotations

import asyncio
import functools
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum

from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server import tokens as scopes
from callsettings.server.errors import ApiError, ErrorKind
from callsettings.storage import repositories as repo
from callsettings.storage.records import Person, Role, Token, utcnow

# The share of a token entry's life after which it is read again in the background. The
# rest is the time that read has before the entry expires and the worker's requests wait
# for it. With the refresh at half of 2 s, on two cores saturated by wrk and the workers,
# refreshes on PostgreSQL took up to 1.05 s (docs/performance.md, "What the profiles say",
# 15), entries expired, and each worker's requests waited for the read; a quarter leaves
# 1.5 s. Reading a token twice a second per worker costs next to nothing.
REFRESH_AFTER = 0.25


class TokenCache:
    """Reuses token look-ups for a few seconds; a revocation takes effect within `ttl`.

    Under load every request carries a token, so the moment an entry expires every
    request in flight would read it again: on PostgreSQL that queue of identical queries
    was the 99th percentile of warm reads (70 ms against a 2 ms median). So one read per
    token is in flight at a time, and an entry past a quarter of its life (REFRESH_AFTER)
    is read again in the background while it is still served. An entry is stamped with the
    time its read began, so it is never used longer than `ttl` after the database said it
    was valid.
    """

    def __init__(
        self,
        engine: AsyncEngine,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = 50_000,
    ) -> None:
        self._engine = engine
        self._ttl = ttl
        self._clock = clock
        self._max_entries = max_entries
        self._entries: dict[str, tuple[float, Token | None]] = {}
        self._flights: dict[str, asyncio.Future[Token | None]] = {}
        # Refreshes started, by token: the loop holds tasks weakly, and a refresh's read
        # becomes a flight only once its task runs (until then every request of the loop
        # turn would start another).
        self._refreshing: dict[str, asyncio.Task[Token | None]] = {}

    async def lookup(self, secret: str) -> Token | None:
        token_digest = scopes.digest(secret)
        cached = self._fresh(token_digest)
        if cached is not None:
            return cached[1]
        return await self._read(token_digest)

    def peek(self, secret: str) -> Token | None:
        """Return the cached token for `secret` if it is still fresh; never waits for a read."""
        cached = self._fresh(scopes.digest(secret))
        return None if cached is None else cached[1]

    def _fresh(self, token_digest: str) -> tuple[float, Token | None] | None:
        cached = self._entries.get(token_digest)
        if cached is None:
            return None
        age = self._clock() - cached[0]
        if age >= self._ttl:
            return None
        if (
            age >= self._ttl * REFRESH_AFTER
            and token_digest not in self._flights
            and token_digest not in self._refreshing
        ):
            self._refresh_soon(token_digest)
        return cached

    def _refresh_soon(self, token_digest: str) -> None:
        try:
            task = asyncio.get_running_loop().create_task(self._read(token_digest))
        except RuntimeError:
            return  # no loop (a synchronous caller): the next read after expiry refreshes
        self._refreshing[token_digest] = task
        task.add_done_callback(functools.partial(self._refresh_done, token_digest))

    def _refresh_done(self, token_digest: str, task: asyncio.Task[Token | None]) -> None:
        del self._refreshing[token_digest]
        if not task.cancelled():
            task.exception()  # a failed refresh is retried by the next request; never logged twice

    async def _read(self, token_digest: str) -> Token | None:
        flight = self._flights.get(token_digest)
        if flight is not None:
            return await asyncio.shield(flight)
        flight = asyncio.get_running_loop().create_future()
        self._flights[token_digest] = flight
        started = self._clock()
        try:
            async with self._engine.connect() as conn:
                token = await repo.get_token_by_hash(conn, token_digest)
        except BaseException as exc:
            flight.set_exception(exc)
            flight.exception()  # retrieved: a flight nobody joined logs nothing
            raise
        finally:
            self._flights.pop(token_digest, None)
        if len(self._entries) >= self._max_entries:
            self._entries.clear()
        if self._ttl > 0:
            self._entries[token_digest] = (started, token)
        flight.set_result(token)
        return token

    def forget(self) -> None:
        self._entries.clear()


def bearer_secret(authorization: str | None) -> str:
    """Return the token in an Authorization header, or raise a 401 ApiError."""
    if not authorization:
        raise ApiError(ErrorKind.MISSING_TOKEN, "The request has no Authorization header.")
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise ApiError(
            ErrorKind.INVALID_TOKEN, "The Authorization header must be 'Bearer <access token>'."
        )
    return secret.strip()


def check_usable(token: Token | None) -> Token:
    if token is None:
        raise ApiError(ErrorKind.INVALID_TOKEN, "The access token is not valid.")
    if token.revoked is not None:
        raise ApiError(ErrorKind.REVOKED_TOKEN, "The access token has been revoked.")
    if utcnow() >= token.expires:
        raise ApiError(ErrorKind.EXPIRED_TOKEN, "The access token has expired.")
    return token


class Access(Enum):
    READ = "read"
    WRITE = "write"


ADMIN_ROLES = {
    Access.READ: frozenset(
        {
            Role.FULL_ADMIN,
            Role.USER_ADMIN,
            Role.READ_ONLY_ADMIN,
            Role.LOCATION_ADMIN,
            Role.PARTNER_ADMIN,
        }
    ),
    Access.WRITE: frozenset(
        {Role.FULL_ADMIN, Role.USER_ADMIN, Role.LOCATION_ADMIN, Role.PARTNER_ADMIN}
    ),
}


@dataclass(frozen=True, slots=True)
class Rule:
    """Which scopes open a kind of request: an admin scope, and a user scope for oneself."""

    access: Access
    admin_scope: str
    user_scope: str | None

    def admits_admin(self, token: Token) -> bool:
        return token.role in ADMIN_ROLES[self.access] and self.admin_scope in token.scopes

    def admits_self(self, token: Token) -> bool:
        return self.user_scope is not None and self.user_scope in token.scopes

    def check_token(self, token: Token) -> None:
        """Refuse tokens that could not perform this kind of request on anyone."""
        if self.admits_admin(token) or (token.person_id and self.admits_self(token)):
            return
        if token.role in ADMIN_ROLES[Access.READ] and self.access is Access.WRITE:
            raise ApiError(
                ErrorKind.ROLE_NOT_ALLOWED,
                f"The {token.role.value} role cannot change settings.",
            )
        needed = (
            self.admin_scope
            if self.user_scope is None
            else (f"{self.admin_scope} (admin) or {self.user_scope} (own settings)")
        )
        raise ApiError(ErrorKind.MISSING_SCOPE, f"The access token needs the scope {needed}.")

    def check_person(self, token: Token, person: Person) -> None:
        """Refuse unless the token may act on this person (call after check_token)."""
        self.check_placement(token, person.id, person.location_id)

    def check_placement(
        self, token: Token, person_id: uuid.UUID, location_id: uuid.UUID | None
    ) -> None:
        """check_person, for the person with this id in this location."""
        if self.admits_admin(token):
            if token.role is Role.LOCATION_ADMIN and location_id not in token.location_ids:
                raise ApiError(
                    ErrorKind.ROLE_NOT_ALLOWED,
                    "This location administrator does not manage the person's location.",
                )
            return
        if token.person_id == person_id and self.admits_self(token):
            return
        raise ApiError(
            ErrorKind.ROLE_NOT_ALLOWED, "This token may only act on its own person's settings."
        )


PEOPLE_READ = Rule(Access.READ, scopes.ADMIN_READ, scopes.USER_READ)
PEOPLE_WRITE = Rule(Access.WRITE, scopes.ADMIN_WRITE, scopes.USER_WRITE)
# Call waiting is documented with admin scopes only.
ADMIN_ONLY_READ = Rule(Access.READ, scopes.ADMIN_READ, None)
ADMIN_ONLY_WRITE = Rule(Access.WRITE, scopes.ADMIN_WRITE, None)
ME_READ = Rule(Access.READ, scopes.ADMIN_TELEPHONY_READ, scopes.USER_TELEPHONY_READ)
ME_WRITE = Rule(Access.WRITE, scopes.ADMIN_TELEPHONY_WRITE, scopes.USER_TELEPHONY_WRITE)
# The voicemail passcode is documented for admins with the telephony scope only.
PASSCODE_WRITE = Rule(Access.WRITE, scopes.ADMIN_TELEPHONY_WRITE, None)
# The JS SDK discovers the XSI host with a person's own token, so users may list their org.
ORGANIZATIONS_READ = Rule(Access.READ, scopes.ADMIN_ORGS_READ, scopes.ORGS_READ)
AUDIT_READ = Rule(Access.READ, scopes.AUDIT_READ, None)


def acts_in_org(token: Token, org_id: uuid.UUID) -> bool:
    """Return whether `token` may act in `org_id`: its own org, or one its partner manages."""
    return org_id == token.org_id or (
        token.role is Role.PARTNER_ADMIN and org_id in token.managed_org_ids
    )


def target_org(token: Token, requested: uuid.UUID | None) -> uuid.UUID:
    """Return the org a request acts on; only a partner may name one it manages."""
    if requested is None:
        return token.org_id
    if acts_in_org(token, requested):
        return requested
    raise ApiError(
        ErrorKind.ORG_NOT_MANAGED,
        "orgId names an organization this token does not manage.",
    )
