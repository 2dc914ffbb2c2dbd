"""Pairwise relatedness: KING-robust kinship (as plink2 ``--make-king-table``) or PC-Relate.

For every pair of samples, over the variants both have called:

``kinship = (2·HetHet − 4·IBS0 − Het1 − Het2 + 2·min(Het1, Het2)) / (4·min(Het1, Het2))``

(the between-family KING-robust estimator, scaled so that duplicates score 0.5;
first-degree relatives ≈ 0.25, second ≈ 0.125, third ≈ 0.0625). The pair counts are
sums of matrix products of 0/1 indicator matrices, accumulated chunk by chunk over the
variants — an ``n × n`` computation, so meant for cohorts up to ~10⁴ samples per call.

:func:`pc_relate` estimates kinship adjusted for ancestry with PC-Relate (Conomos et al.
2016), the estimator of ``sgkit.pc_relate`` (itself matched to GENESIS 2.18):
individual-specific allele frequencies ``μ`` are predicted from the leading principal
components, and ``φ_ij = Σ (g_i/2 − μ_i)(g_j/2 − μ_j) / Σ sqrt(μ_i(1−μ_i) μ_j(1−μ_j))`` over
the variants where both ``μ`` lie inside ``(maf, 1 − maf)`` and both calls are present.
It is computed here chunk by chunk (two ``n × n`` accumulators, as KING) and equals
``sgkit.pc_relate`` to 1e-12 where sgkit works; sgkit 0.8.0 returns NaN for every pair as
soon as one ``μ`` is masked with xarray ≥ 2025 (see docs/cohort.md), so it is not called.

References
----------
Manichaikul A et al. (2010) Robust relationship inference in genome-wide association
studies. Bioinformatics 26:2867–2873.
Conomos MP, Reiner AP, Weir BS, Thornton TA (2016) Model-free estimation of recent genetic
relatedness. Am J Hum Genet 98:127–148.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from genoma.errors import UsageError
from genoma.model.cohort import alt_dosage

__all__ = ["king_robust", "pc_relate"]

VERSION = "0.2.0"


def king_robust(ds: Any, *, min_kinship: float | None = 0.0442,
                max_samples: int = 12_000) -> pd.DataFrame:
    """KING-robust kinship of every sample pair.

    Parameters
    ----------
    ds
        Cohort dataset (autosomal biallelic variants are expected; others count as given).
    min_kinship
        Report pairs with kinship ≥ this (default: 3rd-degree cut-off 2^-4.5, as
        plink2's ``--king-table-filter``); None reports every pair.
    max_samples
        Refuse larger cohorts (the pair matrices are ``n × n``).

    Returns
    -------
    pandas.DataFrame
        ``sample1, sample2, nsnp, hethet, ibs0, kinship`` (``hethet`` and ``ibs0`` as
        proportions of ``nsnp``, as plink2's ``.kin0``).
    """
    n = int(ds.sizes["samples"])
    if n > max_samples:
        raise UsageError(f"{n} samples: KING pair matrices would not fit (max {max_samples})")
    d = alt_dosage(ds)
    shape = (n, n)
    hethet = np.zeros(shape)
    ibs0 = np.zeros(shape)
    het_obs = np.zeros(shape)  # het in i while j is called
    nsnp = np.zeros(shape)
    step = int(d.chunks[0][0]) if hasattr(d, "chunks") else d.shape[0]
    for start in range(0, d.shape[0], step):
        block = np.asarray(d[start:start + step].compute() if hasattr(d, "compute")
                           else d[start:start + step])
        het = (block == 1).T.astype(np.float64)
        ref = (block == 0).T.astype(np.float64)
        alt = (block == 2).T.astype(np.float64)
        obs = (block >= 0).T.astype(np.float64)
        hethet += het @ het.T
        x = ref @ alt.T
        ibs0 += x + x.T
        het_obs += het @ obs.T
        nsnp += obs @ obs.T
    het1, het2 = het_obs, het_obs.T
    low = np.minimum(het1, het2)
    with np.errstate(divide="ignore", invalid="ignore"):
        kin = (2 * hethet - 4 * ibs0 - het1 - het2 + 2 * low) / (4 * low)
    i, j = np.triu_indices(n, k=1)
    ids = np.asarray(ds["sample_id"].values).astype(str)
    table = pd.DataFrame({"sample1": ids[i], "sample2": ids[j], "nsnp": nsnp[i, j].astype(int),
                          "hethet": hethet[i, j] / nsnp[i, j], "ibs0": ibs0[i, j] / nsnp[i, j],
                          "kinship": kin[i, j]})
    if min_kinship is not None:
        table = table[table.kinship >= min_kinship].reset_index(drop=True)
    return table


def _autosomal_biallelic(ds: Any) -> np.ndarray:
    from genoma.model.variant import canonical_chrom

    auto = {f"chr{i}" for i in range(1, 23)}
    contigs = np.array([canonical_chrom(str(c)) in auto for c in np.asarray(ds["contig_id"].values)])
    ok = contigs[np.asarray(ds["variant_contig"].values)]
    alleles = np.asarray(ds["variant_allele"].values).astype(str)
    if alleles.shape[1] > 2:
        ok &= (alleles[:, 2:] == "").all(axis=1)
    return np.flatnonzero(ok)


def pc_relate(ds: Any, pcs: pd.DataFrame | np.ndarray | None = None, *, n_pcs: int = 3,
              maf: float = 0.01, min_kinship: float | None = 0.0442,
              max_samples: int = 12_000) -> pd.DataFrame:
    """PC-Relate kinship of every sample pair (``sgkit.pc_relate``, Conomos et al. 2016).

    Parameters
    ----------
    ds
        Cohort dataset; its autosomal biallelic variants are used (calls with a missing or
        padded allele are missing).
    pcs
        Principal components: a table ``sample, PC1..`` (as ``genoma cohort pca`` writes;
        every cohort sample must be present) or a ``(samples, k)`` array in cohort order.
        None: the first ``n_pcs`` of :func:`genoma.analyses.cohort.pca.pca` on ``ds``.
    n_pcs
        Components used when ``pcs`` is None, or the first ``n_pcs`` columns of ``pcs``.
    maf
        Individual-specific allele frequencies outside ``(maf, 1 − maf)`` drop the call
        (sgkit / GENESIS default 0.01).
    min_kinship
        Report pairs with kinship ≥ this (default 2^-4.5, third degree); None: all pairs.
    max_samples
        Refuse larger cohorts (``n × n`` matrices).

    Returns
    -------
    pandas.DataFrame
        ``sample1, sample2, kinship``.

    Raises
    ------
    UsageError
        Too many samples, or ``maf`` outside (0, 0.5) (exit 2).
    InconsistentInputError
        PCs missing for some samples, or no autosomal biallelic variants (exit 5).
    """
    from genoma.errors import InconsistentInputError

    n = int(ds.sizes["samples"])
    if n > max_samples:
        raise UsageError(f"{n} samples: PC-Relate matrices would not fit (max {max_samples})")
    if not 0 < maf < 0.5:
        raise UsageError(f"maf must be in (0, 0.5), got {maf}")
    ids = np.asarray(ds["sample_id"].values).astype(str)
    if pcs is None:
        from genoma.analyses.cohort.pca import pca

        pcs = pca(ds, n_components=n_pcs).scores
    if isinstance(pcs, pd.DataFrame):
        cols = [c for c in pcs.columns if c.startswith("PC")][:n_pcs]
        table = pcs.assign(sample=pcs["sample"].astype(str)).set_index("sample")
        missing = [s for s in ids if s not in table.index]
        if missing:
            raise InconsistentInputError(f"{len(missing)} samples have no PCs, e.g. "
                                         f"{', '.join(missing[:5])}")
        x = table.loc[ids, cols].to_numpy(dtype=np.float64)
    else:
        x = np.asarray(pcs, dtype=np.float64)[:, :n_pcs]
        if x.shape[0] != n:
            raise InconsistentInputError(f"{x.shape[0]} rows of PCs for {n} samples")
    idx = _autosomal_biallelic(ds)
    if idx.size == 0:
        raise InconsistentInputError("no autosomal biallelic variants for PC-Relate")
    # orthonormal basis of [1, PCs]: μ = ½ · projection of the (mean-imputed) dosage
    q, _ = np.linalg.qr(np.column_stack([np.ones(n), x]))
    d = alt_dosage(ds)
    num = np.zeros((n, n))
    den = np.zeros((n, n))
    step = int(d.chunks[0][0]) if hasattr(d, "chunks") else max(d.shape[0], 1)
    for start in range(0, idx.size, step):
        rows = idx[start:start + step]
        block = np.asarray(d[rows].compute() if hasattr(d, "compute") else d[rows],
                           dtype=np.float64)
        miss = block < 0
        with np.errstate(invalid="ignore", divide="ignore"):
            mean = np.where(miss, 0.0, block).sum(1) / (~miss).sum(1)
        imputed = np.where(miss, mean[:, None], block)
        mu = 0.5 * (imputed @ q) @ q.T
        drop = miss | (mu <= maf) | (mu >= 1.0 - maf) | ~np.isfinite(mu)
        centred = np.where(drop, 0.0, block / 2.0 - mu)
        sd = np.sqrt(np.where(drop, 0.0, mu * (1.0 - mu)))
        num += centred.T @ centred
        den += sd.T @ sd
    with np.errstate(invalid="ignore", divide="ignore"):
        phi = num / den
    i, j = np.triu_indices(n, k=1)
    out = pd.DataFrame({"sample1": ids[i], "sample2": ids[j], "kinship": phi[i, j]})
    if min_kinship is not None:
        out = out[out.kinship >= min_kinship].reset_index(drop=True)
    return out
