"""The genoma data model: variants, genotypes, patients, cohorts and findings.

The names below are loaded on first use (PEP 562), so that importing one submodule —
e.g. :mod:`genoma.model.cohort`, which needs only NumPy — does not build every pydantic
model of the package (≈ 35 ms at each command's start).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
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

#: Public name → the submodule that defines it.
_EXPORTS = {
    "AnalysisResult": "genoma.model.findings",
    "Color": "genoma.model.findings",
    "Confidence": "genoma.model.findings",
    "Evidence": "genoma.model.findings",
    "Finding": "genoma.model.findings",
    "Limitation": "genoma.model.findings",
    "Recommendation": "genoma.model.findings",
    "Call": "genoma.model.genotype",
    "Genotype": "genoma.model.genotype",
    "Patient": "genoma.model.subject",
    "PhenotypicFeature": "genoma.model.subject",
    "Variant": "genoma.model.variant",
    "canonical_chrom": "genoma.model.variant",
    "normalize_alleles": "genoma.model.variant",
}

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


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'genoma.model' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups are plain attribute reads
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))
