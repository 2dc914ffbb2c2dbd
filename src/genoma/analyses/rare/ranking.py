"""Combine phenotype and genotype evidence into ranked diagnoses with explanations.

Each candidate is a (disease, gene) pair (a disease with no known gene is a candidate
with an empty gene). Its total likelihood ratio is ``LR_phenotype × LR_genotype``
(the genotype LR maximised over the disease's modes of inheritance); with a uniform
prior over candidates the post-test probability is ``LR_i / Σ_j LR_j`` (the ``score``).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from genoma.analyses.rare.genotype import (
    GeneGenotype,
    GenotypeParams,
    VariantEvidence,
    genotype_lr,
)
from genoma.analyses.rare.inheritance import MOI_LABELS, modes_for
from genoma.analyses.rare.knowledge import RareKnowledge
from genoma.analyses.rare.phenotype import PhenotypeScores

__all__ = ["Candidate", "TermMatch", "explain_terms", "rank_diagnoses", "score_pairs"]


@dataclass
class TermMatch:
    """How one patient term relates to a candidate disease."""

    term: str
    label: str
    via: str
    """The disease-side term it matched through (itself, an ancestor, …)."""
    via_label: str
    kind: str
    """``match`` (disease shows it or a more specific term), ``ancestor`` (patient term is
    more specific than the annotation or shares an ancestor with it), ``excluded``
    (an excluded term), ``none``."""
    log10_lr: float


@dataclass
class Candidate:
    """One candidate diagnosis."""

    row: int
    disease_id: str
    disease_name: str
    gene: str
    moi: tuple[str, ...]
    mode: str
    """Mode of inheritance used for the genotype LR ('' in phenotype-only runs)."""
    pheno_log10_lr: float
    geno_log10_lr: float
    variants: list[VariantEvidence] = field(default_factory=list)
    genotype_explanation: str = ""
    score: float = 0.0
    rank: int = 0

    @property
    def log10_lr(self) -> float:
        """Total log10 likelihood ratio."""
        return self.pheno_log10_lr + self.geno_log10_lr


def explain_terms(kn: RareKnowledge, ph: PhenotypeScores, row: int) -> list[TermMatch]:
    """Per patient term: what it matched in the disease of ``row`` and its log10 LR."""
    out = []
    if row < 0:
        return out
    for j, q in enumerate(ph.observed):
        via_col = int(ph.best_ancestor[row, j])
        via = kn.term_ids[via_col]
        lr = float(ph.term_log10_lr[row, j])
        if kn.implied[row, via_col] <= 0:
            kind = "none"
        elif via == q:
            kind = "match"
        else:
            kind = "ancestor"
        out.append(TermMatch(q, kn.label(q), via, kn.label(via), kind, lr))
    for j, x in enumerate(ph.excluded):
        out.append(TermMatch(x, kn.label(x), x, kn.label(x), "excluded",
                             float(ph.excluded_log10_lr[row, j])))
    return out


def _pairs(kn: RareKnowledge) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """All (row, gene) candidate pairs of the knowledge (cached on it).

    Returns ``(pair_row, pair_gene_index, genes)``; gene index ``-1`` = no gene.
    """
    cached = kn.__dict__.get("_pairs")
    if cached is None:
        genes = sorted({g for gs in kn.row_genes for g in gs})
        gi = {g: i for i, g in enumerate(genes)}
        rows, gix = [], []
        for r, gs in enumerate(kn.row_genes):
            for g in gs or ("",):
                rows.append(r)
                gix.append(gi[g] if g else -1)
        cached = kn.__dict__["_pairs"] = (np.asarray(rows, dtype=np.int64),
                                          np.asarray(gix, dtype=np.int64), genes)
    return cached


def score_pairs(
    kn: RareKnowledge,
    ph: PhenotypeScores,
    *,
    gene_variants: dict[str, GeneGenotype] | None = None,
    sex: str = "UNKNOWN_SEX",
    annotated: bool = False,
    gene_chroms: dict[str, str] | None = None,
    params: GenotypeParams | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray, np.ndarray, dict]:
    """Vectorised scores of every (disease, gene) pair.

    Returns
    -------
    tuple
        ``(pair_row, pair_gene_index, genes, phenotype_log10_lr, genotype_log10_lr,
        details)`` where ``details[(gene_index, row)]`` = ``(mode, variants, text)`` for
        pairs whose gene carries variants.
    """
    prm = params or GenotypeParams()
    prow, pgene, genes = _pairs(kn)
    pl = ph.log10_lr[prow]
    gl = np.zeros(len(prow))
    details: dict = {}
    if gene_variants is not None:
        gl[:] = np.log10(prm.lr_no_variant)
        chroms = gene_chroms or {}
        cache: dict[tuple[str, tuple[str, ...]], tuple[float, str, list, str]] = {}
        gi = {g: i for i, g in enumerate(genes)}
        hit = np.zeros(len(genes), dtype=bool)
        for g in gene_variants:
            if g in gi:
                hit[gi[g]] = True
        idx = np.flatnonzero((pgene >= 0) & hit[np.maximum(pgene, 0)])
        for k in idx.tolist():
            g = genes[int(pgene[k])]
            r = int(prow[k])
            modes = modes_for(kn.moi[r])
            key = (g, modes)
            if key not in cache:
                best = (-np.inf, "", [], "")
                for m in modes:
                    lr, used, desc = genotype_lr(gene_variants[g], m, sex, annotated=annotated,
                                                 params=prm, chrom=chroms.get(g, ""))
                    v = float(np.log10(lr))
                    if v > best[0]:
                        best = (v, m, used, desc)
                cache[key] = best
            v, m, used, desc = cache[key]
            gl[k] = v
            details[(int(pgene[k]), r)] = (m, used, desc)
    return prow, pgene, genes, pl, gl, details


def rank_diagnoses(
    kn: RareKnowledge,
    ph: PhenotypeScores,
    *,
    gene_variants: dict[str, GeneGenotype] | None = None,
    sex: str = "UNKNOWN_SEX",
    annotated: bool = False,
    genes: Iterable[str] | None = None,
    gene_chroms: dict[str, str] | None = None,
    params: GenotypeParams | None = None,
) -> list[Candidate]:
    """Rank every candidate (disease, gene) pair, best first.

    Parameters
    ----------
    kn, ph
        Knowledge and the patient's phenotype scores.
    gene_variants
        The patient's variants by gene; ``None`` for a phenotype-only ranking.
    sex
        Phenopacket sex.
    annotated
        Whether variant consequences were computed.
    genes
        Restrict to these gene symbols (listed genes without any disease still get a
        row, at the bottom, with an empty disease).
    gene_chroms
        Gene → chromosome (for the X-linked allele count of genes without variants).
    params
        Genotype parameters.

    Returns
    -------
    list of Candidate
        Ranked (``rank`` 1 = best); ``score`` is the post-test probability.
    """
    prm = params or GenotypeParams()
    prow, pgene, gnames, pl, gl, details = score_pairs(
        kn, ph, gene_variants=gene_variants, sex=sex, annotated=annotated,
        gene_chroms=gene_chroms, params=prm)
    only = None if genes is None else list(dict.fromkeys(genes))
    keep = np.ones(len(prow), dtype=bool)
    if only is not None:
        want = np.zeros(len(gnames) + 1, dtype=bool)
        gi = {g: i for i, g in enumerate(gnames)}
        for g in only:
            if g in gi:
                want[gi[g]] = True
        keep = (pgene >= 0) & want[np.where(pgene >= 0, pgene, len(gnames))]
    idx = np.flatnonzero(keep)
    tot = pl[idx] + gl[idx]
    order = idx[np.lexsort((idx, -tot))]
    cands: list[Candidate] = []
    no_gene_text = "" if gene_variants is None else "no gene known for this disease"
    none_text = "" if gene_variants is None else "no qualifying variant in the gene"
    for k in order.tolist():
        r, gx = int(prow[k]), int(pgene[k])
        g = gnames[gx] if gx >= 0 else ""
        m, used, desc = details.get((gx, r), ("", [], no_gene_text if gx < 0 else none_text))
        cands.append(Candidate(r, kn.disease_ids[r], kn.disease_names[r], g,
                               tuple(sorted(kn.moi[r])), m, float(pl[k]), float(gl[k]),
                               list(used), desc))
    if only is not None:
        seen = {c.gene for c in cands}
        for g in only:
            if g not in seen:
                cands.append(Candidate(-1, "", "(no HPO disease annotation for this gene)",
                                       g, (), "", -np.inf, 0.0, [],
                                       "gene has no disease annotation"))
    if not cands:
        return cands
    total = np.array([c.log10_lr for c in cands])
    finite = np.isfinite(total)
    post = np.zeros(len(cands))
    if finite.any():
        mx = total[finite].max()
        w = np.where(finite, 10.0 ** (np.where(finite, total, mx) - mx), 0.0)
        post = w / w.sum()
    for r, c in enumerate(cands, start=1):
        c.score = float(post[r - 1])
        c.rank = r
    return cands


def moi_text(codes: Iterable[str]) -> str:
    """Human names of MOI codes."""
    return ", ".join(MOI_LABELS.get(c, c) for c in codes) or "not annotated"
