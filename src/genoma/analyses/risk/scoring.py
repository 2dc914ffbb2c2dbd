"""Polygenic scores: many scores in one pass, as plink2 ``--score`` computes them.

The matched variants of all scores are gathered into one weight matrix over the target
rows they use (rows × scores, additive effects). The score of every sample is then a
matrix product over chunks of rows::

    S = D.T @ W + c

where ``D`` holds ALT dosages (rows × samples) and an effect allele that is the target's
REF contributes ``w * (2 - d) = 2w - w d`` (``c`` collects the ``2w`` terms).

Missing genotypes are mean-imputed as plink2 does by default: a missing dosage becomes
``2 * f``, with ``f`` the ALT frequency of the row among the non-missing samples (so the
sum of a score is what plink2 reports in ``SCORE1_SUM``). pgsc_calc turns imputation off
(plink2 ``no-mean-imputation``) for fewer than 50 samples, where frequencies from the
target itself are unreliable; ``imputation="auto"`` does the same, and ``"none"``
counts a missing genotype as 0. Reference allele frequencies can be given instead.

``avg`` is plink2's ``SCORE1_AVG``: the sum divided by ``2 × matched variants`` with mean
imputation, by the non-missing alleles without it. ``allele_ct`` is plink2's
``ALLELE_CT``: the non-missing alleles scored (checked against plink2 2.00a3.5).

Dominant and recessive variants (pgsc_calc's ``is_dominant`` / ``is_recessive``) use the
transformed dosage ``min(d, 1)`` / ``max(d - 1, 0)`` of the effect allele.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from genoma.analyses.risk import kernels
from genoma.analyses.risk.matching import ScoreMatch
from genoma.errors import UsageError
from genoma.io.pgs import TargetGenotypes

__all__ = ["ScoreResult", "WeightMatrix", "build_weights", "compute_scores"]

IMPUTATION = ("auto", "mean", "none")
_AUTO_MIN_SAMPLES = 50


@dataclass
class WeightMatrix:
    """Weights of several scores over the target rows they use.

    Attributes
    ----------
    rows
        Sorted unique target rows used by any score (additive part).
    weights
        CSR matrix ``(len(rows), n_scores)``: weight on the ALT dosage (sign flipped
        where the effect allele is REF).
    offset
        ``(n_scores,)``: ``2 * w`` summed over effect-is-REF variants.
    n_matched
        Matched variants per score.
    nonadditive
        Per score, a list of ``(row, weight, effect_is_alt, kind)`` for dominant and
        recessive variants.
    """

    pgs_ids: list[str]
    rows: np.ndarray
    weights: sp.csr_matrix
    offset: np.ndarray
    n_matched: np.ndarray
    n_variants: np.ndarray
    nonadditive: list[list[tuple[int, float, bool, str]]]
    ref_offset: sp.csr_matrix | None = None
    """``(len(rows), n_scores)``: ``2w`` of the effect-is-REF variants (their share of
    ``offset``, given back for missing genotypes when imputation is off)."""

    @property
    def n_scores(self) -> int:
        """Number of scores."""
        return len(self.pgs_ids)


@dataclass
class ScoreResult:
    """Scores of every sample.

    Attributes
    ----------
    samples, pgs_ids
        Row and column labels.
    sums
        ``(n_samples, n_scores)`` score sums (plink2 ``SCORE_SUM``).
    allele_ct
        ``(n_samples, n_scores)`` non-missing alleles scored (plink2 ``ALLELE_CT``).
    denom
        ``(n_samples, n_scores)`` the denominator of ``avg`` (plink2 ``SCORE_AVG``).
    n_matched, n_variants
        Per score.
    imputation
        ``mean`` or ``none`` (the mode applied).
    """

    samples: list[str]
    pgs_ids: list[str]
    sums: np.ndarray
    allele_ct: np.ndarray
    denom: np.ndarray
    n_matched: np.ndarray
    n_variants: np.ndarray
    imputation: str
    n_missing: np.ndarray

    @property
    def avgs(self) -> np.ndarray:
        """``sums / denom`` (plink2 ``SCORE_AVG``)."""
        with np.errstate(invalid="ignore", divide="ignore"):
            return self.sums / self.denom


def build_weights(matches: list[ScoreMatch]) -> WeightMatrix:
    """Gather the matched variants of all scores into one sparse weight matrix.

    Parameters
    ----------
    matches
        One :class:`~genoma.analyses.risk.matching.ScoreMatch` per score (same target).

    Returns
    -------
    WeightMatrix
    """
    rows_l, cols_l, vals_l, off_l = [], [], [], []
    offset = np.zeros(len(matches))
    nonadd: list[list[tuple[int, float, bool, str]]] = []
    for j, m in enumerate(matches):
        ok = m.status == "matched"
        add = ok & (m.score.effect_type == "additive")
        r = m.target_row[add]
        w = m.score.weight[add]
        alt = m.effect_is_alt[add]
        rows_l.append(r)
        cols_l.append(np.full(r.shape, j, dtype=np.int64))
        vals_l.append(np.where(alt, w, -w))
        off_l.append(np.where(alt, 0.0, 2.0 * w))
        offset[j] = float((2.0 * w[~alt]).sum())
        na = ok & (m.score.effect_type != "additive")
        nonadd.append([
            (int(rr), float(ww), bool(aa), str(tt)) for rr, ww, aa, tt in zip(
                m.target_row[na], m.score.weight[na], m.effect_is_alt[na],
                m.score.effect_type[na], strict=True)
        ])
    r_all = np.concatenate(rows_l) if rows_l else np.empty(0, dtype=np.int64)
    c_all = np.concatenate(cols_l) if cols_l else np.empty(0, dtype=np.int64)
    v_all = np.concatenate(vals_l) if vals_l else np.empty(0)
    o_all = np.concatenate(off_l) if off_l else np.empty(0)
    rows, inv = np.unique(r_all, return_inverse=True)
    w = sp.csr_matrix((v_all, (inv, c_all)), shape=(len(rows), len(matches)))
    w.sum_duplicates()
    ro = sp.csr_matrix((o_all, (inv, c_all)), shape=(len(rows), len(matches)))
    ro.sum_duplicates()
    return WeightMatrix(
        pgs_ids=[m.score.pgs_id for m in matches],
        rows=rows,
        weights=w,
        offset=offset,
        n_matched=np.array([m.n_matched for m in matches], dtype=np.int64),
        n_variants=np.array([m.n_variants for m in matches], dtype=np.int64),
        nonadditive=nonadd,
        ref_offset=ro,
    )


def _fill_values(d: np.ndarray, n_miss_row: np.ndarray, mode: str,
                 freq: np.ndarray | None) -> np.ndarray:
    """Per-row imputed dosage (float64): 0, ``2 × ref_freq`` or the row's mean."""
    if mode == "none":
        return np.zeros(d.shape[0])
    if freq is not None:
        return 2.0 * np.asarray(freq, dtype=np.float64)
    n_ok = d.shape[1] - n_miss_row
    tot = d.sum(axis=1)  # missing already set to 0
    with np.errstate(invalid="ignore", divide="ignore"):
        f = tot / n_ok
    return np.where(n_ok > 0, f, 0.0)


def compute_scores(
    target: TargetGenotypes,
    weights: WeightMatrix,
    imputation: str = "auto",
    ref_freq: np.ndarray | None = None,
    chunk_rows: int | None = None,
) -> ScoreResult:
    """Score every sample of the target with every score in one pass over its rows.

    Parameters
    ----------
    target
        Target genotypes (dosages are read chunk by chunk).
    weights
        From :func:`build_weights`.
    imputation
        ``auto`` (mean imputation from 50 samples up, as pgsc_calc), ``mean`` or ``none``.
    ref_freq
        Optional ALT frequencies for every target row (e.g. from a reference panel),
        used instead of the target's own frequencies when imputing.
    chunk_rows
        Rows read at a time (memory: ``chunk_rows × n_samples`` float64); by default
        about 8 million genotypes per chunk.

    Returns
    -------
    ScoreResult

    Raises
    ------
    UsageError
        Unknown ``imputation``.
    """
    if imputation not in IMPUTATION:
        raise UsageError(f"imputation must be one of {', '.join(IMPUTATION)}")
    mode = imputation
    if mode == "auto":
        mode = "mean" if target.n_samples >= _AUTO_MIN_SAMPLES else "none"
    ns = target.n_samples
    # alleles scored: 2 per matched variant, minus missing ones when not imputing
    allele_ct = np.tile(2.0 * weights.n_matched.astype(float), (ns, 1))
    if target.packed is not None or target.read_codes is not None:
        sums, n_missing = _additive_kernel(target, weights, mode, ref_freq, chunk_rows)
    else:
        sums, n_missing = _additive_dense(target, weights, mode, ref_freq, chunk_rows)
    for j, items in enumerate(weights.nonadditive):
        if not items:
            continue
        rr = np.array([it[0] for it in items], dtype=np.int64)
        d = target.read_dosage(rr).astype(np.float64)
        for q, (_, w, alt, kind) in enumerate(items):
            de = d[q] if alt else 2.0 - d[q]
            de = np.minimum(de, 1.0) if kind == "dominant" else np.maximum(de - 1.0, 0.0)
            miss = np.isnan(de)
            if miss.any():
                n_missing[:, j] += miss
                fill = 0.0 if mode == "none" or miss.all() else float(np.nanmean(de))
                de = np.where(miss, fill, de)
            sums[:, j] += w * de
    full = allele_ct.copy()
    allele_ct -= 2.0 * n_missing
    return ScoreResult(
        samples=list(target.samples), pgs_ids=list(weights.pgs_ids), sums=sums,
        allele_ct=allele_ct, denom=full if mode == "mean" else allele_ct.copy(),
        n_matched=weights.n_matched, n_variants=weights.n_variants,
        imputation=mode, n_missing=n_missing)


def _additive_kernel(target: TargetGenotypes, weights: WeightMatrix, mode: str,
                     ref_freq: np.ndarray | None,
                     chunk_rows: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Additive part from genotype codes (packed ``.bed`` bytes or int8 blocks)."""
    ns, k = target.n_samples, weights.n_scores
    fill_mode = {"mean": kernels.FILL_MEAN, "none": kernels.FILL_NONE}[mode]
    if ref_freq is not None and mode == "mean":
        fill_mode = kernels.FILL_GIVEN
    ro = weights.ref_offset
    if ro is None:  # a WeightMatrix built by hand: no effect-is-REF constants
        ro = sp.csr_matrix(weights.weights.shape)
    sums = np.zeros((ns, k))
    n_missing = np.zeros((ns, k))
    bed = target.packed.array() if target.packed is not None else None
    n_rows = len(weights.rows)
    if bed is not None:
        # dense weights for a block of rows: at most ~4 million (row, score) cells
        step = max(1024, (4 << 20) // max(k, 1))
    else:
        step = chunk_rows or max(64, min(8192, (8 << 20) // max(ns, 1)))
    for start in range(0, n_rows, step):
        rows = weights.rows[start:start + step]
        w_alt = weights.weights[start:start + step].toarray()
        rc = ro[start:start + step].toarray()
        fg = None
        if fill_mode == kernels.FILL_GIVEN:
            fg = 2.0 * np.asarray(ref_freq, dtype=np.float64)[rows]
        if bed is not None:
            assert target.packed is not None
            s, nm = kernels.score_bed(bed, rows, target.packed.n_samples, w_alt, rc,
                                      w_alt != 0, fill_mode=fill_mode, fill_given=fg,
                                      samples=target.packed.samples)
        else:
            assert target.read_codes is not None
            s, nm = kernels.score_codes(target.read_codes(rows), w_alt, rc, w_alt != 0,
                                        fill_mode=fill_mode, fill_given=fg)
        sums += s
        n_missing += nm
    return sums, n_missing


def _additive_dense(target: TargetGenotypes, weights: WeightMatrix, mode: str,
                    ref_freq: np.ndarray | None,
                    chunk_rows: int | None) -> tuple[np.ndarray, np.ndarray]:
    """Additive part from float64 dosages (``read_dosage``; VCF ``DS`` dosages)."""
    ns, k = target.n_samples, weights.n_scores
    if chunk_rows is None:
        chunk_rows = max(64, min(8192, (8 << 20) // max(ns, 1)))
    sums = np.zeros((ns, k))
    n_missing = np.zeros((ns, k))
    present = (weights.weights != 0).astype(np.float64).tocsr()
    for start in range(0, len(weights.rows), chunk_rows):
        rows = weights.rows[start:start + chunk_rows]
        d = np.ascontiguousarray(target.read_dosage(rows), dtype=np.float64)
        block = weights.weights[start:start + chunk_rows]
        flat = np.flatnonzero(np.isnan(d))
        if flat.size:
            mi, ms = np.divmod(flat, d.shape[1])
            fr = ref_freq[rows] if ref_freq is not None else None
            d.reshape(-1)[flat] = 0.0  # read_dosage returns a fresh array
            n_miss_row = np.bincount(mi, minlength=d.shape[0])
            fill = _fill_values(d, n_miss_row, mode, fr)
            # missing genotypes as a sparse rows × samples indicator
            mf = sp.csr_matrix((np.ones(mi.size), (mi, ms)), shape=d.shape)
            n_missing += np.asarray((present[start:start + chunk_rows].T @ mf).T.todense())
            # missing genotypes contribute w × fill; with no imputation an effect-is-REF
            # variant must also give back the 2w of the offset
            corr = sp.csr_matrix(block.multiply(fill[:, None]))
            if mode == "none" and weights.ref_offset is not None:
                corr = corr - weights.ref_offset[start:start + chunk_rows]
            sums += np.asarray((corr.T @ mf).T.todense())
        # (rows × samples)ᵀ @ (rows × scores) in float64: dense BLAS when most weights
        # are non-zero (many overlapping scores), sparse otherwise
        if block.nnz > 0.3 * block.shape[0] * block.shape[1]:
            sums += d.T @ block.toarray()
        else:
            sums += np.asarray((block.T @ d).T)
    sums += weights.offset[None, :]
    return sums, n_missing
