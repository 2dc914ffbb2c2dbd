"""Revocation with re-keying, the key cache, the late-header put, plaintext_file, and
Crypt4GH interoperability in both directions (library and the ``crypt4gh`` CLI)."""

from __future__ import annotations

import io
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _vault_world import PASS, add_user, segment_data
from crypt4gh import CIPHER_SEGMENT_SIZE, SEGMENT_SIZE
from crypt4gh import header as c4gh_header
from crypt4gh import lib as c4gh_lib

from genoma.errors import ConsentDeniedError, UsageError
from genoma.privacy import keys as keys_mod
from genoma.privacy.keys import (
    clear_key_cache,
    generate_keypair,
    load_private_key_cached,
    load_public_key,
)
from genoma.privacy.vault import IntegrityError, Vault, _BadSegment, _SegmentCipher


def _data(n: int, seed: int = 3) -> bytes:
    return segment_data(n, seed)


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault.init(tmp_path / "vault", PASS)


@pytest.fixture
def alice(tmp_path: Path, vault: Vault):
    return add_user(vault, tmp_path, "alice")


@pytest.fixture
def bob(tmp_path: Path, vault: Vault):
    return add_user(vault, tmp_path, "bob")


def _session_key_of(vault: Vault, oid: str, secret: bytes) -> bytes:
    """What a recipient can extract and keep: the object's session key."""
    m = vault.manifest(oid)
    with open(vault.root / m.data, "rb") as f:
        return vault._open_header(f, secret, [vault.service_public_key()], vault.root / m.data)


def _decrypt_body_with(vault: Vault, oid: str, session: bytes) -> bytes:
    """Decrypt the stored body with a (possibly stale) session key, as an attacker would."""
    m = vault.manifest(oid)
    body = (vault.root / m.data).read_bytes()[m.header_size :]
    out = bytearray(m.size)
    n = _SegmentCipher(session).decrypt(memoryview(body), memoryview(out))
    return bytes(out[:n])


# ---------------------------------------------------------------- revoke / rekey


def test_revoke_without_rekey_leaves_old_session_key_valid(vault: Vault, alice) -> None:
    """The threat --rekey addresses: a revoked user who kept the session key."""
    data = _data(3 * SEGMENT_SIZE + 5)
    vault.put("obj", io.BytesIO(data), dataset="ds", recipients=["alice"])
    kept = _session_key_of(vault, "obj", alice.secret)
    vault.revoke("obj", "alice")
    with pytest.raises(ConsentDeniedError):
        Vault(vault.root).read_bytes("obj", key=alice)
    assert _decrypt_body_with(vault, "obj", kept) == data  # header-only revocation


@pytest.mark.parametrize("n", [0, 1000, 3 * SEGMENT_SIZE + 5, 70 * SEGMENT_SIZE + 3])
def test_revoke_with_rekey_invalidates_the_old_session_key(
    vault: Vault, alice, bob, n: int
) -> None:
    data = _data(n)
    vault.put("obj", io.BytesIO(data), dataset="ds", recipients=["alice", "bob"])
    old = vault.manifest("obj")
    kept = _session_key_of(vault, "obj", alice.secret)
    m = vault.revoke("obj", "alice", rekey=True)
    assert [r.name for r in m.recipients] == ["service", "bob"]
    assert (m.sha256, m.size) == (old.sha256, old.size)  # same plaintext
    assert m.version == old.version + 1 and m.data != old.data
    assert not (vault.root / old.data).exists()  # old ciphertext removed
    if n:
        assert m.seal_sha256 != old.seal_sha256  # new nonces and tags
        with pytest.raises(_BadSegment):
            _decrypt_body_with(vault, "obj", kept)
    assert _session_key_of(vault, "obj", bob.secret) != kept
    assert vault.read_bytes("obj") == data
    assert Vault(vault.root).read_bytes("obj", key=bob) == data
    with pytest.raises(ConsentDeniedError):
        Vault(vault.root).read_bytes("obj", key=alice)
    assert all(r.ok for r in vault.verify())
    raw = (vault.root / m.data).read_bytes()  # still standard Crypt4GH
    out = io.BytesIO()
    c4gh_lib.decrypt([(0, bob.secret, None)], io.BytesIO(raw), out)
    assert out.getvalue() == data


def test_rekey_keeps_recipients_and_refuses_a_damaged_object(vault: Vault, alice) -> None:
    data = _data(4 * SEGMENT_SIZE)
    vault.put("obj", io.BytesIO(data), dataset="ds", recipients=["alice"])
    m1 = vault.rekey("obj")
    assert [r.name for r in m1.recipients] == ["service", "alice"]
    assert Vault(vault.root).read_bytes("obj", key=alice) == data
    path = vault.root / m1.data
    raw = bytearray(path.read_bytes())
    raw[m1.header_size + CIPHER_SEGMENT_SIZE + 100] ^= 1  # flip a byte in segment 1
    os.chmod(path, 0o600)
    path.write_bytes(bytes(raw))
    with pytest.raises(IntegrityError, match="segment 1"):
        vault.rekey("obj")
    assert vault.manifest("obj").data == m1.data  # nothing committed
    assert list((vault.root / "tmp").iterdir()) == []
    with pytest.raises(UsageError):
        vault.revoke("obj", "nobody", rekey=True)


# ---------------------------------------------------------------- put with a late header


def test_put_wrong_passphrase_fails_after_streaming_and_commits_nothing(vault: Vault) -> None:
    vault.put("obj", io.BytesIO(b"v1"), dataset="ds")
    clear_key_cache()
    with pytest.raises(ConsentDeniedError):
        Vault(vault.root, "wrong").put(
            "obj", io.BytesIO(_data(5 * SEGMENT_SIZE)), dataset="ds", overwrite=True
        )
    assert vault.read_bytes("obj") == b"v1" and vault.manifest("obj").version == 1
    assert list((vault.root / "tmp").iterdir()) == []
    assert len(list((vault.root / "data").iterdir())) == 1


def test_put_header_written_into_the_reserved_gap(vault: Vault, alice, bob) -> None:
    data = _data(2 * SEGMENT_SIZE + 9)
    clear_key_cache()
    v = Vault(vault.root, PASS)  # key not unlocked yet: the late-header path
    m = v.put("obj", io.BytesIO(data), dataset="ds", recipients=["alice", "bob"])
    raw = (vault.root / m.data).read_bytes()
    f = io.BytesIO(raw)
    assert len(list(c4gh_header.parse(f))) == 3 and f.tell() == m.header_size
    for k in (alice, bob):
        out = io.BytesIO()
        c4gh_lib.decrypt([(0, k.secret, None)], io.BytesIO(raw), out)
        assert out.getvalue() == data


# ---------------------------------------------------------------- key cache


def test_key_cache_hits_only_for_same_file_and_passphrase(tmp_path: Path, monkeypatch) -> None:
    generate_keypair(tmp_path / "k.sec", tmp_path / "k.pub", "pw")
    clear_key_cache()
    calls = []
    real = keys_mod.parse_private_key

    def counting(*a, **kw):
        calls.append(1)
        return real(*a, **kw)

    monkeypatch.setattr(keys_mod, "parse_private_key", counting)
    a = load_private_key_cached(tmp_path / "k.sec", "pw")
    b = load_private_key_cached(tmp_path / "k.sec", "pw")
    assert a == b and len(calls) == 1
    with pytest.raises(ConsentDeniedError):  # a wrong passphrase never hits the cache
        load_private_key_cached(tmp_path / "k.sec", "wrong")
    generate_keypair(tmp_path / "k2.sec", tmp_path / "k2.pub", "pw")
    os.replace(tmp_path / "k2.sec", tmp_path / "k.sec")  # replaced key file: re-read
    c = load_private_key_cached(tmp_path / "k.sec", "pw")
    assert c != a and c.public == load_public_key(tmp_path / "k2.pub")
    clear_key_cache()
    load_private_key_cached(tmp_path / "k.sec", "pw")
    assert len(calls) == 4


# ---------------------------------------------------------------- plaintext_file


def test_plaintext_file_is_verified_and_gone_afterwards(vault: Vault) -> None:
    data = _data(SEGMENT_SIZE + 7)
    vault.put("obj", io.BytesIO(data), dataset="ds")
    with vault.plaintext_file("obj") as p:
        assert p.read_bytes() == data
    assert not p.exists()
    assert not any(data[:64] in f.read_bytes() for f in vault.root.rglob("*") if f.is_file())


# ---------------------------------------------------------------- Crypt4GH both ways


def test_genoma_reads_a_file_written_by_crypt4gh(vault: Vault) -> None:
    data = _data(2 * SEGMENT_SIZE + 11)
    svc = vault._service()[vault.current_service_fp]
    enc = io.BytesIO()
    c4gh_lib.encrypt([(0, svc.secret, svc.public)], io.BytesIO(data), enc)
    f = io.BytesIO(enc.getvalue())
    session = vault._open_header(f, svc.secret, [svc.public], Path("ref.c4gh"))
    body = f.read()
    out = bytearray(len(data))
    assert _SegmentCipher(session).decrypt(memoryview(body), memoryview(out)) == len(data)
    assert bytes(out) == data


CLI = Path(sys.executable).parent / "crypt4gh"


@pytest.mark.skipif(not CLI.exists() and not shutil.which("crypt4gh"), reason="no crypt4gh CLI")
def test_crypt4gh_cli_both_ways(vault: Vault, tmp_path: Path) -> None:
    cli = str(CLI if CLI.exists() else shutil.which("crypt4gh"))
    env = {**os.environ, "C4GH_PASSPHRASE": PASS}
    data = _data(3 * SEGMENT_SIZE + 1)
    vault.put("obj", io.BytesIO(data), dataset="ds")
    m = vault.manifest("obj")
    entry = vault.config["service_keys"][0]
    sec, pub = (str(vault.root / (entry["file"] + e)) for e in (".sec", ".pub"))
    # the CLI decrypts what genoma wrote
    got = subprocess.run(
        [cli, "decrypt", "--sk", sec],
        stdin=open(vault.root / m.data, "rb"),
        capture_output=True,
        env=env,
        check=True,
    ).stdout
    assert got == data
    # genoma decrypts what the CLI wrote (sender: the service key, so the sender check holds)
    enc = subprocess.run(
        [cli, "encrypt", "--sk", sec, "--recipient_pk", pub],
        input=data,
        capture_output=True,
        env=env,
        check=True,
    ).stdout
    svc = vault._service()[vault.current_service_fp]
    f = io.BytesIO(enc)
    session = vault._open_header(f, svc.secret, [svc.public], Path("cli.c4gh"))
    body = f.read()
    out = bytearray(len(data))
    _SegmentCipher(session).decrypt(memoryview(body), memoryview(out))
    assert bytes(out) == data


def test_get_to_file_force_replaces_only_after_verification(vault: Vault, tmp_path: Path) -> None:
    data = _data(2 * SEGMENT_SIZE + 3)
    vault.put("obj", io.BytesIO(data), dataset="ds")
    out = tmp_path / "out.bin"
    out.write_bytes(b"previous output")
    with pytest.raises(UsageError):
        vault.get_to_file("obj", out)
    assert out.read_bytes() == b"previous output"
    m = vault.manifest("obj")
    path = vault.root / m.data
    good = path.read_bytes()
    bad = bytearray(good)
    bad[m.header_size + CIPHER_SEGMENT_SIZE + 5] ^= 1
    os.chmod(path, 0o600)
    path.write_bytes(bytes(bad))
    with pytest.raises(IntegrityError):
        vault.get_to_file("obj", out, force=True)
    assert out.read_bytes() == b"previous output"  # a failed get leaves the old output
    path.write_bytes(good)
    vault.get_to_file("obj", out, force=True)
    assert out.read_bytes() == data
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".out")) == []
