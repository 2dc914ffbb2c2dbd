"""Packed calls (2-bit first-ALT dosages): layout, round trips through real stores,
staleness, interrupted builds and the automatic-build policy."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from genoma.errors import MalformedInputError, UsageError
from genoma.io import packed
from genoma.io.vcz import import_vcfs, open_cohort
from genoma.model.cohort import alt_dosage_block

N, V, VCHUNK = 203, 90, 40  # samples not a multiple of 4; 3 variant chunks (last partial)


def _write_vcf(path: Path, gt: np.ndarray, alts: list[str]) -> Path:
    """Bgzipped VCF of ``gt`` (variants, samples, ploidy), -1 missing."""
    import pysam

    v, n = gt.shape[:2]
    lines = ["##fileformat=VCFv4.2", "##contig=<ID=chr1,length=1000000000>",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                        "FORMAT", *[f"S{j:03d}" for j in range(n)]])]
    for i in range(v):
        calls = ["/".join("." if a < 0 else str(a) for a in gt[i, j]) for j in range(n)]
        lines.append("\t".join(["chr1", str(100 * (i + 1)), ".", "A", alts[i], ".", "PASS",
                                ".", "GT", *calls]))
    plain = path.with_suffix("")
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_compress(str(plain), str(path), force=True)
    plain.unlink()
    return path


def _make_store(d: Path, gt: np.ndarray, alts: list[str], samples_chunk: int = 64) -> Path:
    vcf = _write_vcf(d / "c.vcf.gz", gt, alts)
    store = d / "c.vcz"
    import_vcfs([vcf], store, samples_chunk_size=samples_chunk, variants_chunk_size=VCHUNK)
    return store


@pytest.fixture(scope="module")
def dense(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Diploid, common variants, 3 % missing calls, a second ALT in the last 15 sites."""
    rng = np.random.default_rng(5)
    freq = rng.uniform(0.1, 0.9, V)
    gt = (rng.random((V, N, 2)) < freq[:, None, None]).astype(np.int8)
    gt[7] = 0  # a hom-REF-only variant
    second = rng.random((V, N, 2)) < 0.2
    second[:V - 15] = False
    gt[second] = 2
    gt[rng.random((V, N)) < 0.03] = -1
    alts = ["G"] * (V - 15) + ["G,T"] * 15
    return _make_store(tmp_path_factory.mktemp("dense"), gt, alts)


@pytest.fixture
def dense_copy(dense: Path, tmp_path: Path) -> Path:
    """A private copy of the dense store (for tests that write into it)."""
    return Path(shutil.copytree(dense, tmp_path / "c.vcz"))


def _reference_pack(gt: np.ndarray) -> np.ndarray:
    """The documented layout, written independently of the kernel (NumPy only)."""
    code = np.where((gt == -1).any(axis=2), 3, (gt == 1).sum(axis=2)).astype(np.uint8)
    v, n = code.shape
    padded = np.zeros((v, 4 * ((n + 3) // 4)), dtype=np.uint8)
    padded[:, :n] = code
    q = padded.reshape(v, (n + 3) // 4, 4)
    return (q[:, :, 0] | (q[:, :, 1] << 2) | (q[:, :, 2] << 4) | (q[:, :, 3] << 6)).astype(np.uint8)


def test_pack_block_layout_and_round_trip() -> None:
    rng = np.random.default_rng(3)
    gt = rng.choice(np.array([0, 0, 0, 1, 1, 2, -1], dtype=np.int8), size=(25, 701, 2))
    gt[4, :, 1] = -2  # padding (haploid calls in a diploid array) is not missing
    p = packed.pack_calls_block(gt)
    assert p.dtype == np.uint8 and p.shape == (25, 176)
    assert np.array_equal(p, _reference_pack(gt))
    assert np.array_equal(packed.unpack_dosage(p, 701), alt_dosage_block(gt))
    assert not (p[:, -1] >> 2).any()  # the 3 padding samples of the last byte are code 0
    # sample 5 of variant 0 lives in byte 1, bits 2-3
    d = alt_dosage_block(gt)[0, 5]
    assert (p[0, 1] >> 2) & 3 == (3 if d < 0 else d)
    haploid = np.ascontiguousarray(gt[:, :, :1])
    assert np.array_equal(packed.unpack_dosage(packed.pack_calls_block(haploid), 701),
                          alt_dosage_block(haploid))
    with pytest.raises(UsageError):
        packed.pack_calls_block(np.zeros((2, 3, 3), dtype=np.int8))
    with pytest.raises(UsageError):
        packed.unpack_dosage(p[:, :10], 701)


@given(arrays(np.int8, st.tuples(st.integers(0, 4), st.integers(0, 37), st.integers(1, 2)),
              elements=st.sampled_from([-2, -1, 0, 1, 2, 3])))
def test_pack_unpack_property(gt: np.ndarray) -> None:
    p = packed.pack_calls_block(gt)
    assert p.shape == (gt.shape[0], (gt.shape[1] + 3) // 4)
    assert np.array_equal(p, _reference_pack(gt))
    assert np.array_equal(packed.unpack_dosage(p, gt.shape[1]), alt_dosage_block(gt))


def test_store_round_trip(dense_copy: Path) -> None:
    ds = open_cohort(dense_copy, variants_chunk=25)  # rechunked view of the whole store
    assert packed.open_packed_calls(ds) is None
    pc = packed.build_packed_calls(ds, batch=2)
    assert (pc.n_variants, pc.n_samples, pc.chunk, pc.nbytes) == (V, N, VCHUNK, 51)
    again = packed.open_packed_calls(open_cohort(dense_copy))
    assert again is not None and again.path == pc.path == str(dense_copy / packed.GROUP)
    gt = open_cohort(dense_copy)["call_genotype"].values
    assert set(np.unique(gt).tolist()) >= {-1, 0, 1, 2}
    whole = again.read(0, V)
    assert whole.flags.c_contiguous and whole.dtype == np.uint8
    assert np.array_equal(whole, _reference_pack(gt))
    assert np.array_equal(packed.unpack_dosage(whole, N), alt_dosage_block(gt))
    for v0, v1 in [(0, 0), (35, 83), (40, 80), (79, 81), (89, 90), (3, 4)]:
        assert np.array_equal(again.read(v0, v1), whole[v0:v1])
    with pytest.raises(UsageError):
        again.read(10, V + 1)
    # an ordinary Zarr v2 array, not in the consolidated metadata
    import zarr

    assert np.array_equal(zarr.open_array(str(dense_copy / packed.GROUP / "calls"),
                                          mode="r")[:], whole)
    assert packed.GROUP not in (dense_copy / ".zmetadata").read_text()
    assert packed.GROUP not in open_cohort(dense_copy)
    attrs = json.loads((dense_copy / packed.GROUP / ".zattrs").read_text())
    assert attrs["n_samples"] == N and attrs["ploidy"] == 2 and attrs["genoma_packed_calls"] == 1


def test_compressed_chunks_read_the_same(dense_copy: Path) -> None:
    import numcodecs

    ds = open_cohort(dense_copy)
    raw = packed.build_packed_calls(ds).read(0, V)
    codec = numcodecs.Blosc("lz4", 5, numcodecs.Blosc.BITSHUFFLE)
    pc = packed.build_packed_calls(ds, compressor=codec)
    opened = packed.open_packed_calls(ds)
    assert opened is not None and opened.codec is not None
    assert np.array_equal(opened.read(0, V), raw)
    assert np.array_equal(opened.read(33, 85), raw[33:85])
    stored = pc.chunk_file(0).read_bytes()  # Blosc-framed, not raw
    assert stored != raw[:VCHUNK].tobytes()
    assert codec.decode(stored) == raw[:VCHUNK].tobytes()


def test_truncated_chunk_is_an_error(dense_copy: Path) -> None:
    pc = packed.build_packed_calls(open_cohort(dense_copy))
    f = pc.chunk_file(1)
    f.write_bytes(f.read_bytes()[:100])
    with pytest.raises(MalformedInputError) as err:
        pc.read(0, V)
    assert str(f) in str(err.value)


def test_haploid_store(tmp_path: Path) -> None:
    rng = np.random.default_rng(9)
    gt = rng.choice(np.array([0, 0, 1, 2, -1], dtype=np.int8), size=(50, 37, 1))
    store = _make_store(tmp_path, gt, ["G,T"] * 50, samples_chunk=10)  # chunks not on bytes
    ds = open_cohort(store)
    assert ds["call_genotype"].shape == (50, 37, 1)
    assert ds["call_genotype"].data.chunks[1] == (10, 10, 10, 7)
    pc = packed.ensure_packed_calls(ds)  # dense: built automatically
    assert pc is not None and pc.nbytes == 10
    got = packed.unpack_dosage(pc.read(0, 50), 37)
    assert np.array_equal(got, alt_dosage_block(ds["call_genotype"].values))
    assert np.array_equal(got, alt_dosage_block(gt))


def _rewrite_first_chunk(store: Path) -> None:
    """Flip one call in call_genotype chunk 0.0 (as a re-import would rewrite it)."""
    import numcodecs

    meta = json.loads((store / "call_genotype" / ".zarray").read_text())
    codec = numcodecs.get_codec(meta["compressor"])
    f = store / "call_genotype" / "0.0.0"
    data = np.frombuffer(codec.decode(f.read_bytes()), dtype=np.int8).copy()
    data[0] = 1 if data[0] != 1 else 0
    f.write_bytes(codec.encode(data))


def test_stale_copy_is_ignored_and_rebuilt(dense_copy: Path) -> None:
    before = packed.build_packed_calls(open_cohort(dense_copy)).read(0, V)
    _rewrite_first_chunk(dense_copy)
    ds = open_cohort(dense_copy)
    assert packed.open_packed_calls(ds) is None
    pc = packed.ensure_packed_calls(ds)
    assert pc is not None
    after = pc.read(0, V)
    assert not np.array_equal(after, before)
    assert np.array_equal(after, _reference_pack(ds["call_genotype"].values))
    assert packed.open_packed_calls(open_cohort(dense_copy)) is not None


def test_interrupted_build_leaves_nothing_complete(dense_copy: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = packed._write_chunk

    def failing(pc: packed.PackedCalls, ci: int, block: np.ndarray) -> None:
        calls.append(ci)
        if len(calls) == 2:
            raise KeyboardInterrupt
        real(pc, ci, block)

    monkeypatch.setattr(packed, "_write_chunk", failing)
    with pytest.raises(KeyboardInterrupt):
        packed.build_packed_calls(open_cohort(dense_copy), batch=1)
    assert calls == [0, 1]
    assert not (dense_copy / packed.GROUP).exists()
    assert not [p for p in os.listdir(dense_copy) if p.endswith(".partial")]
    ds = open_cohort(dense_copy)  # the store still opens and has no packed copy
    assert packed.open_packed_calls(ds) is None
    # a partial group left by a killed process (no attributes) is never taken as complete
    monkeypatch.setattr(packed, "_write_chunk", real)
    packed.build_packed_calls(ds)
    (dense_copy / packed.GROUP / ".zattrs").unlink()
    assert packed.open_packed_calls(open_cohort(dense_copy)) is None


def test_ensure_declines_sparse_and_subsets(tmp_path: Path, dense_copy: Path) -> None:
    rng = np.random.default_rng(2)
    gt = (rng.random((60, 40, 2)) < 0.01).astype(np.int8)
    (tmp_path / "sparse").mkdir()
    store = _make_store(tmp_path / "sparse", gt, ["G"] * 60)
    listing = sorted(str(p.relative_to(store)) for p in store.rglob("*"))
    assert packed.ensure_packed_calls(open_cohort(store)) is None
    assert sorted(str(p.relative_to(store)) for p in store.rglob("*")) == listing
    # a subset dataset: never built (ensure) and refused (build)
    sub = open_cohort(dense_copy).isel(variants=slice(0, 30))
    assert packed.ensure_packed_calls(sub) is None
    with pytest.raises(UsageError, match="not a subset"):
        packed.build_packed_calls(sub)
    assert not (dense_copy / packed.GROUP).exists()
    # the whole dense store: built, then opened as is
    pc = packed.ensure_packed_calls(open_cohort(dense_copy))
    assert pc is not None
    mtime = pc.chunk_file(0).stat().st_mtime_ns
    assert packed.ensure_packed_calls(open_cohort(dense_copy)) == pc
    assert pc.chunk_file(0).stat().st_mtime_ns == mtime


def test_polyploid_store_is_refused(tmp_path: Path) -> None:
    gt = np.random.default_rng(4).choice(np.array([0, 1], dtype=np.int8), size=(6, 9, 3))
    store = _make_store(tmp_path, gt, ["G"] * 6)
    ds = open_cohort(store)
    assert ds["call_genotype"].shape[2] == 3
    assert packed.ensure_packed_calls(ds) is None
    with pytest.raises(UsageError, match="ploidy 1 or 2"):
        packed.build_packed_calls(ds)
    assert not (store / packed.GROUP).exists()
    assert not [p for p in os.listdir(store) if p.endswith(".partial")]


def test_read_into_buffer(dense_copy: Path) -> None:
    """``read(out=)`` fills the caller's buffer with the same rows; bad buffers refused."""
    pc = packed.build_packed_calls(open_cohort(dense_copy))
    buf = np.full((50, pc.nbytes), 0xAA, dtype=np.uint8)
    got = pc.read(30, 75, out=buf)
    assert got.base is buf or got.base is buf.base
    np.testing.assert_array_equal(got, pc.read(30, 75))
    for bad in (np.zeros((44, pc.nbytes), np.uint8), np.zeros((50, pc.nbytes + 1), np.uint8),
                np.zeros((50, pc.nbytes), np.int8)):
        with pytest.raises(UsageError):
            pc.read(30, 75, out=bad)


def test_ensure_scan_copy_picks_one_kind(dense_copy: Path, tmp_path: Path,
                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Dense store → packed copy (no carrier index); a current copy is reused without a
    density estimate; switched off → nothing written."""
    from genoma.io import carriers

    ds = open_cohort(dense_copy)
    assert packed.ensure_scan_copy(ds, packed_calls=False) is None  # dense: no index either
    assert not (dense_copy / packed.GROUP).exists()
    assert not (dense_copy / carriers.GROUP).exists()
    got = packed.ensure_scan_copy(ds)
    assert isinstance(got, packed.PackedCalls)
    assert not (dense_copy / carriers.GROUP).exists()

    def no_estimate(*_a, **_k):
        raise AssertionError("a current copy needs no density estimate")

    monkeypatch.setattr(carriers, "estimate_carrier_fraction", no_estimate)
    monkeypatch.setattr(packed, "estimate_carrier_fraction", no_estimate)
    again = packed.ensure_scan_copy(open_cohort(dense_copy))
    assert isinstance(again, packed.PackedCalls) and again.path == got.path


def test_ensure_declines_without_disk_space(dense_copy: Path, monkeypatch: pytest.MonkeyPatch,
                                            caplog: pytest.LogCaptureFixture) -> None:
    """A copy that would leave the file system short of space is not built."""
    import collections

    usage = collections.namedtuple("usage", "total used free")
    monkeypatch.setattr(packed.shutil, "disk_usage",
                        lambda _p: usage(10 ** 12, 10 ** 12, packed.MIN_FREE_BYTES))
    with caplog.at_level("WARNING", logger="genoma.io.packed"):
        assert packed.ensure_packed_calls(open_cohort(dense_copy)) is None
    assert not (dense_copy / packed.GROUP).exists()
    assert "free" in caplog.text


def test_killed_build_leftovers_are_swept(dense_copy: Path) -> None:
    """A build directory whose builder is gone is removed by the next build; one whose
    builder is alive (or on another host) stays; the finished group has no owner file."""
    import socket
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()
    host = socket.gethostname()
    stale = dense_copy / f".{packed.GROUP}.abc.partial"
    live = dense_copy / f".{packed.GROUP}.def.partial"
    remote = dense_copy / f".{packed.GROUP}.ghi.partial"
    for d, owner in ((stale, f"{host} {dead}"), (live, f"{host} {os.getpid()}"),
                     (remote, f"elsewhere.example {dead}")):
        (d / "calls").mkdir(parents=True)
        (d / ".owner").write_text(owner + "\n")
    pc = packed.build_packed_calls(open_cohort(dense_copy))
    assert not stale.exists() and live.exists() and remote.exists()
    assert not (Path(pc.path) / ".owner").exists()
    assert sorted(p.name for p in dense_copy.glob("*.partial")) == sorted([live.name,
                                                                           remote.name])
