"""Rare-disease diagnosis: phenotype likelihood ratios × genotype evidence → ranked diagnoses.

Pipeline (pure functions, no file I/O):

1. :func:`get_knowledge` builds (once per process and annotation release) the disease ×
   term matrices from the embedded HPO and, when given, HPO's annotation files
   (:mod:`.knowledge`);
2. :func:`~.phenotype.score_phenotypes` scores every disease against the patient's
   observed and excluded terms in milliseconds (LIRICAL-style likelihood ratios,
   combined with Resnik similarities by a learned linear model);
3. :func:`~.genotype.collect_gene_variants` groups the patient's ALT alleles by gene
   (with consequences when an annotator ran, or variant classes from HGVS,
   :mod:`.variant_class`) and :func:`~.genotype.genotype_lr` scores them under each
   mode of inheritance;
4. :func:`~.ranking.rank_diagnoses` combines both into post-test probabilities;
   :class:`~.findings.RareResult` turns them into TSV rows, ``diagnosis`` findings and
   a Phenopacket interpretation.

:func:`diagnose` runs 2–4 for a :class:`~genoma.model.subject.Patient`. Re-ranking after
the phenotypes change reuses the grouped variants: call :func:`diagnose` again with the
same ``gene_variants``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from genoma.analyses.rare.findings import ANALYSIS, ANALYSIS_VERSION, TSV_COLUMNS, RareResult
from genoma.analyses.rare.genotype import (
    GeneGenotype,
    GenotypeParams,
    collect_gene_variants,
    genotype_lr,
)
from genoma.analyses.rare.knowledge import (
    AnnotationTables,
    RareKnowledge,
    build_knowledge,
    parse_genes_to_phenotype,
    parse_hpoa,
)
from genoma.analyses.rare.phenotype import PhenotypeParams, PhenotypeScores, score_phenotypes
from genoma.analyses.rare.ranking import Candidate, rank_diagnoses
from genoma.analyses.rare.variant_class import (
    VARIANT_CLASSES,
    class_from_consequence,
    class_from_hgvs,
)
from genoma.errors import MalformedInputError
from genoma.model.findings import Limitation
from genoma.model.subject import Patient

__all__ = [
    "ANALYSIS",
    "ANALYSIS_VERSION",
    "TSV_COLUMNS",
    "VARIANT_CLASSES",
    "AnnotationTables",
    "Candidate",
    "GeneGenotype",
    "GenotypeParams",
    "PhenotypeParams",
    "PhenotypeScores",
    "RareKnowledge",
    "RareResult",
    "build_knowledge",
    "class_from_consequence",
    "class_from_hgvs",
    "collect_gene_variants",
    "diagnose",
    "genotype_lr",
    "get_knowledge",
    "parse_genes_to_phenotype",
    "parse_hpoa",
    "rank_diagnoses",
    "score_phenotypes",
]

_CACHE: dict[str, RareKnowledge] = {}


def _fingerprint(tables: AnnotationTables) -> str:
    """A content hash of parsed annotation tables (the knowledge cache key)."""
    import hashlib

    h = hashlib.sha1(tables.version.encode())
    for did in sorted(tables.diseases):
        d = tables.diseases[did]
        h.update(repr((did, sorted(d.terms.items()), sorted(d.not_terms),
                       sorted(d.moi))).encode())
    for g in sorted(tables.gene_diseases):
        h.update(repr((g, sorted(tables.gene_diseases[g]))).encode())
    return h.hexdigest()


def get_knowledge(tables: AnnotationTables | None = None) -> RareKnowledge:
    """The knowledge for ``tables`` (hpo3 only when ``None``), built once per process."""
    from genoma.kb import get_source

    key = "hpo3" if tables is None else _fingerprint(tables)
    if key not in _CACHE:
        _CACHE[key] = build_knowledge(get_source("hpo").load(), tables)
    return _CACHE[key]


def diagnose(
    patient: Patient,
    knowledge: RareKnowledge,
    *,
    gene_variants: dict[str, GeneGenotype] | None = None,
    annotated: bool = False,
    genes: Iterable[str] | None = None,
    build: str | None = None,
    gene_chroms: dict[str, str] | None = None,
    phenotype_params: PhenotypeParams | None = None,
    genotype_params: GenotypeParams | None = None,
    limitations: Iterable[Limitation] = (),
    source: Any = None,
) -> RareResult:
    """Rank candidate diagnoses for a patient.

    Parameters
    ----------
    patient
        The patient; needs at least one observed HPO term.
    knowledge
        From :func:`get_knowledge`.
    gene_variants
        The patient's variants by gene (:func:`collect_gene_variants`); ``None`` for a
        phenotype-only ranking.
    annotated
        Whether ``gene_variants`` were built with consequences.
    genes
        Restrict the ranking to these genes.
    build
        Genome build of the variants.
    gene_chroms
        Gene → chromosome, for genes without variants (X-linked allele counts).
    phenotype_params, genotype_params
        Model parameters (defaults fitted in ``benchmarks/rare_*.py``).
    limitations
        Extra caveats from the caller (e.g. why no consequences were computed).
    source
        The Phenopacket path, for error messages.

    Returns
    -------
    RareResult

    Raises
    ------
    MalformedInputError
        The patient has no observed phenotype term, or none that the HPO release knows
        (exit 4).
    """
    if not patient.observed_terms:
        raise MalformedInputError(
            "the phenopacket has no observed phenotypic feature (HPO term): rare-disease "
            "ranking needs at least one", path=source)
    ph = score_phenotypes(knowledge, patient.observed_terms, patient.excluded_terms,
                          phenotype_params)
    lims = list(limitations)
    if ph.replaced:
        lims.append(Limitation(code="RARE_HPO_REPLACED", text="obsolete HPO terms replaced: " +
                               ", ".join(f"{a} → {b}" for a, b in ph.replaced.items())))
    if ph.dropped:
        lims.append(Limitation(code="RARE_HPO_UNKNOWN", text="HPO terms unknown in release "
                               f"{knowledge.hpo_version} were ignored: " + ", ".join(ph.dropped)))
    if not ph.observed:
        raise MalformedInputError(
            "none of the observed HPO terms is known in HPO release "
            f"{knowledge.hpo_version}: " + ", ".join(ph.dropped), path=source)
    if not knowledge.has_gene_links:
        lims.append(Limitation(
            code="RARE_NO_GENE_DISEASE_LINKS",
            text="HPO annotation files (phenotype.hpoa, genes_to_phenotype.txt) were not "
                 "available: genes are scored through hpo3 gene-level phenotype profiles, "
                 "diseases without a gene link, and term frequencies are not used"))
    if gene_variants is not None and not annotated:
        lims.append(Limitation(
            code="RARE_NO_CONSEQUENCES",
            text="variant consequences were not computed (no transcripts / FASTA): every "
                 "variant inside a gene counts, whatever its effect"))
    cands = rank_diagnoses(knowledge, ph, gene_variants=gene_variants, sex=patient.sex,
                           annotated=annotated, genes=genes, gene_chroms=gene_chroms,
                           params=genotype_params)
    return RareResult(patient.id, cands, ph, knowledge, lims, build)
