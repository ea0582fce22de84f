"""Helpers the XSI tests share: URLs, bodies, credentials and reading answers."""

from __future__ import annotations

import base64
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncEngine

from callsettings.server.xsi.passwords import hash_password
from callsettings.settings import xsi
from callsettings.storage import repositories as repo
from callsettings.storage import tables
from callsettings.storage.database import write_transaction
from callsettings.storage.records import Person

NS = xsi.NAMESPACE
XML_HEADERS = {"Content-Type": "application/xml"}
PASSWORD = "correct horse battery"


def xsi_url(person: Person | str, service: str = "", query: str = "") -> str:
    user = person if isinstance(person, str) else str(person.id)
    tail = f"/{service}" if service else ""
    return f"/com.broadsoft.xsi-actions/v2.0/user/{user}/services{tail}{query}"


def xml(root: str, *elements: tuple[str, str | None]) -> bytes:
    """Return an XSI document; a None value is sent as xsi:nil."""
    parts = []
    for name, value in elements:
        if value is None:
            parts.append(f'<{name} xsi:nil="true"/>')
        else:
            parts.append(f"<{name}>{value}</{name}>")
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{NS}" '
        f'xmlns:xsi="{xsi.INSTANCE_NAMESPACE}">{"".join(parts)}</{root}>'
    ).encode()


def values(response: Any, root: str) -> dict[str, str | None]:
    """Return the elements of an XSI document answer, checking its content type."""
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/xml; charset=UTF-8"
    return dict(xsi.parse_xml(response.content, root).values)


def error_info(response: Any) -> dict[str, str | None]:
    """Return the ErrorInfo elements of an error answer, checking its content type."""
    assert response.headers["content-type"] == "application/xml; charset=UTF-8"
    info = dict(xsi.parse_xml(response.content, "ErrorInfo").values)
    assert info["summary"] == info["summaryEnglish"]
    return info


def basic(user: str, password: str = PASSWORD) -> dict[str, str]:
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"Authorization": f"Basic {token}"}


async def set_password(engine: AsyncEngine, person: Person, password: str = PASSWORD) -> None:
    async with write_transaction(engine) as conn:
        await repo.set_xsi_password(conn, person.id, hash_password(password))


async def audit_rows(engine: AsyncEngine) -> list[Any]:
    async with engine.connect() as conn:
        query = sa.select(tables.audit_events).order_by(tables.audit_events.c.id)
        return list((await conn.execute(query)).all())
