"""Tracking ids the service makes: CALLSETTINGS_ and a version-4 UUID, never repeated."""

from __future__ import annotations

import uuid

from callsettings.server.edge import new_tracking_id

PREFIX = "CALLSETTINGS_"


def test_a_tracking_id_is_the_prefix_and_a_version_4_uuid_in_its_canonical_text() -> None:
    for _ in range(1000):
        tracking_id = new_tracking_id()
        assert tracking_id.startswith(PREFIX)
        text = tracking_id.removeprefix(PREFIX)
        parsed = uuid.UUID(text)
        assert (parsed.version, parsed.variant) == (4, uuid.RFC_4122)
        assert str(parsed) == text


def test_tracking_ids_do_not_repeat() -> None:
    made = [new_tracking_id() for _ in range(20_000)]
    assert len(set(made)) == len(made)
