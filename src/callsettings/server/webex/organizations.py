"""Organizations and locations: /v1/organizations[/{orgId}] and /v1/locations[/{locationId}].

`GET /v1/organizations?callingData=true` is how the JS SDK and our own SDK find the XSI-Actions
root, with a person's own token: such a token sees its own organization only.
"""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

import msgspec
from litestar import Response, get
from litestar.params import FromPath

from callsettings.server import auth
from callsettings.server.errors import ApiError, ErrorKind
from callsettings.server.services import services_of
from callsettings.server.webex.common import (
    AnyRequest,
    authenticate,
    json_response,
    org_or_404,
    path_id,
    requested_org,
)
from callsettings.server.webex.directory import timestamp
from callsettings.server.webex.openapi import responses
from callsettings.server.webex.paging import base_url
from callsettings.settings import xsi
from callsettings.settings.ids import IdType, encode_id
from callsettings.storage import repositories as repo
from callsettings.storage.records import Location, Organization, Role, Token


class OrganizationOut(msgspec.Struct, rename="camel", omit_defaults=True):
    id: str
    display_name: str
    created: str
    xsi_actions_endpoint: str | None = None
    xsi_domain: str | None = None


class Organizations(msgspec.Struct):
    items: list[OrganizationOut]


class Address(msgspec.Struct, rename="camel", omit_defaults=True):
    country: str
    address1: str | None = None


class LocationOut(msgspec.Struct, rename="camel"):
    id: str
    name: str
    org_id: str
    time_zone: str
    address: Address


class Locations(msgspec.Struct):
    items: list[LocationOut]


_encoder = msgspec.json.Encoder()


def _calling_data(request: AnyRequest) -> bool:
    raw = request.query_params.get("callingData", "false").lower()
    if raw not in ("true", "false"):
        raise ApiError(ErrorKind.INVALID_QUERY, f"callingData must be true or false, got {raw!r}.")
    return raw == "true"


def organization_out(request: AnyRequest, org: Organization, calling_data: bool) -> OrganizationOut:
    out = OrganizationOut(
        id=encode_id(IdType.ORGANIZATION, org.id),
        display_name=org.display_name,
        created=timestamp(org.created),
    )
    if calling_data:
        base = base_url(request)
        out.xsi_actions_endpoint = base + xsi.ACTIONS_ROOT
        out.xsi_domain = urlsplit(base).hostname
    return out


def _visible_orgs(token: Token) -> set[uuid.UUID]:
    managed = token.managed_org_ids if token.role is Role.PARTNER_ADMIN else frozenset()
    return {token.org_id, *managed}


@get(
    "/v1/organizations",
    name="list-organizations",
    tags=["Organizations"],
    summary="List the token's organization (and those a partner manages); callingData adds XSI",
    responses=responses(Organizations, 400, 401, 403, 429),
)
async def list_organizations(request: AnyRequest) -> Response[bytes]:
    token = await authenticate(request)
    auth.ORGANIZATIONS_READ.check_token(token)
    calling_data = _calling_data(request)
    async with services_of(request).engine.connect() as conn:
        orgs = await repo.list_organizations(conn, _visible_orgs(token))
    items = [organization_out(request, org, calling_data) for org in orgs]
    return json_response(_encoder.encode(Organizations(items=items)))


@get(
    "/v1/organizations/{org_id:str}",
    name="read-organization",
    tags=["Organizations"],
    summary="Read an organization the token belongs to or manages",
    responses=responses(OrganizationOut, 400, 401, 403, 404, 429),
)
async def read_organization(request: AnyRequest, org_id: FromPath[str]) -> Response[bytes]:
    token = await authenticate(request)
    auth.ORGANIZATIONS_READ.check_token(token)
    wanted = path_id(org_id, IdType.ORGANIZATION, "Organization")
    if not auth.acts_in_org(token, wanted):
        raise ApiError(ErrorKind.NOT_FOUND, "Organization not found.")
    calling_data = _calling_data(request)
    async with services_of(request).engine.connect() as conn:
        org = await org_or_404(conn, wanted)
    return json_response(_encoder.encode(organization_out(request, org, calling_data)))


def location_out(location: Location, org: Organization) -> LocationOut:
    return LocationOut(
        id=encode_id(IdType.LOCATION, location.id),
        name=location.name,
        org_id=encode_id(IdType.ORGANIZATION, location.org_id),
        time_zone=location.time_zone,
        address=Address(country=org.country, address1=location.address or None),
    )


@get(
    "/v1/locations",
    name="list-locations",
    tags=["Locations"],
    summary="List the organization's locations (all of them; an org has few), by name",
    responses=responses(Locations, 400, 401, 403, 429),
)
async def list_locations(request: AnyRequest) -> Response[bytes]:
    token = await authenticate(request)
    auth.PEOPLE_READ.check_token(token)
    org_id = requested_org(request, token)
    name = request.query_params.get("name") or None
    async with services_of(request).engine.connect() as conn:
        org = await org_or_404(conn, org_id)
        locations = await repo.list_locations(conn, org_id, name=name)
    items = [location_out(location, org) for location in locations]
    return json_response(_encoder.encode(Locations(items=items)))


@get(
    "/v1/locations/{location_id:str}",
    name="read-location",
    tags=["Locations"],
    summary="Read a location of the organization",
    responses=responses(LocationOut, 400, 401, 403, 404, 429),
)
async def read_location(request: AnyRequest, location_id: FromPath[str]) -> Response[bytes]:
    token = await authenticate(request)
    auth.PEOPLE_READ.check_token(token)
    org_id = requested_org(request, token)
    wanted = path_id(location_id, IdType.LOCATION, "Location")
    async with services_of(request).engine.connect() as conn:
        location = await repo.get_location(conn, wanted)
        if location is None or location.org_id != org_id:
            raise ApiError(ErrorKind.NOT_FOUND, "Location not found.")
        org = await org_or_404(conn, org_id)
    return json_response(_encoder.encode(location_out(location, org)))


ROUTES: list[Any] = [list_organizations, read_organization, list_locations, read_location]
