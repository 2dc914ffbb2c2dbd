"""An encrypted object store: every object a Crypt4GH file, verified on every read.

Layout of a vault directory::

    vault.json                  format, service key(s) (public part, fingerprint)
    keys/service-<fp>.sec|.pub  service key pair (private key passphrase-protected)
    users/<name>.pub            registered user public keys (Crypt4GH format)
    objects/<id>.json           the manifest of object <id> (the commit point)
    data/<random>.c4gh          the ciphertext of one version of one object
    tmp/                        ciphertext being written (stale files removed by the next write)
    .lock                       flock: exclusive for writers, shared for readers

Rules the code keeps:

* Ciphertext is a standard Crypt4GH v1 file (``crypt4gh decrypt`` reads it): one header
  packet per recipient (the service key plus each user it was shared with), written by
  the service key so readers can check the sender (``sender_pubkey``).
* Plaintext never touches the vault's disk: ``put`` encrypts from the input stream into a
  temporary ciphertext, which is fsynced and renamed; then the manifest is written the same
  way. The manifest rename is the commit: a crash (even ``kill -9``) before it leaves the
  previous version intact and only unreferenced ciphertext, removed by the next write.
* Crypt4GH authenticates each 64 KiB segment but not their order or number, so the
  manifest stores the plaintext SHA-256 and length and the seal (SHA-256 over every
  segment's nonce and tag, in order); every decryption is checked against them. The manifest is HMAC-authenticated with a key
  derived from the service secret key.
* Sharing, revoking and service-key rotation re-encrypt the header only: the data
  segments are copied byte for byte (checked against the seal while copying).
* Ranged reads use segment arithmetic (not ``crypt4gh.lib.decrypt``'s offset, which is
  wrong at offsets >= 64 KiB in crypt4gh 1.8.6) after checking the seal.
* Segments are encrypted with ``cryptography``'s ChaCha20-Poly1305 (same bytes as
  crypt4gh's libsodium binding, which is the fallback) in a threaded pipeline: hashing,
  writing and half of the encryption run beside the main thread (see ``_encrypt_stream``).

References
----------
.. [1] GA4GH Crypt4GH file format v1.0, https://samtools.github.io/hts-specs/crypt4gh.pdf
.. [2] NeIC Sensitive Data Archive, https://neic-sda.readthedocs.io
"""

from __future__ import annotations

import base64
import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from crypt4gh import CIPHER_DIFF, CIPHER_SEGMENT_SIZE, SEGMENT_SIZE, sodium
from crypt4gh import header as c4gh_header

try:  # OpenSSL's ChaCha20-Poly1305: faster than crypt4gh's binding and releases the GIL
    from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305

    _HAVE_AEAD_INTO = hasattr(ChaCha20Poly1305, "encrypt_into") and hasattr(
        ChaCha20Poly1305, "decrypt_into"
    )
except ImportError:  # pragma: no cover - cryptography is a dependency
    _HAVE_AEAD_INTO = False

from genoma.errors import (
    ConsentDeniedError,
    InputMissingError,
    MalformedInputError,
    UsageError,
)
from genoma.privacy.keys import (
    KeyPair,
    encode_public_key,
    fingerprint,
    load_private_key_cached,
    load_public_key,
    new_keypair,
    write_keypair,
)

__all__ = [
    "SERVICE",
    "IntegrityError",
    "ObjectManifest",
    "Recipient",
    "Vault",
    "VerifyResult",
]

FORMAT = "genoma-vault/1"
SERVICE = "service"
"""Recipient name of the vault's own service key."""
_ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{0,99}$")
_CHUNK_SEGMENTS = 32  # 2 MiB of plaintext per read


class IntegrityError(MalformedInputError):
    """Stored data do not match their manifest: tampering, truncation or corruption (exit 4)."""


@dataclass(frozen=True)
class Recipient:
    """One reader of an object: a name and an X25519 public key."""

    name: str
    public: bytes

    @property
    def fingerprint(self) -> str:
        """Fingerprint of the public key."""
        return fingerprint(self.public)

    def to_dict(self) -> dict[str, str]:
        return {
            "name": self.name,
            "public": base64.b64encode(self.public).decode(),
            "fingerprint": self.fingerprint,
        }

    @classmethod
    def from_dict(cls, d: dict[str, str]) -> Recipient:
        return cls(name=d["name"], public=base64.b64decode(d["public"]))


@dataclass
class ObjectManifest:
    """What the vault knows about one object (everything except the bytes).

    Attributes
    ----------
    id, dataset, subject
        Object id, the dataset it belongs to (for permissions), the subject it describes
        (for consent), if any.
    size, sha256
        Plaintext length and SHA-256 (checked after every decryption).
    seal_sha256
        SHA-256 over the nonce and authentication tag of every ciphertext segment, in
        order (the "seal"): pins the order and number of segments, and through the
        per-segment tags their content. Unchanged by share/rotate; checkable without keys.
    data
        Path of the ciphertext file, relative to the vault.
    recipients
        Who can decrypt: the service key and the users the object was shared with.
    service_key
        Fingerprint of the service key that wrote the header.
    version
        Incremented on every change.
    """

    id: str
    dataset: str
    subject: str | None
    size: int
    sha256: str
    seal_sha256: str
    header_size: int
    data: str
    recipients: list[Recipient]
    service_key: str
    created: str
    updated: str
    version: int = 1
    mac: str = ""
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def segments(self) -> int:
        """Number of 64 KiB Crypt4GH segments."""
        return -(-self.size // SEGMENT_SIZE)

    @property
    def body_size(self) -> int:
        """Expected ciphertext body length for ``size`` plaintext bytes."""
        return self.size + self.segments * CIPHER_DIFF

    def to_dict(self, *, with_mac: bool = True) -> dict[str, Any]:
        d: dict[str, Any] = {
            "format": FORMAT,
            "id": self.id,
            "dataset": self.dataset,
            "subject": self.subject,
            "size": self.size,
            "sha256": self.sha256,
            "seal_sha256": self.seal_sha256,
            "header_size": self.header_size,
            "segments": self.segments,
            "data": self.data,
            "recipients": [r.to_dict() for r in self.recipients],
            "service_key": self.service_key,
            "created": self.created,
            "updated": self.updated,
            "version": self.version,
            "extra": dict(self.extra),
        }
        if with_mac:
            d["mac"] = self.mac
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> ObjectManifest:
        return cls(
            id=d["id"],
            dataset=d["dataset"],
            subject=d.get("subject"),
            size=int(d["size"]),
            sha256=d["sha256"],
            seal_sha256=d["seal_sha256"],
            header_size=int(d["header_size"]),
            data=d["data"],
            recipients=[Recipient.from_dict(r) for r in d["recipients"]],
            service_key=d["service_key"],
            created=d["created"],
            updated=d["updated"],
            version=int(d.get("version", 1)),
            mac=d.get("mac", ""),
            extra=dict(d.get("extra", {})),
        )

    def public_summary(self) -> dict[str, Any]:
        """Listing fields (no key material)."""
        return {
            "id": self.id,
            "dataset": self.dataset,
            "subject": self.subject,
            "size": self.size,
            "sha256": self.sha256,
            "recipients": [r.name for r in self.recipients],
            "version": self.version,
            "updated": self.updated,
        }


@dataclass
class VerifyResult:
    """Outcome of :meth:`Vault.verify` for one object."""

    id: str
    ok: bool
    problems: list[str] = field(default_factory=list)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _canonical(d: dict[str, Any]) -> bytes:
    return json.dumps(d, sort_keys=True, separators=(",", ":")).encode()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _atomic_write_bytes(path: Path, data: bytes, tmpdir: Path, mode: int = 0o600) -> None:
    tmp = tmpdir / f"{uuid.uuid4().hex}.part"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path.parent)


_SYNC_EVERY = 32 * 1024 * 1024
_RING = 3  # buffers in flight: one being read/encrypted, up to two being hashed/written
# Threads encrypting / decrypting one chunk (1 or 2). Measured on the shared 2-core
# machine (docs/bench/vault.md): a second encrypting thread shortens put; a second
# decrypting thread made get slower and cost more CPU, so get decrypts on one thread.
_ENCRYPT_THREADS = 2
_DECRYPT_THREADS = 1


class _DurableWriter:
    """Writes everything it is given to a raw file descriptor, flushing to disk as it goes.

    ``fdatasync`` every 32 MiB (in the writer thread, overlapping with encryption) keeps
    the final ``fsync`` short and the amount of dirty page cache bounded. With ``seal``,
    the nonce and tag of every ciphertext segment written are fed to it, in order.
    """

    def __init__(self, fd: int, seal: Any = None) -> None:
        self.fd = fd
        self.seal = seal
        self.unsynced = 0

    def write(self, data: memoryview) -> None:
        if self.seal is not None:
            _seal_update(self.seal, data, len(data))
        while data:
            n = os.write(self.fd, data)
            data = data[n:]
            self.unsynced += n
        if self.unsynced >= _SYNC_EVERY:
            os.fdatasync(self.fd)
            self.unsynced = 0


def _seal_update(h: Any, cview: memoryview, clen: int) -> None:
    """Feed the nonce and tag of each segment in ``cview[:clen]`` (segment-aligned) to ``h``."""
    for off in range(0, clen, CIPHER_SEGMENT_SIZE):
        end = min(off + CIPHER_SEGMENT_SIZE, clen)
        h.update(cview[off : off + 12])
        h.update(cview[end - 16 : end])


class _BadSegment(Exception):
    """A ciphertext segment failed authentication; ``index`` counts from the chunk start."""

    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


class _SegmentCipher:
    """ChaCha20-Poly1305 (IETF, RFC 8439) over Crypt4GH data segments.

    A ciphertext segment is ``nonce (12) || ciphertext || tag (16)`` with a fresh random
    nonce, exactly what crypt4gh's own ``sodium`` binding writes (the two backends read
    each other's output; tested). ``"cryptography"`` (OpenSSL) encrypts straight into the
    caller's buffer, is about 1.5x faster than crypt4gh's libsodium binding here, and
    releases the GIL, so hashing, writing and a second encrypting thread run alongside.
    ``"libsodium"`` (crypt4gh's binding) is the fallback when ``cryptography`` lacks
    ``encrypt_into``/``decrypt_into``.

    Parameters
    ----------
    key
        The 32-byte session key.
    backend
        ``"cryptography"``, ``"libsodium"`` or ``None`` (the fastest available).
    """

    def __init__(self, key: bytes, backend: str | None = None) -> None:
        self.backend = backend or ("cryptography" if _HAVE_AEAD_INTO else "libsodium")
        self._key = key
        if self.backend == "cryptography":
            self._aead = ChaCha20Poly1305(key)
        elif self.backend != "libsodium":
            raise ValueError(f"unknown cipher backend {backend!r}")

    def encrypt(self, plain: memoryview, out: memoryview) -> int:
        """Encrypt ``plain`` (whole segments, the last may be short) into ``out``.

        Returns
        -------
        int
            Bytes written to ``out``.
        """
        n = len(plain)
        clen = 0
        if self.backend == "libsodium":
            for off in range(0, n, SEGMENT_SIZE):
                seg = plain[off : off + SEGMENT_SIZE]
                clen += sodium.chacha20poly1305_encrypt(out[clen:], seg, self._key)
            return clen
        enc = self._aead.encrypt_into
        nonces = os.urandom(12 * -(-n // SEGMENT_SIZE))
        for j, off in enumerate(range(0, n, SEGMENT_SIZE)):
            seg = plain[off : off + SEGMENT_SIZE]
            nonce = nonces[12 * j : 12 * j + 12]
            end = clen + len(seg) + CIPHER_DIFF
            out[clen : clen + 12] = nonce
            enc(nonce, seg, None, out[clen + 12 : end])
            clen = end
        return clen

    def decrypt(self, cipher: memoryview, out: memoryview) -> int:
        """Decrypt and authenticate whole ciphertext segments from ``cipher`` into ``out``.

        Returns
        -------
        int
            Plaintext bytes written to ``out``.

        Raises
        ------
        _BadSegment
            On the first segment whose tag does not verify (``out`` then holds
            unauthenticated bytes, which the caller must not release).
        """
        n = len(cipher)
        plen = 0
        sodium_backend = self.backend == "libsodium"
        for j, off in enumerate(range(0, n, CIPHER_SEGMENT_SIZE)):
            cseg = cipher[off : off + CIPHER_SEGMENT_SIZE]
            m = len(cseg) - CIPHER_DIFF
            if m <= 0:
                raise _BadSegment(j)
            try:
                if sodium_backend:
                    plen += sodium.chacha20poly1305_decrypt(out[plen:], cseg, self._key)
                else:
                    self._aead.decrypt_into(cseg[:12], cseg[12:], None, out[plen : plen + m])
                    plen += m
            except Exception as exc:  # InvalidTag (OpenSSL) / ValueError (libsodium)
                raise _BadSegment(j) from exc
        return plen


def _split_run(
    fn: Any, src: memoryview, dst: memoryview, helper: Any, seg_in: int, seg_out: int
) -> int:
    """Run ``fn(src, dst)`` on two threads: the second half of the segments on ``helper``.

    Both halves write disjoint, segment-aligned parts of ``dst``. A ``_BadSegment`` from
    either half is re-raised with its index counted from the start of ``src``.
    """
    nseg = -(-len(src) // seg_in)
    if helper is None or nseg < 2:
        return int(fn(src, dst))
    h = nseg // 2
    fut = helper.submit(fn, src[h * seg_in :], dst[h * seg_out :])
    try:
        first = fn(src[: h * seg_in], dst[: h * seg_out])
    finally:
        try:
            second = fut.result()
        except _BadSegment as exc:
            second_error: _BadSegment | None = _BadSegment(h + exc.index)
        else:
            second_error = None
    if second_error is not None:
        raise second_error
    return int(first + second)


def _fill(readinto: Any, read: Any, view: memoryview) -> int:
    """Read until ``view`` is full or the stream ends; returns the byte count."""
    n = 0
    size = len(view)
    while n < size:
        if readinto is not None:
            got = readinto(view[n:])
        else:
            data = read(size - n)
            got = len(data)
            view[n : n + got] = data
        if not got:
            break
        n += got
    return n


class _StopAfterFailure:
    """Wraps a writing function so that, once it has failed, later calls fail too.

    Chunks are queued to the writing thread ahead of the main thread noticing an error;
    without this a transient write error could leave a hole in the output.
    """

    def __init__(self, fn: Any) -> None:
        self.fn = fn
        self.failed = False

    def __call__(self, data: memoryview) -> Any:
        if self.failed:
            raise OSError("not written: an earlier write failed")
        try:
            return self.fn(data)
        except BaseException:
            self.failed = True
            raise


def _drain(busy: list[list[Any]], oldest: int) -> BaseException | None:
    """Wait for every queued task, oldest chunk first; return the first error, if any."""
    first: BaseException | None = None
    for k in range(oldest, oldest + len(busy)):
        for fut in busy[k % len(busy)]:
            exc = fut.exception()
            if exc is not None and first is None:
                first = exc
    return first


def _write_all(dest: BinaryIO) -> Any:
    """A function writing a whole buffer to ``dest`` (raw streams may write less)."""

    def write(data: memoryview) -> None:
        while data:
            n = dest.write(data)
            if n is None:  # a non-blocking raw stream that cannot take data now
                raise BlockingIOError("destination stream would block")
            if n >= len(data):
                return
            data = data[n:]

    return write


def _advise_sequential(stream: Any) -> None:
    """Tell the kernel a file will be read sequentially (larger readahead); best effort."""
    try:
        os.posix_fadvise(stream.fileno(), 0, 0, os.POSIX_FADV_SEQUENTIAL)
    except (AttributeError, OSError, ValueError):
        pass


class Vault:
    """A directory of Crypt4GH-encrypted objects with manifests.

    Parameters
    ----------
    root
        The vault directory (created by :meth:`Vault.init`).
    passphrase
        Passphrase of the service private key. Needed for ``put`` (the service key signs
        headers as sender), ``share``, ``rotate`` and service-side reads; not needed to
        list objects or to read with a user key.

    Examples
    --------
    >>> v = Vault.init(tmp / "vault", "service-pass")            # doctest: +SKIP
    >>> v.put("NA12878.vcf.gz", open("x.vcf.gz", "rb"), dataset="trio")  # doctest: +SKIP
    """

    def __init__(self, root: Path, passphrase: str | None = None) -> None:
        self.root = Path(root)
        cfg = self.root / "vault.json"
        if not cfg.is_file():
            raise InputMissingError("not a genoma vault (vault.json missing)", path=self.root)
        try:
            self.config: dict[str, Any] = json.loads(cfg.read_text())
        except ValueError as exc:
            raise MalformedInputError(f"unreadable vault.json: {exc}", path=cfg) from exc
        if self.config.get("format") != FORMAT:
            raise MalformedInputError(
                f"unsupported vault format {self.config.get('format')!r}", path=cfg
            )
        self._passphrase = passphrase
        self._service_keys: dict[str, KeyPair] | None = None

    # ------------------------------------------------------------------ setup
    @classmethod
    def init(cls, root: Path, passphrase: str) -> Vault:
        """Create a new vault with a fresh service key pair.

        Raises
        ------
        UsageError
            If ``root`` already holds a vault or the passphrase is empty.
        """
        root = Path(root)
        if (root / "vault.json").exists():
            raise UsageError("a vault already exists here", path=root)
        if not passphrase:
            raise UsageError("a service passphrase is required")
        for sub in ("keys", "users", "objects", "data", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True, mode=0o700)
        pair = new_keypair()
        fp = pair.fingerprint
        stem = "service-" + fp.split(":")[1]
        write_keypair(
            pair,
            root / "keys" / f"{stem}.sec",
            root / "keys" / f"{stem}.pub",
            passphrase,
            "genoma vault service key",
        )
        config = {
            "format": FORMAT,
            "created": _now(),
            "service_keys": [{"fingerprint": fp, "file": f"keys/{stem}", "status": "current"}],
        }
        _atomic_write_bytes(
            root / "vault.json", json.dumps(config, indent=2).encode(), root / "tmp", 0o644
        )
        return cls(root, passphrase)

    # ------------------------------------------------------------------ keys
    def _service(self) -> dict[str, KeyPair]:
        if self._service_keys is None:
            if not self._passphrase:
                raise ConsentDeniedError("the service passphrase is required for this operation")
            keys: dict[str, KeyPair] = {}
            for entry in self.config["service_keys"]:
                pair = load_private_key_cached(
                    self.root / (entry["file"] + ".sec"), self._passphrase
                )
                if pair.fingerprint != entry["fingerprint"]:
                    raise IntegrityError(
                        "service key does not match vault.json",
                        path=self.root / (entry["file"] + ".sec"),
                    )
                keys[entry["fingerprint"]] = pair
            self._service_keys = keys
        return self._service_keys

    @property
    def current_service_fp(self) -> str:
        """Fingerprint of the current service key."""
        return next(
            e["fingerprint"] for e in self.config["service_keys"] if e["status"] == "current"
        )

    def service_public_key(self, fp: str | None = None) -> bytes:
        """Public service key (current by default) from its key file."""
        fp = fp or self.current_service_fp
        entry = next(e for e in self.config["service_keys"] if e["fingerprint"] == fp)
        return load_public_key(self.root / (entry["file"] + ".pub"))

    def _mac_key(self, fp: str) -> bytes:
        sk = self._service()[fp].secret
        return hmac.new(sk, b"genoma-vault manifest mac v1", hashlib.sha256).digest()

    def add_user(self, name: str, public: bytes) -> None:
        """Register a user's public key (``users/<name>.pub``); idempotent for the same key."""
        if not _NAME_RE.match(name) or name == SERVICE:
            raise UsageError(f"invalid user name {name!r}")
        path = self.root / "users" / f"{name}.pub"
        with self._lock(exclusive=True):
            if path.exists() and load_public_key(path) != public:
                raise UsageError(f"user {name!r} is registered with another key", path=path)
            _atomic_write_bytes(path, encode_public_key(public), self.root / "tmp", 0o644)

    def user_key(self, name: str) -> bytes:
        """The registered public key of ``name``."""
        path = self.root / "users" / f"{name}.pub"
        if not path.is_file():
            raise InputMissingError(f"unknown vault user {name!r}", path=path)
        return load_public_key(path)

    def users(self) -> list[str]:
        """Registered user names."""
        return sorted(p.stem for p in (self.root / "users").glob("*.pub"))

    # ------------------------------------------------------------------ locking / cleanup
    @contextlib.contextmanager
    def _lock(self, *, exclusive: bool) -> Iterator[None]:
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
            if exclusive:
                self._cleanup()
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def stale_files(self) -> list[Path]:
        """Temporary and unreferenced ciphertext files (left by an interrupted write)."""
        referenced = {m.data for m in self._manifests()}
        stale = sorted((self.root / "tmp").iterdir())
        stale += [
            p for p in sorted((self.root / "data").iterdir()) if f"data/{p.name}" not in referenced
        ]
        return stale

    def _cleanup(self) -> None:
        # Called under the exclusive lock: no write is in progress, so every temporary
        # file and every ciphertext no manifest points to is debris of a dead writer.
        for p in self.stale_files():
            p.unlink(missing_ok=True)

    # ------------------------------------------------------------------ manifests
    def _manifest_path(self, object_id: str) -> Path:
        if not _ID_RE.match(object_id):
            raise UsageError(f"invalid object id {object_id!r} (letters, digits, . _ -)")
        return self.root / "objects" / f"{object_id}.json"

    def _manifests(self) -> list[ObjectManifest]:
        out = []
        for p in sorted((self.root / "objects").glob("*.json")):
            out.append(self._parse_manifest(p))
        return out

    def _parse_manifest(self, path: Path) -> ObjectManifest:
        try:
            return ObjectManifest.from_dict(json.loads(path.read_text()))
        except (ValueError, KeyError, TypeError) as exc:
            raise IntegrityError(f"unreadable manifest: {exc}", path=path) from exc

    def manifest(self, object_id: str) -> ObjectManifest:
        """The manifest of ``object_id``.

        Raises
        ------
        InputMissingError
            If there is no such object.
        """
        path = self._manifest_path(object_id)
        if not path.is_file():
            raise InputMissingError(f"no object {object_id!r} in the vault", path=path)
        return self._parse_manifest(path)

    def list(self) -> list[ObjectManifest]:
        """All object manifests, sorted by id."""
        with self._lock(exclusive=False):
            return self._manifests()

    def _sign(self, m: ObjectManifest) -> None:
        m.mac = hmac.new(
            self._mac_key(m.service_key), _canonical(m.to_dict(with_mac=False)), hashlib.sha256
        ).hexdigest()

    def _check_mac(self, m: ObjectManifest) -> None:
        keys = self._service()
        if m.service_key not in keys:
            raise IntegrityError(
                f"manifest names an unknown service key {m.service_key}",
                path=self._manifest_path(m.id),
            )
        want = hmac.new(
            self._mac_key(m.service_key), _canonical(m.to_dict(with_mac=False)), hashlib.sha256
        ).hexdigest()
        if not hmac.compare_digest(want, m.mac):
            raise IntegrityError(
                "manifest authentication failed (edited manifest)", path=self._manifest_path(m.id)
            )

    def _commit(self, m: ObjectManifest, old: ObjectManifest | None) -> None:
        self._sign(m)
        _atomic_write_bytes(
            self._manifest_path(m.id), json.dumps(m.to_dict(), indent=1).encode(), self.root / "tmp"
        )
        if old is not None and old.data != m.data:
            (self.root / old.data).unlink(missing_ok=True)

    # ------------------------------------------------------------------ headers
    def _header(
        self, session_key: bytes, recipients: list[Recipient], sender_secret: bytes | None = None
    ) -> bytes:
        if sender_secret is None:
            sender_secret = self._service()[self.current_service_fp].secret
        packet = c4gh_header.make_packet_data_enc(0, session_key)
        keys = [(0, sender_secret, r.public) for r in recipients]
        return c4gh_header.serialize(c4gh_header.encrypt(packet, keys))

    def _open_header(
        self, f: BinaryIO, secret: bytes, sender_pubs: list[bytes], path: Path
    ) -> bytes:
        """Parse the header at the start of ``f`` and return the session key."""
        try:
            packets = list(c4gh_header.parse(f))
        except ValueError as exc:
            raise IntegrityError(f"bad Crypt4GH header: {exc}", path=path) from exc
        found = None
        for packet in packets:
            if packet[:4] != b"\x00\x00\x00\x00":
                continue
            for sender in sender_pubs:
                try:
                    found = c4gh_header.decrypt_X25519_Chacha20_Poly1305(
                        packet[4:], secret, sender_pubkey=sender
                    )
                    break
                except Exception:
                    continue
            if found is not None:
                break
        if found is None:
            raise ConsentDeniedError(
                "no header packet of this object can be opened with this key", path=path
            )
        if bytes(found[:4]) != c4gh_header.PACKET_TYPE_DATA_ENC or bytes(found[4:8]) != b"\x00" * 4:
            raise IntegrityError(
                "unsupported header packet (edit lists are not used by genoma)", path=path
            )
        return bytes(found[8:])

    def _recipients(self, m: ObjectManifest, new_service: bytes) -> list[Recipient]:
        users = [r for r in m.recipients if r.name != SERVICE]
        return [Recipient(SERVICE, new_service), *users]

    # ------------------------------------------------------------------ put
    def put(
        self,
        object_id: str,
        source: BinaryIO,
        *,
        dataset: str,
        subject: str | None = None,
        recipients: list[str] | None = None,
        overwrite: bool = False,
        extra: dict[str, str] | None = None,
    ) -> ObjectManifest:
        """Encrypt ``source`` (a binary stream) into the vault as ``object_id``.

        Parameters
        ----------
        object_id
            Letters, digits, ``.``, ``_``, ``-``.
        source
            Readable binary stream; read once, to its end.
        dataset
            Dataset the object belongs to (per-dataset permissions).
        subject
            Subject (patient) the object describes (consent checks).
        recipients
            Registered users who get their own header packet from the start.
        overwrite
            Replace an existing object (the old version stays until the new one commits).
        extra
            Free-form non-identifying labels stored in the manifest.

        Returns
        -------
        ObjectManifest

        Raises
        ------
        UsageError
            If the object exists and ``overwrite`` is false.
        """
        path = self._manifest_path(object_id)
        if not _NAME_RE.match(dataset):
            raise UsageError(f"invalid dataset name {dataset!r}")
        if not self._passphrase:
            raise ConsentDeniedError("the service passphrase is required for this operation")
        fp = self.current_service_fp
        service_pub = self.service_public_key(fp)
        readers = [Recipient(SERVICE, service_pub)] + [
            Recipient(n, self.user_key(n)) for n in (recipients or [])
        ]
        # The service key is the header's sender, so it must be unlocked (scrypt, ~0.1 s
        # of CPU) -- but only the header needs it, and the header has a fixed size for a
        # given number of recipients. The key is unlocked on a side thread while the data
        # are encrypted behind a gap of that size; the header is written into the gap
        # before the file is fsynced. A wrong passphrase fails before anything commits.
        with ThreadPoolExecutor(max_workers=1) as unlocker, self._lock(exclusive=True):
            unlocked = unlocker.submit(self._service) if self._service_keys is None else None
            old = self._parse_manifest(path) if path.is_file() else None
            if old is not None and not overwrite:
                raise UsageError(f"object {object_id!r} exists (use overwrite)", path=path)
            session_key = os.urandom(32)
            head_size = len(self._header(session_key, readers, os.urandom(32)))

            def make_head() -> bytes:
                keys = unlocked.result() if unlocked is not None else self._service()
                if keys[fp].public != service_pub:
                    raise IntegrityError(
                        "service public key file does not match the private key",
                        path=self.root / "keys",
                    )
                return self._header(session_key, readers, keys[fp].secret)

            name = f"{uuid.uuid4().hex}.c4gh"
            tmp = self.root / "tmp" / (name + ".part")
            size, sha, body_sha = self._encrypt_stream(
                source, tmp, make_head, session_key, head_size=head_size
            )
            final = self.root / "data" / name
            os.replace(tmp, final)
            _fsync_dir(final.parent)
            now = _now()
            m = ObjectManifest(
                id=object_id,
                dataset=dataset,
                subject=subject,
                size=size,
                sha256=sha,
                seal_sha256=body_sha,
                header_size=head_size,
                data=f"data/{name}",
                recipients=readers,
                service_key=fp,
                created=old.created if old else now,
                updated=now,
                version=(old.version + 1) if old else 1,
                extra=dict(extra or {}),
            )
            self._commit(m, old)
            return m

    @staticmethod
    def _encrypt_stream(
        source: BinaryIO,
        tmp: Path,
        head: bytes | Callable[[], bytes],
        session_key: bytes,
        *,
        head_size: int | None = None,
    ) -> tuple[int, str, str]:
        """Stream-encrypt ``source`` into ``tmp``; returns (size, plaintext sha256, seal).

        ``head`` is the Crypt4GH header, or a function returning it that is called after
        the data are written (then ``head_size`` gives its length: the data start there
        and the header is written into the gap with ``pwrite``; a header of another
        length is an error).

        A ring of ``_RING`` buffer pairs pipelines the work over threads: the main thread
        reads a chunk and encrypts its first half while a helper encrypts the second half;
        the plaintext SHA-256 of the chunk runs in a hashing thread (from the moment it is
        read) and the seal update plus ``write()`` in a writing thread. OpenSSL, hashlib
        and ``write()`` release the GIL, so these run in parallel on several cores.
        ``tmp`` is fsynced before returning.
        """
        cipher = _SegmentCipher(session_key)
        sha = hashlib.sha256()
        seal = hashlib.sha256()
        chunk = SEGMENT_SIZE * _CHUNK_SEGMENTS
        pbufs = [bytearray(chunk) for _ in range(_RING)]
        cbufs = [bytearray(CIPHER_SEGMENT_SIZE * _CHUNK_SEGMENTS) for _ in range(_RING)]
        busy: list[list[Any]] = [[] for _ in range(_RING)]
        size = 0
        readinto = getattr(source, "readinto", None)
        _advise_sequential(source)
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            durable = _DurableWriter(fd)
            if callable(head):
                if head_size is None:
                    raise ValueError("head_size is required when the header comes later")
                os.lseek(fd, head_size, os.SEEK_SET)
            else:
                durable.write(memoryview(head))
            durable.seal = seal  # the seal covers the data segments only
            write = _StopAfterFailure(durable.write)
            # Single-thread pools keep hashing and writing in order.
            with (
                ThreadPoolExecutor(max_workers=1) as hasher,
                ThreadPoolExecutor(max_workers=1) as writer,
                ThreadPoolExecutor(max_workers=1) as helper,
            ):
                crypt_helper = helper if _ENCRYPT_THREADS > 1 else None
                i = 0
                try:
                    while True:
                        slot = i % _RING
                        for fut in busy[slot]:  # the slot's previous chunk is hashed and written
                            fut.result()
                        busy[slot] = []
                        pview, cview = memoryview(pbufs[slot]), memoryview(cbufs[slot])
                        n = _fill(readinto, source.read, pview)
                        if n == 0:
                            break
                        busy[slot].append(hasher.submit(sha.update, pview[:n]))
                        clen = _split_run(
                            cipher.encrypt, pview[:n], cview, crypt_helper,
                            SEGMENT_SIZE, CIPHER_SEGMENT_SIZE,
                        )  # fmt: skip
                        busy[slot].append(writer.submit(write, cview[:clen]))
                        size += n
                        i += 1
                        if n < chunk:
                            break
                except BaseException:
                    _drain(busy, i + 1)  # never leave helpers running on our buffers
                    raise
                error = _drain(busy, i + 1)
                if error is not None:
                    raise error
            if callable(head):
                late = head()
                if len(late) != head_size:
                    raise ValueError(f"header is {len(late)} bytes, {head_size} reserved")
                if os.pwrite(fd, late, 0) != len(late):
                    raise OSError("short write of the Crypt4GH header")
            os.fsync(fd)
        except BaseException:
            os.close(fd)
            tmp.unlink(missing_ok=True)
            raise
        os.close(fd)
        return size, sha.hexdigest(), seal.hexdigest()

    # ------------------------------------------------------------------ get
    @contextlib.contextmanager
    def _open_object(
        self, object_id: str, key: KeyPair | None
    ) -> Iterator[tuple[ObjectManifest, BinaryIO, bytes]]:
        with self._lock(exclusive=False):
            m = self.manifest(object_id)
            if self._passphrase:
                self._check_mac(m)
            path = self.root / m.data
            try:
                f = open(path, "rb")
            except OSError as exc:
                raise IntegrityError(f"ciphertext missing: {exc.strerror}", path=path) from exc
            try:
                if key is None:
                    # Service read: try every service key (several only during a rotation).
                    session = None
                    senders = [k.public for k in self._service().values()]
                    for pair in self._service().values():
                        f.seek(0)
                        try:
                            session = self._open_header(f, pair.secret, senders, path)
                            break
                        except ConsentDeniedError:
                            continue
                    if session is None:
                        raise ConsentDeniedError("no service key opens this object", path=path)
                else:
                    senders = [
                        load_public_key(self.root / (e["file"] + ".pub"))
                        for e in self.config["service_keys"]
                    ]
                    session = self._open_header(f, key.secret, senders, path)
                body_start = f.tell()
                body_len = os.fstat(f.fileno()).st_size - body_start
                if body_len != m.body_size:
                    raise IntegrityError(
                        f"ciphertext body is {body_len} bytes, manifest expects {m.body_size} "
                        "(truncated, extended or duplicated segments)",
                        path=path,
                    )
                yield m, f, session
            finally:
                f.close()

    def _check_seal(self, f: BinaryIO, m: ObjectManifest, path: Path) -> None:
        """Check the segment seal (nonces and tags in order) without decrypting.

        The tag of segment ``k`` and the nonce of segment ``k + 1`` are adjacent, so one
        28-byte ``pread`` per segment boundary feeds the same byte sequence to the hash
        as ``_seal_update`` (nonce 0, tag 0, nonce 1, ..., last tag).
        """
        start = f.tell()
        h = hashlib.sha256()
        fd = f.fileno()
        end = m.header_size + m.body_size
        if m.segments:
            h.update(os.pread(fd, 12, start))
            for k in range(1, m.segments):
                h.update(os.pread(fd, 28, start + k * CIPHER_SEGMENT_SIZE - 16))
            h.update(os.pread(fd, 16, end - 16))
        if h.hexdigest() != m.seal_sha256:
            raise IntegrityError(
                "segment seal mismatch (segments tampered, reordered, duplicated or replaced)",
                path=path,
            )
        f.seek(start)

    def _decrypt_body(
        self, f: BinaryIO, m: ObjectManifest, session: bytes, sink: Any, path: Path
    ) -> None:
        """Decrypt segment by segment into ``sink``; check length and SHA-256 at the end.

        Each chunk is decrypted by the main thread (with ``_DECRYPT_THREADS == 2``, a
        helper takes half of it); its SHA-256 (hashing thread) and its hand-off to
        ``sink`` (writing thread) overlap with the decryption of the next chunks. A chunk reaches ``sink`` only after every
        one of its segments has been authenticated.
        """
        cipher = _SegmentCipher(session)
        sha = hashlib.sha256()
        size = 0
        cview = memoryview(bytearray(CIPHER_SEGMENT_SIZE * _CHUNK_SEGMENTS))
        pbufs = [bytearray(SEGMENT_SIZE * _CHUNK_SEGMENTS) for _ in range(_RING)]
        busy: list[list[Any]] = [[] for _ in range(_RING)]
        seg_no = 0
        write = _StopAfterFailure(sink) if sink is not None else None
        _advise_sequential(f)

        with (
            ThreadPoolExecutor(max_workers=1) as hasher,
            ThreadPoolExecutor(max_workers=1) as writer,
            ThreadPoolExecutor(max_workers=1) as helper,
        ):
            crypt_helper = helper if _DECRYPT_THREADS > 1 else None
            i = 0
            try:
                while True:
                    slot = i % _RING
                    for fut in busy[slot]:
                        fut.result()
                    busy[slot] = []
                    n = _fill(f.readinto, f.read, cview)
                    if n == 0:
                        break
                    pview = memoryview(pbufs[slot])
                    try:
                        plen = _split_run(
                            cipher.decrypt, cview[:n], pview, crypt_helper,
                            CIPHER_SEGMENT_SIZE, SEGMENT_SIZE,
                        )  # fmt: skip
                    except _BadSegment as exc:
                        raise IntegrityError(
                            f"segment {seg_no + exc.index} fails authentication "
                            "(tampered ciphertext or wrong key)",
                            path=path,
                        ) from exc
                    busy[slot].append(hasher.submit(sha.update, pview[:plen]))
                    if write is not None:
                        busy[slot].append(writer.submit(write, pview[:plen]))
                    size += plen
                    seg_no += -(-n // CIPHER_SEGMENT_SIZE)
                    i += 1
            except BaseException:
                _drain(busy, i + 1)  # never leave helpers running on our buffers
                raise
            error = _drain(busy, i + 1)
            if error is not None:
                raise error
        if size != m.size or sha.hexdigest() != m.sha256:
            raise IntegrityError(
                "decrypted data do not match the manifest (length or SHA-256): segments "
                "truncated, reordered or duplicated",
                path=path,
            )

    def get(
        self, object_id: str, dest: BinaryIO, *, key: KeyPair | None = None, precheck: bool = True
    ) -> ObjectManifest:
        """Decrypt ``object_id`` into the binary stream ``dest`` and verify it.

        Parameters
        ----------
        object_id
            The object.
        dest
            Writable binary stream.
        key
            A user's key pair; ``None`` reads with the service key (needs the passphrase).
        precheck
            Check the seal before writing any plaintext (one small ``pread`` per
            segment), so reordered, duplicated, replaced or truncated segments yield no
            output at all. Each segment's tag is checked before its chunk is written.

        Returns
        -------
        ObjectManifest

        Raises
        ------
        IntegrityError
            On any mismatch (after ``dest`` may have received data if ``precheck`` is off).
        ConsentDeniedError
            If ``key`` has no header packet in the object.
        """
        with self._open_object(object_id, key) as (m, f, session):
            path = self.root / m.data
            if precheck:
                self._check_seal(f, m, path)
            self._decrypt_body(f, m, session, _write_all(dest), path)
            return m

    def get_to_file(
        self, object_id: str, out: Path, *, key: KeyPair | None = None, force: bool = False
    ) -> ObjectManifest:
        """Decrypt into ``out`` (temp file, verified, then renamed; removed on failure).

        Raises
        ------
        UsageError
            If ``out`` exists and ``force`` is false.
        """
        out = Path(out)
        if out.exists() and not force:
            raise UsageError("output exists (use --force)", path=out)
        tmp = out.with_name(f".{out.name}.{uuid.uuid4().hex[:8]}.part")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "wb") as fh:
                m = self.get(object_id, fh, key=key)
                # No fsync: the rename only guarantees that unverified plaintext is
                # never visible; durability of a user's copy is not the vault's job.
            if force:
                # Renaming over an existing file makes ext4 (auto_da_alloc) flush the new
                # file before the rename: 200 MB get 2.45 -> 1.70 s median when the old
                # output is unlinked first (docs/bench/vault.md). ``out`` is briefly
                # absent, never unverified.
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(out)
            os.replace(tmp, out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return m

    @contextlib.contextmanager
    def plaintext_file(self, object_id: str, *, key: KeyPair | None = None) -> Iterator[Path]:
        """A readable path to the verified plaintext of ``object_id``, for a ``with`` block.

        For tools that need a file name (htslib, pysam). On Linux the plaintext lives in
        an anonymous in-memory file (``memfd_create``; the path is ``/proc/self/fd/N``): it
        never reaches a disk and disappears with the process, even after ``kill -9``.
        Elsewhere it is a temporary file in a private (0700) directory, removed when the
        block exits (not after ``kill -9``). The object is fully verified (seal, tags,
        length, SHA-256) before the path is yielded.

        Yields
        ------
        Path
            Valid only inside the ``with`` block.
        """
        memfd = getattr(os, "memfd_create", None)
        if memfd is not None and Path("/proc/self/fd").is_dir():
            fd = memfd(f"genoma-{object_id}", getattr(os, "MFD_CLOEXEC", 0))
            try:
                with os.fdopen(os.dup(fd), "wb") as fh:
                    self.get(object_id, fh, key=key)
                yield Path(f"/proc/self/fd/{fd}")
            finally:
                os.close(fd)
            return
        import shutil
        import tempfile

        tmpdir = Path(tempfile.mkdtemp(prefix="genoma-plain-"))  # mode 0700
        try:
            path = tmpdir / object_id
            self.get_to_file(object_id, path, key=key)
            yield path
        finally:
            shutil.rmtree(tmpdir, ignore_errors=True)

    def read_bytes(self, object_id: str, *, key: KeyPair | None = None) -> bytes:
        """The verified plaintext of a (small) object in memory."""
        import io

        buf = io.BytesIO()
        self.get(object_id, buf, key=key, precheck=False)
        return buf.getvalue()

    def read_range(
        self, object_id: str, offset: int, length: int, *, key: KeyPair | None = None
    ) -> bytes:
        """Bytes ``[offset, offset + length)`` of the plaintext (0-based, clipped at the end).

        Only the segments overlapping the range are decrypted. The seal is checked first,
        so reordered or duplicated segments are detected.
        """
        if offset < 0 or length < 0:
            raise UsageError("range offset and length must be >= 0")
        with self._open_object(object_id, key) as (m, f, session):
            path = self.root / m.data
            self._check_seal(f, m, path)
            end = min(offset + length, m.size)
            if offset >= end:
                return b""
            first, last = offset // SEGMENT_SIZE, (end - 1) // SEGMENT_SIZE
            f.seek(m.header_size + first * CIPHER_SEGMENT_SIZE)
            cipher = f.read((last - first + 1) * CIPHER_SEGMENT_SIZE)
            out = bytearray((last - first + 1) * SEGMENT_SIZE)
            try:
                _SegmentCipher(session).decrypt(memoryview(cipher), memoryview(out))
            except _BadSegment as exc:
                raise IntegrityError(
                    f"segment {first + exc.index} fails authentication", path=path
                ) from exc
            start0 = offset - first * SEGMENT_SIZE
            return bytes(out[start0 : start0 + (end - offset)])

    # ------------------------------------------------------------------ header re-encryption
    def _service_session(self, f: BinaryIO, path: Path) -> bytes:
        """The session key of the object open as ``f``, with any service key (f at the body)."""
        senders = [k.public for k in self._service().values()]
        for pair in self._service().values():
            f.seek(0)
            with contextlib.suppress(ConsentDeniedError):
                return self._open_header(f, pair.secret, senders, path)
        raise ConsentDeniedError("no service key opens this object", path=path)

    def _rewrite_header(self, m: ObjectManifest, recipients: list[Recipient]) -> ObjectManifest:
        """New header for ``recipients``; data segments copied unchanged. Caller holds the lock."""
        path = self.root / m.data
        with open(path, "rb") as f:
            session = self._service_session(f, path)
            head = self._header(session, recipients)
            name = f"{uuid.uuid4().hex}.c4gh"
            tmp = self.root / "tmp" / (name + ".part")
            body = hashlib.sha256()
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as out:
                out.write(head)
                buf = bytearray(CIPHER_SEGMENT_SIZE * _CHUNK_SEGMENTS)
                view = memoryview(buf)
                copied = 0
                while n := f.readinto(buf):
                    _seal_update(body, view, n)
                    out.write(view[:n])
                    copied += n
                out.flush()
                os.fsync(out.fileno())
        if body.hexdigest() != m.seal_sha256 or copied != m.body_size:
            tmp.unlink(missing_ok=True)
            raise IntegrityError(
                "ciphertext does not match its seal: refusing to re-encrypt a damaged object",
                path=path,
            )
        final = self.root / "data" / name
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        new = ObjectManifest.from_dict(m.to_dict())
        new.recipients = recipients
        new.header_size = len(head)
        new.data = f"data/{name}"
        new.service_key = self.current_service_fp
        new.updated = _now()
        new.version = m.version + 1
        self._commit(new, m)
        return new

    def share(self, object_id: str, user: str) -> ObjectManifest:
        """Give registered ``user`` a header packet of ``object_id`` (data untouched)."""
        pub = self.user_key(user)
        with self._lock(exclusive=True):
            m = self.manifest(object_id)
            self._check_mac(m)
            if any(r.name == user and r.public == pub for r in m.recipients):
                return m
            recips = [
                r
                for r in self._recipients(m, self._service()[self.current_service_fp].public)
                if r.name != user
            ]
            return self._rewrite_header(m, [*recips, Recipient(user, pub)])

    def revoke(self, object_id: str, user: str, *, rekey: bool = False) -> ObjectManifest:
        """Remove ``user``'s header packet; with ``rekey``, also re-encrypt the data.

        Without ``rekey`` only the header changes (fast, data segments copied byte for
        byte): the user loses access through the vault, but a user who saved the
        object's session key (any Crypt4GH reader can print it) and obtains the
        ciphertext later -- a backup, a copy shared before -- can still decrypt it, since
        the segments are unchanged. With ``rekey`` the data are re-encrypted under a
        fresh session key (:meth:`rekey`): the old session key opens nothing the vault
        holds any more. Neither can take back plaintext the user already downloaded.

        Raises
        ------
        UsageError
            If ``user`` is not a recipient.
        """
        with self._lock(exclusive=True):
            m = self.manifest(object_id)
            self._check_mac(m)
            if not any(r.name == user for r in m.recipients):
                raise UsageError(f"{user!r} is not a recipient of {object_id!r}")
            recips = [
                r
                for r in self._recipients(m, self._service()[self.current_service_fp].public)
                if r.name != user
            ]
            if rekey:
                return self._rekey(m, recips)
            return self._rewrite_header(m, recips)

    def rekey(self, object_id: str) -> ObjectManifest:
        """Re-encrypt ``object_id`` under a fresh session key, for the same recipients.

        The ciphertext is decrypted and re-encrypted chunk by chunk in memory (no
        plaintext on disk); every old segment's tag, the seal, the plaintext length and
        SHA-256 are checked before the new version commits (atomically, like ``put``).
        The plaintext (and its SHA-256) is unchanged; the seal, every nonce and tag, and
        the session key are new.

        Raises
        ------
        IntegrityError
            If the stored object is damaged (nothing is committed).
        """
        with self._lock(exclusive=True):
            m = self.manifest(object_id)
            self._check_mac(m)
            recips = self._recipients(m, self._service()[self.current_service_fp].public)
            return self._rekey(m, recips)

    def _rekey(self, m: ObjectManifest, recipients: list[Recipient]) -> ObjectManifest:
        """New session key and data segments for ``recipients``. Caller holds the lock."""
        path = self.root / m.data
        name = f"{uuid.uuid4().hex}.c4gh"
        tmp = self.root / "tmp" / (name + ".part")
        with open(path, "rb") as f:
            old_cipher = _SegmentCipher(self._service_session(f, path))
            body_len = os.fstat(f.fileno()).st_size - f.tell()
            if body_len != m.body_size:
                raise IntegrityError(
                    f"ciphertext body is {body_len} bytes, manifest expects {m.body_size}",
                    path=path,
                )
            self._check_seal(f, m, path)
            session = os.urandom(32)
            new_cipher = _SegmentCipher(session)
            head = self._header(session, recipients)
            sha, seal = hashlib.sha256(), hashlib.sha256()
            cview = memoryview(bytearray(CIPHER_SEGMENT_SIZE * _CHUNK_SEGMENTS))
            pview = memoryview(bytearray(SEGMENT_SIZE * _CHUNK_SEGMENTS))
            oview = memoryview(bytearray(CIPHER_SEGMENT_SIZE * _CHUNK_SEGMENTS))
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                out = _DurableWriter(fd)
                out.write(memoryview(head))
                out.seal = seal
                size = seg_no = 0
                while n := _fill(f.readinto, f.read, cview):
                    try:
                        plen = old_cipher.decrypt(cview[:n], pview)
                    except _BadSegment as exc:
                        raise IntegrityError(
                            f"segment {seg_no + exc.index} fails authentication", path=path
                        ) from exc
                    sha.update(pview[:plen])
                    out.write(oview[: new_cipher.encrypt(pview[:plen], oview)])
                    size += plen
                    seg_no += -(-n // CIPHER_SEGMENT_SIZE)
                if size != m.size or sha.hexdigest() != m.sha256:
                    raise IntegrityError(
                        "decrypted data do not match the manifest (length or SHA-256)",
                        path=path,
                    )
                os.fsync(fd)
            except BaseException:
                os.close(fd)
                tmp.unlink(missing_ok=True)
                raise
            os.close(fd)
        final = self.root / "data" / name
        os.replace(tmp, final)
        _fsync_dir(final.parent)
        new = ObjectManifest.from_dict(m.to_dict())
        new.recipients = recipients
        new.header_size = len(head)
        new.seal_sha256 = seal.hexdigest()
        new.data = f"data/{name}"
        new.service_key = self.current_service_fp
        new.updated = _now()
        new.version = m.version + 1
        self._commit(new, m)
        return new

    def rotate(self, new_passphrase: str | None = None) -> dict[str, Any]:
        """Rotate the service key pair: new key, every header re-encrypted, old key removed.

        Resumable: an interrupted rotation leaves both keys listed (objects readable with
        either); running it again finishes it.

        Returns
        -------
        dict
            ``{"old": [fingerprints], "new": fingerprint, "objects": n}``.
        """
        passphrase = new_passphrase or self._passphrase
        if not passphrase:
            raise ConsentDeniedError("the service passphrase is required to rotate keys")
        with self._lock(exclusive=True):
            self._service()
            entries = self.config["service_keys"]
            if not any(e["status"] == "pending-retire" for e in entries):
                pair = new_keypair()
                stem = "service-" + pair.fingerprint.split(":")[1]
                write_keypair(
                    pair,
                    self.root / "keys" / f"{stem}.sec",
                    self.root / "keys" / f"{stem}.pub",
                    passphrase,
                    "genoma vault service key",
                )
                for e in entries:
                    e["status"] = "pending-retire"
                entries.insert(
                    0,
                    {"fingerprint": pair.fingerprint, "file": f"keys/{stem}", "status": "current"},
                )
                assert self._service_keys is not None
                self._service_keys[pair.fingerprint] = pair
                self._save_config()
            new_fp = self.current_service_fp
            new_pub = self._service()[new_fp].public
            n = 0
            for m in self._manifests():
                if m.service_key != new_fp:
                    self._check_mac(m)
                    self._rewrite_header(m, self._recipients(m, new_pub))
                    n += 1
            old = [e for e in entries if e["status"] == "pending-retire"]
            self.config["service_keys"] = [e for e in entries if e["status"] == "current"]
            self._save_config()
            for e in old:
                for ext in (".sec", ".pub"):
                    p = self.root / (e["file"] + ext)
                    if p.exists():
                        os.chmod(p, 0o600)
                        p.unlink()
                assert self._service_keys is not None
                self._service_keys.pop(e["fingerprint"], None)
            self._passphrase = passphrase
            return {"old": [e["fingerprint"] for e in old], "new": new_fp, "objects": n}

    def _save_config(self) -> None:
        _atomic_write_bytes(
            self.root / "vault.json",
            json.dumps(self.config, indent=2).encode(),
            self.root / "tmp",
            0o644,
        )

    # ------------------------------------------------------------------ verify
    def verify(
        self, object_id: str | None = None, *, key: KeyPair | None = None
    ) -> list[VerifyResult]:
        """Decrypt and check objects (all by default) against their manifests.

        Returns
        -------
        list of VerifyResult
            One per object; problems name what failed. Stale files are reported under
            the id ``"<stale>"``.
        """
        ids = [object_id] if object_id else [m.id for m in self.list()]
        results = []
        for oid in ids:
            try:
                with self._open_object(oid, key) as (m, f, session):
                    path = self.root / m.data
                    self._check_seal(f, m, path)
                    self._decrypt_body(f, m, session, None, path)
                results.append(VerifyResult(oid, True))
            except (IntegrityError, ConsentDeniedError) as exc:
                results.append(VerifyResult(oid, False, [str(exc)]))
        if object_id is None:
            with self._lock(exclusive=False):
                stale = self.stale_files()
            if stale:
                results.append(
                    VerifyResult(
                        "<stale>", True, [f"stale (cleaned by next write): {p}" for p in stale]
                    )
                )
        return results
