"""Sample and variant quality control of a cohort: call rate, heterozygosity, Hardy–Weinberg.

The figures equal plink2 ``--missing`` (``.smiss`` / ``.vmiss``: ``MISSING_CT``,
``OBS_CT``, ``F_MISS``) and ``--hardy`` (genotype counts, observed and expected
heterozygosity, exact HWE p-value) on autosomal biallelic variants. Everything is a Dask
reduction over ``(variants, samples)`` chunks of the first-ALT dosage.

References
----------
Wigginton JE, Cutler DJ, Abecasis GR (2005) A note on exact tests of Hardy-Weinberg
equilibrium. Am J Hum Genet 76:887–893.
"""

from __future__ import annotations

import functools
from typing import Any

import numpy as np
import pandas as pd

from genoma.model.cohort import alt_dosage, alt_dosage_block

__all__ = ["genotype_counts_block", "hwe_exact_p", "sample_qc", "variant_qc"]

VERSION = "0.1.0"


def genotype_counts_block(gt: np.ndarray) -> np.ndarray:
    """``(variants, 4)`` int64 counts: hom REF, het, hom ALT, missing calls."""
    d = alt_dosage_block(gt)
    return np.stack([(d == 0).sum(1), (d == 1).sum(1), (d == 2).sum(1), (d < 0).sum(1)],
                    axis=1).astype(np.int64)


def _hwe_py(het: np.ndarray, hom1: np.ndarray, hom2: np.ndarray) -> np.ndarray:
    """Wigginton et al. (2005) exact test, one variant at a time (compiled by Numba)."""
    out = np.empty(het.shape[0])
    for i in range(het.shape[0]):
        h = het[i]
        homr = min(hom1[i], hom2[i])
        homc = max(hom1[i], hom2[i])
        n = h + homr + homc
        if n == 0:
            out[i] = np.nan
            continue
        rare = 2 * homr + h
        probs = np.zeros(rare + 1)
        mid = rare * (2 * n - rare) // (2 * n)
        if mid % 2 != rare % 2:
            mid += 1
        probs[mid] = 1.0
        total = 1.0
        ch = mid
        cr = (rare - mid) // 2
        cc = n - ch - cr
        while ch >= 2:
            probs[ch - 2] = probs[ch] * ch * (ch - 1) / (4.0 * (cr + 1) * (cc + 1))
            total += probs[ch - 2]
            ch -= 2
            cr += 1
            cc += 1
        ch = mid
        cr = (rare - mid) // 2
        cc = n - ch - cr
        while ch <= rare - 2:
            probs[ch + 2] = probs[ch] * 4.0 * cr * cc / ((ch + 2.0) * (ch + 1.0))
            total += probs[ch + 2]
            ch += 2
            cr -= 1
            cc -= 1
        limit = probs[h] * (1.0 + 1e-9)
        p = 0.0
        for j in range(rare + 1):
            if probs[j] <= limit:
                p += probs[j]
        out[i] = min(1.0, p / total)
    return out


@functools.cache
def _hwe_kernel() -> Any:
    import numba

    return numba.njit(cache=True, nogil=True)(_hwe_py)


def hwe_exact_p(het: np.ndarray, hom1: np.ndarray, hom2: np.ndarray) -> np.ndarray:
    """Exact Hardy–Weinberg test p-values (Wigginton et al. 2005), one compiled pass.

    Parameters
    ----------
    het, hom1, hom2
        Genotype counts per variant.

    Returns
    -------
    numpy.ndarray
        Two-sided exact p-values (NaN where no genotypes were observed).
    """
    return _hwe_kernel()(np.asarray(het, dtype=np.int64), np.asarray(hom1, dtype=np.int64),
                         np.asarray(hom2, dtype=np.int64))


def variant_qc(ds: Any) -> pd.DataFrame:
    """Per-variant call rate, genotype counts and Hardy–Weinberg test.

    Parameters
    ----------
    ds
        Cohort dataset.

    Returns
    -------
    pandas.DataFrame
        ``chrom, pos, id, ref, alt, missing_ct, obs_ct, f_miss, hom_ref_ct, het_ct,
        hom_alt_ct, o_het, e_het, alt_freq, p_hwe``.
    """
    import dask.array as da

    from genoma.analyses.cohort.gwas import variant_table

    g = ds["call_genotype"].data
    if not isinstance(g, da.Array):
        g = da.from_array(g)
    g = g.rechunk({1: -1, 2: -1})
    counts = g.map_blocks(genotype_counts_block, drop_axis=[1, 2], new_axis=1,
                          chunks=(g.chunks[0], (4,)), dtype=np.int64).compute()
    hom_ref, het, hom_alt, miss = counts.T
    obs = hom_ref + het + hom_alt
    table = variant_table(ds)
    table["missing_ct"] = miss
    table["obs_ct"] = obs + miss
    table["f_miss"] = miss / np.maximum(obs + miss, 1)
    table["hom_ref_ct"] = hom_ref
    table["het_ct"] = het
    table["hom_alt_ct"] = hom_alt
    with np.errstate(divide="ignore", invalid="ignore"):
        q = (het + 2 * hom_alt) / (2 * obs)
        table["o_het"] = het / obs
        table["e_het"] = 2 * q * (1 - q)
    table["alt_freq"] = q
    table["p_hwe"] = hwe_exact_p(het, hom_ref, hom_alt)
    return table


def sample_qc(ds: Any) -> pd.DataFrame:
    """Per-sample call rate and heterozygosity.

    Returns
    -------
    pandas.DataFrame
        ``sample, missing_ct, obs_ct, f_miss, het_ct, het_rate`` (``obs_ct`` counts all
        variants, as plink2's ``OBS_CT``; ``het_rate`` = het calls / non-missing calls).
    """
    d = alt_dosage(ds)
    miss = (d < 0).sum(axis=0)
    het = (d == 1).sum(axis=0)
    import dask

    miss, het = dask.compute(miss, het)
    nvar = int(ds.sizes["variants"])
    called = nvar - miss
    return pd.DataFrame({
        "sample": np.asarray(ds["sample_id"].values).astype(str),
        "missing_ct": miss.astype(np.int64),
        "obs_ct": np.full(miss.shape, nvar, dtype=np.int64),
        "f_miss": miss / max(nvar, 1),
        "het_ct": het.astype(np.int64),
        "het_rate": np.where(called > 0, het / np.maximum(called, 1), np.nan),
    })
