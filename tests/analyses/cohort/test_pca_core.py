"""The shared PCA core (cohort PCA and the ancestry reference PCA use it)."""

from __future__ import annotations

import numpy as np
import pytest

from genoma.analyses.ancestry.reference import fit_pca
from genoma.analyses.cohort.pca import patterson_scale, standardise, top_components


def _x(n: int, m: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    # low-rank structure + noise so the leading components are well separated
    return rng.normal(size=(n, 3)) @ rng.normal(size=(3, m)) * [[5, 3, 2][i % 3] for i in
                                                                 range(m)] + rng.normal(size=(n, m))


@pytest.mark.parametrize("shape", [(60, 200), (200, 60)])
def test_gram_equals_full_svd(shape: tuple[int, int]) -> None:
    x = _x(*shape)
    u, s, v = top_components(x, 4, method="gram")
    uu, ss, _ = np.linalg.svd(x, full_matrices=False)
    assert np.allclose(s, ss[:4], rtol=1e-10)
    # same subspace, deterministic sign: largest |u| entry positive
    assert np.allclose(np.abs(u), np.abs(uu[:, :4]), atol=1e-8)
    assert (u[np.abs(u).argmax(0), np.arange(4)] > 0).all()
    assert np.allclose(x @ v, u * s, atol=1e-8)


@pytest.mark.parametrize("method", ["dask", "randomized"])
def test_randomised_solvers_match_exact(method: str) -> None:
    x = _x(120, 300, seed=1)
    _, s, v = top_components(x, 3, method=method, sign_by="loadings")
    _, se, ve = top_components(x, 3, method="gram", sign_by="loadings")
    assert np.allclose(s, se, rtol=1e-6)
    assert np.allclose(v, ve, atol=1e-5)
    assert (v[np.abs(v).argmax(0), np.arange(3)] > 0).all()
    with pytest.raises(ValueError, match="unknown PCA method"):
        top_components(x, 3, method="lanczos")


def test_standardise_and_reference_pca_use_the_core() -> None:
    rng = np.random.default_rng(2)
    g = rng.integers(0, 3, size=(80, 40)).astype(np.int8)
    g[3, 5] = -1
    p = g.clip(0).sum(1) / (2.0 * (g >= 0).sum(1))
    mean, scale = patterson_scale(p)
    z = standardise(g, mean, scale)
    assert z[3, 5] == 0.0
    assert np.isclose(z[0, 0], (g[0, 0] - 2 * p[0]) / np.sqrt(2 * p[0] * (1 - p[0])))
    ref = fit_pca(g, n_pcs=3, min_maf=0.0)
    m32, s32 = patterson_scale(np.nanmean(np.where(g < 0, np.nan, g).astype(np.float32), 1) / 2,
                               dtype=np.float32)
    u, s, v = top_components(standardise(g, m32, s32, dtype=np.float32).T, 3,
                             method="randomized", sign_by="loadings")
    assert np.array_equal(ref.loadings, v) and np.array_equal(ref.ref_pcs, u * s)
