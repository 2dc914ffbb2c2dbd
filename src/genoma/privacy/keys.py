"""Crypt4GH key pairs: generate, load, fingerprint.

Keys are X25519 key pairs in the Crypt4GH key-file format (the format written by
``crypt4gh-keygen``): the private key is encrypted with a key derived from a passphrase
(scrypt) and ChaCha20-Poly1305. genoma reads and writes that format with the ``crypt4gh``
package's own encoder; the private-key parser is re-done here because the package's
parser calls ``sys.exit`` on a wrong passphrase, which a library must not do.

References
----------
.. [1] GA4GH Crypt4GH file format, v1.0, https://samtools.github.io/hts-specs/crypt4gh.pdf
"""

from __future__ import annotations

import hashlib
import hmac
import io
import os
import threading
from base64 import b64decode, b64encode
from dataclasses import dataclass
from pathlib import Path

from crypt4gh import sodium
from crypt4gh.keys import c4gh
from crypt4gh.keys.kdf import KDFS, derive_key
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

from genoma.errors import ConsentDeniedError, InputMissingError, MalformedInputError

__all__ = [
    "KeyPair",
    "clear_key_cache",
    "encode_private_key",
    "encode_public_key",
    "fingerprint",
    "generate_keypair",
    "load_private_key",
    "load_private_key_cached",
    "load_public_key",
    "new_keypair",
    "parse_private_key",
    "parse_public_key",
    "write_keypair",
]

_PRIV_BEGIN = b"-----BEGIN CRYPT4GH PRIVATE KEY-----"
_PRIV_END = b"-----END CRYPT4GH PRIVATE KEY-----"
_PUB_BEGIN = b"-----BEGIN CRYPT4GH PUBLIC KEY-----"
_PUB_END = b"-----END CRYPT4GH PUBLIC KEY-----"


@dataclass(frozen=True)
class KeyPair:
    """An X25519 key pair (32-byte secret and public keys)."""

    secret: bytes
    public: bytes

    @property
    def fingerprint(self) -> str:
        """Short SHA-256 fingerprint of the public key."""
        return fingerprint(self.public)


def fingerprint(public: bytes) -> str:
    """The first 16 hex digits of the SHA-256 of a public key.

    Parameters
    ----------
    public
        A 32-byte X25519 public key.

    Returns
    -------
    str
        ``"sha256:<16 hex digits>"``.
    """
    return "sha256:" + hashlib.sha256(public).hexdigest()[:16]


def new_keypair() -> KeyPair:
    """A fresh random X25519 key pair (in memory)."""
    sk = os.urandom(32)
    return KeyPair(secret=sk, public=sodium.derive_pk(sk))


def encode_public_key(public: bytes) -> bytes:
    """The Crypt4GH public-key file content for ``public``."""
    return _PUB_BEGIN + b"\n" + b64encode(public) + b"\n" + _PUB_END + b"\n"


def encode_private_key(secret: bytes, passphrase: str, comment: str | None = None) -> bytes:
    """The Crypt4GH private-key file content, encrypted with ``passphrase``.

    Raises
    ------
    UsageError
        If the passphrase is empty: genoma never writes an unprotected private key.
    """
    from genoma.errors import UsageError

    if not passphrase:
        raise UsageError("a passphrase is required to protect a private key")
    body = c4gh.encode_private_key(
        secret, passphrase.encode(), comment.encode() if comment else None
    )
    return _PRIV_BEGIN + b"\n" + b64encode(body) + b"\n" + _PRIV_END + b"\n"


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


def write_keypair(
    pair: KeyPair, secret_path: Path, public_path: Path, passphrase: str, comment: str | None = None
) -> None:
    """Write ``pair`` as Crypt4GH key files (private key mode 0600, passphrase-protected).

    Parameters
    ----------
    pair
        The key pair.
    secret_path, public_path
        Where to write the private and public key files (must not exist).
    passphrase
        Protects the private key (scrypt + ChaCha20-Poly1305).
    comment
        Optional comment stored with the private key.

    Raises
    ------
    UsageError
        If a target exists or the passphrase is empty.
    """
    from genoma.errors import UsageError

    secret_path, public_path = Path(secret_path), Path(public_path)
    for p in (secret_path, public_path):
        if p.exists():
            raise UsageError("refusing to overwrite an existing key file", path=p)
    _atomic_write(secret_path, encode_private_key(pair.secret, passphrase, comment), 0o600)
    _atomic_write(public_path, encode_public_key(pair.public), 0o644)


def generate_keypair(
    secret_path: Path, public_path: Path, passphrase: str, comment: str | None = None
) -> KeyPair:
    """Generate a key pair and write it as Crypt4GH key files; returns it."""
    pair = new_keypair()
    write_keypair(pair, secret_path, public_path, passphrase, comment)
    return pair


def _pem_body(data: bytes, begin: bytes, end: bytes, path: str) -> bytes:
    lines = [ln.strip() for ln in data.splitlines() if ln.strip()]
    if len(lines) < 3 or lines[0] != begin or lines[-1] != end:
        raise MalformedInputError(f"not a Crypt4GH key file ({begin.decode()} expected)", path=path)
    try:
        return b64decode(b"".join(lines[1:-1]), validate=True)
    except ValueError as exc:
        raise MalformedInputError(f"bad base64 in key file: {exc}", path=path) from exc


def parse_public_key(data: bytes, *, path: str = "<public key>") -> bytes:
    """The 32-byte public key in Crypt4GH public-key file content ``data``."""
    key = _pem_body(data, _PUB_BEGIN, _PUB_END, path)
    if len(key) != 32:
        raise MalformedInputError(f"public key has {len(key)} bytes, expected 32", path=path)
    return key


def _read(path: Path) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        raise InputMissingError(f"cannot read key file: {exc.strerror}", path=path) from exc


def load_public_key(path: Path) -> bytes:
    """Read a Crypt4GH public-key file."""
    return parse_public_key(_read(path), path=str(path))


def _decode_string(stream: io.BytesIO, path: str) -> bytes:
    n = int.from_bytes(stream.read(2), "big")
    data = stream.read(n)
    if len(data) != n:
        raise MalformedInputError("truncated Crypt4GH private key", path=path)
    return data


def parse_private_key(data: bytes, passphrase: str, *, path: str = "<private key>") -> KeyPair:
    """Decrypt Crypt4GH private-key file content.

    Parameters
    ----------
    data
        The key file content.
    passphrase
        The passphrase protecting the key.
    path
        Used in error messages.

    Returns
    -------
    KeyPair

    Raises
    ------
    MalformedInputError
        If the content is not a Crypt4GH private key.
    ConsentDeniedError
        If the passphrase is wrong (exit 7: permission denied).
    """
    body = _pem_body(data, _PRIV_BEGIN, _PRIV_END, path)
    stream = io.BytesIO(body)
    if stream.read(len(c4gh.MAGIC_WORD)) != c4gh.MAGIC_WORD:
        raise MalformedInputError("not a Crypt4GH private key (bad magic)", path=path)
    kdfname = _decode_string(stream, path)
    if kdfname == b"none":
        raise ConsentDeniedError("refusing an unprotected private key (no passphrase)", path=path)
    if kdfname not in KDFS:
        raise MalformedInputError(f"unsupported key derivation {kdfname!r}", path=path)
    options = _decode_string(stream, path)
    rounds, salt = int.from_bytes(options[:4], "big"), options[4:]
    cipher = _decode_string(stream, path)
    if cipher != b"chacha20_poly1305":
        raise MalformedInputError(f"unsupported key cipher {cipher!r}", path=path)
    private = _decode_string(stream, path)
    key = derive_key(kdfname, passphrase.encode(), salt, rounds)
    try:
        secret = ChaCha20Poly1305(key).decrypt(private[:12], private[12:], None)
    except InvalidTag as exc:
        raise ConsentDeniedError("wrong passphrase for private key", path=path) from exc
    if len(secret) != 32:
        raise MalformedInputError("private key is not 32 bytes", path=path)
    return KeyPair(secret=secret, public=sodium.derive_pk(secret))


def load_private_key(path: Path, passphrase: str) -> KeyPair:
    """Read and decrypt a Crypt4GH private-key file (see :func:`parse_private_key`)."""
    return parse_private_key(_read(path), passphrase, path=str(path))


# Per-process cache of unlocked private keys (see load_private_key_cached). The cache key
# is an HMAC, under a random per-process salt, of the key file's bytes and the
# passphrase: the passphrase is not stored, a changed key file or another passphrase
# misses, and nothing in the cache is useful outside this process.
_CACHE_SALT = os.urandom(32)
_CACHE: dict[bytes, KeyPair] = {}
_CACHE_LOCK = threading.Lock()
_CACHE_MAX = 64


def load_private_key_cached(path: Path, passphrase: str) -> KeyPair:
    """:func:`load_private_key`, remembering the unlocked key for the rest of the process.

    The scrypt step of unlocking a Crypt4GH key costs about 0.1 s of CPU on purpose (it
    slows down passphrase guessing). A long-running process (the service, a batch of
    vault operations) pays it once per key file and passphrase instead of once per
    :class:`~genoma.privacy.vault.Vault` object. The file is re-read on every call and
    the cache entry is found by ``HMAC(process salt, file bytes || passphrase)``, so an
    edited or replaced key file, or a different passphrase, is unlocked (and checked)
    afresh: a wrong passphrase never hits the cache.

    Security note: the unlocked secret stays in this process's memory until
    :func:`clear_key_cache` or exit -- the same exposure as a live ``Vault`` object,
    which keeps its unlocked keys for its lifetime. Processes that must not keep keys
    call :func:`clear_key_cache` (the CLI is one process per command anyway).

    Parameters
    ----------
    path
        The Crypt4GH private-key file.
    passphrase
        Its passphrase.

    Returns
    -------
    KeyPair

    Raises
    ------
    ConsentDeniedError
        Wrong passphrase.
    MalformedInputError
        Not a Crypt4GH private key.
    """
    data = _read(path)
    tag = hmac.new(
        _CACHE_SALT, len(data).to_bytes(8, "big") + data + passphrase.encode(), hashlib.sha256
    ).digest()
    with _CACHE_LOCK:
        hit = _CACHE.get(tag)
    if hit is not None:
        return hit
    pair = parse_private_key(data, passphrase, path=str(path))
    with _CACHE_LOCK:
        if len(_CACHE) >= _CACHE_MAX:
            _CACHE.clear()
        _CACHE[tag] = pair
    return pair


def clear_key_cache() -> None:
    """Forget every key unlocked by :func:`load_private_key_cached` in this process."""
    with _CACHE_LOCK:
        _CACHE.clear()


def load_hex_secret(path: Path | None, env: str, what: str) -> bytes:
    """A secret of at least 32 bytes, hex in the file ``path`` or else in ``$env``.

    Raises
    ------
    InputMissingError
        If neither is available (or the file cannot be read).
    MalformedInputError
        If the secret is not at least 32 bytes of hex.
    """
    from genoma.errors import InputMissingError, MalformedInputError

    text = None
    if path is not None:
        try:
            text = Path(path).read_text().strip()
        except OSError as exc:
            raise InputMissingError(f"cannot read {what}: {exc.strerror}", path=path) from exc
    elif os.environ.get(env):
        text = os.environ[env].strip()
    if text is None:
        raise InputMissingError(f"no {what}: set ${env} or pass a key file")
    try:
        key = bytes.fromhex(text)
    except ValueError as exc:
        raise MalformedInputError(f"{what} is not hex", path=path) from exc
    if len(key) < 32:
        raise MalformedInputError(f"{what} must be at least 32 bytes (64 hex digits)", path=path)
    return key
