"""Streamed, size-limited multipart uploads into the vault.

The request body is parsed as it arrives (``python_multipart``'s push parser); the file
part is counted against the limit (413 as soon as it is exceeded) and spooled to an
anonymous temporary file encrypted with a one-time ChaCha20 key held only in memory, so
plaintext never reaches the disk and the vault's exclusive lock is held only for the
local re-encryption (not for the duration of a slow client's upload).
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms
from fastapi import HTTPException, Request
from python_multipart.multipart import MultipartParser, parse_options_header

__all__ = ["EphemeralSpool", "Upload", "receive_upload"]

_MAX_FIELD = 64 * 1024


class EphemeralSpool:
    """An unlinked temporary file holding ChaCha20 ciphertext under a random key.

    Parameters
    ----------
    directory
        Where the (already unlinked) file lives.
    """

    def __init__(self, directory: Path) -> None:
        self._key = os.urandom(32)
        self._nonce = os.urandom(16)
        self._file = tempfile.TemporaryFile(dir=directory)
        self._enc = Cipher(algorithms.ChaCha20(self._key, self._nonce), mode=None).encryptor()
        self.sha = hashlib.sha256()
        self.size = 0
        self.head = b""

    def write(self, data: bytes) -> None:
        """Encrypt and append ``data``."""
        if len(self.head) < 64:
            self.head += data[: 64 - len(self.head)]
        self.sha.update(data)
        self.size += len(data)
        self._file.write(self._enc.update(data))

    def reader(self) -> BinaryIO:
        """A readable stream of the plaintext, from the start."""
        self._file.flush()
        self._file.seek(0)
        dec = Cipher(algorithms.ChaCha20(self._key, self._nonce), mode=None).decryptor()
        return _DecryptingReader(self._file, dec)  # type: ignore[return-value]

    def close(self) -> None:
        """Close (and so delete) the spool."""
        self._file.close()


class _DecryptingReader:
    def __init__(self, f: Any, dec: Any) -> None:
        self._f = f
        self._dec = dec

    def read(self, n: int = -1) -> bytes:
        return self._dec.update(self._f.read(n))


@dataclass
class Upload:
    """A received multipart form: text fields and the spooled ``file`` part."""

    fields: dict[str, str] = field(default_factory=dict)
    file: EphemeralSpool | None = None
    filename: str | None = None


def _disposition(value: bytes) -> tuple[str | None, str | None]:
    _, params = parse_options_header(value)
    name = params.get(b"name")
    fname = params.get(b"filename")
    return (
        name.decode("utf-8", "replace") if name is not None else None,
        fname.decode("utf-8", "replace") if fname is not None else None,
    )


async def receive_upload(request: Request, spool_dir: Path, max_bytes: int) -> Upload:
    """Parse a ``multipart/form-data`` request body as it streams in.

    Parameters
    ----------
    request
        The request.
    spool_dir
        Directory of the encrypted spool file.
    max_bytes
        Largest accepted ``file`` part.

    Returns
    -------
    Upload

    Raises
    ------
    HTTPException
        413 when the file (or the body) is larger than allowed; 415 when the body is
        not multipart; 422 when it is malformed.
    """
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary:
        raise HTTPException(415, "expected multipart/form-data with a boundary")
    limit_body = max_bytes + 1024 * 1024  # fields and part headers
    declared = request.headers.get("content-length")
    if declared and declared.isdigit() and int(declared) > limit_body:
        raise HTTPException(413, f"upload larger than the limit of {max_bytes} bytes")

    up = Upload()
    state: dict[str, Any] = {"hname": b"", "hval": b"", "headers": {}, "sink": None}
    too_large: list[bool] = []

    def on_part_begin() -> None:
        state["headers"] = {}
        state["sink"] = None

    def on_header_field(data: bytes, start: int, end: int) -> None:
        state["hname"] += data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        state["hval"] += data[start:end]

    def on_header_end() -> None:
        state["headers"][state["hname"].lower()] = state["hval"]
        state["hname"], state["hval"] = b"", b""

    def on_headers_finished() -> None:
        name, fname = _disposition(state["headers"].get(b"content-disposition", b""))
        if name == "file" and up.file is None:
            up.file = EphemeralSpool(spool_dir)
            up.filename = fname or "upload"
            state["sink"] = ("file", None)
        elif name is not None:
            buf = bytearray()
            up.fields[name] = ""
            state["sink"] = ("field", (name, buf))
        else:
            state["sink"] = ("ignore", None)

    def on_part_data(data: bytes, start: int, end: int) -> None:
        kind, extra = state["sink"] or ("ignore", None)
        chunk = data[start:end]
        if kind == "file":
            assert up.file is not None
            if up.file.size + len(chunk) > max_bytes:
                too_large.append(True)
                raise _TooLarge
            up.file.write(chunk)
        elif kind == "field":
            name, buf = extra
            if len(buf) + len(chunk) > _MAX_FIELD:
                raise _TooLarge
            buf += chunk
            up.fields[name] = buf.decode("utf-8", "replace")

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
        },
    )
    received = 0
    try:
        async for chunk in request.stream():
            received += len(chunk)
            if received > limit_body:
                raise _TooLarge
            parser.write(chunk)
        parser.finalize()
    except _TooLarge:
        if up.file is not None:
            up.file.close()
        raise HTTPException(413, f"upload larger than the limit of {max_bytes} bytes") from None
    except HTTPException:
        raise
    except Exception as exc:  # python_multipart raises its own errors on malformed bodies
        if up.file is not None:
            up.file.close()
        raise HTTPException(422, f"malformed multipart body: {exc}") from None
    return up


class _TooLarge(Exception):
    pass
