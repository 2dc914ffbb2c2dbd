"""Most similar reference population, from PCs, as pgsc_calc assigns it.

pgsc_calc trains a random forest (scikit-learn, ``random_state=32``) on the first 5 PCs
of the unrelated reference samples and names the population with the highest predicted
probability; a target whose probability is below a threshold (0.5 by default) is
flagged as low confidence. :func:`assign_populations` does the same.

:func:`ancestry_of_target` ties it together for a target: align the target to the
reference sites, fit the reference PCA on the shared sites, project, assign.
:func:`evaluate_holdout` measures assignment accuracy on held-out reference samples
(fitting the PCA and the classifier without them), per population.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genoma.analyses.ancestry.reference import ReferencePCA, align_sites, fit_pca, project
from genoma.errors import InconsistentInputError
from genoma.io.pgs import TargetGenotypes

__all__ = [
    "AncestryResult",
    "PopulationAssignment",
    "ReferenceGenotypes",
    "ancestry_of_target",
    "assign_populations",
    "evaluate_holdout",
]

N_PCS_ASSIGN = 5
LOW_CONFIDENCE = 0.5
MIN_SHARED_SITES = 200


@dataclass
class ReferenceGenotypes:
    """A reference panel in memory: sites, genotypes (sites × samples) and labels."""

    name: str
    build: str | None
    chrom: np.ndarray
    pos: np.ndarray
    ref: np.ndarray
    alt: np.ndarray
    genotypes: np.ndarray
    samples: np.ndarray
    populations: np.ndarray
    train: np.ndarray | None = None
    """Samples usable for training (e.g. unrelated); all when ``None``."""

    @classmethod
    def from_panel(cls, panel: Any, name: str = "1kg-peddy") -> ReferenceGenotypes:
        """From :class:`genoma.kb.refpanel.ReferencePanel` (superpopulation labels)."""
        return cls(name=name, build=panel.build, chrom=panel.chrom, pos=panel.pos,
                   ref=panel.ref, alt=panel.alt, genotypes=panel.genotypes,
                   samples=panel.samples, populations=panel.superpopulations)


@dataclass
class PopulationAssignment:
    """Most similar population per sample with class probabilities."""

    labels: np.ndarray
    probabilities: np.ndarray
    classes: np.ndarray
    low_confidence: np.ndarray


def assign_populations(
    ref_pcs: np.ndarray,
    ref_labels: np.ndarray,
    target_pcs: np.ndarray,
    n_pcs: int = N_PCS_ASSIGN,
    threshold: float = LOW_CONFIDENCE,
    seed: int = 32,
) -> PopulationAssignment:
    """Random-forest population assignment on the first ``n_pcs`` PCs (pgsc_calc)."""
    from sklearn.ensemble import RandomForestClassifier

    clf = RandomForestClassifier(random_state=seed)
    clf.fit(ref_pcs[:, :n_pcs], np.asarray(ref_labels).astype(str))
    proba = clf.predict_proba(target_pcs[:, :n_pcs])
    best = proba.argmax(axis=1)
    return PopulationAssignment(
        labels=clf.classes_[best], probabilities=proba, classes=clf.classes_,
        low_confidence=proba[np.arange(len(best)), best] < threshold)


@dataclass
class AncestryResult:
    """Ancestry of the targets relative to a reference panel.

    Attributes
    ----------
    pca
        The reference PCA (fitted on the sites shared with the target).
    ref_pcs, target_pcs
        PC scores (reference training samples, targets).
    assignment
        Most similar population per target.
    n_shared_sites
        Reference sites found in the target.
    ref_train
        Mask of reference samples used to fit.
    """

    reference: str
    pca: ReferencePCA
    ref_pcs: np.ndarray
    target_pcs: np.ndarray
    assignment: PopulationAssignment
    n_shared_sites: int
    ref_populations: np.ndarray
    ref_train: np.ndarray
    notes: list[str] = field(default_factory=list)


def ancestry_of_target(
    reference: ReferenceGenotypes,
    target: TargetGenotypes,
    n_pcs: int = 10,
    min_shared_sites: int = MIN_SHARED_SITES,
) -> AncestryResult:
    """Project a target onto the reference PCA and name its most similar population.

    Raises
    ------
    InconsistentInputError
        Builds differ, or fewer than ``min_shared_sites`` reference sites are in the
        target (exit 5).
    """
    if reference.build and target.build and reference.build != target.build:
        raise InconsistentInputError(
            f"the reference panel {reference.name} is on {reference.build}, the target on "
            f"{target.build}")
    al = align_sites(reference.chrom, reference.pos, reference.ref, reference.alt, target)
    if al.n < min_shared_sites:
        raise InconsistentInputError(
            f"only {al.n} of {len(reference.pos)} reference sites ({reference.name}) are in "
            f"the target; at least {min_shared_sites} are needed for an ancestry PCA",
            path=target.path)
    train = (np.ones(len(reference.samples), dtype=bool) if reference.train is None
             else reference.train)
    pca = fit_pca(reference.genotypes, site_index=al.ref_index, n_pcs=n_pcs)
    # target genotypes on the PCA's sites, in its order, on the reference alleles
    pos_of = {int(r): k for k, r in enumerate(al.ref_index)}
    take = np.array([pos_of[int(r)] for r in pca.site_index], dtype=np.int64)
    d = target.read_dosage(al.target_row[take]).astype(np.float32)
    sw = al.swapped[take]
    d[sw] = 2.0 - d[sw]
    tpcs = project(pca, d)
    ref_pcs = pca.ref_pcs
    asg = assign_populations(ref_pcs[train], reference.populations[train], tpcs)
    return AncestryResult(reference=reference.name, pca=pca, ref_pcs=ref_pcs,
                          target_pcs=tpcs, assignment=asg, n_shared_sites=al.n,
                          ref_populations=reference.populations, ref_train=train)


def evaluate_holdout(
    reference: ReferenceGenotypes,
    n_folds: int = 5,
    seed: int = 0,
    n_pcs: int = 10,
    site_index: np.ndarray | None = None,
    folds: int | None = None,
) -> dict[str, Any]:
    """Assignment accuracy on held-out reference samples (stratified K-fold), per population.

    For each fold, the PCA and the classifier are fitted on the other folds only and
    the held-out samples are projected like targets; every sample is held out once.

    Parameters
    ----------
    reference
        Panel with population labels.
    n_folds
        Number of folds (each holds out ``1 / n_folds`` of every population).
    seed
        Seed of the fold assignment.
    n_pcs
        PCs fitted (the classifier uses the first 5, as pgsc_calc).
    site_index
        Restrict to these reference sites.
    folds
        Evaluate only the first ``folds`` folds (quicker checks); all when ``None``.

    Returns
    -------
    dict
        ``overall`` accuracy, ``n_test``, ``per_population`` {pop: {n, correct,
        accuracy}}, ``confusion`` {true: {predicted: n}}.
    """
    rng = np.random.default_rng(seed)
    pops = np.asarray(reference.populations).astype(str)
    fold = np.empty(len(pops), dtype=np.int64)
    for p in np.unique(pops):
        idx = rng.permutation(np.flatnonzero(pops == p))
        fold[idx] = np.arange(len(idx)) % n_folds
    truth_all: list[np.ndarray] = []
    pred_all: list[np.ndarray] = []
    n_sites = 0
    for f in range(n_folds if folds is None else min(folds, n_folds)):
        test = fold == f
        pca = fit_pca(reference.genotypes, site_index=site_index, sample_mask=~test,
                      n_pcs=n_pcs)
        n_sites = len(pca.site_index)
        tpcs = project(pca, reference.genotypes[pca.site_index][:, test])
        asg = assign_populations(pca.ref_pcs, pops[~test], tpcs)
        truth_all.append(pops[test])
        pred_all.append(asg.labels.astype(str))
    truth = np.concatenate(truth_all)
    pred = np.concatenate(pred_all)
    per: dict[str, Any] = {}
    confusion: dict[str, dict[str, int]] = {}
    for p in np.unique(pops):
        s = truth == p
        c = int((pred[s] == p).sum())
        per[str(p)] = {"n": int(s.sum()), "correct": c, "accuracy": c / max(int(s.sum()), 1)}
        vals, cnt = np.unique(pred[s], return_counts=True)
        confusion[str(p)] = {str(v): int(n) for v, n in zip(vals, cnt, strict=True)}
    return {"overall": float((pred == truth).mean()), "n_test": len(truth),
            "n_folds": n_folds, "n_sites": n_sites, "per_population": per,
            "confusion": confusion}
