"""Reference PCA, projection, alignment and population assignment."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

from genoma.analyses.ancestry.assign import (
    ReferenceGenotypes,
    ancestry_of_target,
    evaluate_holdout,
)
from genoma.analyses.ancestry.reference import align_sites, fit_pca, project
from genoma.errors import InconsistentInputError

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "risk"))
from risk_testutil import make_panel, make_target


def _panel(seed: int = 0) -> ReferenceGenotypes:
    return make_panel(seed)


def test_holdout_assignment_on_synthetic_populations() -> None:
    res = evaluate_holdout(_panel(), n_folds=3, seed=1)
    assert res["overall"] >= 0.98 and res["n_test"] == 180
    assert set(res["per_population"]) == {"P1", "P2", "P3"}


def test_projection_of_reference_samples_reproduces_their_scores() -> None:
    p = _panel()
    pca = fit_pca(p.genotypes, n_pcs=4)
    again = project(pca, p.genotypes[pca.site_index])
    np.testing.assert_allclose(again, pca.ref_pcs, atol=1e-3)


def test_target_with_swapped_alleles_lands_with_its_population() -> None:
    p = _panel()
    rng = np.random.default_rng(5)
    # a new P2-like sample: resample P2 genotypes site by site
    p2 = p.genotypes[:, p.populations == "P2"]
    g = p2[np.arange(p2.shape[0]), rng.integers(0, p2.shape[1], p2.shape[0])].astype(float)
    swap = rng.random(len(g)) < 0.5
    ref = np.where(swap, p.alt, p.ref)
    alt = np.where(swap, p.ref, p.alt)
    d = np.where(swap, 2 - g, g)[:, None]
    t = make_target(list(p.chrom), list(p.pos), list(ref), list(alt), d)
    al = align_sites(p.chrom, p.pos, p.ref, p.alt, t)
    assert al.n == len(p.pos) and al.swapped.sum() == swap.sum()
    res = ancestry_of_target(p, t, min_shared_sites=100)
    assert res.assignment.labels[0] == "P2"
    with pytest.raises(InconsistentInputError, match="needed for an ancestry PCA"):
        ancestry_of_target(p, t, min_shared_sites=10_000)


@pytest.mark.validation
def test_peddy_1000g_holdout_fold() -> None:
    from genoma.kb import refpanel

    ref = ReferenceGenotypes.from_panel(refpanel.load("GRCh37"))
    res = evaluate_holdout(ref, n_folds=5, seed=0, folds=1,
                           site_index=np.arange(0, ref.chrom.shape[0], 2))
    assert res["n_test"] > 490
    assert res["overall"] >= 0.98, res
    for pop, r in res["per_population"].items():
        assert r["accuracy"] >= 0.95, (pop, res)
