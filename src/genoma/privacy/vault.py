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
  manifest stores the plaintext SHA-256 and length and the SHA-256 of the ciphertext body;
  every decryption is checked against them. The manifest is HMAC-authenticated with a key
  derived from the service secret key.
* Sharing, revoking and service-key rotation re-encrypt the header only: the data
  segments are copied byte for byte (their SHA-256 is checked while copying).
* Ranged reads use segment arithmetic (not ``crypt4gh.lib.decrypt``'s offset, which is
  wrong at offsets >= 64 KiB in crypt4gh 1.8.6) after checking the ciphertext body hash.

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
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, BinaryIO

from crypt4gh import CIPHER_DIFF, CIPHER_SEGMENT_SIZE, SEGMENT_SIZE, sodium
from crypt4gh import header as c4gh_header

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
    load_private_key,
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


class _DurableWriter:
    """Writes everything it is given to a raw file and flushes it to disk as it goes.

    ``fdatasync`` every 32 MiB (in the writer thread, overlapping with encryption) keeps
    the final ``fsync`` short and the amount of dirty page cache bounded.
    """

    def __init__(self, out: Any) -> None:
        self.out = out
        self.unsynced = 0

    def write(self, data: memoryview) -> None:
        while data:
            n = self.out.write(data)
            data = data[n:]
            self.unsynced += n
        if self.unsynced >= _SYNC_EVERY:
            os.fdatasync(self.out.fileno())
            self.unsynced = 0


def _seal_update(h: Any, cview: memoryview, clen: int) -> None:
    """Feed the nonce and tag of each segment in ``cview[:clen]`` (segment-aligned) to ``h``."""
    for off in range(0, clen, CIPHER_SEGMENT_SIZE):
        end = min(off + CIPHER_SEGMENT_SIZE, clen)
        h.update(cview[off : off + 12])
        h.update(cview[end - 16 : end])


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
                pair = load_private_key(self.root / (entry["file"] + ".sec"), self._passphrase)
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
    def _header(self, session_key: bytes, recipients: list[Recipient]) -> bytes:
        sender = self._service()[self.current_service_fp]
        packet = c4gh_header.make_packet_data_enc(0, session_key)
        keys = [(0, sender.secret, r.public) for r in recipients]
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
        service = self._service()[self.current_service_fp]
        readers = [Recipient(SERVICE, service.public)] + [
            Recipient(n, self.user_key(n)) for n in (recipients or [])
        ]
        with self._lock(exclusive=True):
            old = self._parse_manifest(path) if path.is_file() else None
            if old is not None and not overwrite:
                raise UsageError(f"object {object_id!r} exists (use overwrite)", path=path)
            session_key = os.urandom(32)
            head = self._header(session_key, readers)
            name = f"{uuid.uuid4().hex}.c4gh"
            tmp = self.root / "tmp" / (name + ".part")
            size, sha, body_sha = self._encrypt_stream(source, tmp, head, session_key)
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
                header_size=len(head),
                data=f"data/{name}",
                recipients=readers,
                service_key=self.current_service_fp,
                created=old.created if old else now,
                updated=now,
                version=(old.version + 1) if old else 1,
                extra=dict(extra or {}),
            )
            self._commit(m, old)
            return m

    @staticmethod
    def _encrypt_stream(
        source: BinaryIO, tmp: Path, head: bytes, session_key: bytes
    ) -> tuple[int, str, str]:
        """Stream-encrypt ``source`` into ``tmp``; returns (size, plaintext sha256, body sha256).

        Two buffers alternate so that hashing and writing of one chunk (each in its own
        thread; hashlib and write() release the GIL) overlap with reading and encryption
        of the next.
        """
        sha = hashlib.sha256()
        body = hashlib.sha256()
        chunk = SEGMENT_SIZE * _CHUNK_SEGMENTS
        bufs = [bytearray(chunk), bytearray(chunk)]
        cbufs = [bytearray(CIPHER_SEGMENT_SIZE * _CHUNK_SEGMENTS) for _ in range(2)]
        size = 0
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        out = os.fdopen(fd, "wb", buffering=0)
        durable = _DurableWriter(out)
        readinto = getattr(source, "readinto", None)

        def _fill(buf: bytearray) -> int:
            view = memoryview(buf)
            n = 0
            while n < chunk:
                if readinto is not None:
                    got = readinto(view[n:])
                else:
                    data = source.read(chunk - n)
                    got = len(data)
                    view[n : n + got] = data
                if not got:
                    break
                n += got
            return n

        def _hash(pbuf: memoryview, cbuf: memoryview, clen: int) -> None:
            sha.update(pbuf)
            _seal_update(body, cbuf, clen)

        try:
            out.write(head)
            # Two single-thread pools keep each stream in order; hashlib and write()
            # release the GIL, so hashing and writing overlap with encryption.
            with (
                ThreadPoolExecutor(max_workers=1) as hasher,
                ThreadPoolExecutor(max_workers=1) as writer,
            ):
                pending: list[Any] = []
                i = 0
                while True:
                    buf, cbuf = bufs[i % 2], cbufs[i % 2]
                    n = _fill(buf)
                    if n == 0:
                        break
                    view, cview = memoryview(buf), memoryview(cbuf)
                    clen = 0
                    for off in range(0, n, SEGMENT_SIZE):
                        seg = view[off : min(off + SEGMENT_SIZE, n)]
                        clen += sodium.chacha20poly1305_encrypt(cview[clen:], seg, session_key)
                    for fut in pending:
                        fut.result()
                    pending = [
                        hasher.submit(_hash, view[:n], cview[:clen], clen),
                        writer.submit(durable.write, cview[:clen]),
                    ]
                    size += n
                    i += 1
                    if n < chunk:
                        break
                for fut in pending:
                    fut.result()
            out.flush()
            os.fsync(out.fileno())
        except BaseException:
            out.close()
            tmp.unlink(missing_ok=True)
            raise
        out.close()
        return size, sha.hexdigest(), body.hexdigest()

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
        """Check the segment seal (nonces and tags in order) without decrypting."""
        start = f.tell()
        h = hashlib.sha256()
        fd = f.fileno()
        for i in range(m.segments):
            off = start + i * CIPHER_SEGMENT_SIZE
            clen = min(CIPHER_SEGMENT_SIZE, m.header_size + m.body_size - off)
            h.update(os.pread(fd, 12, off))
            h.update(os.pread(fd, 16, off + clen - 16))
        if h.hexdigest() != m.seal_sha256:
            raise IntegrityError(
                "segment seal mismatch (segments tampered, reordered, duplicated or replaced)",
                path=path,
            )
        f.seek(start)

    def _decrypt_body(
        self, f: BinaryIO, m: ObjectManifest, session: bytes, sink: Any, path: Path
    ) -> None:
        """Decrypt segment by segment; hash (and hand to ``sink``) in a second thread."""
        sha = hashlib.sha256()
        size = 0
        cchunk = CIPHER_SEGMENT_SIZE * _CHUNK_SEGMENTS
        cbuf = bytearray(cchunk)
        pbufs = [bytearray(SEGMENT_SIZE * _CHUNK_SEGMENTS) for _ in range(2)]
        cview = memoryview(cbuf)
        seg_no = 0

        with (
            ThreadPoolExecutor(max_workers=1) as hasher,
            ThreadPoolExecutor(max_workers=1) as writer,
        ):
            pending: list[Any] = []
            i = 0
            while n := f.readinto(cbuf):
                pview = memoryview(pbufs[i % 2])
                plen = 0
                for off in range(0, n, CIPHER_SEGMENT_SIZE):
                    cseg = cview[off : min(off + CIPHER_SEGMENT_SIZE, n)]
                    try:
                        plen += sodium.chacha20poly1305_decrypt(pview[plen:], cseg, session)
                    except Exception as exc:  # libsodium reports a bad tag this way
                        for fut in pending:
                            fut.result()
                        raise IntegrityError(
                            f"segment {seg_no} fails authentication (tampered ciphertext or wrong key)",
                            path=path,
                        ) from exc
                    seg_no += 1
                for fut in pending:
                    fut.result()
                pending = [hasher.submit(sha.update, pview[:plen])]
                if sink is not None:
                    pending.append(writer.submit(sink, pview[:plen]))
                size += plen
                i += 1
            for fut in pending:
                fut.result()
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
            Check the ciphertext body hash before writing any plaintext (one extra,
            cheap read pass), so a tampered object yields no output at all.

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
            self._decrypt_body(f, m, session, dest.write, path)
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
            os.replace(tmp, out)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
        return m

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

        Only the segments overlapping the range are decrypted. The ciphertext body hash is
        checked first, so reordered or duplicated segments are detected.
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
            out = bytearray()
            seg = bytearray(SEGMENT_SIZE)
            for i in range(first, last + 1):
                c = f.read(CIPHER_SEGMENT_SIZE)
                try:
                    n = sodium.chacha20poly1305_decrypt(seg, c, session)
                except Exception as exc:
                    raise IntegrityError(f"segment {i} fails authentication", path=path) from exc
                out += seg[:n]
            start0 = offset - first * SEGMENT_SIZE
            return bytes(out[start0 : start0 + (end - offset)])

    # ------------------------------------------------------------------ header re-encryption
    def _rewrite_header(self, m: ObjectManifest, recipients: list[Recipient]) -> ObjectManifest:
        """New header for ``recipients``; data segments copied unchanged. Caller holds the lock."""
        path = self.root / m.data
        with open(path, "rb") as f:
            session = None
            senders = [k.public for k in self._service().values()]
            for pair in self._service().values():
                f.seek(0)
                with contextlib.suppress(ConsentDeniedError):
                    session = self._open_header(f, pair.secret, senders, path)
                    break
            if session is None:
                raise ConsentDeniedError("no service key opens this object", path=path)
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

    def revoke(self, object_id: str, user: str) -> ObjectManifest:
        """Remove ``user``'s header packet (data untouched).

        A user who saved the session key earlier can still decrypt the unchanged
        segments: revocation stops future access through the vault, it does not re-key.
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
            return self._rewrite_header(m, recips)

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
