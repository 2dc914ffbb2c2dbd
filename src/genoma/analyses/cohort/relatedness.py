"""Pairwise relatedness: KING-robust kinship (as plink2 ``--make-king-table``).

For every pair of samples, over the variants both have called:

``kinship = (2·HetHet − 4·IBS0 − Het1 − Het2 + 2·min(Het1, Het2)) / (4·min(Het1, Het2))``

(the between-family KING-robust estimator, scaled so that duplicates score 0.5;
first-degree relatives ≈ 0.25, second ≈ 0.125, third ≈ 0.0625). The pair counts are
sums of matrix products of 0/1 indicator matrices, accumulated chunk by chunk over the
variants — an ``n × n`` computation, so meant for cohorts up to ~10⁴ samples per call.

References
----------
Manichaikul A et al. (2010) Robust relationship inference in genome-wide association
studies. Bioinformatics 26:2867–2873.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from genoma.errors import UsageError
from genoma.model.cohort import alt_dosage

__all__ = ["king_robust"]

VERSION = "0.1.0"


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
