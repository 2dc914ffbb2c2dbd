"""The genoma data model: variants, genotypes, patients, cohorts and findings."""

from genoma.model.findings import (
    AnalysisResult,
    Color,
    Confidence,
    Evidence,
    Finding,
    Limitation,
    Recommendation,
)
from genoma.model.genotype import Call, Genotype
from genoma.model.subject import Patient, PhenotypicFeature
from genoma.model.variant import Variant, canonical_chrom, normalize_alleles

__all__ = [
    "AnalysisResult",
    "Call",
    "Color",
    "Confidence",
    "Evidence",
    "Finding",
    "Genotype",
    "Limitation",
    "Patient",
    "PhenotypicFeature",
    "Recommendation",
    "Variant",
    "canonical_chrom",
    "normalize_alleles",
]
