"""Variant overview: the patient's variant calls in genes linked to their phenotypes.

A screening view, not a diagnosis: which genes carry non-reference calls, and which of
those genes HPO annotates (``genes_to_phenotype``, true-path rule) to the patient's
observed terms. No pathogenicity, frequency or inheritance is assessed here — the
rare-disease analysis does that — and the finding says so.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from genoma.model.findings import Color, Confidence, Evidence, Finding, Limitation
from genoma.model.genotype import Call
from genoma.model.subject import Patient

__all__ = ["OVERVIEW_VERSION", "phenotype_gene_overview"]

OVERVIEW_VERSION = "0.1.0"
_NAME = "overview"


def _zygosity(call: Call) -> str:
    d = call.genotype.dosage(1)
    n = len(call.genotype.alleles)
    if n == 1:
        return "hemizygous" if d == 1 else "reference"
    return {0: "reference", 1: "heterozygous", 2: "homozygous"}.get(d or 0, "other")


def phenotype_gene_overview(
    calls: Sequence[Call],
    patient: Patient,
    genes: Any,
    hpo: Any,
    build: str,
    max_genes: int = 25,
) -> list[Finding]:
    """Summarise non-reference calls and flag genes annotated to the patient's phenotypes.

    Parameters
    ----------
    calls
        The patient's called, non-reference genotypes (one sample).
    patient
        The patient (observed HPO terms are used; excluded terms are listed only).
    genes
        A :class:`genoma.kb.genes.GeneTable` for ``build``.
    hpo
        The loaded :class:`genoma.kb.hpo.HpoOntology`.
    build
        Genome build of the calls.
    max_genes
        At most this many phenotype-linked genes get their own finding.

    Returns
    -------
    list of Finding
        One ``variant_overview`` finding, then one ``phenotype_gene`` finding per gene
        that carries a call and is annotated to at least one observed term, ranked by
        the number of matched terms.
    """
    sample = calls[0].sample if calls else patient.id
    hpo_ev = Evidence(source="hpo", version=hpo.version if hasattr(hpo, "version") else "",
                      url="https://hpo.jax.org/", description="HPO gene annotations")
    limitations: list[Limitation] = []

    # phenotype side: resolve terms (obsolete → replacement), genes per term
    terms: list[str] = []
    for t in patient.observed_terms:
        cur = hpo.resolve(t)
        if cur is None:
            limitations.append(Limitation(text=f"HPO term {t} is unknown in this HPO release; "
                                          "it was ignored.", code="HPO_UNKNOWN_TERM"))
            continue
        if cur != t:
            limitations.append(Limitation(text=f"HPO term {t} is obsolete; {cur} was used.",
                                          code="HPO_OBSOLETE_TERM"))
        terms.append(cur)
    genes_by_term = {t: hpo.genes_for_term(t) for t in terms}

    # genotype side: calls → genes (vectorised interval overlap)
    chroms = np.array([c.variant.chrom for c in calls], dtype=object)
    starts = np.array([c.variant.pos for c in calls], dtype=np.int64)
    ends = np.array([c.variant.end for c in calls], dtype=np.int64)
    qi, gi = genes.overlaps(chroms, starts, ends) if len(calls) else (np.array([]), np.array([]))
    by_gene: dict[str, list[int]] = {}
    for q, g in zip(qi.tolist(), gi.tolist(), strict=True):
        by_gene.setdefault(genes.row(g).symbol, []).append(q)

    overview = Finding(
        analysis=_NAME, analysis_version=OVERVIEW_VERSION, kind="variant_overview",
        title="Variant overview",
        summary=(f"{len(calls)} non-reference variant calls ({build}); {len(by_gene)} genes "
                 f"carry at least one; {len(terms)} observed HPO terms considered."),
        subject=sample, confidence=Confidence.HIGH, color=Color.GREY,
        evidence=(hpo_ev, Evidence(source=getattr(genes, "source", "genes"),
                                   version=getattr(genes, "version", ""),
                                   description="gene coordinates")),
        limitations=(
            Limitation(text="A screen of genes, not a diagnosis: no pathogenicity, population "
                       "frequency or inheritance assessment is applied in this section.",
                       code="OVERVIEW_NOT_DIAGNOSTIC"),
            *limitations,
        ),
        data={"n_calls": len(calls), "n_genes": len(by_gene), "hpo_terms": terms,
              "excluded_terms": patient.excluded_terms},
    )
    ranked = []
    for symbol, idx in by_gene.items():
        matched = [t for t in terms if symbol in genes_by_term[t]]
        if matched:
            ranked.append((len(matched), symbol, idx, matched))
    ranked.sort(key=lambda r: (-r[0], r[1]))
    out = [overview]
    for rank, (n, symbol, idx, matched) in enumerate(ranked[:max_genes], start=1):
        variants = tuple(calls[i].variant for i in idx)
        zyg = [f"{calls[i].variant.key} ({_zygosity(calls[i])})" for i in idx]
        labels = [f"{t} {hpo.label(t)}" for t in matched]
        out.append(Finding(
            analysis=_NAME, analysis_version=OVERVIEW_VERSION, kind="phenotype_gene",
            title=f"{symbol}: variant call(s) in a gene annotated to {n} of the patient's "
                  f"{len(terms)} observed HPO terms",
            summary="; ".join(zyg) + ". Matched terms: " + "; ".join(labels) + ".",
            subject=sample, genes=(symbol,), variants=variants, rank=rank, score=float(n),
            confidence=Confidence.LOW, color=Color.GREY,
            evidence=(hpo_ev,),
            limitations=(Limitation(text="Gene–phenotype annotation only; the variants' "
                                    "pathogenicity is not assessed here.",
                                    code="OVERVIEW_NOT_DIAGNOSTIC"),),
            data={"matched_terms": matched, "variants": [calls[i].variant.key for i in idx],
                  "zygosity": [_zygosity(calls[i]) for i in idx]},
        ))
    return out
