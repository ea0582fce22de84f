"""GET and PUT /v1/people/{personId}/features/{callForwarding|doNotDisturb|voicemail|...}."""

from __future__ import annotations

from typing import Any

from litestar import get, put
from litestar.params import FromPath
from litestar.response.base import ASGIResponse

from callsettings.server import auth
from callsettings.server import features as service
from callsettings.server.auth import Rule
from callsettings.server.errors import ApiError, ErrorKind
from callsettings.server.features import Actor
from callsettings.server.reads import CachedReader, held_by_dial
from callsettings.server.services import Services, changing, services_of
from callsettings.server.webex.common import (
    AnyRequest,
    actor,
    authenticate,
    authorized_reader_person,
    json_body,
    raw_json,
)
from callsettings.server.webex.openapi import json_body_operation, responses
from callsettings.storage import repositories as repo
from callsettings.storage.records import Feature, Organization, Person

TAGS = ["Person call settings"]
# Call waiting is documented with admin scopes only; the others also admit the person.
RULES: dict[Feature, tuple[Rule, Rule]] = {
    Feature.CALL_WAITING: (auth.ADMIN_ONLY_READ, auth.ADMIN_ONLY_WRITE),
}
DEFAULT_RULES = (auth.PEOPLE_READ, auth.PEOPLE_WRITE)


async def read_feature(
    request: AnyRequest, person_ref: str, feature: Feature, rule: Rule
) -> ASGIResponse:
    token = await authenticate(request)
    async with CachedReader(services_of(request)) as reader:
        person, org = await authorized_reader_person(request, reader, token, person_ref, rule)
        return raw_json(await reader.document(person, org, feature))


async def change_feature(
    request: AnyRequest, person_ref: str, feature: Feature, rule: Rule
) -> None:
    token = await authenticate(request)
    rule.check_token(token)
    patch = await json_body(request)
    services = services_of(request)
    # Who may change whom is decided before writing, from the cache when it can: a
    # person's organization and location never change once provisioned.
    async with CachedReader(services) as reader:
        person, org = await authorized_reader_person(request, reader, token, person_ref, rule)
    await apply_change(services, person, org, feature, patch, actor(request, token))


async def apply_change(
    services: Services,
    person: Person,
    org: Organization,
    feature: Feature,
    patch: Any,
    who: Actor,
) -> None:
    """Merge `patch` into the person's `feature`, validate, store and audit it: at once when
    it can (PostgreSQL), else under the person's lock.

    Raises:
        InvalidSetting: the merged document breaks a rule; nothing is stored.
        ApiError: the person is gone.
    """
    known = held_by_dial(services.cache, person.org_id)
    if await service.change_at_once(services, person, org, feature, patch, who, known):
        return
    # The locking path (SQLite, or a writer lost the race twice): the person is locked,
    # then the organization (its maximum of rings validates the change) and the stored
    # document are read afresh. On SQLite the change was mostly decided before the lock.
    prepared = await service.prepare_change(services, person, org, feature, patch, known)
    async with changing(services) as conn:
        found = await repo.lock_for_change(conn, person.id, feature.value)
        if found is None:
            raise ApiError(ErrorKind.PERSON_NOT_FOUND, "Person not found.")
        org, stored = found
        if prepared is not None and prepared.still_holds(org, stored):
            await service.store(conn, person, feature, prepared.before, prepared.after, who)
            return
        current = service.decode(feature, stored, org)
        await service.update(conn, person, org, feature, patch, who, known, current)


def feature_handlers(feature: Feature) -> list[Any]:
    """Return the GET and PUT handlers of one feature, documented with its model."""
    model = service.MODELS[feature]
    read_rule, write_rule = RULES.get(feature, DEFAULT_RULES)
    path = f"/v1/people/{{person_id:str}}/features/{feature.value}"

    @get(
        path,
        name=f"read-{feature.value}",
        tags=TAGS,
        summary=f"Read a person's {feature.value}",
        responses=responses(model),
    )
    async def read(request: AnyRequest, person_id: FromPath[str]) -> ASGIResponse:
        return await read_feature(request, person_id, feature, read_rule)

    @put(
        path,
        name=f"change-{feature.value}",
        tags=TAGS,
        status_code=204,
        summary=f"Change a person's {feature.value} (partial update: send only what changes)",
        operation_class=json_body_operation(model, "Any subset of the document"),
        responses=responses(None, 400, 401, 403, 404, 413, 415, 429),
    )
    async def change(request: AnyRequest, person_id: FromPath[str]) -> None:
        await change_feature(request, person_id, feature, write_rule)

    return [read, change]


ROUTES: list[Any] = [handler for feature in Feature for handler in feature_handlers(feature)]
