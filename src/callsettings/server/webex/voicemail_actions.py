"""Voicemail actions: greeting uploads and downloads, PIN reset and passcode changes.

Greetings are stored in the database with the voicemail document's `greetingUploaded` flag,
in one transaction, so the flag is true exactly when a greeting of that kind can be played.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import io
import secrets
import struct
import wave
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Response, get, post, put
from litestar.datastructures import UploadFile
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.spec import (
    OpenAPIFormat,
    OpenAPIMediaType,
    OpenAPIType,
    Operation,
    RequestBody,
    Schema,
)
from litestar.params import FromPath
from sqlalchemy.ext.asyncio import AsyncConnection

from callsettings.server import auth
from callsettings.server import features as service
from callsettings.server.auth import Rule
from callsettings.server.errors import ApiError, ErrorKind
from callsettings.server.features import Actor
from callsettings.server.reads import CachedReader
from callsettings.server.services import changing, mark_changed, services_of
from callsettings.server.webex.common import (
    AnyRequest,
    actor,
    authenticate,
    authorized_person,
    authorized_reader_person,
    json_body,
)
from callsettings.server.webex.openapi import json_body_operation, responses
from callsettings.settings.errors import InvalidSetting
from callsettings.settings.voicemail import GreetingKind, Voicemail, check_passcode
from callsettings.storage import repositories as repo
from callsettings.storage.records import Feature, Organization, Person, Token, utcnow

TAGS = ["Person call settings"]
WAV = "audio/wav"
# Rates a voicemail platform plays; anything else is almost certainly not a greeting.
_RATES = range(8000, 48001)


@dataclass(frozen=True, slots=True)
class Upload:
    filename: str
    audio: bytes
    duration_ms: int


def wav_duration_ms(audio: bytes) -> int:
    """Return the length of a PCM WAV recording in milliseconds.

    Raises:
        InvalidSetting: the bytes are not a complete, playable PCM WAV file.
    """
    if audio[:4] != b"RIFF" or audio[8:12] != b"WAVE":
        raise InvalidSetting("file", "is not a WAV file (no RIFF/WAVE header)")
    try:
        with wave.open(io.BytesIO(audio), "rb") as recording:
            frames = recording.getnframes()
            rate = recording.getframerate()
            channels = recording.getnchannels()
            expected = frames * recording.getsampwidth() * channels
            data = recording.readframes(frames)
    # wave signals a chunk that runs past the end with a bare RuntimeError.
    except (wave.Error, EOFError, ValueError, RuntimeError, struct.error) as exc:
        raise InvalidSetting("file", f"is not a readable PCM WAV file: {exc}") from exc
    if frames == 0:
        raise InvalidSetting("file", "is a WAV file without any audio")
    if len(data) < expected:
        raise InvalidSetting(
            "file", f"is a truncated WAV file: {len(data)} of {expected} audio bytes"
        )
    if rate not in _RATES or channels > 2:
        raise InvalidSetting(
            "file", f"must be mono or stereo at 8000..48000 Hz, got {channels}ch at {rate} Hz"
        )
    return frames * 1000 // rate


async def read_upload(request: AnyRequest) -> Upload:
    """Return the multipart part `file`, checked to be a WAV file within the size limit."""
    content_type = request.headers.get("content-type", "")
    if content_type.split(";", 1)[0].strip().lower() != "multipart/form-data":
        raise ApiError(
            ErrorKind.UNSUPPORTED_MEDIA_TYPE,
            "The greeting must be sent as multipart/form-data with a part named 'file', "
            f"got {content_type!r}.",
        )
    limit = services_of(request).config.max_upload_bytes
    form = await request.form()
    part = form.get("file")
    if not isinstance(part, UploadFile):
        raise InvalidSetting("file", "a multipart file part named 'file' is required")
    try:
        audio = await part.read()
    finally:
        await part.close()
    if len(audio) > limit:
        raise ApiError(
            ErrorKind.BODY_TOO_LARGE,
            f"file: greetings are limited to {limit // 1024} KB, got {len(audio) // 1024} KB.",
        )
    duration = wav_duration_ms(audio)
    return Upload(
        filename=(part.filename or "greeting.wav")[:255], audio=audio, duration_ms=duration
    )


def _with_flag(document: Voicemail, kind: GreetingKind) -> Voicemail:
    changed = msgspec.json.decode(msgspec.json.encode(document), type=Voicemail)
    if kind is GreetingKind.BUSY:
        changed.send_busy_calls.greeting_uploaded = True
    else:
        changed.send_unanswered_calls.greeting_uploaded = True
    return changed


def _json(value: Any) -> str:
    return msgspec.json.encode(value).decode()


async def _audit(
    conn: AsyncConnection, person: Person, what: str, before: Any, after: Any, who: Actor
) -> None:
    await repo.record_action(
        conn,
        person,
        what,
        None if before is None else _json(before),
        _json(after),
        actor_id=who.actor_id,
        actor_name=who.name,
        token_id=None if who.token is None else who.token.id,
        tracking_id=who.tracking_id,
        dialect=who.dialect,
    )


def _summary(greeting: repo.StoredGreeting) -> dict[str, Any]:
    return {
        "filename": greeting.filename,
        "bytes": len(greeting.audio),
        "durationMs": greeting.duration_ms,
    }


async def store_greeting(
    conn: AsyncConnection,
    person: Person,
    org: Organization,
    kind: GreetingKind,
    upload: Upload,
    who: Actor,
) -> None:
    """Store a greeting, set its `greetingUploaded` flag and audit both."""
    previous = await repo.get_greeting(conn, person.id, kind.value)
    greeting = repo.StoredGreeting(
        kind=kind.value,
        filename=upload.filename,
        content_type=WAV,
        audio=upload.audio,
        duration_ms=upload.duration_ms,
        uploaded=utcnow(),
    )
    await repo.save_greeting(conn, person.id, greeting)
    current = await service.read(conn, person, org, Feature.VOICEMAIL)
    assert isinstance(current, Voicemail)
    await service.store(conn, person, Feature.VOICEMAIL, current, _with_flag(current, kind), who)
    before = None if previous is None else _summary(previous)
    await _audit(conn, person, f"voicemail.{kind.value}Greeting", before, _summary(greeting), who)
    mark_changed(conn, person.id)


# ---- passcodes --------------------------------------------------------------------------

_N, _R, _P = 2**14, 8, 1


def hash_passcode(passcode: str) -> str:
    """Return the stored form of a passcode: scrypt with a random salt."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(passcode.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return "$".join(["scrypt", str(_N), str(_R), str(_P), *encoded])


def _passcode_state(state: repo.PasscodeState | None) -> dict[str, Any]:
    if state is None:
        return {"passcodeSet": False, "mustReset": False}
    return {"passcodeSet": state.passcode_hash is not None, "mustReset": state.must_reset}


async def set_passcode(conn: AsyncConnection, person: Person, hashed: str, who: Actor) -> None:
    before = _passcode_state(await repo.get_passcode(conn, person.id))
    await repo.save_passcode(conn, person.id, hashed, must_reset=False)
    after = {"passcodeSet": True, "mustReset": False}
    await _audit(conn, person, "voicemail.passcode", before, after, who)


async def reset_pin(conn: AsyncConnection, person: Person, who: Actor) -> None:
    """Clear the passcode; the person must choose a new one before reading messages."""
    before = _passcode_state(await repo.get_passcode(conn, person.id))
    await repo.save_passcode(conn, person.id, None, must_reset=True)
    after = {"passcodeSet": False, "mustReset": True}
    await _audit(conn, person, "voicemail.passcode", before, after, who)


# ---- handlers ---------------------------------------------------------------------------


@dataclass
class _MultipartGreeting(Operation):
    def __post_init__(self) -> None:
        schema = Schema(
            type=OpenAPIType.OBJECT,
            properties={
                "file": Schema(
                    type=OpenAPIType.STRING,
                    format=OpenAPIFormat.BINARY,
                    description="The greeting: a PCM WAV file of at most 5000 KB",
                )
            },
            required=["file"],
        )
        self.request_body = RequestBody(
            content={"multipart/form-data": OpenAPIMediaType(schema=schema)}, required=True
        )


UPLOAD_DOCS: dict[str, Any] = {
    "tags": TAGS,
    "status_code": 201,
    "operation_class": _MultipartGreeting,
    "responses": responses(None, 400, 401, 403, 404, 413, 415, 429),
}


def created() -> Response[bytes]:
    """Return the 201 of an upload: no body at all (a handler's None would send `null`)."""
    return Response(content=b"", status_code=201)


async def upload_for(
    request: AnyRequest, person: Person, org: Organization, kind: GreetingKind, who: Actor
) -> Response[bytes]:
    """Read the upload, then store it for a person already authorized for writing."""
    upload = await read_upload(request)
    async with changing(services_of(request)) as conn:
        await repo.lock_person(conn, person.id)
        current = await repo.get_person(conn, person.id)
        if current is None:
            raise ApiError(ErrorKind.PERSON_NOT_FOUND, "Person not found.")
        await store_greeting(conn, current, org, kind, upload, who)
    return created()


async def _admin_upload(
    request: AnyRequest, person_ref: str, kind: GreetingKind
) -> Response[bytes]:
    token = await authenticate(request)
    rule = auth.PEOPLE_WRITE
    # Authorize before reading up to 5 MB of audio.
    async with CachedReader(services_of(request)) as reader:
        person, org = await authorized_reader_person(request, reader, token, person_ref, rule)
    return await upload_for(request, person, org, kind, actor(request, token))


_ADMIN_PATH = "/v1/people/{person_id:str}/features/voicemail"


@post(
    f"{_ADMIN_PATH}/actions/uploadBusyGreeting/invoke",
    name="upload-busy-greeting",
    summary="Upload a person's busy greeting (WAV); greetingUploaded becomes true",
    **UPLOAD_DOCS,
)
async def upload_busy_greeting(request: AnyRequest, person_id: FromPath[str]) -> Response[bytes]:
    return await _admin_upload(request, person_id, GreetingKind.BUSY)


@post(
    f"{_ADMIN_PATH}/actions/uploadNoAnswerGreeting/invoke",
    name="upload-no-answer-greeting",
    summary="Upload a person's no-answer greeting (WAV); greetingUploaded becomes true",
    **UPLOAD_DOCS,
)
async def upload_no_answer_greeting(
    request: AnyRequest, person_id: FromPath[str]
) -> Response[bytes]:
    return await _admin_upload(request, person_id, GreetingKind.NO_ANSWER)


def _greeting_kind(text: str) -> GreetingKind:
    try:
        return GreetingKind(text)
    except ValueError as exc:
        raise ApiError(
            ErrorKind.NOT_FOUND, f"No greeting kind {text!r}; use 'busy' or 'noAnswer'."
        ) from exc


@get(
    f"{_ADMIN_PATH}/greetings/{{kind:str}}",
    name="download-greeting",
    tags=TAGS,
    summary="Download a person's stored greeting ('busy' or 'noAnswer') as audio/wav",
    responses={
        200: ResponseSpec(data_container=bytes, description="The WAV file", media_type=WAV),
        **responses(None, 401, 403, 404, 429),
    },
)
async def download_greeting(
    request: AnyRequest, person_id: FromPath[str], kind: FromPath[str]
) -> Response[bytes]:
    token = await authenticate(request)
    greeting_kind = _greeting_kind(kind)
    async with CachedReader(services_of(request)) as reader:
        person, _ = await authorized_reader_person(
            request, reader, token, person_id, auth.PEOPLE_READ
        )
    async with services_of(request).engine.connect() as conn:
        greeting = await repo.get_greeting(conn, person.id, greeting_kind.value)
    if greeting is None:
        raise ApiError(ErrorKind.NOT_FOUND, f"No {greeting_kind.value} greeting is uploaded.")
    disposition = f'attachment; filename="{_safe_filename(greeting.filename)}"'
    return Response(
        content=greeting.audio,
        media_type=greeting.content_type,
        headers={"Content-Disposition": disposition},
    )


def _safe_filename(name: str) -> str:
    kept = "".join(c for c in name if c.isascii() and (c.isalnum() or c in "._- "))
    return kept or "greeting.wav"


async def _write_action(request: AnyRequest, rule: Rule) -> tuple[Token, Actor]:
    token = await authenticate(request)
    rule.check_token(token)
    return token, actor(request, token)


@post(
    f"{_ADMIN_PATH}/actions/resetPin/invoke",
    name="reset-voicemail-pin",
    tags=TAGS,
    status_code=204,
    summary="Reset a person's voicemail PIN (empty body); they must choose a new one",
    responses=responses(None, 401, 403, 404, 429),
)
async def reset_voicemail_pin(request: AnyRequest, person_id: FromPath[str]) -> None:
    token, who = await _write_action(request, auth.ADMIN_ONLY_WRITE)
    async with changing(services_of(request)) as conn:
        person, _ = await authorized_person(request, conn, token, person_id, auth.ADMIN_ONLY_WRITE)
        await reset_pin(conn, person, who)


class Passcode(msgspec.Struct):
    passcode: str


@put(
    "/v1/telephony/config/people/{person_id:str}/voicemail/passcode",
    name="change-voicemail-passcode",
    tags=TAGS,
    status_code=204,
    summary="Set a person's voicemail passcode: 6..30 digits, not trivial; stored hashed",
    operation_class=json_body_operation(Passcode, '{"passcode": "6 to 30 digits"}'),
    responses=responses(None, 400, 401, 403, 404, 413, 415, 429),
)
async def change_voicemail_passcode(request: AnyRequest, person_id: FromPath[str]) -> None:
    rule = auth.PASSCODE_WRITE
    token, who = await _write_action(request, rule)
    body = await json_body(request)
    if not isinstance(body, dict) or "passcode" not in body:
        raise InvalidSetting("passcode", 'is required: send {"passcode": "<6 to 30 digits>"}')
    async with CachedReader(services_of(request)) as reader:
        person, _ = await authorized_reader_person(request, reader, token, person_id, rule)
    passcode = check_passcode(body["passcode"], person.extension, person.numbers)
    hashed = await asyncio.to_thread(hash_passcode, passcode)
    async with changing(services_of(request)) as conn:
        person, _ = await authorized_person(request, conn, token, person_id, rule)
        await set_passcode(conn, person, hashed, who)


ROUTES: list[Any] = [
    upload_busy_greeting,
    upload_no_answer_greeting,
    download_greeting,
    reset_voicemail_pin,
    change_voicemail_passcode,
]
