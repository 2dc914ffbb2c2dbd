"""The vault's threaded segment pipeline: several chunks, both cipher backends, failures.

The vault encrypts and decrypts in chunks of ``_CHUNK_SEGMENTS`` segments over a ring of
buffers, with hashing, writing and half of each chunk's segments on helper threads. These
tests shrink the chunk to 4 segments so that small objects span several chunks, and run
every path with one and two crypt threads and with both ChaCha20-Poly1305 backends.
"""

from __future__ import annotations

import hashlib
import io
import os
from pathlib import Path

import pytest
from _vault_world import segment_data
from crypt4gh import CIPHER_SEGMENT_SIZE, SEGMENT_SIZE
from crypt4gh import lib as c4gh_lib

import genoma.privacy.vault as vault_mod
from genoma.privacy.keys import generate_keypair, load_private_key, load_public_key
from genoma.privacy.vault import IntegrityError, Vault, _BadSegment, _SegmentCipher

PASS = "service-pass"
CHUNK_SEGMENTS = 4
BACKENDS = ["cryptography", "libsodium"] if vault_mod._HAVE_AEAD_INTO else ["libsodium"]


def _data(n: int, seed: int = 7) -> bytes:
    return segment_data(n, seed)


@pytest.fixture(params=[(b, t) for b in BACKENDS for t in (1, 2)], ids=lambda p: f"{p[0]}-{p[1]}t")
def config(request, monkeypatch) -> tuple[str, int]:
    backend, threads = request.param
    monkeypatch.setattr(vault_mod, "_CHUNK_SEGMENTS", CHUNK_SEGMENTS)
    monkeypatch.setattr(vault_mod, "_ENCRYPT_THREADS", threads)
    monkeypatch.setattr(vault_mod, "_DECRYPT_THREADS", threads)
    monkeypatch.setattr(vault_mod, "_HAVE_AEAD_INTO", backend == "cryptography")
    return backend, threads


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault.init(tmp_path / "vault", PASS)


# 2 full chunks + 3 segments + 17 bytes: several chunks, a short chunk, a short segment.
SIZES = [
    CHUNK_SEGMENTS * SEGMENT_SIZE,
    CHUNK_SEGMENTS * SEGMENT_SIZE + 1,
    (2 * CHUNK_SEGMENTS + 3) * SEGMENT_SIZE + 17,
]


@pytest.mark.parametrize("n", SIZES)
def test_multi_chunk_round_trip_and_reference_decoder(
    vault: Vault, config, tmp_path: Path, n: int
) -> None:
    generate_keypair(tmp_path / "a.sec", tmp_path / "a.pub", "pw")
    vault.add_user("alice", load_public_key(tmp_path / "a.pub"))
    alice = load_private_key(tmp_path / "a.sec", "pw")
    data = _data(n)
    m = vault.put("obj", io.BytesIO(data), dataset="ds", recipients=["alice"])
    assert m.size == n and m.sha256 == hashlib.sha256(data).hexdigest()
    assert vault.read_bytes("obj") == data
    out = tmp_path / "out.bin"
    vault.get_to_file("obj", out)
    assert out.read_bytes() == data
    assert (
        vault.read_range("obj", n - SEGMENT_SIZE - 5, SEGMENT_SIZE + 10)
        == data[-SEGMENT_SIZE - 5 :]
    )
    assert all(r.ok for r in vault.verify("obj"))
    ref = io.BytesIO()  # crypt4gh's own decoder reads what either backend wrote
    raw = (vault.root / m.data).read_bytes()
    c4gh_lib.decrypt([(0, alice.secret, None)], io.BytesIO(raw), ref)
    assert ref.getvalue() == data


@pytest.mark.parametrize("enc,dec", [(a, b) for a in BACKENDS for b in BACKENDS])
def test_backends_read_each_other(enc: str, dec: str) -> None:
    key = os.urandom(32)
    data = _data(3 * SEGMENT_SIZE + 100)
    cbuf = memoryview(bytearray(4 * CIPHER_SEGMENT_SIZE))
    clen = _SegmentCipher(key, enc).encrypt(memoryview(data), cbuf)
    assert clen == len(data) + 4 * 28
    nonces = {bytes(cbuf[i : i + 12]) for i in range(0, clen, CIPHER_SEGMENT_SIZE)}
    assert len(nonces) == 4  # a fresh nonce per segment
    pbuf = memoryview(bytearray(4 * SEGMENT_SIZE))
    assert _SegmentCipher(key, dec).decrypt(cbuf[:clen], pbuf) == len(data)
    assert bytes(pbuf[: len(data)]) == data
    tampered = bytearray(cbuf[:clen])
    tampered[2 * CIPHER_SEGMENT_SIZE + 40] ^= 1
    with pytest.raises(_BadSegment) as err:
        _SegmentCipher(key, dec).decrypt(memoryview(tampered), pbuf)
    assert err.value.index == 2


def test_unknown_backend_rejected() -> None:
    with pytest.raises(ValueError):
        _SegmentCipher(os.urandom(32), "rot13")


@pytest.mark.parametrize("seg", [1, CHUNK_SEGMENTS + 3, 2 * CHUNK_SEGMENTS])
def test_tampered_segment_in_a_later_chunk_is_named_and_nothing_left(
    vault: Vault, config, tmp_path: Path, seg: int
) -> None:
    data = _data((2 * CHUNK_SEGMENTS + 2) * SEGMENT_SIZE)
    vault.put("obj", io.BytesIO(data), dataset="ds")
    m = vault.manifest("obj")
    path = vault.root / m.data
    raw = bytearray(path.read_bytes())
    raw[m.header_size + seg * CIPHER_SEGMENT_SIZE + 1000] ^= 0x80  # ciphertext, not nonce/tag
    os.chmod(path, 0o600)
    path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match=f"segment {seg} fails authentication"):
        vault.read_bytes("obj")
    out = tmp_path / "out.bin"
    with pytest.raises(IntegrityError, match=f"segment {seg} fails"):
        vault.get_to_file("obj", out)
    assert list(tmp_path.glob("*out.bin*")) == []


def test_segments_swapped_across_chunks_with_forged_seal_caught_by_sha256(
    vault: Vault, config
) -> None:
    data = _data((2 * CHUNK_SEGMENTS + 1) * SEGMENT_SIZE)
    vault.put("obj", io.BytesIO(data), dataset="ds")
    m = vault.manifest("obj")
    path = vault.root / m.data
    raw = path.read_bytes()
    body = raw[m.header_size :]
    segs = [body[i : i + CIPHER_SEGMENT_SIZE] for i in range(0, len(body), CIPHER_SEGMENT_SIZE)]
    segs[1], segs[CHUNK_SEGMENTS + 2] = segs[CHUNK_SEGMENTS + 2], segs[1]
    new_body = b"".join(segs)
    os.chmod(path, 0o600)
    path.write_bytes(raw[: m.header_size] + new_body)
    sink = io.BytesIO()
    with pytest.raises(IntegrityError, match="seal"):
        vault.get("obj", sink)  # checked before any plaintext is written
    assert sink.getvalue() == b""
    h = hashlib.sha256()
    vault_mod._seal_update(h, memoryview(new_body), len(new_body))
    m.seal_sha256 = h.hexdigest()
    vault._commit(m, None)  # an attacker who also holds the MAC key
    with pytest.raises(IntegrityError, match="SHA-256"):
        vault.read_bytes("obj")


class _Trickle(io.RawIOBase):
    """A stream without ``readinto`` use: ``read`` returns at most 10 000 bytes."""

    def __init__(self, data: bytes, fail_at: int | None = None) -> None:
        self.data = data
        self.pos = 0
        self.fail_at = fail_at

    def readable(self) -> bool:
        return True

    def read(self, n: int = -1) -> bytes:
        if self.fail_at is not None and self.pos >= self.fail_at:
            raise OSError("source went away")
        n = min(n if n >= 0 else len(self.data), 10_000)
        out = self.data[self.pos : self.pos + n]
        self.pos += len(out)
        return out

    readinto = None  # type: ignore[assignment]


def test_short_reads_from_a_stream_without_readinto(vault: Vault, config) -> None:
    data = _data((CHUNK_SEGMENTS + 1) * SEGMENT_SIZE + 333)
    m = vault.put("obj", _Trickle(data), dataset="ds")
    assert m.size == len(data) and vault.read_bytes("obj") == data


def test_source_error_mid_put_keeps_old_version_and_no_debris(vault: Vault, config) -> None:
    vault.put("obj", io.BytesIO(b"old version"), dataset="ds")
    data = _data(3 * CHUNK_SEGMENTS * SEGMENT_SIZE)
    with pytest.raises(OSError, match="source went away"):
        vault.put(
            "obj", _Trickle(data, fail_at=CHUNK_SEGMENTS * SEGMENT_SIZE + 5), dataset="ds",
            overwrite=True,
        )  # fmt: skip
    assert list((vault.root / "tmp").iterdir()) == []
    assert vault.read_bytes("obj") == b"old version"


def test_sink_error_mid_get_propagates(vault: Vault, config) -> None:
    data = _data(3 * CHUNK_SEGMENTS * SEGMENT_SIZE)
    vault.put("obj", io.BytesIO(data), dataset="ds")
    got = []

    class Sink:
        def write(self, b: memoryview) -> int:
            if len(got) == 1:
                raise OSError("disk full")
            got.append(bytes(b))
            return len(b)

    with pytest.raises(OSError, match="disk full"):
        vault.get("obj", Sink())  # type: ignore[arg-type]
    assert got == [data[: CHUNK_SEGMENTS * SEGMENT_SIZE]]  # in order, nothing after the error


def test_get_into_a_raw_stream_that_takes_little_at_a_time(vault: Vault, config) -> None:
    data = _data(2 * CHUNK_SEGMENTS * SEGMENT_SIZE + 99)
    vault.put("obj", io.BytesIO(data), dataset="ds")
    got = bytearray()

    class Raw(io.RawIOBase):
        def writable(self) -> bool:
            return True

        def write(self, b) -> int:  # type: ignore[override]
            n = min(len(b), 50_000)
            got.extend(bytes(b[:n]))
            return n

    vault.get("obj", Raw())  # type: ignore[arg-type]
    assert bytes(got) == data
