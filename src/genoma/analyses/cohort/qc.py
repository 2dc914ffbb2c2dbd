"""Sample and variant quality control of a cohort: call rate, heterozygosity, Hardy–Weinberg,
sex check.

The figures equal plink2 ``--missing`` (``.smiss`` / ``.vmiss``: ``MISSING_CT``,
``OBS_CT``, ``F_MISS``) and ``--hardy`` (genotype counts, observed and expected
heterozygosity, exact HWE p-value) on autosomal biallelic variants; :func:`sex_check`
equals plink 1.9 ``--check-sex`` (X-chromosome F, SNPSEX, STATUS). Everything is a Dask
reduction over ``(variants, samples)`` chunks.

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

__all__ = ["PAR_REGIONS", "genotype_counts_block", "hwe_exact_p", "parse_sex", "sample_qc",
           "sex_check", "variant_qc", "x_nonpar_mask"]

VERSION = "0.2.0"


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


# --------------------------------------------------------------------------------------
# Sex check (plink 1.9 --check-sex)

#: Pseudo-autosomal regions (1-based, inclusive) per build, as plink's ``--split-x``.
PAR_REGIONS: dict[str, tuple[tuple[int, int], ...]] = {
    "GRCh37": ((60_001, 2_699_520), (154_931_044, 155_260_560)),
    "GRCh38": ((10_001, 2_781_479), (155_701_383, 156_030_895)),
}

#: plink's default ``--check-sex`` thresholds: F below → female, above → male.
FEMALE_MAX_F = 0.2
MALE_MIN_F = 0.8

_SEX_CODES = {"1": 1, "m": 1, "male": 1, "2": 2, "f": 2, "female": 2, "0": 0, "": 0,
              "-9": 0, "nan": 0, "na": 0, "u": 0, "unknown": 0}


def parse_sex(values: Any, *, path: str | None = None, first_line: int = 2) -> np.ndarray:
    """Sex codes as plink: 1 male, 2 female, 0 unknown.

    Parameters
    ----------
    values
        Iterable of codes: ``1/2/0``, ``M/F``, ``male/female`` (any case), ``-9``, ``NA``
        or empty for unknown.
    path, first_line
        For messages: the file and the line of the first value.

    Returns
    -------
    numpy.ndarray
        ``int8`` codes.

    Raises
    ------
    MalformedInputError
        An unrecognised code (exit 4; names the line).
    """
    from genoma.errors import MalformedInputError

    out = []
    for i, v in enumerate(values):
        key = "" if v is None or (isinstance(v, float) and np.isnan(v)) else str(v).strip()
        key = key.lower().removesuffix(".0")
        if key not in _SEX_CODES:
            raise MalformedInputError(f"unrecognised sex code {v!r} (use 1/2/0, M/F, "
                                      "male/female)", path=path, line=first_line + i)
        out.append(_SEX_CODES[key])
    return np.asarray(out, dtype=np.int8)


def _x_block_py(gt: np.ndarray, male: np.ndarray) -> np.ndarray:
    """Per-sample ``(nonmissing, het, expected hom)`` sums over one block of X variants.

    Row ``n`` (one past the samples) counts the polymorphic variants used.
    """
    v, n, ploidy = gt.shape
    out = np.zeros((n + 1, 3))
    for i in range(v):
        # allele frequency: males (by pedigree sex) count one allele, het males are skipped
        alt = 0.0
        tot = 0.0
        for j in range(n):
            a = gt[i, j, 0]
            b = gt[i, j, 1] if ploidy > 1 else -2
            if a < 0 or a > 1 or b == -1 or b > 1:
                continue
            if b == -2:  # haploid call: homozygous
                b = a
            if male[j]:
                if a != b:
                    continue
                alt += a
                tot += 1.0
            else:
                alt += a + b
                tot += 2.0
        if tot == 0.0:
            continue
        p = alt / tot
        if p < 1e-8 or p > 1.0 - 1e-8:
            continue  # monomorphic: skipped, as plink
        e = 1.0 - 2.0 * p * (1.0 - p)
        out[n, 0] += 1.0
        for j in range(n):
            a = gt[i, j, 0]
            b = gt[i, j, 1] if ploidy > 1 else -2
            if a < 0 or a > 1 or b == -1 or b > 1:
                continue
            out[j, 0] += 1.0
            out[j, 2] += e
            if b >= 0 and a != b:
                out[j, 1] += 1.0
    return out


@functools.cache
def _x_kernel() -> Any:
    import numba

    return numba.njit(cache=True, nogil=True)(_x_block_py)


def x_nonpar_mask(ds: Any, par: tuple[tuple[int, int], ...] | None = None) -> np.ndarray:
    """Boolean mask of the variants on chrX outside the pseudo-autosomal regions.

    Parameters
    ----------
    ds
        Cohort dataset (``ds.attrs["genome_build"]`` selects the PAR coordinates).
    par
        PAR intervals (1-based, inclusive); default :data:`PAR_REGIONS` of the build, none
        for other builds (simulated, unknown).
    """
    from genoma.model.variant import canonical_chrom

    contigs = [canonical_chrom(str(c)) for c in np.asarray(ds["contig_id"].values)]
    x_codes = [i for i, c in enumerate(contigs) if c == "chrX"]
    vc = np.asarray(ds["variant_contig"].values)
    mask = np.isin(vc, x_codes)
    if par is None:
        par = PAR_REGIONS.get(str(ds.attrs.get("genome_build", "")), ())
    if mask.any() and par:
        pos = np.asarray(ds["variant_position"].values)
        for lo, hi in par:
            mask &= ~((pos >= lo) & (pos <= hi))
    return mask


def sex_check(ds: Any, sex: Any = None, *, female_max_f: float = FEMALE_MAX_F,
              male_min_f: float = MALE_MIN_F,
              par: tuple[tuple[int, int], ...] | None = None) -> pd.DataFrame:
    """X-chromosome inbreeding coefficient and genetic sex, as plink 1.9 ``--check-sex``.

    Over the polymorphic chrX variants outside the pseudo-autosomal regions, per sample:
    ``F = (O_hom − E_hom) / (N − E_hom)`` with ``N`` the called variants, ``O_hom`` the
    homozygous calls (haploid calls count as homozygous) and ``E_hom = Σ 1 − 2p(1 − p)``
    over those calls (``p`` from all samples, males counted as haploid and their
    heterozygous calls skipped, as plink's allele frequencies on chrX). ``F > male_min_f``
    → SNPSEX 1 (male), ``F < female_max_f`` → 2 (female), else 0; STATUS is ``OK`` when
    PEDSEX is known and equals SNPSEX, ``PROBLEM`` otherwise (plink's rule: an unknown
    PEDSEX is a problem). Calls with a second ALT allele count as missing (plink loads
    one ALT).

    Parameters
    ----------
    ds
        Cohort dataset.
    sex
        Reported sex per sample: a mapping or ``pandas.Series`` sample → code, or a
        sequence aligned with ``ds["sample_id"]``; codes as :func:`parse_sex` (already
        parsed ints accepted). None: all unknown.
    female_max_f, male_min_f
        plink's thresholds (defaults 0.2 / 0.8).
    par
        PAR intervals to exclude (default: by genome build, see :func:`x_nonpar_mask`).

    Returns
    -------
    pandas.DataFrame
        ``sample, pedsex, snpsex, status, f, x_obs_ct, x_het_ct, e_hom`` (``f`` NaN and
        ``PROBLEM`` where a sample has no called X variant). ``attrs["x_variants"]``:
        polymorphic non-PAR X variants used.

    Raises
    ------
    InconsistentInputError
        No polymorphic chrX variant outside the PARs (exit 5), as plink.
    MalformedInputError
        Unrecognised sex codes (exit 4).

    References
    ----------
    Purcell S et al. (2007) PLINK. Am J Hum Genet 81:559–575; plink 1.9 ``sexcheck()``.
    """
    import dask.array as da

    from genoma.errors import InconsistentInputError

    ids = np.asarray(ds["sample_id"].values).astype(str)
    n = ids.size
    if sex is None:
        pedsex = np.zeros(n, dtype=np.int8)
    elif isinstance(sex, (dict, pd.Series)):
        lookup = dict(sex)
        pedsex = parse_sex([lookup.get(s, 0) for s in ids])
    else:
        pedsex = parse_sex(list(sex))
        if pedsex.size != n:
            raise InconsistentInputError(f"{pedsex.size} sex codes for {n} samples")
    mask = x_nonpar_mask(ds, par)
    empty = InconsistentInputError("no chrX variants outside the pseudo-autosomal regions: "
                                   "sex check needs X-chromosome genotypes")
    if not mask.any():
        raise empty
    g = ds["call_genotype"].data
    if not isinstance(g, da.Array):
        g = da.from_array(np.asarray(g))
    g = g[np.flatnonzero(mask)].rechunk({1: -1, 2: -1})
    male = pedsex == 1
    kern = _x_kernel()

    def block(b: np.ndarray) -> np.ndarray:
        return kern(np.ascontiguousarray(b, dtype=np.int8), male)[None]

    sums = g.map_blocks(block, chunks=((1,) * g.numblocks[0], (n + 1,), (3,)),
                        dtype=np.float64).sum(axis=0).compute()
    n_used = int(sums[n, 0])
    obs, het, e_hom = sums[:n, 0], sums[:n, 1], sums[:n, 2]
    if n_used == 0:
        raise InconsistentInputError("no polymorphic chrX variant outside the pseudo-autosomal "
                                     "regions: sex check needs X-chromosome genotypes")
    with np.errstate(divide="ignore", invalid="ignore"):
        f = np.where(obs > 0, (obs - e_hom - het) / (obs - e_hom), np.nan)
    snpsex = np.where(f > male_min_f, 1, np.where(f < female_max_f, 2, 0)).astype(np.int8)
    snpsex[~np.isfinite(f)] = 0
    ok = (pedsex != 0) & (pedsex == snpsex) & np.isfinite(f)
    out = pd.DataFrame({"sample": ids, "pedsex": pedsex, "snpsex": snpsex,
                        "status": np.where(ok, "OK", "PROBLEM"), "f": f,
                        "x_obs_ct": obs.astype(np.int64), "x_het_ct": het.astype(np.int64),
                        "e_hom": e_hom})
    out.attrs["x_variants"] = n_used
    return out
