"""Webex-style ids: base64 of ``ciscospark://us/<TYPE>/<uuid>``.

Clients send them with or without ``=`` padding (the JS SDK puts the padded form raw into
URLs), so decoding accepts both and every comparison is made on the decoded UUID.
"""

from __future__ import annotations

import base64
import binascii
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


# Not memoized. A memo of 4,096 ids answered a repeated id in 0.2 us, but at 100,000 people
# nearly every id missed it, and a miss (the decode, the key, and evicting an entry inserted
# thousands of requests before, from memory long out of the CPU's caches) cost the live
# server about 2.7 us a GET against 0.3 for a hit (py-spy). Decoding the usual form in three
# C calls costs about 1.1 us (timeit) whatever the size of the organization.
def decode_id(kind: IdType, text: str) -> uuid.UUID:
    """Return the UUID inside a Webex id of type `kind`, padded or not.

    Raises:
        MalformedId: not base64, not a ciscospark URI, another type, or not a UUID.
    """
    if len(text) > 200:
        raise _malformed(kind, text)
    missing = -len(text) % 4
    try:  # the usual forms: padded, or without its padding (as URLs carry it)
        raw = binascii.a2b_base64(text + "=" * missing if missing else text, strict_mode=True)
    except (binascii.Error, ValueError):
        raw = _lenient(kind, text)
    expected = _PREFIXES[kind]
    tail = raw[len(expected) :]
    if not raw.startswith(expected) or b"\\" in tail:  # no JSON escapes below
        raise _malformed(kind, text)
    try:
        # msgspec's parser: uuid.UUID's took 1.5 us of the 2.1 the decode cost.
        return _uuid_text(b'"%s"' % tail)
    except msgspec.DecodeError as exc:
        raise _malformed(kind, text) from exc


def _lenient(kind: IdType, text: str) -> bytes:
    """The base64 of other forms: surrounding blanks, padding of any length, or the
    URL-safe alphabet (- and _ for + and /)."""
    cleaned = text.strip().rstrip("=")
    if not cleaned:
        raise _malformed(kind, text)
    padded = cleaned + "=" * (-len(cleaned) % 4)
    try:
        return binascii.a2b_base64(padded, strict_mode=True)
    except (binascii.Error, ValueError):
        try:
            return base64.b64decode(padded, altchars=b"-_", validate=True)
        except (binascii.Error, ValueError) as exc:
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
