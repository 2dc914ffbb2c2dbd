"""Packed calls: a dense 2-bit copy of a cohort's first-ALT dosages for fast scans.

Dense, common-variant cohorts (``docs/bench/cohort.md``, "Dense common variants") are
not served by the sparse carrier index (:mod:`genoma.io.carriers`), and a dense scan of
``call_genotype`` spends about half of its CPU in Blosc (zstd + bit-shuffle)
decompression of 2 bytes per call. The packed copy holds 2 bits per call, stored raw,
so a scan reads a quarter of a byte per call straight from the file (this plays the
part of plink2's ``--make-pgen``: a one-time conversion into the format the scan wants).

Layout (a Zarr v2 group ``genoma_packed`` inside the cohort store, beside the VCF Zarr
variables; xarray does not list it because it is not in the consolidated metadata):

``calls``
    ``uint8`` ``(variants, ceil(samples / 4))``, chunks ``(store's variant chunk, all
    bytes)``. Sample ``j`` of variant ``i`` is in byte ``j >> 2``, bits ``2 * (j & 3)``
    (low bits first). Code = first-ALT dosage 0, 1 or 2 (calls of allele 1 over the
    ploidy; alleles 2+ count 0, padding ``-2`` is ignored) or 3 = missing (any allele
    ``-1``). Padding samples in the last byte of a row are code 0. Not compressed by
    default (see below); an ordinary Zarr array (``zarr.open_array`` reads it).
group attributes (written last)
    ``genoma_packed_calls`` (format version), ``n_variants``, ``n_samples``, ``ploidy``
    and ``fingerprint`` (the carrier index's digest of ``call_genotype``, see
    :mod:`genoma.io.carriers`): a copy whose fingerprint no longer matches the store is
    ignored, and rebuilt by :func:`ensure_packed_calls`.

The copy is built into a temporary sibling ``.genoma_packed.<random>.partial`` and renamed
into place, so an interrupted build never leaves a copy that looks complete. Haploid and
diploid stores on a local file system only.

Compressor: measured on the 20,000 × 200,000 dense store of ``docs/bench/cohort.md``
(28.5 % non-hom-REF calls; 1.0 GB packed), 2-CPU VM shared with other work (load
1.5–2.9), 2026-11-22, ``time.process_time`` medians of 3. "Read" = :meth:`PackedCalls.read`
of all variants one chunk (1,000 variants) at a time, page cache warm; "decode" = the
codec alone on 40 chunks, one thread:

=============================  =======  ==============  ===============================
chunks                         on disk  read all, CPU   decode speed (output per CPU s)
=============================  =======  ==============  ===============================
raw (default)                  1000 MB  0.12–0.14 s     (a copy: 9.3 GB/s)
Blosc lz4 5, no shuffle         410 MB  0.26 s          5.1 GB/s (clevel 1: 4.2; 9: 4.9)
Blosc lz4 5, bit-shuffle        342 MB  0.54 s          2.0 GB/s
Blosc zstd 1, no shuffle        303 MB  —               0.9 GB/s
=============================  =======  ==============  ===============================

(``call_genotype`` itself, Blosc zstd 7 + bit-shuffle: 266 MB, 3.9 s CPU to decode its
8 GB; reading *and* unpacking the packed copy to int8 dosages, :func:`unpack_dosage`, takes
0.36–0.41 s CPU.) lz4 without shuffle is at the ≈ 4 GB/s threshold in isolation but
the whole read through it is 3.8 GB/s and costs twice the CPU of a raw read, so chunks
are raw by default; ``build_packed_calls(ds, compressor=numcodecs.Blosc("lz4", 5,
0))`` trades 0.13 s of CPU per full scan for 59 % less disk. With the page cache of the
copy dropped, a raw full read took 0.72 s wall / 0.22 s CPU, the lz4 one 0.56–0.94 s
wall / 0.33–0.44 s CPU. Disk cost of raw: 0.25 byte per call (3.8× the VCF Zarr store,
2.2× plink2's ``.pgen`` on these data). Build: one pass over ``call_genotype``, 9.4 s CPU
(decode ≈ 4 s, packing 0.85 ns per call ≈ 3.4 s, writing and page faults the rest),
6–15 s wall on 2 threads depending on the load.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from genoma.errors import MalformedInputError, UsageError
from genoma.io.carriers import (
    MAX_AUTO_CARRIER_FRACTION,
    _fingerprint,
    _indexable_store,
    _replace,
    current_group,
    estimate_carrier_fraction,
    partial_dir,
)

__all__ = [
    "GROUP",
    "MISSING_CODE",
    "PackedCalls",
    "build_packed_calls",
    "ensure_packed_calls",
    "ensure_scan_copy",
    "open_packed_calls",
    "pack_calls_block",
    "unpack_dosage",
]

#: Name of the packed-calls group inside a cohort store.
GROUP = "genoma_packed"
FORMAT_VERSION = 1
#: 2-bit code of a missing call.
MISSING_CODE = 3
#: :func:`ensure_packed_calls` builds only when the store's file system keeps at least
#: this much free beyond twice the copy's size (a copy is 0.25 byte per call).
MIN_FREE_BYTES = 1 << 30

_log = logging.getLogger(__name__)
#: What a damaged copy's error message tells the user to do.
_REMEDY = (f"the packed copy is damaged: delete the store's {GROUP} folder (the next "
           "`genoma cohort gwas` rebuilds it) or run with --packed-calls off")


def _nbytes(n_samples: int) -> int:
    return (n_samples + 3) // 4


@dataclass(frozen=True)
class PackedCalls:
    """An opened, validated packed copy of a cohort's calls.

    Attributes
    ----------
    path
        Directory of the group (``<store>/genoma_packed``).
    n_variants, n_samples
        Shape of the cohort (the copy covers all of it).
    chunk
        Variants per chunk file.
    codec
        numcodecs codec of the chunks, None for raw chunks (the default).
    sep
        Zarr v2 dimension separator of the chunk keys.
    """

    path: str
    n_variants: int
    n_samples: int
    chunk: int
    codec: Any = field(default=None, repr=False, hash=False)
    sep: str = "."

    @property
    def nbytes(self) -> int:
        """Bytes per variant: ``ceil(n_samples / 4)``."""
        return _nbytes(self.n_samples)

    def chunk_file(self, ci: int) -> Path:
        """Path of the chunk file of variant chunk ``ci``."""
        return Path(self.path, "calls", f"{ci}{self.sep}0")

    def read(self, v0: int, v1: int, out: np.ndarray | None = None) -> np.ndarray:
        """Packed calls of variants ``v0 .. v1 - 1``.

        Raw chunks are read with ``readinto`` straight into the result (no zarr-python,
        no intermediate copy).

        Parameters
        ----------
        v0, v1
            Half-open variant range, ``0 <= v0 <= v1 <= n_variants``.
        out
            Optional C-contiguous ``uint8`` buffer of at least ``v1 - v0`` rows of
            ``nbytes`` to read into (its first rows are returned). A scan reusing one
            buffer avoids the page faults of a fresh large allocation per read (≈ 0.5 s
            per GB).

        Returns
        -------
        numpy.ndarray
            ``uint8`` ``(v1 - v0, nbytes)``, C-contiguous.

        Raises
        ------
        UsageError
            The range is out of bounds.
        MalformedInputError
            A chunk file is truncated or does not decode (the copy was damaged).
        """
        if not 0 <= v0 <= v1 <= self.n_variants:
            raise UsageError(f"variant range {v0}..{v1} outside 0..{self.n_variants}",
                             path=self.path)
        nb = self.nbytes
        if out is None:
            out = np.empty((v1 - v0, nb), dtype=np.uint8)
        else:
            if (out.dtype != np.uint8 or out.ndim != 2 or out.shape[1] != nb
                    or out.shape[0] < v1 - v0 or not out.flags.c_contiguous):
                raise UsageError(f"read buffer must be C-contiguous uint8 (>= {v1 - v0}, {nb})",
                                 path=self.path)
            out = out[:v1 - v0]
        if v1 == v0 or nb == 0:
            return out
        c = self.chunk
        for ci in range(v0 // c, (v1 - 1) // c + 1):
            c0 = ci * c
            lo, hi = max(v0, c0), min(v1, c0 + c)
            dst = out[lo - v0:hi - v0]
            f = self.chunk_file(ci)
            try:
                if self.codec is None:
                    _read_raw(f, (lo - c0) * nb, dst)
                else:
                    _read_coded(f, self.codec, c, nb, lo - c0, dst)
            except FileNotFoundError:  # never-written chunk: the fill value
                dst[...] = 0
        return out


def _read_raw(f: Path, offset: int, dst: np.ndarray) -> None:
    view = memoryview(dst).cast("B")
    with open(f, "rb", buffering=0) as fh:
        fh.seek(offset)
        got = 0
        while got < len(view):
            k = fh.readinto(view[got:])
            if not k:
                raise MalformedInputError(
                    f"packed calls chunk truncated ({offset + got} bytes, wanted "
                    f"{offset + len(view)}); {_REMEDY}", path=f)
            got += k


def _read_coded(f: Path, codec: Any, chunk: int, nb: int, r0: int, dst: np.ndarray) -> None:
    raw = f.read_bytes()
    try:
        if r0 == 0 and len(dst) == chunk:  # a whole chunk: decode in place
            codec.decode(raw, out=dst)
            return
        data = np.frombuffer(codec.decode(raw), dtype=np.uint8)
    except (RuntimeError, ValueError) as exc:
        raise MalformedInputError(f"packed calls chunk does not decode: {exc}; {_REMEDY}",
                                  path=f) from exc
    if data.size != chunk * nb:
        raise MalformedInputError(f"packed calls chunk has the wrong size; {_REMEDY}", path=f)
    dst[...] = data.reshape(chunk, nb)[r0:r0 + len(dst)]


# --------------------------------------------------------------------------- kernels
def _pack_py(keys: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """2-bit codes of a ``(variants, samples)`` block of call keys (one per call)."""
    v, n = keys.shape
    nb = (n + 3) // 4
    full = n // 4
    out = np.empty((v, nb), dtype=np.uint8)
    for i in range(v):
        row = keys[i]
        for b in range(full):
            j = 4 * b
            out[i, b] = (lut[row[j]] | (lut[row[j + 1]] << 2) | (lut[row[j + 2]] << 4)
                         | (lut[row[j + 3]] << 6))
        if nb > full:
            x = np.uint8(0)
            for j in range(4 * full, n):
                x |= lut[row[j]] << (2 * (j - 4 * full))
            out[i, full] = x
    return out


def _unpack_py(packed: np.ndarray, n: int, lut32: np.ndarray) -> np.ndarray:
    """Dosages ``(variants, 4 * nbytes)`` int8 (caller drops the padding samples)."""
    v = packed.shape[0]
    nb = (n + 3) // 4
    out = np.empty((v, 4 * nb), dtype=np.int8)
    o32 = out.view(np.uint32)
    for i in range(v):
        for b in range(nb):
            o32[i, b] = lut32[packed[i, b]]
    return out


@functools.cache
def _luts() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Code of every haploid call (by its byte), of every diploid call (by its 2 bytes
    as a native ``uint16``), and the 4 dosages (int8, as a native ``uint32``) of every
    packed byte."""
    alleles = np.arange(-128, 128, dtype=np.int16)
    pairs = np.stack(np.meshgrid(alleles, alleles, indexing="ij"), -1).reshape(-1, 2)
    pairs = np.ascontiguousarray(pairs.astype(np.int8))

    def code(calls: np.ndarray) -> np.ndarray:
        return np.where((calls == -1).any(axis=1), MISSING_CODE,
                        (calls == 1).sum(axis=1)).astype(np.uint8)

    lut2 = np.zeros(1 << 16, dtype=np.uint8)
    lut2[pairs.view(np.uint16).ravel()] = code(pairs)
    singles = np.ascontiguousarray(alleles.astype(np.int8)[:, None])
    lut1 = np.zeros(256, dtype=np.uint8)
    lut1[singles.view(np.uint8).ravel()] = code(singles)
    byte = np.arange(256)[:, None]
    codes = (byte >> (2 * np.arange(4))) & 3
    quad = np.where(codes == MISSING_CODE, -1, codes).astype(np.int8)
    return lut1, lut2, np.ascontiguousarray(quad).view(np.uint32).ravel()


@functools.cache
def _kernels() -> tuple[Any, Any]:
    import numba

    jit = numba.njit(cache=True, nogil=True)
    return jit(_pack_py), jit(_unpack_py)


def pack_calls_block(gt: np.ndarray) -> np.ndarray:
    """2-bit packed first-ALT dosages of one ``call_genotype`` block.

    Parameters
    ----------
    gt
        ``(variants, samples, ploidy)`` block, ploidy 1 or 2, ``-1`` missing, ``-2``
        padding (ignored).

    Returns
    -------
    numpy.ndarray
        ``uint8`` ``(variants, ceil(samples / 4))``; see the module docstring for the
        layout.

    Raises
    ------
    UsageError
        Not a 3-dimensional block of ploidy 1 or 2.
    """
    if gt.ndim != 3 or gt.shape[2] not in (1, 2):
        raise UsageError(f"packed calls need (variants, samples, ploidy 1 or 2) calls, "
                         f"got shape {gt.shape}")
    g = np.ascontiguousarray(gt)
    if g.dtype != np.int8:
        g = g.astype(np.int8)
    lut1, lut2, _ = _luts()
    v, n, ploidy = g.shape
    if ploidy == 2:
        return _kernels()[0](g.view(np.uint16).reshape(v, n), lut2)
    return _kernels()[0](g.view(np.uint8).reshape(v, n), lut1)


def unpack_dosage(packed: np.ndarray, n_samples: int) -> np.ndarray:
    """First-ALT dosages from packed calls.

    Parameters
    ----------
    packed
        ``uint8`` ``(variants, nbytes)`` with ``nbytes >= ceil(n_samples / 4)``, as
        returned by :meth:`PackedCalls.read` or :func:`pack_calls_block`.
    n_samples
        Samples to unpack (the padding codes after them are dropped).

    Returns
    -------
    numpy.ndarray
        ``int8`` ``(variants, n_samples)``: 0, 1, 2, or ``-1`` for a missing call.

    Raises
    ------
    UsageError
        ``packed`` is not 2-dimensional ``uint8`` or holds fewer than ``n_samples``.
    """
    if packed.ndim != 2 or packed.dtype != np.uint8 or packed.shape[1] < _nbytes(n_samples):
        raise UsageError(f"packed calls must be uint8 (variants, >= {_nbytes(n_samples)}), "
                         f"got {packed.dtype} {packed.shape}")
    n = int(n_samples)
    out = _kernels()[1](np.ascontiguousarray(packed), n, _luts()[2])
    return out if out.shape[1] == n else np.ascontiguousarray(out[:, :n])


# --------------------------------------------------------------------------- store
def _store_chunk(store: Path, n_variants: int) -> int:
    """The variant chunk length of ``call_genotype`` in the store."""
    meta = json.loads((store / "call_genotype" / ".zarray").read_text())
    return max(1, min(int(meta["chunks"][0]), max(n_variants, 1)))


def open_packed_calls(ds: Any) -> PackedCalls | None:
    """The cohort's packed calls if present, complete and current, else None.

    Parameters
    ----------
    ds
        Cohort dataset opened from a local store (:func:`genoma.io.vcz.open_cohort`).

    Returns
    -------
    PackedCalls or None
        None when the dataset is not the whole of a local store, or the store has no
        packed copy, or it is incomplete, of another format version, of other sizes, or
        stale (fingerprint mismatch with ``call_genotype``).
    """
    import numcodecs

    current = current_group(ds, GROUP, "genoma_packed_calls", FORMAT_VERSION)
    if current is None:
        return None
    path, attrs = current
    try:
        meta = json.loads((path / "calls" / ".zarray").read_text())
    except (OSError, ValueError):
        return None
    nv, ns = int(ds.sizes["variants"]), int(ds.sizes["samples"])
    if (attrs.get("ploidy") != ds["call_genotype"].shape[2]
            or meta.get("zarr_format") != 2 or meta.get("dtype") != "|u1"
            or meta.get("filters") or meta.get("order", "C") != "C"
            or list(meta.get("shape", ())) != [nv, _nbytes(ns)]
            or len(meta.get("chunks", ())) != 2 or meta["chunks"][1] != _nbytes(ns)):
        return None
    try:
        codec = numcodecs.get_codec(meta["compressor"]) if meta.get("compressor") else None
    except (ValueError, KeyError, TypeError):
        return None
    return PackedCalls(str(path), nv, ns, int(meta["chunks"][0]), codec,
                       meta.get("dimension_separator") or ".")


def build_packed_calls(ds: Any, *, batch: int = 8, compressor: Any = None) -> PackedCalls:
    """Write the packed calls into the cohort's store (replacing any previous copy).

    One pass over ``call_genotype`` (:func:`genoma.io.vcz.genotype_array`), variant chunk
    by variant chunk, ``batch`` chunks computed at a time by the current Dask scheduler
    (progress bars come from the caller's Dask context), each packed by a Numba kernel
    and written as one Zarr chunk file; memory stays bounded by a few chunks.

    Parameters
    ----------
    ds
        Cohort dataset opened from a local, writable store (the whole of it).
    batch
        Variant chunks computed per round.
    compressor
        numcodecs codec for the chunks; None (the default) stores them raw, which
        reads fastest (see the module docstring).

    Returns
    -------
    PackedCalls

    Raises
    ------
    UsageError
        The dataset is not the whole of a local writable store, has no variants or no
        samples, or ploidy > 2.
    """
    import dask
    import zarr

    store = _indexable_store(ds)
    if store is None or not os.access(store, os.W_OK):
        raise UsageError("packed calls need the whole cohort opened from a local, "
                         "writable store (not a subset)")
    from genoma.io.vcz import genotype_array

    g = genotype_array(ds)
    nv, ns, ploidy = (int(x) for x in g.shape)
    if ploidy not in (1, 2):
        raise UsageError(f"packed calls support ploidy 1 or 2 (store has {ploidy})",
                         path=store)
    if nv == 0 or ns == 0:
        raise UsageError("packed calls need at least one variant and one sample", path=store)
    fingerprint = _fingerprint(store)
    chunk = _store_chunk(store, nv)
    nb = _nbytes(ns)
    g = g.rechunk({0: chunk, 2: -1})
    if any(w % 4 for w in g.chunks[1][:-1]):
        g = g.rechunk({1: -1})  # sample chunks must start on a byte
    blocks = [dask.delayed(_pack_row)(*row) for row in g.to_delayed()[:, :, 0]]
    tmp = partial_dir(store, GROUP)
    try:
        root = zarr.open_group(str(tmp), mode="w", zarr_format=2)
        root.create_array("calls", shape=(nv, nb), chunks=(chunk, nb), dtype="u1",
                          compressors=compressor, fill_value=0,
                          chunk_key_encoding={"name": "v2", "separator": "."})
        out = PackedCalls(str(tmp), nv, ns, chunk, compressor, ".")
        for s in range(0, len(blocks), batch):
            for k, block in enumerate(dask.compute(*blocks[s:s + batch])):
                _write_chunk(out, s + k, block)
        root.attrs.update({"genoma_packed_calls": FORMAT_VERSION, "n_variants": nv,
                           "n_samples": ns, "ploidy": ploidy, "fingerprint": fingerprint,
                           "layout": "byte j >> 2, bits 2 * (j & 3): first-ALT dosage 0-2, "
                                     "3 missing"})
        _replace(tmp, store / GROUP)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return PackedCalls(str(store / GROUP), nv, ns, chunk, compressor, ".")


def _pack_row(*blocks: np.ndarray) -> np.ndarray:
    """Packed calls of one variant chunk from its sample chunks (each a multiple of 4
    samples wide but the last): packing block by block spares concatenating the calls."""
    parts = [pack_calls_block(b) for b in blocks]
    return parts[0] if len(parts) == 1 else np.concatenate(parts, axis=1)


def _write_chunk(pc: PackedCalls, ci: int, block: np.ndarray) -> None:
    """Write variant chunk ``ci`` (edge chunks padded to the full chunk, as Zarr v2)."""
    if block.shape[0] != pc.chunk:
        full = np.zeros((pc.chunk, pc.nbytes), dtype=np.uint8)
        full[:block.shape[0]] = block
        block = full
    block = np.ascontiguousarray(block)
    data = memoryview(block).cast("B") if pc.codec is None else pc.codec.encode(block)
    with open(pc.chunk_file(ci), "wb") as fh:
        fh.write(data)


def ensure_packed_calls(ds: Any) -> PackedCalls | None:
    """The current packed calls, built first if absent or stale and the store allows.

    Returns None (the caller scans ``call_genotype`` or the carrier index) for datasets
    that are a subset of their store, stores that are not local writable directories,
    ploidy above 2, empty cohorts, and sparse data (at most
    :data:`genoma.io.carriers.MAX_AUTO_CARRIER_FRACTION` non-hom-REF calls,
    :func:`genoma.io.carriers.estimate_carrier_fraction`: those get the carrier index,
    never both) when the store has no packed copy yet. A stale copy, built before on
    purpose, is rebuilt whatever the density. Nothing is built (a warning is logged)
    when the store's file system has less free space than twice the copy's size plus
    :data:`MIN_FREE_BYTES`.

    Parameters
    ----------
    ds
        Cohort dataset (:func:`genoma.io.vcz.open_cohort`).

    Returns
    -------
    PackedCalls or None
    """
    pc = open_packed_calls(ds)
    if pc is not None:
        return pc
    store = _indexable_store(ds)
    shape = ds["call_genotype"].shape
    if (store is None or not os.access(store, os.W_OK) or shape[2] not in (1, 2)
            or shape[0] == 0 or shape[1] == 0):
        return None
    if (not (store / GROUP).exists()
            and estimate_carrier_fraction(ds) <= MAX_AUTO_CARRIER_FRACTION):
        return None  # sparse data: the carrier index serves it
    need = shape[0] * _nbytes(shape[1])
    free = shutil.disk_usage(store).free
    if free < 2 * need + MIN_FREE_BYTES:
        _log.warning("not building the packed copy of the calls (%.1f GB) in %s: %.1f GB free "
                     "on its file system; the scan reads call_genotype", need / 1e9, store,
                     free / 1e9)
        return None
    _log.info("building the packed copy of the calls (%.1f GB) in %s", need / 1e9, store)
    return build_packed_calls(ds)


def ensure_scan_copy(ds: Any, *, carrier_index: bool = True,
                     packed_calls: bool = True) -> Any | None:
    """The genotype copy a scan should read, built first if the store has none.

    The cheap checks come first (opening a current carrier index or packed copy costs
    milliseconds), so a store that has its copy pays no density estimate; only a store
    with neither is estimated (:func:`genoma.io.carriers.estimate_carrier_fraction`) and
    gets the carrier index when sparse or the packed copy when dense (never both).

    Parameters
    ----------
    ds
        Cohort dataset (:func:`genoma.io.vcz.open_cohort`).
    carrier_index, packed_calls
        Which copies may be opened or built (``--carrier-index auto`` /
        ``--packed-calls auto``).

    Returns
    -------
    CarrierIndex, PackedCalls or None
        None: the store gets neither (read-only, remote, subset, ploidy > 2, or the
        kind it would need is switched off); the scan reads ``call_genotype``.
    """
    from genoma.io.carriers import ensure_carrier_index, open_carrier_index

    if carrier_index and (idx := open_carrier_index(ds)) is not None:
        return idx
    if packed_calls and (pc := open_packed_calls(ds)) is not None:
        return pc
    if carrier_index and (idx := ensure_carrier_index(ds)) is not None:
        return idx
    return ensure_packed_calls(ds) if packed_calls else None
