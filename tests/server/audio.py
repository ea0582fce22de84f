"""Real WAV recordings made with the stdlib, and files that only pretend to be WAV."""

from __future__ import annotations

import io
import math
import struct
import wave


def wav_bytes(seconds: float = 0.5, rate: int = 8000, tone_hz: float = 440.0) -> bytes:
    """Return a mono 16-bit PCM WAV file holding a sine tone."""
    frames = int(seconds * rate)
    samples = (int(12000 * math.sin(2 * math.pi * tone_hz * i / rate)) for i in range(frames))
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(rate)
        recording.writeframes(b"".join(struct.pack("<h", s) for s in samples))
    return buffer.getvalue()


def truncated_wav() -> bytes:
    """A WAV header that promises more audio than the file holds."""
    return wav_bytes(0.5)[:2000]


def silent_wav() -> bytes:
    """A well-formed WAV file with no audio frames at all."""
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as recording:
        recording.setnchannels(1)
        recording.setsampwidth(2)
        recording.setframerate(8000)
        recording.writeframes(b"")
    return buffer.getvalue()


# (name, bytes): every one is named .wav and sent as audio/wav, and none is a usable WAV.
PRETENDERS = [
    ("text", b"this is not audio, just text in a file named greeting.wav\n"),
    ("riff-header-then-garbage", b"RIFF\x24\x00\x00\x00WAVEjunk" + b"\x00" * 40),
    ("mp3", b"ID3\x03\x00\x00\x00\x00\x00\x21" + b"\xff\xfb\x90\x64" * 200),
    ("empty", b""),
    ("truncated", truncated_wav()),
    ("no-frames", silent_wav()),
    ("chunk-past-the-end", b"RIFF....WAVEnot really"),
    ("wave-not-riff", b"RIFX" + wav_bytes(0.1)[4:]),
]
