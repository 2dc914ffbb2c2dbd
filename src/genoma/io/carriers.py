"""Carrier index: a sparse copy of a cohort's genotypes for fast association scans.

Sequencing cohorts are dominated by rare variants: in the simulated 20,000-sample cohort
of ``docs/bench/cohort.md`` 97 % of the calls are homozygous REF. A dense scan of
``call_genotype`` spends nearly all its time decompressing those zeros. The carrier index
stores, per variant, only the calls whose first-ALT dosage is not 0 (carriers and missing
calls), so a scan costs ``O(carriers × covariates)``.

Layout (a Zarr v2 group ``genoma_carriers`` inside the cohort store, beside the VCF Zarr
variables; xarray does not list it because it is not in the consolidated metadata):

``entries``
    ``uint32`` (carriers,): ``sample_index << 2 | code`` where ``code`` is the first-ALT
    dosage (1 or 2) or 3 for a missing call; per variant in ascending sample order,
    variants one after the other. Blosc zstd with byte shuffle (≈ 0.5 byte per entry on
    simulated data; decoding ≈ 2 ns per entry).
``offsets``
    ``int64`` (variants + 1,): the entries of variant ``i`` are
    ``entries[offsets[i]:offsets[i + 1]]``.
group attributes
    ``genoma_carrier_index`` (format version), ``n_variants``, ``n_samples``,
    ``n_entries`` and ``fingerprint``: a digest of the store's completion marker, the
    ``call_genotype`` array metadata and the names, sizes and modification times of its
    chunk files. An index whose fingerprint no longer matches the store is ignored (and
    rebuilt by :func:`ensure_carrier_index`), so a rewritten ``call_genotype`` can never
    be scanned through a stale index.

The index is written into a temporary sibling ``.genoma_carriers.<random>.partial`` and
renamed into place after its attributes (written last), so an interrupted build leaves
no index that looks complete. Only haploid or diploid stores on a local file system are
indexed (other stores are scanned densely).

Dense, common-variant cohorts are not indexed automatically: an entry costs more to decode
and visit than a dense call (about 4 bytes and 6–7 ns against 2 bytes and 2–3 ns), so
above :data:`MAX_AUTO_CARRIER_FRACTION` non-hom-REF calls (estimated from a few variant
chunks, :func:`estimate_carrier_fraction`) :func:`ensure_carrier_index` declines and the
scan reads ``call_genotype`` with the branch-free dense kernel.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from genoma.errors import UsageError

__all__ = [
    "GROUP",
    "CarrierIndex",
    "build_carrier_index",
    "carrier_entries_block",
    "current_group",
    "dosage_from_entries",
    "ensure_carrier_index",
    "estimate_carrier_fraction",
    "open_carrier_index",
    "partial_dir",
    "store_path",
]

#: Name of the index group inside a cohort store.
GROUP = "genoma_carriers"
FORMAT_VERSION = 1
#: Code of a missing call in the low two bits of an entry.
MISSING_CODE = 3
_ENTRIES_CHUNK = 65536
#: :func:`ensure_carrier_index` builds no index for a store with a larger estimated
#: fraction of non-hom-REF calls (dense, common-variant data; see the module docstring).
MAX_AUTO_CARRIER_FRACTION = 0.15


@dataclass(frozen=True)
class CarrierIndex:
    """An opened, validated carrier index.

    Attributes
    ----------
    path
        Directory of the index group.
    offsets
        ``int64`` (variants + 1,) entry offsets per variant (held in memory).
    n_samples
        Samples of the store (the index covers all of them).
    """

    path: str
    offsets: np.ndarray
    n_samples: int

    @property
    def n_variants(self) -> int:
        """Number of variants indexed."""
        return len(self.offsets) - 1

    def read(self, v0: int, v1: int) -> tuple[np.ndarray, np.ndarray]:
        """Entries of variants ``v0 .. v1 - 1`` and their offsets (starting at 0)."""
        a, b = int(self.offsets[v0]), int(self.offsets[v1])
        off = self.offsets[v0:v1 + 1] - a
        return _read_entries(self.path, a, b), off


@functools.lru_cache(maxsize=8)
def _entries_meta(path: str) -> tuple[int, Any, np.dtype]:
    import numcodecs

    meta = json.loads(Path(path, "entries", ".zarray").read_text())
    if meta.get("filters"):
        raise ValueError("unexpected filters in the carrier index")
    codec = numcodecs.get_codec(meta["compressor"]) if meta.get("compressor") else None
    return int(meta["chunks"][0]), codec, np.dtype(meta["dtype"])


def _read_entries(path: str, a: int, b: int) -> np.ndarray:
    """``entries[a:b]`` decoded straight from the Zarr v2 chunk files.

    Equivalent to ``zarr.open_array(path + "/entries")[a:b]`` (the index is an ordinary
    Zarr array) but about 4× cheaper per entry than going through zarr-python 3.
    """
    out = np.empty(b - a, dtype=np.uint32)
    if b <= a:
        return out
    chunk, codec, dtype = _entries_meta(path)
    for ci in range(a // chunk, (b - 1) // chunk + 1):
        c0 = ci * chunk
        raw = Path(path, "entries", str(ci)).read_bytes()
        if codec is not None and a <= c0 and c0 + chunk <= b:  # whole chunk: decode in place
            codec.decode(raw, out=out[c0 - a:c0 - a + chunk])
            continue
        data = np.frombuffer(codec.decode(raw) if codec else raw, dtype=dtype)
        lo, hi = max(a, c0), min(b, c0 + len(data))
        out[lo - a:hi - a] = data[lo - c0:hi - c0]
    return out


def partial_dir(store: Path, group: str) -> Path:
    """A new ``.<group>.<random>.partial`` build directory in ``store``, owned by this process.

    The directory holds an ``.owner`` file (host name and process id). Build directories
    left by a build that was killed (its process gone from this host) are removed first,
    so an interrupted build costs its disk space only until the next one; a directory
    whose builder still runs, or runs on another host, is left alone.
    """
    import socket

    host = socket.gethostname()
    for old in store.glob(f".{group}.*.partial"):
        try:
            owner_host, pid = (old / ".owner").read_text().split()
            alive = owner_host != host or _pid_alive(int(pid))
        except (OSError, ValueError):
            alive = False  # no owner file: a build from before owner files, or broken
        if not alive:
            shutil.rmtree(old, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{group}.", suffix=".partial", dir=store))
    (tmp / ".owner").write_text(f"{host} {os.getpid()}\n")
    return tmp


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, another user's
        return True
    return True


def store_path(ds: Any) -> Path | None:
    """The local directory a cohort dataset was opened from, or None."""
    src = getattr(ds, "encoding", {}).get("source")
    if not src or "://" in str(src):
        return None
    p = Path(src)
    return p if p.is_dir() else None


def _indexable_store(ds: Any) -> Path | None:
    """The store if ``ds`` holds all of its ``call_genotype`` (not a subset), else None."""
    store = store_path(ds)
    if store is None or "call_genotype" not in ds:
        return None
    try:
        meta = json.loads((store / "call_genotype" / ".zarray").read_text())
    except (OSError, ValueError):
        return None
    if tuple(meta.get("shape", ())) != tuple(ds["call_genotype"].shape):
        return None
    return store


def _fingerprint(store: Path) -> str:
    """Digest of what the index depends on (see the module docstring)."""
    from genoma.io.vcz import MARKER

    h = hashlib.sha256()
    marker = store / MARKER
    h.update(marker.read_bytes() if marker.is_file() else b"-")
    gdir = store / "call_genotype"
    for meta in (".zarray", "zarr.json"):
        if (gdir / meta).is_file():
            h.update((gdir / meta).read_bytes())
    with os.scandir(gdir) as it:
        files = sorted((e.name, e.stat().st_size, e.stat().st_mtime_ns) for e in it
                       if e.is_file() and not e.name.startswith("."))
    h.update(json.dumps(files).encode())
    return h.hexdigest()


def current_group(ds: Any, group: str, version_key: str,
                  version: int) -> tuple[Path, dict[str, Any]] | None:
    """A genoma group of the store (carrier index, packed calls) if it is current.

    Current: ``ds`` is the whole of a local store, the group's attributes (written last)
    exist and name this format ``version`` under ``version_key``, the cohort's sizes
    (``n_variants``, ``n_samples``) and the fingerprint of ``call_genotype``.

    Returns
    -------
    (path, attrs) or None
    """
    store = _indexable_store(ds)
    if store is None:
        return None
    path = store / group
    try:
        attrs = json.loads((path / ".zattrs").read_text())
    except (OSError, ValueError):
        return None
    if (attrs.get(version_key) != version
            or attrs.get("n_variants") != ds.sizes["variants"]
            or attrs.get("n_samples") != ds.sizes["samples"]
            or attrs.get("fingerprint") != _fingerprint(store)):
        return None
    return path, attrs


def open_carrier_index(ds: Any) -> CarrierIndex | None:
    """The cohort's carrier index if present and current, else None.

    Parameters
    ----------
    ds
        Cohort dataset opened from a local store (:func:`genoma.io.vcz.open_cohort`).

    Returns
    -------
    CarrierIndex or None
        None when the store is not a local directory, has no index, or the index is
        incomplete, of another format version, or stale (fingerprint mismatch).
    """
    current = current_group(ds, GROUP, "genoma_carrier_index", FORMAT_VERSION)
    if current is None:
        return None
    path, attrs = current
    import zarr

    offsets = np.asarray(zarr.open_array(str(path / "offsets"), mode="r")[:], dtype=np.int64)
    if len(offsets) != ds.sizes["variants"] + 1 or offsets[-1] != attrs.get("n_entries"):
        return None
    return CarrierIndex(str(path), offsets, int(ds.sizes["samples"]))


# --------------------------------------------------------------------------- kernels
def _entries_py(gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Entries and per-variant counts of one ``(variants, samples, ploidy)`` block."""
    v, n, ploidy = gt.shape
    counts = np.zeros(v, dtype=np.int64)
    dose = np.zeros((v, n), dtype=np.int8)
    for i in range(v):
        c = 0
        for j in range(n):
            d = 0
            miss = False
            for p in range(ploidy):
                a = gt[i, j, p]
                if a == -1:
                    miss = True
                elif a == 1:
                    d += 1
            if miss:
                dose[i, j] = 3
                c += 1
            elif d:
                dose[i, j] = d
                c += 1
        counts[i] = c
    out = np.empty(counts.sum(), dtype=np.uint32)
    k = 0
    for i in range(v):
        for j in range(n):
            x = dose[i, j]
            if x:
                out[k] = (np.uint32(j) << np.uint32(2)) | np.uint32(x)
                k += 1
    return out, counts


def _dosage_py(entries: np.ndarray, off: np.ndarray, n: int) -> np.ndarray:
    v = len(off) - 1
    out = np.zeros((v, n), dtype=np.int8)
    for i in range(v):
        for e in range(off[i], off[i + 1]):
            x = entries[e]
            code = x & 3
            out[i, x >> 2] = -1 if code == 3 else code
    return out


@functools.cache
def _kernels() -> tuple[Any, Any]:
    import numba

    jit = numba.njit(cache=True, nogil=True)
    return jit(_entries_py), jit(_dosage_py)


def carrier_entries_block(gt: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Carrier entries of one ``call_genotype`` block.

    Parameters
    ----------
    gt
        ``(variants, samples, ploidy)`` block, ploidy 1 or 2, ``-1`` missing, ``-2``
        padding (ignored).

    Returns
    -------
    entries, counts
        ``uint32`` entries (``sample << 2 | code``, code = dosage or 3 for missing) and
        ``int64`` entries per variant.
    """
    g = np.ascontiguousarray(gt)
    if g.dtype != np.int8:
        g = g.astype(np.int8)
    return _kernels()[0](g)


def dosage_from_entries(entries: np.ndarray, off: np.ndarray, n_samples: int) -> np.ndarray:
    """Dense first-ALT dosages ``(variants, samples)`` int8, ``-1`` missing, from entries."""
    return _kernels()[1](entries, off.astype(np.int64), n_samples)


def _replace(tmp: Path, final: Path) -> None:
    """Move the finished index into place; a concurrent build that got there first wins."""
    (tmp / ".owner").unlink(missing_ok=True)  # see partial_dir
    try:
        os.replace(tmp, final)  # no index yet
        return
    except OSError:
        pass
    trash = final.with_name(f".{final.name}.{os.getpid()}.{os.urandom(4).hex()}.old")
    try:
        os.replace(final, trash)
    except FileNotFoundError:
        pass
    try:
        os.replace(tmp, final)
    except OSError:
        pass  # another build installed its (equivalent) index in between: keep it
    shutil.rmtree(trash, ignore_errors=True)
    shutil.rmtree(tmp, ignore_errors=True)  # still there only if the other build won


def build_carrier_index(ds: Any, *, batch: int = 8, entries_chunk: int = _ENTRIES_CHUNK
                        ) -> CarrierIndex:
    """Write the carrier index into the cohort's store (replacing any previous one).

    One dense pass over ``call_genotype`` (chunks computed by the current Dask scheduler,
    ``batch`` at a time, appended in order), so memory stays bounded by a few chunks.

    Parameters
    ----------
    ds
        Cohort dataset opened from a local, writable store.
    batch
        Variant chunks computed per round.
    entries_chunk
        Zarr chunk length of ``entries``.

    Returns
    -------
    CarrierIndex

    Raises
    ------
    UsageError
        The store is not a local writable directory, or ploidy > 2.
    """
    import dask
    import numcodecs
    import zarr

    store = _indexable_store(ds)
    if store is None or not os.access(store, os.W_OK):
        raise UsageError("a carrier index needs the whole cohort opened from a local, "
                         "writable store (not a subset)")
    from genoma.io.vcz import genotype_array

    g = genotype_array(ds)
    if g.shape[2] > 2:
        raise UsageError(f"carrier index supports ploidy 1 or 2 (store has {g.shape[2]})")
    if g.shape[1] >= 1 << 30:
        raise UsageError("carrier index supports up to 2^30 samples")
    fingerprint = _fingerprint(store)
    g = g.rechunk({1: -1, 2: -1})
    blocks = [dask.delayed(carrier_entries_block)(b) for b in g.to_delayed().ravel()]
    tmp = partial_dir(store, GROUP)
    try:
        root = zarr.open_group(str(tmp), mode="w", zarr_format=2)
        comp = numcodecs.Blosc("zstd", 5, numcodecs.Blosc.SHUFFLE)
        ent = root.create_array("entries", shape=(0,), chunks=(entries_chunk,), dtype="u4",
                                compressors=comp)
        counts = []
        total = 0
        for s in range(0, len(blocks), batch):
            for e, c in dask.compute(*blocks[s:s + batch]):
                if len(e):
                    ent.resize((total + len(e),))
                    ent[total:total + len(e)] = e
                    total += len(e)
                counts.append(c)
        offsets = np.concatenate([[0], np.cumsum(np.concatenate(counts))]).astype(np.int64)
        off = root.create_array("offsets", shape=offsets.shape, dtype="i8",
                                chunks=(max(1, min(len(offsets), 1 << 20)),), compressors=comp)
        off[:] = offsets
        root.attrs.update({"genoma_carrier_index": FORMAT_VERSION,
                           "n_variants": int(g.shape[0]), "n_samples": int(g.shape[1]),
                           "n_entries": int(total), "fingerprint": fingerprint,
                           "layout": "entries = sample << 2 | code (1, 2 dosage; 3 missing)"})
        _replace(tmp, store / GROUP)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    _entries_meta.cache_clear()
    return CarrierIndex(str(store / GROUP), offsets, int(g.shape[1]))


def ensure_carrier_index(ds: Any) -> CarrierIndex | None:
    """The current carrier index, built first if absent or stale and the store allows.

    Returns None (dense scan) for datasets that are a subset of their store, stores
    that are not local writable directories, ploidy above 2, and dense data (more than
    :data:`MAX_AUTO_CARRIER_FRACTION` non-hom-REF calls, :func:`estimate_carrier_fraction`)
    when the store has no index yet (a stale index, built before on purpose, is rebuilt
    whatever the density).
    """
    idx = open_carrier_index(ds)
    if idx is not None:
        return idx
    store = _indexable_store(ds)
    shape = ds["call_genotype"].shape
    if store is None or not os.access(store, os.W_OK) or shape[2] > 2 or shape[1] >= 1 << 30:
        return None
    if (not (store / GROUP).exists()
            and estimate_carrier_fraction(ds) > MAX_AUTO_CARRIER_FRACTION):
        return None  # dense data: the dense scan is cheaper than building and reading
    return build_carrier_index(ds)


def estimate_carrier_fraction(ds: Any, *, max_chunks: int = 4) -> float:
    """Fraction of calls that are not homozygous REF, from a few chunks.

    Reads up to ``max_chunks`` evenly spaced variant chunks of ``call_genotype``, the
    first sample chunk of each (a missing call counts as non-REF); about 0.1 s for
    20,000-sample chunks.

    Parameters
    ----------
    ds
        Cohort dataset.
    max_chunks
        Variant chunks to read.

    Returns
    -------
    float
        Between 0 and 1 (0 for an empty cohort).
    """
    import dask

    from genoma.io.vcz import genotype_array

    g = genotype_array(ds)
    if g.size == 0:
        return 0.0
    nchunks = len(g.chunks[0])
    picks = sorted({int(x) for x in np.linspace(0, nchunks - 1, min(max_chunks, nchunks))})
    starts = np.concatenate([[0], np.cumsum(g.chunks[0])])
    width = g.chunks[1][0]
    blocks = dask.compute(*[g[starts[i]:starts[i + 1], :width] for i in picks])
    calls = sum(b.shape[0] * b.shape[1] for b in blocks)
    nonref = 0
    for b in blocks:
        b = np.ascontiguousarray(b)
        if b.shape[2] == 2:  # both alleles of a call as one int16: 0 = hom-REF
            nonref += int(np.count_nonzero(b.view(np.int16)))
        else:
            nonref += int(np.count_nonzero(b.any(axis=2)))
    return nonref / max(calls, 1)
