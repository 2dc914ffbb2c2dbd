"""Passwords (argon2 via pwdlib), signed access tokens (PyJWT, HS256), secret files."""

from __future__ import annotations

import os
import secrets
from datetime import timedelta
from pathlib import Path

import jwt
from pwdlib import PasswordHash

from genoma.server.db import utcnow

__all__ = [
    "hash_password",
    "issue_token",
    "read_or_create_secret",
    "read_token",
    "verify_password",
]

_HASHER = PasswordHash.recommended()  # argon2id
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
