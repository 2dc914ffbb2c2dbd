"""On-disk cache of parsed transcript models (GFF3 / GTF → compact NumPy file).

Parsing a GFF3 is the fixed cost of every ``genoma annotate`` run (0.13 s CPU for the
27 k-line chr21 file, ≈ 15 s for a whole Ensembl release); loading the parsed models
back takes a fraction of that. The cache is one ``.npz`` per models file in
``<cache_dir>/annotate/``, named by the SHA-256 of the file's bytes, holding plain
numeric arrays and the strings as UTF-8 JSON bytes (read with ``allow_pickle=False``).
Its key is the SHA-256, the biotype filter and :data:`CACHE_VERSION` (bump it when
:func:`~genoma.annotate.transcripts.read_transcripts` or :class:`Transcript` changes).

Written atomically. A cache whose key or arrays do not match is ignored and rebuilt
(and overwritten), never trusted; a cache that cannot be written (read-only home) only
costs the parse.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from genoma.annotate.transcripts import Transcript, read_transcripts
from genoma.errors import InputMissingError

__all__ = ["CACHE_VERSION", "load_transcripts", "models_cache_dir", "pack", "unpack"]

CACHE_VERSION = 1
_log = logging.getLogger(__name__)
_STR_FIELDS = ("id", "chrom", "gene_id", "gene_name", "biotype", "version", "protein_id", "protein_version")


def models_cache_dir() -> Path:
    """``genoma.config.settings().cache_dir / "annotate"``."""
    from genoma.config import settings

    return settings().cache_dir / "annotate"


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def pack(models: list[Transcript], key: dict) -> dict[str, np.ndarray]:
    """Arrays holding ``models`` and ``key`` (the inverse of :func:`unpack`).

    Parameters
    ----------
    models
        Transcript models.
    key
        JSON-serialisable identity of the models (stored, checked on load).

    Returns
    -------
    dict of str to numpy.ndarray
    """
    none = -1
    strs = [[getattr(t, f) for f in _STR_FIELDS] + [list(t.tags)] for t in models]
    meta = json.dumps({"key": key, "strings": strs}, separators=(",", ":")).encode("utf-8")
    ints = np.array([[t.strand, t.start, t.end, none if t.cds_start is None else t.cds_start,
                      none if t.cds_end is None else t.cds_end, t.start_phase] for t in models],
                    np.int64).reshape(len(models), 6)
    n_ex = np.array([t.n_exons for t in models], np.int64)

    def cat(xs: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(xs).astype(np.int64) if xs else np.zeros(0, np.int64)

    return {
        "meta": np.frombuffer(meta, np.uint8),
        "ints": ints,
        "exon_offsets": np.concatenate(([0], np.cumsum(n_ex))).astype(np.int64),
        "exon_starts": cat([t.exon_starts for t in models]),
        "exon_ends": cat([t.exon_ends for t in models]),
    }


def unpack(arrays: dict[str, np.ndarray]) -> tuple[dict, list[Transcript]]:
    """Key and models from :func:`pack`'s arrays.

    Parameters
    ----------
    arrays
        Arrays as written by :func:`pack`.

    Returns
    -------
    tuple of (dict, list of Transcript)

    Raises
    ------
    ValueError, KeyError
        When the arrays are inconsistent.
    """
    meta = json.loads(arrays["meta"].tobytes().decode("utf-8"))
    strs = meta["strings"]
    ints = arrays["ints"].tolist()
    off = arrays["exon_offsets"].tolist()
    es, ee = arrays["exon_starts"], arrays["exon_ends"]
    if len(strs) != len(ints) or len(off) != len(ints) + 1 or off[-1] != len(es) or len(es) != len(ee):
        raise ValueError("inconsistent transcript cache")
    out = []
    for i, (s, (strand, start, end, cs, ce, phase)) in enumerate(zip(strs, ints, strict=True)):
        out.append(Transcript(
            id=s[0], chrom=s[1], strand=strand, start=start, end=end, gene_id=s[2], gene_name=s[3],
            biotype=s[4], version=s[5], protein_id=s[6], protein_version=s[7],
            exon_starts=es[off[i]:off[i + 1]].copy(), exon_ends=ee[off[i]:off[i + 1]].copy(),
            cds_start=None if cs < 0 else cs, cds_end=None if ce < 0 else ce,
            start_phase=phase, tags=tuple(s[8]),
        ))
    return meta["key"], out


def load_transcripts(path: str | Path, *, biotypes: Iterable[str] | None = None,
                     cache_dir: Path | None = None) -> list[Transcript]:
    """:func:`~genoma.annotate.transcripts.read_transcripts` through the on-disk cache.

    Parameters
    ----------
    path
        GFF3 / GTF file, plain or gzip / bgzip compressed.
    biotypes
        Keep only these transcript biotypes (all when ``None``).
    cache_dir
        Cache folder (default :func:`models_cache_dir`).

    Returns
    -------
    list of Transcript
        The same models, in the same order, as ``read_transcripts(path, biotypes=...)``.

    Raises
    ------
    InputMissingError, MalformedInputError
        As :func:`~genoma.annotate.transcripts.read_transcripts`.
    """
    p = Path(path)
    if not p.exists():
        raise InputMissingError("transcript models file not found", path=p)
    key = {"version": CACHE_VERSION, "sha256": _sha256(p),
           "biotypes": sorted(biotypes) if biotypes is not None else None}
    d = cache_dir if cache_dir is not None else models_cache_dir()
    tag = "" if biotypes is None else "-" + hashlib.sha256(json.dumps(key["biotypes"]).encode()).hexdigest()[:12]
    f = d / f"{key['sha256']}{tag}.npz"
    if f.exists():
        try:
            with np.load(f, allow_pickle=False) as z:
                got, models = unpack({k: z[k] for k in z.files})
            if got == key:
                return models
            _log.info("transcript cache %s has another key: rebuilt", f)
        except (OSError, ValueError, KeyError, TypeError, IndexError) as exc:
            _log.info("transcript cache %s unreadable (%s): rebuilt", f, exc)
    models = read_transcripts(p, biotypes=biotypes)
    try:
        d.mkdir(parents=True, exist_ok=True)
        tmp = f.with_name(f"{f.name}.{os.getpid()}.tmp")
        with open(tmp, "wb") as fh:
            np.savez(fh, **pack(models, key))
        os.replace(tmp, f)
    except OSError as exc:
        _log.info("transcript cache not written (%s)", exc)
    return models
