"""Ancestry adjustment of polygenic scores, as pgsc_calc (``pgscatalog-calc``) does it.

Given principal components and score sums of a reference panel (with population labels)
and of the targets:

* **empirical** — the percentile and Z of a target within the score distribution of its
  most similar reference population (``percentile_MostSimilarPop``,
  ``Z_MostSimilarPop``);
* **Z_norm1** (Khera et al. 2019) — PCs standardised on the reference, the score centred
  on the reference mean, a linear regression of score on the first ``n_pcs`` PCs in the
  reference; ``Z_norm1`` is the residual divided by the SD of the reference residuals;
* **Z_norm2** (Khan et al. 2022) — also the variance: a gamma regression (log link) of the
  squared reference residuals on the PCs gives starting values, then the mean and
  variance models are re-fitted jointly by maximum likelihood (BFGS), and
  ``Z_norm2 = (score − μ(PCs)) / sqrt(σ²(PCs))``.

The same estimators (scikit-learn ``LinearRegression`` / ``GammaRegressor``, SciPy BFGS
with the analytic gradient) and the same defaults (4 PCs, unrelated reference samples
only for training) are used, so the results equal pgsc_calc's to numerical precision.

References
----------
Khera AV et al. Circulation 139, 1593–1602 (2019). doi:10.1161/CIRCULATIONAHA.118.035658
Khan A et al. Nat Med 28, 1006–1013 (2022). doi:10.1038/s41591-022-01869-1
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from genoma.errors import InconsistentInputError

__all__ = ["AdjustedScores", "adjust_scores"]


@dataclass
class AdjustedScores:
    """Ancestry-adjusted scores of one score for the targets (and the reference).

    Attributes
    ----------
    z_norm1, z_norm2
        ``(n_target,)`` arrays (NaN when the reference score has no variance).
    percentile, z_empirical
        Percentile (0–100) and Z within the target's most similar reference population.
    ref_z_norm1, ref_z_norm2
        The same for the reference samples (for the distribution plot).
    model
        Fitted parameters (PC standardisation, regression coefficients, optimiser state).
    """

    z_norm1: np.ndarray
    z_norm2: np.ndarray
    percentile: np.ndarray
    z_empirical: np.ndarray
    ref_z_norm1: np.ndarray
    ref_z_norm2: np.ndarray
    model: dict[str, Any] = field(default_factory=dict)


def _f_var(x: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return np.exp(beta[0] + x @ beta[1:])


def _f_mu(x: np.ndarray, beta: np.ndarray) -> np.ndarray:
    return beta[0] + x @ beta[1:]


def _nll(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    k = x.shape[1] + 1
    var = _f_var(x, theta[k:])
    return float(np.sum(np.log(np.sqrt(var)) + 0.5 * (y - _f_mu(x, theta[:k])) ** 2 / var))


def _grad(theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    k = x.shape[1] + 1
    var = _f_var(x, theta[k:])
    r = y - _f_mu(x, theta[:k])
    mu_c = -r / var
    sig_c = 1.0 / (2.0 * var) - 0.5 * r**2 / var**2
    xi = np.column_stack([np.ones(len(y)), x])
    return np.concatenate([xi.T @ mu_c, xi.T @ (sig_c * var)])


def adjust_scores(
    ref_pcs: np.ndarray,
    ref_scores: np.ndarray,
    ref_populations: np.ndarray,
    target_pcs: np.ndarray,
    target_scores: np.ndarray,
    target_populations: np.ndarray,
    ref_train: np.ndarray | None = None,
    n_pcs: int = 4,
) -> AdjustedScores:
    """Ancestry-adjust one score (pgsc_calc methods ``empirical``, ``mean``, ``mean+var``).

    Parameters
    ----------
    ref_pcs, target_pcs
        ``(n, ≥ n_pcs)`` principal components in the same space.
    ref_scores, target_scores
        Score sums.
    ref_populations
        Population label of each reference sample.
    target_populations
        Most similar reference population of each target (for the empirical percentile).
    ref_train
        Boolean mask of reference samples used to fit (pgsc_calc: unrelated ones).
    n_pcs
        PCs used for normalisation (pgsc_calc default 4).

    Returns
    -------
    AdjustedScores

    Raises
    ------
    InconsistentInputError
        Fewer PCs than ``n_pcs`` or mismatched lengths (exit 5).
    """
    from scipy import optimize
    from scipy.stats import percentileofscore
    from sklearn.linear_model import GammaRegressor, LinearRegression

    ref_pcs = np.asarray(ref_pcs, dtype=float)
    target_pcs = np.asarray(target_pcs, dtype=float)
    if ref_pcs.shape[1] < n_pcs or target_pcs.shape[1] < n_pcs:
        raise InconsistentInputError(f"{n_pcs} PCs needed for normalisation")
    if len(ref_pcs) != len(ref_scores) or len(target_pcs) != len(target_scores):
        raise InconsistentInputError("PCs and scores differ in length")
    ys = np.asarray(ref_scores, dtype=float)
    yt = np.asarray(target_scores, dtype=float)
    train = np.ones(len(ys), dtype=bool) if ref_train is None else np.asarray(ref_train, bool)
    ref_populations = np.asarray(ref_populations).astype(str)
    target_populations = np.asarray(target_populations).astype(str)
    nt = len(yt)
    pct = np.full(nt, np.nan)
    z_emp = np.full(nt, np.nan)
    nan_t, nan_r = np.full(nt, np.nan), np.full(len(ys), np.nan)
    model: dict[str, Any] = {"n_pcs": n_pcs, "n_train": int(train.sum())}
    if np.var(ys) == 0:
        model["skipped"] = "zero variance of the score in the reference"
        return AdjustedScores(nan_t, nan_t.copy(), pct, z_emp, nan_r, nan_r.copy(), model)
    # empirical: distribution of the most similar population (training samples)
    emp: dict[str, Any] = {}
    for pop in np.unique(ref_populations):
        dist = ys[train & (ref_populations == pop)]
        if dist.size == 0:
            continue
        sel = target_populations == pop
        if sel.any():
            pct[sel] = percentileofscore(dist, yt[sel])
            z_emp[sel] = (yt[sel] - dist.mean()) / dist.std(ddof=0)
        emp[pop] = {"mean": float(dist.mean()), "std": float(dist.std(ddof=0)),
                    "n": int(dist.size)}
    model["empirical"] = emp
    # PC standardisation on the training reference
    xr = ref_pcs[:, :n_pcs]
    xt = target_pcs[:, :n_pcs]
    mu_pc = xr[train].mean(axis=0)
    sd_pc = xr[train].std(axis=0, ddof=0)
    xr = (xr - mu_pc) / sd_pc
    xt = (xt - mu_pc) / sd_pc
    offset = ys[train].mean()
    ys_c, yt_c = ys - offset, yt - offset
    xtr, ytr = xr[train], ys_c[train]
    lin = LinearRegression().fit(xtr, ytr)
    resid_tr = ytr - lin.predict(xtr)
    resid_sd = resid_tr.std(ddof=0)
    ref_resid = ys_c - lin.predict(xr)
    tgt_resid = yt_c - lin.predict(xt)
    z1_ref = ref_resid / resid_sd
    z1_t = tgt_resid / resid_sd
    gam = GammaRegressor(max_iter=1000).fit(xtr, (resid_tr - resid_tr.mean()) ** 2)
    theta0 = np.concatenate([[lin.intercept_], lin.coef_, [gam.intercept_], gam.coef_])
    fit = optimize.minimize(_nll, theta0, args=(xtr, ytr), method="BFGS", jac=_grad,
                            options={"maxiter": 1000})
    k = n_pcs + 1
    th = fit.x
    z2_ref = (ys_c - _f_mu(xr, th[:k])) / np.sqrt(_f_var(xr, th[k:]))
    z2_t = (yt_c - _f_mu(xt, th[:k])) / np.sqrt(_f_var(xt, th[k:]))
    model.update({
        "pc_mean": mu_pc.tolist(), "pc_std": sd_pc.tolist(), "pgs_offset": float(offset),
        "z_norm1": {"intercept": float(lin.intercept_), "coef": lin.coef_.tolist(),
                    "resid_sd": float(resid_sd)},
        "z_norm2": {"mu": th[:k].tolist(), "var": th[k:].tolist(),
                    "success": bool(fit.success), "message": str(fit.message)},
    })
    return AdjustedScores(z1_t, z2_t, pct, z_emp, z1_ref, z2_ref, model)
