"""Shared pieces of the vault tests: the service passphrase, deterministic data, users."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from genoma.privacy.keys import generate_keypair, load_private_key, load_public_key

PASS = "service-pass"


def segment_data(n: int, seed: int) -> bytes:
    """``n`` deterministic, non-repeating bytes (every 64 KiB segment differs)."""
    out = bytearray()
    i = 0
    while len(out) < n:
        out += hashlib.sha256(f"{seed}:{i}".encode()).digest()
        i += 1
    return bytes(out[:n])


def add_user(vault: Any, tmp_path: Path, name: str) -> bytes:
    """Create ``name``'s Crypt4GH key pair (passphrase ``<name>-pass``), register the
    public key in ``vault`` and return the unlocked secret key."""
    sec, pub = tmp_path / f"{name}.sec", tmp_path / f"{name}.pub"
    generate_keypair(sec, pub, f"{name}-pass")
    vault.add_user(name, load_public_key(pub))
    return load_private_key(sec, f"{name}-pass")
