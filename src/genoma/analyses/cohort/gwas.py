"""Genome-wide association: linear and logistic regression with covariates, chunk by chunk.

Each variant is tested with the additive model ``y ~ 1 + covariates + dosage`` where the
dosage counts the first ALT allele (:func:`genoma.model.cohort.alt_dosage_block`). The
statistics equal plink2 ``--glm omit-ref`` (see ``tests/analyses/cohort/test_gwas.py``):

* **linear** — ordinary least squares; ``t = beta / se`` with ``n - p`` degrees of freedom
  (``p`` = number of predictors including the intercept), two-sided Student-t p-value.
* **logistic** — maximum likelihood by Newton–Raphson (IRLS); Wald ``z``, two-sided normal
  p-value. Variants whose fit does not converge (separation, rare alleles with unbalanced
  case/control ratios) are refitted with Firth's penalised likelihood when
  ``firth_fallback`` is set (plink2's default ``firth-fallback``).

Samples with a missing genotype are dropped for that variant only (``n`` reports the
samples used). Linear scans are summarised by additive sufficient statistics (``Σd, Σd², Σd·y, Σd·c`` and, over the
samples with a missing call, ``Σc·cᵀ, Σc·y, Σy²``) in one fused Numba pass per
(variant chunk, sample chunk); sums over sample chunks feed one small batched solve
per variant. Logistic fits read whole variant rows and iterate batched per chunk.

No per-variant Python objects: every kernel works on a ``(variants, samples)`` block and
the blocks are scheduled by Dask (threads locally, or any dask.distributed cluster).

References
----------
Chang CC et al. (2015) Second-generation PLINK. GigaScience 4:7.
Firth D (1993) Bias reduction of maximum likelihood estimates. Biometrika 80:27–38.
Heinze G, Schemper M (2002) A solution to the problem of separation in logistic
regression. Stat Med 21:2409–2419.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd

from genoma.errors import InconsistentInputError, MalformedInputError, UsageError
from genoma.model.cohort import alt_dosage_block

__all__ = ["GwasDesign", "gwas", "gwas_block", "make_design"]

VERSION = "0.1.0"
#: Result columns of a block kernel, in order.
_FIELDS = ("n", "alt_freq", "beta", "se", "stat", "p", "firth", "error")
#: Error codes in the ``error`` column.
ERRORS = {0: "", 1: "CONST_ALLELE", 2: "VIF_TOO_HIGH", 3: "NOT_CONVERGED", 4: "TOO_FEW_SAMPLES"}
_MAX_VIF = 50.0  # plink2 --vif default


@dataclass
class GwasDesign:
    """The per-run constants of an association scan.

    Attributes
    ----------
    sample_index
        Indexes (into the cohort's samples) of the samples analysed.
    y
        Phenotype, float64; for logistic 0 = control, 1 = case.
    covariates
        Covariate matrix (samples × k), the first column the intercept; other columns
        centred and scaled (which does not change the genotype statistics).
    covariate_names
        Names of the covariate columns (intercept first).
    model
        ``"linear"`` or ``"logistic"``.
    """

    sample_index: np.ndarray
    y: np.ndarray
    covariates: np.ndarray
    covariate_names: list[str]
    model: str


def _binary(y: np.ndarray, column: str) -> np.ndarray:
    values = set(np.unique(y).tolist())
    if values <= {0.0, 1.0}:
        return y
    if values <= {1.0, 2.0}:  # plink coding: 1 control, 2 case
        return y - 1.0
    raise MalformedInputError(
        f"phenotype {column!r} is not binary (0/1 or plink 1/2 coding): values "
        f"{sorted(values)[:6]}")


def make_design(
    sample_ids: np.ndarray | list[str],
    pheno: pd.DataFrame,
    covar: pd.DataFrame | None,
    *,
    pheno_column: str | None = None,
    covariate_columns: list[str] | None = None,
    model: Literal["linear", "logistic"] = "linear",
) -> GwasDesign:
    """Align phenotype and covariate tables (``sample`` column) to the cohort's samples.

    Samples missing from either table, or with a missing phenotype or covariate value
    (empty, ``NA``, or plink's ``-9`` for the phenotype), are left out (as plink2 does).

    Parameters
    ----------
    sample_ids
        The cohort's ``sample_id`` values.
    pheno
        Table with a ``sample`` column and at least one phenotype column.
    covar
        Table with a ``sample`` column and numeric covariates, or None.
    pheno_column
        The phenotype to test (default: the first column other than ``sample``).
    covariate_columns
        Covariates to use (default: every column other than ``sample``).
    model
        ``linear`` (quantitative trait) or ``logistic`` (0/1 or 1/2 coded).

    Returns
    -------
    GwasDesign

    Raises
    ------
    MalformedInputError
        No ``sample`` column, a non-numeric covariate, a non-binary trait for logistic.
    InconsistentInputError
        Fewer than 3 samples shared with the cohort (exit 5).
    UsageError
        Unknown column names or model.
    """
    if model not in ("linear", "logistic"):
        raise UsageError(f"unknown model {model!r} (linear or logistic)")
    for name, table in (("phenotype", pheno), ("covariate", covar)):
        if table is not None and "sample" not in table.columns:
            raise MalformedInputError(f"{name} table has no 'sample' column")
    cols = [c for c in pheno.columns if c != "sample"]
    if not cols:
        raise MalformedInputError("phenotype table has no phenotype column")
    pheno_column = pheno_column or cols[0]
    if pheno_column not in pheno.columns:
        raise UsageError(f"no phenotype column {pheno_column!r} (have {', '.join(cols)})")
    ids = pd.Index(np.asarray(sample_ids).astype(str))
    table = pheno[["sample", pheno_column]].copy()
    table["sample"] = table["sample"].astype(str)
    cov_cols: list[str] = []
    if covar is not None:
        cov_cols = covariate_columns or [c for c in covar.columns if c != "sample"]
        missing = [c for c in cov_cols if c not in covar.columns]
        if missing:
            raise UsageError(f"no covariate column(s) {', '.join(missing)}")
        c2 = covar[["sample", *cov_cols]].copy()
        c2["sample"] = c2["sample"].astype(str)
        table = table.merge(c2, on="sample", how="inner")
    for c in [pheno_column, *cov_cols]:
        try:
            table[c] = pd.to_numeric(table[c])
        except (ValueError, TypeError) as exc:
            raise MalformedInputError(f"column {c!r} is not numeric: {exc}") from exc
    # plink's missing-phenotype code
    table.loc[table[pheno_column] == -9, pheno_column] = np.nan
    table = table.dropna()
    table = table[table["sample"].isin(ids)].drop_duplicates("sample")
    if len(table) < 3:
        raise InconsistentInputError(
            f"only {len(table)} samples with phenotype and covariates are in the cohort")
    idx = ids.get_indexer(table["sample"])
    order = np.argsort(idx)
    idx = idx[order]
    y = table[pheno_column].to_numpy(dtype=np.float64)[order]
    if model == "logistic":
        y = _binary(y, pheno_column)
    cov = table[cov_cols].to_numpy(dtype=np.float64)[order] if cov_cols else np.empty((len(y), 0))
    sd = cov.std(axis=0)
    keep = sd > 0  # constant covariates are dropped (as plink2 does)
    cov = (cov[:, keep] - cov[:, keep].mean(axis=0)) / sd[keep]
    names = ["intercept", *[c for c, k in zip(cov_cols, keep, strict=True) if k]]
    design = np.column_stack([np.ones(len(y)), cov])
    if np.linalg.matrix_rank(design) < design.shape[1]:
        raise MalformedInputError("covariates are collinear (the design matrix is rank deficient)")
    return GwasDesign(idx.astype(np.int64), y, design, names, model)


# --------------------------------------------------------------------------- kernels
def _outer_flat(c: np.ndarray) -> np.ndarray:
    n, k = c.shape
    return (c[:, :, None] * c[:, None, :]).reshape(n, k * k)


def _suffstats_py(gt: np.ndarray, pair: np.ndarray | None, s0: int, use: np.ndarray,
                  y: np.ndarray, c: np.ndarray) -> np.ndarray:
    """Additive sufficient statistics of one ``(variants, samples, ploidy)`` block.

    Columns: ``[0, Σd, Σd², Σd·y, Σd·c (k), n_missing, Σ_miss y², Σ_miss c·y (k),
    Σ_miss c cᵀ (k²)]`` over the analysed samples (``use``) ``s0 .. s0 + block width``;
    sums over sample blocks add up. ``pair`` is the diploid block viewed as int16 (one
    value per call; 0 = both alleles REF) or None. Compiled with Numba (``nogil``) by
    :func:`_suffstats_kernel`.
    """
    v, ns, ploidy = gt.shape
    k = c.shape[1]
    out = np.zeros((v, 6 + 2 * k + k * k))
    acc = np.zeros(k)
    for i in range(v):
        s1 = 0.0
        s2 = 0.0
        sy = 0.0
        for a in range(k):
            acc[a] = 0.0
        for jj in range(ns):
            if pair is not None and pair[i, jj] == 0:
                continue  # diploid hom-REF (most calls): both alleles 0, one 16-bit test
            j = s0 + jj
            if not use[j]:
                continue
            d = 0
            miss = False
            for p in range(ploidy):
                allele = gt[i, jj, p]
                if allele == -1:
                    miss = True
                elif allele == 1:
                    d += 1
            if miss:
                yj = y[j]
                out[i, 4 + k] += 1.0
                out[i, 5 + k] += yj * yj
                for a in range(k):
                    ca = c[j, a]
                    out[i, 6 + k + a] += ca * yj
                    for b in range(k):
                        out[i, 6 + 2 * k + a * k + b] += ca * c[j, b]
            elif d:
                fd = float(d)
                s1 += fd
                s2 += fd * fd
                sy += fd * y[j]
                for a in range(k):
                    acc[a] += fd * c[j, a]
        out[i, 1] = s1
        out[i, 2] = s2
        out[i, 3] = sy
        for a in range(k):
            out[i, 4 + a] = acc[a]
    return out


@functools.cache
def _suffstats_kernel() -> Any:
    import numba

    return numba.njit(cache=True, nogil=True)(_suffstats_py)


@dataclass
class _LinearConstants:
    use: np.ndarray  # (n_all,) bool
    y: np.ndarray  # (n_all,) centred phenotype, 0 where unused
    c: np.ndarray  # (n_all, k) covariates, 0 where unused
    n: int
    cc: np.ndarray  # C'C
    cy: np.ndarray  # C'y
    yy: float


def _linear_constants(design: GwasDesign, n_all: int) -> _LinearConstants:
    use = np.zeros(n_all, dtype=np.bool_)
    use[design.sample_index] = True
    yc = design.y - design.y.mean()
    y = np.zeros(n_all)
    y[design.sample_index] = yc
    c = np.zeros((n_all, design.covariates.shape[1]))
    c[design.sample_index] = design.covariates
    cu = design.covariates
    return _LinearConstants(use, y, c, len(yc), cu.T @ cu, cu.T @ yc, float(yc @ yc))


def _suffstats_block(gt: np.ndarray, const: _LinearConstants,
                     block_info: dict | None = None) -> np.ndarray:
    s0 = block_info[0]["array-location"][1][0] if block_info else 0
    g = np.ascontiguousarray(gt)
    if g.dtype != np.int8:
        g = g.astype(np.int8)
    pair = g.view(np.int16)[..., 0] if g.shape[2] == 2 else None
    return _suffstats_kernel()(g, pair, s0, const.use, const.y, const.c)[:, None, :]


def _linear_finish(stats: np.ndarray, const: _LinearConstants) -> np.ndarray:
    """OLS per variant from summed sufficient statistics (batched small solves)."""
    k = const.c.shape[1]
    v = stats.shape[0]
    s1, s2, sy = stats[:, 1], stats[:, 2], stats[:, 3]
    sc = stats[:, 4:4 + k]
    nmiss = stats[:, 4 + k]
    my2 = stats[:, 5 + k]
    mcy = stats[:, 6 + k:6 + 2 * k]
    mcc = stats[:, 6 + 2 * k:].reshape(v, k, k)
    n = const.n - nmiss
    a = np.empty((v, k + 1, k + 1))
    a[:, :k, :k] = const.cc[None] - mcc
    a[:, :k, k] = sc
    a[:, k, :k] = sc
    a[:, k, k] = s2
    b = np.empty((v, k + 1))
    b[:, :k] = const.cy[None] - mcy
    b[:, k] = sy
    yy = const.yy - my2
    out = np.full((v, len(_FIELDS)), np.nan)
    out[:, 0] = n
    out[:, 6] = 0
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, 1] = s1 / (2 * n)
        ss = s2 - s1 * s1 / n
        x, inv, ok = _solve_batched(a, b)
        rss = yy - np.einsum("vi,vi->v", x, b)
        df = n - k - 1
        se = np.sqrt(rss / df * inv[:, k, k])
        gg = 1.0 / inv[:, k, k]
    out[:, 2] = x[:, k]
    out[:, 3] = se
    err = np.where(ss <= 1e-9 * np.maximum(n, 1), 1,
                   np.where(~ok | ~(gg >= ss / _MAX_VIF), 2, 0))
    out[:, 7] = np.where(df < 1, 4, err)
    return out


def _linear_stats_to_fields(stats: np.ndarray, const: _LinearConstants) -> np.ndarray:
    from scipy import stats as sps

    out = _linear_finish(stats, const)
    k = const.c.shape[1]
    failed = out[:, 7] > 0
    out[failed, 2:4] = np.nan
    with np.errstate(divide="ignore", invalid="ignore"):
        out[:, 4] = out[:, 2] / out[:, 3]
    out[:, 5] = 2.0 * sps.t.sf(np.abs(out[:, 4]), out[:, 0] - k - 1)
    return out


def _solve_batched(a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Solve ``a x = b`` per row; singular rows give NaN. Returns (x, inv, ok)."""
    ok = np.isfinite(a).all(axis=(1, 2))
    inv = np.full_like(a, np.nan)
    if ok.any():
        try:
            inv[ok] = np.linalg.inv(a[ok])
        except np.linalg.LinAlgError:
            for i in np.flatnonzero(ok):
                try:
                    inv[i] = np.linalg.inv(a[i])
                except np.linalg.LinAlgError:
                    ok[i] = False
    x = np.einsum("vij,vj->vi", inv, b)
    return x, inv, ok


def _normal_blocks(w: np.ndarray, d0: np.ndarray, c: np.ndarray, cc: np.ndarray) -> np.ndarray:
    """Batched X'WX for X = [C, g]: ``w`` (v, n) weights, ``d0`` (v, n) dosages."""
    v = w.shape[0]
    k = c.shape[1]
    a = np.empty((v, k + 1, k + 1))
    a[:, :k, :k] = (w @ cc).reshape(v, k, k)
    wd = w * d0
    a[:, :k, k] = wd @ c
    a[:, k, :k] = a[:, :k, k]
    a[:, k, k] = np.einsum("ij,ij->i", wd, d0)
    return a


def _expit(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _logistic_null(y: np.ndarray, c: np.ndarray, max_iter: int = 50) -> np.ndarray:
    beta = np.zeros(c.shape[1])
    for _ in range(max_iter):
        mu = _expit(c @ beta)
        w = mu * (1 - mu)
        step = np.linalg.solve(c.T @ (c * w[:, None]), c.T @ (y - mu))
        beta += step
        if np.max(np.abs(step)) < 1e-12:
            break
    return beta


def _logistic_rows(d0: np.ndarray, obs: np.ndarray, y: np.ndarray, c: np.ndarray,
                   beta0: np.ndarray, *, firth: bool, max_iter: int,
                   tol: float = 1e-10) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched Newton (or Firth-penalised Newton) fits; returns (beta, inv_info, converged)."""
    v, _ = d0.shape
    k = c.shape[1]
    cc = _outer_flat(c)
    w_obs = obs.astype(np.float64)
    beta = np.zeros((v, k + 1))
    beta[:, :k] = beta0
    done = np.zeros(v, dtype=bool)
    inv = np.full((v, k + 1, k + 1), np.nan)
    active = np.arange(v)
    for _ in range(max_iter):
        if active.size == 0:
            break
        b = beta[active]
        dd = d0[active]
        wo = w_obs[active]
        eta = b[:, :k] @ c.T + b[:, k:] * dd
        mu = _expit(eta)
        w = mu * (1.0 - mu) * wo
        a = _normal_blocks(w, dd, c, cc)
        _, ainv, ok = _solve_batched(a, np.zeros((active.size, k + 1)))
        resid = (y[None, :] - mu) * wo
        if firth:
            # hat diagonal h = w * x' (X'WX)^-1 x for x = [c, g]
            hcc = cc @ ainv[:, :k, :k].reshape(active.size, k * k).T  # (n, v)
            hcg = c @ ainv[:, :k, k].T  # (n, v)
            h = w * (hcc.T + 2.0 * dd * hcg.T + dd * dd * ainv[:, k, k][:, None])
            resid = resid + h * (0.5 - mu) * wo
        u = np.empty((active.size, k + 1))
        u[:, :k] = resid @ c
        u[:, k] = np.einsum("ij,ij->i", resid, dd)
        step = np.einsum("vij,vj->vi", ainv, u)
        if firth:  # damp large steps (Heinze & Schemper: max step 5)
            big = np.abs(step).max(axis=1, keepdims=True)
            step = np.where(big > 5.0, step * (5.0 / np.maximum(big, 1e-300)), step)
        step[~ok] = np.nan
        beta[active] = b + step
        conv = ok & (np.abs(step).max(axis=1) < tol)
        bad = ~ok | ~np.isfinite(step).all(axis=1)
        finished = conv | bad
        if finished.any():
            fin = active[finished]
            done[active[conv]] = True
            # information at the converged point (recomputed below for precision)
            inv[fin] = ainv[finished]
        active = active[~finished]
    # final information matrix at the estimates of converged rows
    conv_rows = np.flatnonzero(done)
    if conv_rows.size:
        b = beta[conv_rows]
        dd = d0[conv_rows]
        mu = _expit(b[:, :k] @ c.T + b[:, k:] * dd)
        w = mu * (1.0 - mu) * w_obs[conv_rows]
        a = _normal_blocks(w, dd, c, cc)
        _, ainv, ok = _solve_batched(a, np.zeros((conv_rows.size, k + 1)))
        inv[conv_rows] = ainv
        done[conv_rows[~ok]] = False
    return beta, inv, done


def _penalised(beta: np.ndarray, dd: np.ndarray, wo: np.ndarray, y: np.ndarray, c: np.ndarray,
               cc: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Firth-penalised log-likelihood ``l + log|I|/2`` per row, with I, mu and weights."""
    k = c.shape[1]
    eta = beta[:, :k] @ c.T + beta[:, k:] * dd
    ll = (wo * (y[None, :] * eta - np.logaddexp(0.0, eta))).sum(axis=1)
    mu = _expit(eta)
    w = mu * (1.0 - mu) * wo
    a = _normal_blocks(w, dd, c, cc)
    sign, logdet = np.linalg.slogdet(a)
    pen = np.where(sign > 0, ll + 0.5 * logdet, -np.inf)
    return pen, a, mu, w


def _firth_rows(d0: np.ndarray, obs: np.ndarray, y: np.ndarray, c: np.ndarray,
                beta0: np.ndarray, *, max_iter: int = 100, tol: float = 1e-8
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Batched Firth logistic regression (Newton with step halving, Heinze & Schemper 2002).

    Returns (beta, inverse information at beta, converged).
    """
    v = d0.shape[0]
    k = c.shape[1]
    cc = _outer_flat(c)
    wo = obs.astype(np.float64)
    beta = np.zeros((v, k + 1))
    beta[:, :k] = beta0
    pen, a, mu, w = _penalised(beta, d0, wo, y, c, cc)
    conv = np.zeros(v, dtype=bool)
    active = np.ones(v, dtype=bool)
    for _ in range(max_iter):
        rows = np.flatnonzero(active)
        if rows.size == 0:
            break
        ainv = np.linalg.pinv(a[rows])
        dd = d0[rows]
        hcc = cc @ ainv[:, :k, :k].reshape(rows.size, k * k).T
        hcg = c @ ainv[:, :k, k].T
        h = w[rows] * (hcc.T + 2.0 * dd * hcg.T + dd * dd * ainv[:, k, k][:, None])
        resid = (y[None, :] - mu[rows] + h * (0.5 - mu[rows])) * wo[rows]
        u = np.empty((rows.size, k + 1))
        u[:, :k] = resid @ c
        u[:, k] = np.einsum("ij,ij->i", resid, dd)
        step = np.einsum("vij,vj->vi", ainv, u)
        big = np.abs(step).max(axis=1, keepdims=True)
        step = np.where(big > 5.0, step * (5.0 / np.maximum(big, 1e-300)), step)
        new = beta[rows] + step
        npen, na, nmu, nw = _penalised(new, dd, wo[rows], y, c, cc)
        for _half in range(30):
            worse = ~(npen >= pen[rows] - 1e-10)
            if not worse.any():
                break
            step[worse] *= 0.5
            new[worse] = beta[rows][worse] + step[worse]
            sub = _penalised(new[worse], dd[worse], wo[rows][worse], y, c, cc)
            npen[worse], na[worse], nmu[worse], nw[worse] = sub
        # converged: a tiny step, or a penalised likelihood that no longer moves
        done = (np.abs(step).max(axis=1) < tol) | (np.abs(npen - pen[rows]) < 1e-10)
        beta[rows], pen[rows], a[rows], mu[rows], w[rows] = new, npen, na, nmu, nw
        conv[rows[done]] = True
        active[rows[done]] = False
    inv = np.full((v, k + 1, k + 1), np.nan)
    ok = conv & np.isfinite(a).all(axis=(1, 2))
    if ok.any():
        inv[ok] = np.linalg.pinv(a[ok])
    return beta, inv, ok


def _logistic(d: np.ndarray, obs: np.ndarray, y: np.ndarray, c: np.ndarray, beta0: np.ndarray,
              out: np.ndarray, *, firth_fallback: bool, max_iter: int = 25) -> None:
    k = c.shape[1]
    d0 = np.where(obs, d, 0.0)
    n = obs.sum(axis=1)
    mean = d0.sum(axis=1) / np.maximum(n, 1)
    ss = (d0 * d0).sum(axis=1) - n * mean * mean
    beta, inv, conv = _logistic_rows(d0, obs, y, c, beta0, firth=False, max_iter=max_iter)
    # plink2 treats huge coefficients as a failed fit too
    conv &= np.abs(beta[:, k]) < 1e3
    use_firth = np.zeros(d.shape[0], dtype=bool)
    if firth_fallback and (~conv & (ss > 0)).any():
        rows = np.flatnonzero(~conv & (ss > 0))
        fb, finv, fconv = _firth_rows(d0[rows], obs[rows], y, c, beta0)
        beta[rows] = fb
        inv[rows] = finv
        conv[rows] = fconv
        use_firth[rows] = fconv
    with np.errstate(invalid="ignore"):
        se = np.sqrt(inv[:, k, k])
        # VIF of the genotype on the covariates (unweighted, as plink2's check)
    out[:, 0] = n
    out[:, 2] = np.where(conv, beta[:, k], np.nan)
    out[:, 3] = np.where(conv, se, np.nan)
    out[:, 6] = use_firth
    out[:, 7] = np.where(ss <= 0, 1, np.where(~conv, 3, 0))


def gwas_block(gt: np.ndarray, design: GwasDesign, q: np.ndarray, beta0: np.ndarray | None,
               firth_fallback: bool = True) -> np.ndarray:
    """Association statistics of one block of variants.

    Parameters
    ----------
    gt
        ``call_genotype`` block ``(variants, all samples, ploidy)``.
    design
        From :func:`make_design`.
    q
        Orthonormal basis of ``design.covariates`` (linear fast path).
    beta0
        Null-model coefficients (logistic), else None.
    firth_fallback
        Refit non-converged logistic fits with Firth regression.

    Returns
    -------
    numpy.ndarray
        ``(variants, 8)`` float64 with the columns of ``_FIELDS``.
    """
    from scipy import stats

    if design.model == "linear":
        const = _linear_constants(design, gt.shape[1])
        return _linear_stats_to_fields(_suffstats_block(gt, const)[:, 0, :], const)
    assert beta0 is not None
    v = gt.shape[0]
    out = np.full((v, len(_FIELDS)), np.nan)
    out[:, 6] = 0
    dose = alt_dosage_block(gt)[:, design.sample_index]
    obs = dose >= 0
    d = dose.astype(np.float64)
    out[:, 1] = np.where(obs, d, 0).sum(axis=1) / np.maximum(2 * obs.sum(axis=1), 1)
    _logistic(d, obs, design.y, design.covariates, beta0, out, firth_fallback=firth_fallback)
    with np.errstate(divide="ignore", invalid="ignore"):
        stat = out[:, 2] / out[:, 3]
    out[:, 4] = stat
    out[:, 5] = 2.0 * stats.norm.sf(np.abs(stat))
    failed = out[:, 7] > 0
    out[failed, 2:6] = np.nan
    return out


def gwas(ds: Any, design: GwasDesign, *, firth_fallback: bool = True,
         variants_chunk: int | None = None, compute: bool = True) -> pd.DataFrame | Any:
    """Test every variant of a cohort for association with a phenotype.

    Parameters
    ----------
    ds
        Cohort dataset (:func:`genoma.io.vcz.open_cohort`).
    design
        Phenotype and covariates aligned to ``ds`` (:func:`make_design`).
    firth_fallback
        Logistic only: Firth regression when the ordinary fit fails.
    variants_chunk
        Rechunk along variants before scanning (default: the store's chunks).
    compute
        If False return the lazy Dask array of statistics instead of a table.

    Returns
    -------
    pandas.DataFrame
        One row per variant: ``chrom, pos, id, ref, alt, alt_freq, n, beta, se, stat, p,
        firth, error`` (``stat`` is Student t for linear, Wald z for logistic; ``error``
        is empty or one of ``CONST_ALLELE``, ``VIF_TOO_HIGH``, ``NOT_CONVERGED``,
        ``TOO_FEW_SAMPLES``, with NA statistics).
    """
    import dask
    import dask.array as da

    g = ds["call_genotype"].data
    if not isinstance(g, da.Array):
        g = da.from_array(g)
    vchunk = variants_chunk or g.chunks[0][0]
    if design.model == "linear":
        # sufficient statistics per (variant chunk, sample chunk), summed over sample
        # chunks, then one small solve per variant: no re-chunking of the genotypes
        g = g.rechunk({0: vchunk, 2: -1})
        const = _linear_constants(design, g.shape[1])
        width = 6 + 2 * design.covariates.shape[1] + design.covariates.shape[1] ** 2
        # one graph node holds the per-run constants (sent once per worker, not per task)
        const_node = dask.delayed(const, pure=True)
        parts = g.map_blocks(_suffstats_block, const_node, dtype=np.float64,
                             chunks=(g.chunks[0], (1,) * len(g.chunks[1]), (width,)))
        stats_arr = parts.sum(axis=1).map_blocks(
            _linear_stats_to_fields, const_node, dtype=np.float64,
            chunks=(parts.chunks[0], (len(_FIELDS),)))
        if not compute:
            return stats_arr
        return _table(ds, stats_arr.compute())
    g = g.rechunk({0: vchunk, 1: -1, 2: -1})
    q, _ = np.linalg.qr(design.covariates)
    beta0 = _logistic_null(design.y, design.covariates) if design.model == "logistic" else None
    stats_arr = g.map_blocks(gwas_block, dask.delayed(design, pure=True), q=q, beta0=beta0,
                             firth_fallback=firth_fallback, drop_axis=[1, 2],
                             new_axis=1, chunks=(g.chunks[0], (len(_FIELDS),)),
                             dtype=np.float64)
    if not compute:
        return stats_arr
    res = stats_arr.compute()
    return _table(ds, res)


def variant_table(ds: Any) -> pd.DataFrame:
    """``chrom`` (canonical), ``pos``, ``id``, ``ref``, ``alt`` of every variant."""
    from genoma.model.variant import canonical_chrom

    contigs = np.array([canonical_chrom(str(c)) for c in np.asarray(ds["contig_id"].values)],
                       dtype=object)
    alleles = np.asarray(ds["variant_allele"].values).astype(str)
    alt = alleles[:, 1] if alleles.shape[1] > 1 else np.full(alleles.shape[0], "")
    table = pd.DataFrame({
        "chrom": contigs[np.asarray(ds["variant_contig"].values)],
        "pos": np.asarray(ds["variant_position"].values).astype(np.int64),
    })
    if "variant_id" in ds:
        vid = np.asarray(ds["variant_id"].values).astype(str)
        table["id"] = np.where(np.isin(vid, ["", "."]), ".", vid)
    else:
        table["id"] = "."
    table["ref"] = alleles[:, 0]
    table["alt"] = np.where(alt == "", ".", alt)
    return table


def _table(ds: Any, res: np.ndarray) -> pd.DataFrame:
    table = variant_table(ds)
    for i, name in enumerate(_FIELDS):
        table[name] = res[:, i]
    table["n"] = table["n"].astype(np.int64)
    table["firth"] = table["firth"].astype(bool)
    table["error"] = pd.Series(res[:, 7].astype(int)).map(ERRORS).to_numpy()
    return table
