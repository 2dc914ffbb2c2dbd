"""Checksums of run inputs: files by content, directories (Zarr stores) by listing + metadata."""

from __future__ import annotations

import hashlib
from pathlib import Path

from genoma.provenance import InputFile


def test_file_input_is_its_sha256(tmp_path: Path) -> None:
    f = tmp_path / "x.vcf"
    f.write_bytes(b"##fileformat=VCFv4.2\n")
    got = InputFile.of("vcf", f)
    assert got.sha256 == hashlib.sha256(b"##fileformat=VCFv4.2\n").hexdigest() and got.size == 21


def test_directory_input_fingerprint_follows_metadata_and_files(tmp_path: Path) -> None:
    store = tmp_path / "c.vcz"
    (store / "call_genotype" / "c").mkdir(parents=True)
    (store / "zarr.json").write_text('{"zarr_format": 3}')
    (store / "call_genotype" / "zarr.json").write_text('{"shape": [10, 4, 2]}')
    (store / "call_genotype" / "c" / "0").write_bytes(b"\x00" * 16)
    first = InputFile.of("target", store)
    assert first.size == len('{"zarr_format": 3}') + len('{"shape": [10, 4, 2]}') + 16
    assert InputFile.of("target", store) == first  # deterministic
    (store / "call_genotype" / "zarr.json").write_text('{"shape": [11, 4, 2]}')  # same size
    second = InputFile.of("target", store)
    assert second.sha256 != first.sha256 and second.size == first.size
    (store / "call_genotype" / "c" / "1").write_bytes(b"\x01")
    assert InputFile.of("target", store).sha256 != second.sha256
