"""Principal components of a cohort with allele-frequency filtering and LD pruning.

Steps: keep biallelic variants with minor allele frequency ≥ ``min_maf`` and call rate
≥ ``min_call_rate``; prune by linkage disequilibrium (greedy: a variant is kept when its
r² with every variant already kept within the preceding ``window`` variants of the same
contig is below ``r2_max``, as plink ``--indep-pairwise``'s window idea, compiled with
Numba); standardise each variant as Patterson et al. (2006) — ``(g - 2p) / sqrt(2p(1-p))``
with missing calls at the mean — and take the leading singular vectors (exact SVD for
small matrices, Dask randomised SVD otherwise).

The standardisation (:func:`patterson_scale`, :func:`standardise`) and the decomposition
with its sign convention (:func:`top_components`) are the one PCA core of genoma: the
ancestry reference PCA (:mod:`genoma.analyses.ancestry.reference`, which projects targets
onto a reference) uses them too, with its own choice of solver and sign rule.

References
----------
Patterson N, Price AL, Reich D (2006) Population structure and eigenanalysis.
PLoS Genet 2:e190.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from genoma.errors import InconsistentInputError
from genoma.model.cohort import alt_dosage

__all__ = ["PcaResult", "ld_prune_mask", "patterson_scale", "pca", "standardise",
           "top_components"]

VERSION = "0.1.0"


@dataclass
class PcaResult:
    """Sample scores and what produced them.

    Attributes
    ----------
    scores
        ``sample, PC1..PCk`` (scores = U·S, as plink2 ``--pca`` eigenvectors scaled).
    eigenvalues
        Eigenvalues of the standardised genetic relationship matrix (S² / m).
    variants_used
        Number of variants after filtering and pruning.
    variants_in
        Number of variants before.
    """

    scores: pd.DataFrame
    eigenvalues: np.ndarray
    variants_used: int
    variants_in: int


def patterson_scale(p: np.ndarray, dtype: Any = np.float64) -> tuple[np.ndarray, np.ndarray]:
    """Mean ``2p`` and scale ``sqrt(2p(1 − p))`` per site (Patterson et al. 2006).

    Parameters
    ----------
    p
        ALT allele frequency per site.
    dtype
        Output dtype (computed in the precision of ``p``, then cast).
    """
    p = np.asarray(p)
    if p.dtype.kind != "f":
        p = p.astype(np.float64)
    return (2 * p).astype(dtype), np.sqrt(2 * p * (1 - p)).astype(dtype)


def standardise(g: np.ndarray, mean: np.ndarray, scale: np.ndarray,
                dtype: Any = np.float64) -> np.ndarray:
    """``(g − mean) / scale`` per site (rows); missing calls (``< 0`` or NaN) → 0.

    Parameters
    ----------
    g
        ``(sites, samples)`` ALT counts.
    mean, scale
        Per site, from :func:`patterson_scale`.
    dtype
        Working precision.
    """
    x = np.asarray(g).astype(dtype)
    miss = np.isnan(x) | (x < 0)
    x = (x - mean[:, None]) / scale[:, None]
    x[miss] = 0.0
    return x


def top_components(x: Any, k: int, *, method: str = "auto", seed: int = 0,
                   sign_by: str = "scores") -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Leading ``k`` singular triplets of a standardised ``(samples, sites)`` matrix.

    Parameters
    ----------
    x
        ``(samples, sites)`` standardised genotypes.
    k
        Number of components.
    method
        ``"gram"``: eigen-decomposition of the smaller Gram matrix (exact);
        ``"dask"``: Dask ``svd_compressed`` (randomised, 4 power iterations);
        ``"randomized"``: scikit-learn ``randomized_svd`` (20 oversamples, 7 iterations, in
        the precision of ``x``); ``"auto"``: ``gram`` when the smaller side is ≤ 5,000,
        else ``dask``.
    seed
        Seed of the randomised solvers.
    sign_by
        Deterministic signs: make the largest-magnitude entry of each column of
        ``"scores"`` (``u``) or ``"loadings"`` (``v``) positive.

    Returns
    -------
    tuple
        ``u (samples, k)``, ``s (k,)``, ``v (sites, k)``, float64.
    """
    if method == "auto":
        method = "gram" if min(x.shape) <= 5_000 else "dask"
    if method == "gram":
        if x.shape[1] <= x.shape[0]:
            w, vec = np.linalg.eigh(x.T @ x)
            order = np.argsort(w)[::-1][:k]
            s = np.sqrt(np.clip(w[order], 0, None))
            v = vec[:, order]
            u = (x @ v) / np.where(s > 0, s, 1.0)
        else:
            w, vec = np.linalg.eigh(x @ x.T)
            order = np.argsort(w)[::-1][:k]
            s = np.sqrt(np.clip(w[order], 0, None))
            u = vec[:, order]
            v = (x.T @ u) / np.where(s > 0, s, 1.0)
    elif method == "dask":
        import dask
        import dask.array as da

        xd = da.from_array(x, chunks=(x.shape[0], min(x.shape[1], 10_000)))
        u, s, vt = da.linalg.svd_compressed(xd, k=k, n_power_iter=4, seed=seed)
        u, s, vt = dask.compute(u, s, vt)
        v = vt.T
    elif method == "randomized":
        from sklearn.utils.extmath import randomized_svd

        u, s, vt = randomized_svd(x, k, n_oversamples=20, n_iter=7, random_state=seed)
        v = vt[:k].T
    else:
        raise ValueError(f"unknown PCA method {method!r}")
    u = np.asarray(u, dtype=np.float64)[:, :k]
    s = np.asarray(s, dtype=np.float64)[:k]
    v = np.asarray(v, dtype=np.float64)[:, :k]
    ref = u if sign_by == "scores" else v
    sign = np.sign(ref[np.abs(ref).argmax(axis=0), np.arange(ref.shape[1])])
    sign[sign == 0] = 1
    return u * sign, s, v * sign



@functools.cache
def _prune_kernel() -> Any:
    import numba

    return numba.njit(cache=True)(_prune_py)


def _prune_py(z: np.ndarray, contig: np.ndarray, window: int, r2_max: float) -> np.ndarray:
    v, n = z.shape
    keep = np.zeros(v, dtype=np.bool_)
    kept = np.empty(v, dtype=np.int64)
    nk = 0
    for i in range(v):
        ok = True
        j = nk - 1
        while j >= 0 and j >= nk - window:
            t = kept[j]
            if contig[t] != contig[i]:
                break
            r = 0.0
            for s in range(n):
                r += z[i, s] * z[t, s]
            r /= n
            if r * r > r2_max:
                ok = False
                break
            j -= 1
        if ok:
            keep[i] = True
            kept[nk] = i
            nk += 1
    return keep


def ld_prune_mask(z: np.ndarray, contig: np.ndarray, *, window: int = 50,
                  r2_max: float = 0.2) -> np.ndarray:
    """Greedy LD pruning of standardised dosages.

    Parameters
    ----------
    z
        ``(variants, samples)`` float64, each row mean 0 and variance 1 (rows in genome
        order).
    contig
        Contig index per row.
    window
        How many previously kept variants of the same contig each variant is compared to.
    r2_max
        Maximum r² allowed between kept variants.

    Returns
    -------
    numpy.ndarray
        Boolean mask of kept rows.
    """
    return _prune_kernel()(np.ascontiguousarray(z), np.asarray(contig, dtype=np.int64),
                           int(window), float(r2_max))


def pca(ds: Any, *, n_components: int = 10, min_maf: float = 0.01,
        min_call_rate: float = 0.95, ld_window: int = 50, ld_r2: float = 0.2,
        max_variants: int = 100_000, seed: int = 0) -> PcaResult:
    """Principal component analysis of a cohort's genotypes.

    Parameters
    ----------
    ds
        Cohort dataset.
    n_components
        Number of components.
    min_maf, min_call_rate
        Variant filters applied before pruning.
    ld_window, ld_r2
        LD pruning parameters (see :func:`ld_prune_mask`); ``ld_r2 >= 1`` disables it.
    max_variants
        Evenly thin the filtered variants to at most this many before pruning (bounds
        memory on whole-genome cohorts).
    seed
        Seed of the randomised SVD.

    Returns
    -------
    PcaResult

    Raises
    ------
    InconsistentInputError
        Fewer usable variants or samples than components (exit 5).
    """
    import dask
    import dask.array as da

    d = alt_dosage(ds)
    obs = d >= 0
    n_obs = obs.sum(axis=1)
    alt = da.where(obs, d, 0).sum(axis=1)
    n_obs, alt = dask.compute(n_obs, alt)
    n_samples = int(ds.sizes["samples"])
    with np.errstate(divide="ignore", invalid="ignore"):
        p = alt / (2.0 * n_obs)
    maf = np.minimum(p, 1 - p)
    ok = (maf >= min_maf) & (n_obs >= min_call_rate * n_samples) & (n_obs > 0)
    if "variant_allele" in ds:
        alleles = np.asarray(ds["variant_allele"].values).astype(str)
        if alleles.shape[1] > 2:
            ok &= (alleles[:, 2:] == "").all(axis=1)
    idx = np.flatnonzero(ok)
    if idx.size > max_variants:
        idx = idx[np.linspace(0, idx.size - 1, max_variants).round().astype(np.int64)]
    if idx.size < n_components or n_samples <= n_components:
        raise InconsistentInputError(
            f"too few variants ({idx.size}) or samples ({n_samples}) for {n_components} PCs")
    g = np.asarray(d[idx].compute(), dtype=np.float64)
    z = standardise(g, *patterson_scale(p[idx]))
    z = z - z.mean(axis=1, keepdims=True)
    sd = z.std(axis=1, keepdims=True)
    zs = z / np.where(sd > 0, sd, 1.0)
    contig = np.asarray(ds["variant_contig"].values)[idx]
    if ld_r2 < 1:
        keep = ld_prune_mask(zs, contig, window=ld_window, r2_max=ld_r2)
        z = z[keep]
    m = z.shape[0]
    if m < n_components:
        raise InconsistentInputError(f"only {m} variants left after LD pruning")
    u, s, _ = top_components(z.T, n_components, method="auto", seed=seed, sign_by="scores")
    scores = pd.DataFrame(u * s, columns=[f"PC{i + 1}" for i in range(u.shape[1])])
    scores.insert(0, "sample", np.asarray(ds["sample_id"].values).astype(str))
    return PcaResult(scores, s**2 / m, m, int(ok.sum()))
