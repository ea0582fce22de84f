"""Webex ids: what decodes to which UUID, and what is refused as malformed."""

from __future__ import annotations

import base64
import uuid

import pytest

from callsettings.settings.ids import IdType, MalformedId, decode_id, encode_id

PERSON = uuid.UUID("63785293-2e8f-4631-9453-94b9f0890d04")


def _raw(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (encode_id(IdType.PEOPLE, PERSON), PERSON),
        (encode_id(IdType.PEOPLE, PERSON).rstrip("="), PERSON),  # unpadded, as in URLs
        (f"  {encode_id(IdType.PEOPLE, PERSON)}\n", PERSON),
        (_raw(f"ciscospark://us/PEOPLE/{str(PERSON).upper()}"), PERSON),
        (_raw(f"ciscospark://us/PEOPLE/{PERSON.hex}"), PERSON),
    ],
)
def test_an_id_decodes_to_the_uuid_inside_it(text: str, expected: uuid.UUID) -> None:
    assert decode_id(IdType.PEOPLE, text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "   ",
        "x",
        "%%%not base64%%%",
        "A" * 204,
        encode_id(IdType.LOCATION, PERSON),  # another type of id
        _raw("ciscospark://us/PEOPLE/not-a-uuid"),
        _raw(f"ciscospark://eu/PEOPLE/{PERSON}"),
        _raw(f"ciscospark://us/PEOPLE/{{{PERSON}}}"),  # braces: not how ids spell a UUID
        _raw(f"ciscospark://us/PEOPLE/urn:uuid:{PERSON}"),
        _raw(f'ciscospark://us/PEOPLE/{PERSON}"'),
        _raw("ciscospark://us/PEOPLE/\\u0036" + str(PERSON)[1:]),  # no JSON escapes
        base64.b64encode(b"ciscospark://us/PEOPLE/\xff\xfe").decode(),
    ],
)
def test_a_malformed_id_is_refused_with_its_text_and_type(text: str) -> None:
    with pytest.raises(MalformedId, match="is not a valid people id"):
        decode_id(IdType.PEOPLE, text)


@pytest.mark.parametrize("kind", list(IdType))
def test_an_id_is_the_base64_of_its_uri_and_decodes_back(kind: IdType) -> None:
    made = encode_id(kind, PERSON)
    assert base64.b64decode(made) == f"ciscospark://us/{kind.value}/{PERSON}".encode()
    assert encode_id(kind, str(PERSON).upper()) == made  # text is read as a UUID first
    assert decode_id(kind, made) == PERSON
