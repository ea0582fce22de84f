"""XSI passwords: scrypt with a random salt per password, checked in constant time."""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

MIN_LENGTH = 8
MAX_LENGTH = 1024
_SCHEME = "scrypt"
# 16 MiB and roughly 50 ms per check: slow for a guesser, fine for one request.
_N, _R, _P, _LENGTH = 2**14, 8, 1, 32
# Checked when the user is unknown or has no password, so timing does not tell which.
_DUMMY = "$".join([_SCHEME, str(_N), str(_R), str(_P), "A" * 22 + "==", "A" * 43 + "="])


def _derive(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(
        password.encode(), salt=salt, n=n, r=r, p=p, dklen=_LENGTH, maxmem=64 * 1024 * 1024
    )


def hash_password(password: str) -> str:
    """Return the stored form of `password`: scheme, cost, salt and digest.

    Raises:
        ValueError: the password is shorter than MIN_LENGTH or longer than MAX_LENGTH.
    """
    if not MIN_LENGTH <= len(password) <= MAX_LENGTH:
        raise ValueError(
            f"an XSI password must have {MIN_LENGTH} to {MAX_LENGTH} characters, "
            f"got {len(password)}"
        )
    salt = secrets.token_bytes(16)
    digest = _derive(password, salt, _N, _R, _P)
    encoded = [base64.b64encode(part).decode() for part in (salt, digest)]
    return "$".join([_SCHEME, str(_N), str(_R), str(_P), *encoded])


def verify_password(password: str, stored: str | None) -> bool:
    """Return whether `password` matches `stored`; False when nothing is stored."""
    fits = len(password) <= MAX_LENGTH
    try:
        scheme, n, r, p, salt, digest = (stored or _DUMMY).split("$")
        expected = base64.b64decode(digest, validate=True)
        actual = _derive(
            password if fits else "", base64.b64decode(salt, validate=True), int(n), int(r), int(p)
        )
    except ValueError:
        return False
    matches = hmac.compare_digest(actual, expected)
    return matches and fits and stored is not None and scheme == _SCHEME
