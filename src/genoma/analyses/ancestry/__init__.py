"""Genetic ancestry: reference PCA, projection of targets, most similar population.

The embedded default reference is the 1000 Genomes panel shipped in PyPI ``peddy``
(:mod:`genoma.kb.refpanel`); any reference VCF / PLINK set with population labels can be
used instead (:class:`~genoma.analyses.ancestry.assign.ReferenceGenotypes`).
"""

from genoma.analyses.ancestry.assign import (
    ReferenceGenotypes,
    ancestry_of_target,
    assign_populations,
    evaluate_holdout,
)
from genoma.analyses.ancestry.reference import fit_pca, project

__all__ = [
    "ReferenceGenotypes",
    "ancestry_of_target",
    "assign_populations",
    "evaluate_holdout",
    "fit_pca",
    "project",
]
