"""Webex-style ids: base64 of ``ciscospark://us/<TYPE>/<uuid>``.

Clients send them with or without ``=`` padding (the JS SDK puts the padded form raw into
URLs), so decoding accepts both and every comparison is made on the decoded UUID.
"""

from __future__ import annotations

import base64
import binascii
import functools
import uuid
from enum import StrEnum

import msgspec


class IdType(StrEnum):
    PEOPLE = "PEOPLE"
    ORGANIZATION = "ORGANIZATION"
    LOCATION = "LOCATION"


class MalformedId(ValueError):
    """The text is not a Webex id of the expected type."""


_PREFIX = "ciscospark://us/"


def encode_id(kind: IdType, value: uuid.UUID | str) -> str:
    """Return the padded Webex id of a UUID (or of its text, which is checked)."""
    canonical = value if isinstance(value, uuid.UUID) else uuid.UUID(value)
    # msgspec writes the UUID's canonical text (quoted) in C: a third of str()'s cost, and
    # every decision names the person called by this id.
    return base64.b64encode(_PREFIXES[kind] + _uuid_json(canonical)[1:-1]).decode()


# Bounded small: each entry holds a 90-character id and its UUID (about 400 bytes with the
# LRU's bookkeeping), and at 65,536 entries the memo alone took 26 MB of a worker's memory.
@functools.lru_cache(maxsize=4096)
def decode_id(kind: IdType, text: str) -> uuid.UUID:
    """Return the UUID inside a Webex id of type `kind`, padded or not (memoized: ids repeat).

    Raises:
        MalformedId: not base64, not a ciscospark URI, another type, or not a UUID.
    """
    cleaned = text.strip().rstrip("=")
    if not cleaned or len(cleaned) > 200:
        raise _malformed(kind, text)
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        raw = binascii.a2b_base64(padded, strict_mode=True)
    except (binascii.Error, ValueError):
        try:  # the URL-safe alphabet, - and _ for + and /
            raw = base64.b64decode(padded, altchars=b"-_", validate=True)
        except (binascii.Error, ValueError) as exc:
            raise _malformed(kind, text) from exc
    expected = _PREFIXES[kind]
    tail = raw[len(expected) :]
    if not raw.startswith(expected) or b"\\" in tail:  # no JSON escapes below
        raise _malformed(kind, text)
    try:
        # msgspec's parser: uuid.UUID's took 1.5 us of the 2.1 a miss of the memo cost, and
        # at 100,000 people most ids miss it.
        return _uuid_text(b'"' + tail + b'"')
    except msgspec.DecodeError as exc:
        raise _malformed(kind, text) from exc


def _malformed(kind: IdType, text: str) -> MalformedId:
    return MalformedId(f"{text!r} is not a valid {kind.value.lower()} id")


# The canonical text of a UUID (36 characters with hyphens, or its 32 hex digits), as JSON.
_uuid_text = msgspec.json.Decoder(uuid.UUID).decode
_uuid_json = msgspec.json.Encoder().encode
_PREFIXES = {kind: f"{_PREFIX}{kind.value}/".encode() for kind in IdType}


def parse_ref(kind: IdType, text: str) -> uuid.UUID:
    """Accept a Webex id or a raw UUID (the JS SDK's XSI and UCM paths use the raw one)."""
    try:
        return uuid.UUID(text)
    except ValueError:
        return decode_id(kind, text)
