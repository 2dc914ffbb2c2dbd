"""The Crypt4GH vault: round trips, sharing, rotation, ranges and attacks."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import pytest
from _vault_world import PASS, add_user, segment_data
from crypt4gh import CIPHER_SEGMENT_SIZE, SEGMENT_SIZE
from crypt4gh import header as c4gh_header
from crypt4gh import lib as c4gh_lib

from genoma.errors import ConsentDeniedError, UsageError
from genoma.privacy.keys import (
    generate_keypair,
    load_private_key,
    parse_private_key,
)
from genoma.privacy.vault import IntegrityError, Vault


def _data(n: int, seed: int = 1) -> bytes:
    return segment_data(n, seed)


@pytest.fixture
def vault(tmp_path: Path) -> Vault:
    return Vault.init(tmp_path / "vault", PASS)


@pytest.fixture
def alice(tmp_path: Path, vault: Vault):
    return add_user(vault, tmp_path, "alice")


def _body(vault: Vault, oid: str) -> bytes:
    m = vault.manifest(oid)
    return (vault.root / m.data).read_bytes()[m.header_size :]


@pytest.mark.parametrize(
    "n", [0, 1, SEGMENT_SIZE - 1, SEGMENT_SIZE, SEGMENT_SIZE + 1, 3 * SEGMENT_SIZE + 17]
)
def test_round_trip_sizes(vault: Vault, n: int) -> None:
    data = _data(n)
    m = vault.put("obj", io.BytesIO(data), dataset="ds", subject="P1")
    assert m.size == n and m.segments == -(-n // SEGMENT_SIZE)
    assert vault.read_bytes("obj") == data


def test_ciphertext_is_standard_crypt4gh_with_one_packet_per_recipient(vault: Vault, alice) -> None:
    data = _data(200_000)
    vault.put("obj", io.BytesIO(data), dataset="ds", recipients=["alice"])
    m = vault.manifest("obj")
    raw = (vault.root / m.data).read_bytes()
    assert len(list(c4gh_header.parse(io.BytesIO(raw)))) == 2  # service + alice
    out = io.BytesIO()
    c4gh_lib.decrypt([(0, alice.secret, None)], io.BytesIO(raw), out)  # the reference decoder
    assert out.getvalue() == data
    assert data[:4096] not in raw  # encrypted


def test_no_plaintext_on_disk_after_put(vault: Vault) -> None:
    marker = b"GENOMA-PLAINTEXT-MARKER-" * 4000
    vault.put("obj", io.BytesIO(marker), dataset="ds")
    for p in vault.root.rglob("*"):
        if p.is_file():
            assert b"GENOMA-PLAINTEXT-MARKER" not in p.read_bytes(), p


@pytest.mark.parametrize(
    ("offset", "length"),
    [
        (0, 10),
        (SEGMENT_SIZE - 5, 10),  # across the first boundary
        (SEGMENT_SIZE, 100),  # exactly at 64 KiB (where crypt4gh 1.8.6 goes wrong)
        (SEGMENT_SIZE + 1, SEGMENT_SIZE),  # spans two segments beyond 64 KiB
        (2 * SEGMENT_SIZE - 3, 2 * SEGMENT_SIZE + 6),  # three segments
        (3 * SEGMENT_SIZE + 10, 1000),  # past the end: clipped
        (10 * SEGMENT_SIZE, 5),  # beyond the end: empty
    ],
)
def test_ranges_across_segment_boundaries(vault: Vault, offset: int, length: int) -> None:
    data = _data(3 * SEGMENT_SIZE + 100)
    vault.put("obj", io.BytesIO(data), dataset="ds")
    assert vault.read_range("obj", offset, length) == data[offset : offset + length]


def test_put_refuses_to_overwrite_and_versions(vault: Vault) -> None:
    vault.put("obj", io.BytesIO(b"one"), dataset="ds")
    with pytest.raises(UsageError):
        vault.put("obj", io.BytesIO(b"two"), dataset="ds")
    m = vault.put("obj", io.BytesIO(b"two"), dataset="ds", overwrite=True)
    assert m.version == 2 and vault.read_bytes("obj") == b"two"
    assert len(list((vault.root / "data").iterdir())) == 1  # old ciphertext removed


def test_invalid_object_id_rejected(vault: Vault) -> None:
    with pytest.raises(UsageError):
        vault.put("../escape", io.BytesIO(b"x"), dataset="ds")


def test_share_is_header_only_and_gives_access(vault: Vault, alice) -> None:
    data = _data(150_000)
    vault.put("obj", io.BytesIO(data), dataset="ds")
    before = _body(vault, "obj")
    with pytest.raises(ConsentDeniedError):
        Vault(vault.root).read_bytes("obj", key=alice)
    m = vault.share("obj", "alice")
    assert [r.name for r in m.recipients] == ["service", "alice"]
    assert _body(vault, "obj") == before  # data segments byte-identical
    assert Vault(vault.root).read_bytes("obj", key=alice) == data  # no service passphrase needed


def test_revoke_removes_access(vault: Vault, alice) -> None:
    vault.put("obj", io.BytesIO(b"x" * 1000), dataset="ds", recipients=["alice"])
    before = _body(vault, "obj")
    vault.revoke("obj", "alice")
    assert _body(vault, "obj") == before
    with pytest.raises(ConsentDeniedError):
        Vault(vault.root).read_bytes("obj", key=alice)


def test_rotate_service_key(vault: Vault, alice, tmp_path: Path) -> None:
    data = _data(140_000)
    vault.put("a", io.BytesIO(data), dataset="ds", recipients=["alice"])
    vault.put("b", io.BytesIO(b"small"), dataset="ds")
    old_fp = vault.current_service_fp
    old_entry = vault.config["service_keys"][0]
    old_key = parse_private_key((vault.root / (old_entry["file"] + ".sec")).read_bytes(), PASS)
    bodies = {o: _body(vault, o) for o in ("a", "b")}
    result = vault.rotate()
    assert result["old"] == [old_fp] and result["objects"] == 2 and result["new"] != old_fp
    assert not (vault.root / (old_entry["file"] + ".sec")).exists()
    assert {o: _body(vault, o) for o in ("a", "b")} == bodies  # segments untouched
    v2 = Vault(vault.root, PASS)
    assert v2.read_bytes("a") == data and v2.read_bytes("b") == b"small"
    assert Vault(vault.root).read_bytes("a", key=alice) == data
    m = v2.manifest("a")
    with open(v2.root / m.data, "rb") as f, pytest.raises(ConsentDeniedError):
        v2._open_header(f, old_key.secret, [v2.service_public_key()], v2.root / m.data)


def test_wrong_user_key_denied(vault: Vault, alice, tmp_path: Path) -> None:
    vault.put("obj", io.BytesIO(b"secret genome"), dataset="ds")
    with pytest.raises(ConsentDeniedError):
        Vault(vault.root).read_bytes("obj", key=alice)


def test_wrong_passphrases_denied(vault: Vault, tmp_path: Path) -> None:
    vault.put("obj", io.BytesIO(b"x"), dataset="ds")
    with pytest.raises(ConsentDeniedError):
        Vault(vault.root, "wrong").read_bytes("obj")
    generate_keypair(tmp_path / "u.sec", tmp_path / "u.pub", "right")
    with pytest.raises(ConsentDeniedError):
        load_private_key(tmp_path / "u.sec", "wrong")


def test_service_passphrase_needed_to_put(vault: Vault) -> None:
    with pytest.raises(ConsentDeniedError):
        Vault(vault.root).put("obj", io.BytesIO(b"x"), dataset="ds")


# ---------------------------------------------------------------- attacks


def _store(vault: Vault, n_segments: int = 4) -> tuple[bytes, Path, int]:
    data = _data(n_segments * SEGMENT_SIZE - 1000)
    vault.put("obj", io.BytesIO(data), dataset="ds")
    m = vault.manifest("obj")
    return data, vault.root / m.data, m.header_size


def _segments(raw: bytes, hs: int) -> list[bytes]:
    body = raw[hs:]
    return [body[i : i + CIPHER_SEGMENT_SIZE] for i in range(0, len(body), CIPHER_SEGMENT_SIZE)]


def _write(path: Path, data: bytes) -> None:
    os.chmod(path, 0o600)
    path.write_bytes(data)


def test_attack_tampered_ciphertext(vault: Vault) -> None:
    _, path, hs = _store(vault)
    raw = bytearray(path.read_bytes())
    raw[hs + CIPHER_SEGMENT_SIZE + 500] ^= 0x01  # inside segment 1's ciphertext
    _write(path, bytes(raw))
    with pytest.raises(IntegrityError, match="segment 1 fails authentication"):
        vault.read_bytes("obj")
    assert not vault.verify("obj")[0].ok


def test_attack_truncation_at_segment_boundary(vault: Vault) -> None:
    _, path, hs = _store(vault)
    segs = _segments(path.read_bytes(), hs)
    _write(path, path.read_bytes()[:hs] + b"".join(segs[:-1]))  # drop the last segment
    with pytest.raises(IntegrityError):
        vault.read_bytes("obj")
    with pytest.raises(IntegrityError):
        vault.read_range("obj", 0, 10)


@pytest.mark.parametrize("attack", ["swap", "duplicate-replace", "duplicate-insert"])
def test_attack_reordered_or_duplicated_segments(vault: Vault, attack: str) -> None:
    _, path, hs = _store(vault)
    raw = path.read_bytes()
    segs = _segments(raw, hs)
    if attack == "swap":
        segs[0], segs[1] = segs[1], segs[0]
    elif attack == "duplicate-replace":
        segs[2] = segs[1]
    else:
        segs.insert(1, segs[1])
    _write(path, raw[:hs] + b"".join(segs))
    with pytest.raises(IntegrityError):
        vault.read_bytes("obj")
    with pytest.raises(IntegrityError):
        vault.get("obj", io.BytesIO(), precheck=False)
    with pytest.raises(IntegrityError):
        vault.read_range("obj", SEGMENT_SIZE, 10)


def test_plaintext_hash_catches_reordering_even_with_a_forged_seal(vault: Vault) -> None:
    """Second line of defence: an attacker who could also rewrite the seal is still caught."""
    _, path, hs = _store(vault)
    raw = path.read_bytes()
    segs = _segments(raw, hs)
    segs[0], segs[1] = segs[1], segs[0]
    _write(path, raw[:hs] + b"".join(segs))
    m = vault.manifest("obj")
    import hashlib

    from genoma.privacy.vault import _seal_update

    h = hashlib.sha256()
    body = b"".join(segs)
    _seal_update(h, memoryview(body), len(body))
    m.seal_sha256 = h.hexdigest()
    vault._commit(m, None)  # re-signed: simulates an attacker holding the MAC key
    with pytest.raises(IntegrityError, match="SHA-256"):
        vault.read_bytes("obj")


def test_attack_edited_manifest(vault: Vault) -> None:
    vault.put("obj", io.BytesIO(b"x" * 100), dataset="ds", subject="P1")
    p = vault.root / "objects" / "obj.json"
    d = json.loads(p.read_text())
    d["subject"] = "P2"  # e.g. to dodge a consent check
    p.write_text(json.dumps(d))
    with pytest.raises(IntegrityError, match="manifest authentication"):
        vault.read_bytes("obj")


def test_attack_object_replaced_by_foreign_ciphertext(vault: Vault, alice) -> None:
    """Anyone can encrypt for a public key; readers check the sender is the service key."""
    vault.put("obj", io.BytesIO(b"genuine"), dataset="ds", recipients=["alice"])
    m = vault.manifest("obj")
    forged = io.BytesIO()
    from genoma.privacy.keys import new_keypair

    mallory = new_keypair()
    c4gh_lib.encrypt([(0, mallory.secret, alice.public)], io.BytesIO(b"forged!"), forged)
    _write(vault.root / m.data, forged.getvalue())
    with pytest.raises(ConsentDeniedError):
        Vault(vault.root).read_bytes("obj", key=alice)


def test_verify_reports_and_stale_files_cleaned(vault: Vault) -> None:
    vault.put("obj", io.BytesIO(b"x" * 10), dataset="ds")
    (vault.root / "tmp" / "dead.c4gh.part").write_bytes(b"partial ciphertext")
    (vault.root / "data" / "orphan.c4gh").write_bytes(b"unreferenced")
    res = vault.verify()
    assert [r.id for r in res] == ["obj", "<stale>"] and all(r.ok for r in res)
    assert len(res[1].problems) == 2
    vault.put("other", io.BytesIO(b"y"), dataset="ds")  # next write cleans up
    assert vault.stale_files() == []
    assert [r.id for r in vault.verify()] == ["obj", "other"]


def test_get_to_file_leaves_nothing_on_failure(vault: Vault, tmp_path: Path) -> None:
    _, path, _ = _store(vault)
    raw = bytearray(path.read_bytes())
    raw[-5] ^= 1
    _write(path, bytes(raw))
    out = tmp_path / "out.bin"
    with pytest.raises(IntegrityError):
        vault.get_to_file("obj", out)
    assert not out.exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".out.bin")]


def test_interrupted_rotation_is_readable_and_resumable(vault: Vault, monkeypatch) -> None:
    for o in ("a", "b", "c"):
        vault.put(o, io.BytesIO(o.encode() * 100), dataset="ds")
    real = Vault._rewrite_header
    calls = {"n": 0}

    def crash_on_second(self, m, recipients):
        calls["n"] += 1
        if calls["n"] == 2:
            raise KeyboardInterrupt("simulated crash")
        return real(self, m, recipients)

    monkeypatch.setattr(Vault, "_rewrite_header", crash_on_second)
    with pytest.raises(KeyboardInterrupt):
        vault.rotate()
    monkeypatch.setattr(Vault, "_rewrite_header", real)
    mid = Vault(vault.root, PASS)
    assert len(mid.config["service_keys"]) == 2  # old key kept until every header moved
    assert [mid.read_bytes(o) for o in ("a", "b", "c")] == [b"a" * 100, b"b" * 100, b"c" * 100]
    result = mid.rotate()
    assert result["objects"] == 2 and len(mid.config["service_keys"]) == 1
    fresh = Vault(vault.root, PASS)
    assert {fresh.manifest(o).service_key for o in ("a", "b", "c")} == {fresh.current_service_fp}
    assert all(r.ok for r in fresh.verify())
