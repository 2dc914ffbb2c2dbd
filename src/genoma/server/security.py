"""Passwords (argon2 via pwdlib), signed access tokens (PyJWT, HS256), secret files."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import jwt
from pwdlib import PasswordHash
from pwdlib.hashers.argon2 import Argon2Hasher

from genoma.server.db import utcnow

__all__ = [
    "hash_password",
    "issue_token",
    "read_or_create_secret",
    "read_token",
    "verify_password",
    "verify_password_and_update",
]

ARGON2_PARAMS = {"time_cost": 2, "memory_cost": 19 * 1024, "parallelism": 1}
"""argon2id parameters: the OWASP Password Storage Cheat Sheet's first recommended
configuration (m = 19 MiB, t = 2, p = 1). pwdlib's ``recommended()`` (argon2-cffi's
defaults, m = 64 MiB, t = 3, p = 4) cost ~150 ms per verification on an idle 2-core
machine and ~640 ms under load, tying up request threads; these cost ~20 ms idle.
Hashes made with other parameters still verify and are upgraded at the next sign-in
(:func:`verify_password_and_update`)."""

_HASHER = PasswordHash((Argon2Hasher(**ARGON2_PARAMS),))  # argon2id
_DUMMY_HASH = _HASHER.hash("genoma-dummy-password")
_ALGORITHM = "HS256"


def hash_password(password: str) -> str:
    """An argon2id hash of ``password``."""
    return _HASHER.hash(password)


def verify_password(password: str, hashed: str | None) -> bool:
    """Check ``password`` against ``hashed``; ``None`` (no such user) costs the same time."""
    if hashed is None:
        _HASHER.verify(password, _DUMMY_HASH)
        return False
    try:
        return _HASHER.verify(password, hashed)
    except Exception:  # a malformed stored hash never authenticates
        return False


def verify_password_and_update(password: str, hashed: str | None) -> tuple[bool, str | None]:
    """Like :func:`verify_password`; also a new hash when ``hashed`` has other parameters.

    Returns
    -------
    tuple
        ``(ok, new_hash)``; ``new_hash`` is ``None`` unless the password is right and its
        stored hash should be replaced (made with parameters other than
        :data:`ARGON2_PARAMS`).
    """
    if hashed is None:
        _HASHER.verify(password, _DUMMY_HASH)
        return False, None
    try:
        return _HASHER.verify_and_update(password, hashed)
    except Exception:  # a malformed stored hash never authenticates
        return False, None


def read_or_create_secret(path: Path, nbytes: int = 32) -> str:
    """The secret stored in ``path`` (hex), created with mode 0600 if missing.

    Raises
    ------
    ConsentDeniedError
        If an existing secret file is readable by group or others.
    """
    from genoma.errors import ConsentDeniedError

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        if path.stat().st_mode & 0o077:
            raise ConsentDeniedError(
                "secret file is readable by others (chmod 600 it)", path=path
            ) from None
        return path.read_text().strip()
    value = secrets.token_hex(nbytes)
    with os.fdopen(fd, "w") as fh:
        fh.write(value + "\n")
    return value


def issue_token(secret: str, user_id: int, username: str, minutes: int) -> str:
    """A signed access token for ``user_id`` valid for ``minutes``."""
    now = utcnow()
    claims = {
        "sub": str(user_id),
        "name": username,
        "iat": now,
        "exp": now + timedelta(minutes=minutes),
        "iss": "genoma",
    }
    return jwt.encode(claims, secret, algorithm=_ALGORITHM)


def read_token(secret: str, token: str) -> int | None:
    """The user id of a valid token, or ``None`` (bad signature, expired, malformed)."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[_ALGORITHM],
            issuer="genoma",
            options={"require": ["exp", "sub", "iat"]},
        )
        return int(claims["sub"])
    except (jwt.PyJWTError, ValueError, KeyError):
        return None
