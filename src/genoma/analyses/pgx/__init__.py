"""Pharmacogenomics: star-allele diplotypes → phenotypes → CPIC recommendations.

Modules
-------
definitions, caller
    Star-allele definitions compiled from the knowledge, and the vectorised diplotype
    caller (phased and unphased input, missing positions, SV alleles flagged).
phenotype
    Diplotype → phenotype and activity score, the CPIC way.
recommend
    CPIC drug recommendations (one- and two-gene rules) with a traffic-light color.
run
    The analysis: :func:`pgx_analysis` (genotypes → :class:`PgxRun` with a calls table,
    a recommendations table and findings per sample); build inference.
warfarin
    IWPC pharmacogenetic dosing algorithm and the ML dose model.

The names below are imported lazily, so importing one submodule stays cheap.
"""

from __future__ import annotations

import importlib
from typing import Any

PGX_VERSION = "0.1.0"
"""Version of the PGx analysis (recorded in findings and run manifests)."""

__all__ = [
    "PGX_VERSION",
    "PgxRun",
    "Phenotyper",
    "infer_build",
    "pgx_analysis",
    "pgx_from_calls",
    "recommend",
    "recommendation_color",
]

_LAZY = {
    "PgxRun": "genoma.analyses.pgx.run",
    "infer_build": "genoma.analyses.pgx.run",
    "pgx_analysis": "genoma.analyses.pgx.run",
    "pgx_from_calls": "genoma.analyses.pgx.run",
    "Phenotyper": "genoma.analyses.pgx.phenotype",
    "recommend": "genoma.analyses.pgx.recommend",
    "recommendation_color": "genoma.analyses.pgx.recommend",
}


def __getattr__(name: str) -> Any:
    mod = _LAZY.get(name)
    if mod is None:
        raise AttributeError(f"module 'genoma.analyses.pgx' has no attribute {name!r}")
    return getattr(importlib.import_module(mod), name)


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
