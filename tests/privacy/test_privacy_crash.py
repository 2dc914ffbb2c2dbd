"""kill -9 in the middle of a large ``put`` leaves the vault consistent (real subprocess)."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genoma.privacy.vault import Vault

PASS = "crash-pass"
MARKER = b"PLAINTEXT-GENOME-MARKER-"

CHILD = r"""
import io, sys, time
from pathlib import Path
from genoma.privacy.vault import Vault

MARKER = b"PLAINTEXT-GENOME-MARKER-"
TOTAL = 80 * 1024 * 1024
flag = Path(sys.argv[2])

class Source(io.RawIOBase):
    # 80 MB generated on the fly: never exists as a file.
    def __init__(self):
        self.sent = 0
    def readable(self):
        return True
    def readinto(self, b):
        n = min(len(b), TOTAL - self.sent)
        if n <= 0:
            return 0
        pattern = (MARKER * (n // len(MARKER) + 1))[:n]
        b[:n] = pattern
        self.sent += n
        if self.sent >= TOTAL // 3 and not flag.exists():
            flag.write_text("halfway")
            time.sleep(30)  # stay mid-put until killed
        return n

Vault(Path(sys.argv[1]), "crash-pass").put("genome", Source(), dataset="ds", overwrite=True)
print("finished")
"""


@pytest.mark.slow
def test_kill_9_during_put(tmp_path: Path) -> None:
    vault = Vault.init(tmp_path / "vault", PASS)
    old = b"the previous, committed version\n" * 1000
    vault.put("genome", io.BytesIO(old), dataset="ds")
    old_manifest = (vault.root / "objects" / "genome.json").read_bytes()

    flag = tmp_path / "halfway"
    src = Path(__file__).resolve().parents[2] / "src"
    env = {**os.environ, "PYTHONPATH": str(src)}
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(vault.root), str(flag)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "child never reached the middle of the put"
        time.sleep(0.01)
    parts = list((vault.root / "tmp").iterdir())
    assert parts and sum(p.stat().st_size for p in parts) > 10 * 1024 * 1024  # truly mid-write
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert b"finished" not in proc.stdout.read()

    # The committed version is intact and verifies; the manifest did not change.
    assert (vault.root / "objects" / "genome.json").read_bytes() == old_manifest
    v = Vault(vault.root, PASS)
    assert v.read_bytes("genome") == old
    results = v.verify()
    assert results[0].id == "genome" and results[0].ok
    # No plaintext anywhere in the vault: only ciphertext debris, reported as stale.
    for p in vault.root.rglob("*"):
        if p.is_file():
            with open(p, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    assert MARKER not in chunk, p
    assert results[-1].id == "<stale>" and v.stale_files()
    # The next write removes the debris and works.
    v.put("other", io.BytesIO(b"next"), dataset="ds")
    assert v.stale_files() == []
    assert v.read_bytes("genome") == old and v.read_bytes("other") == b"next"


CHILD_REKEY = r"""
import sys, time
from pathlib import Path
import genoma.privacy.vault as V

flag = Path(sys.argv[2])
orig = V._SegmentCipher.encrypt
calls = [0]

def slow(self, plain, out):
    n = orig(self, plain, out)
    calls[0] += 1
    if calls[0] == 5 and not flag.exists():  # 4 chunks of new ciphertext already written
        flag.write_text("halfway")
        time.sleep(30)  # stay mid-rekey until killed
    return n

V._SegmentCipher.encrypt = slow
V.Vault(Path(sys.argv[1]), "crash-pass").rekey("genome")
print("finished")
"""


@pytest.mark.slow
def test_kill_9_during_rekey(tmp_path: Path) -> None:
    vault = Vault.init(tmp_path / "vault", PASS)
    old = MARKER * (16 * 1024 * 1024 // len(MARKER))  # 16 MiB: 8 chunks
    vault.put("genome", io.BytesIO(old), dataset="ds")
    old_manifest = (vault.root / "objects" / "genome.json").read_bytes()
    flag = tmp_path / "halfway"
    src = Path(__file__).resolve().parents[2] / "src"
    proc = subprocess.Popen(
        [sys.executable, "-c", CHILD_REKEY, str(vault.root), str(flag)],
        env={**os.environ, "PYTHONPATH": str(src)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    deadline = time.monotonic() + 60
    while not flag.exists():
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        assert time.monotonic() < deadline, "child never reached the middle of the rekey"
        time.sleep(0.01)
    parts = list((vault.root / "tmp").iterdir())
    assert parts and sum(p.stat().st_size for p in parts) > 4 * 1024 * 1024  # mid-write
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    assert (vault.root / "objects" / "genome.json").read_bytes() == old_manifest
    v = Vault(vault.root, PASS)
    assert v.read_bytes("genome") == old and v.verify()[0].ok
    for p in vault.root.rglob("*"):  # the rekey decrypted in memory only
        if p.is_file():
            with open(p, "rb") as fh:
                while chunk := fh.read(1 << 20):
                    assert MARKER not in chunk, p
    assert v.stale_files()
    m = v.rekey("genome")  # the next write cleans the debris, and the rekey works
    assert v.stale_files() == [] and v.read_bytes("genome") == old
    assert m.seal_sha256 != json.loads(old_manifest)["seal_sha256"]
