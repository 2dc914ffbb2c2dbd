"""Training new polygenic scores on a cohort, evaluated per ancestry on held-out samples.

Two methods, both on a VCF Zarr cohort (:func:`genoma.io.vcz.open_cohort`), reusing the
cohort GWAS (:func:`genoma.analyses.cohort.gwas.gwas`) and LD clumping
(:func:`genoma.analyses.cohort.clump.clump`):

``ct`` — clumping and thresholding
    GWAS on the training samples (covariates, optional PCs of the training samples) →
    LD clumping of the candidates (``r² ≥ clump_r2`` within ``clump_kb`` kb, LD from the
    *training* samples) → one score per p-value threshold (index variants with
    ``p ≤ t``, weight = GWAS beta) → the threshold with the best validation metric.

``lasso`` — penalised regression (elastic net, lasso by default)
    GWAS on the training samples as a pre-screen (``p ≤ screen_p``, at most
    ``max_variants`` by ascending p) → standardised, mean-imputed dosages residualised on
    the covariates (and PCs) → the coordinate-descent path of scikit-learn
    (:func:`sklearn.linear_model.enet_path`) over ``n_alphas`` penalties → the penalty
    with the best validation metric; weights are the coefficients per ALT allele.
    Binary traits are fitted as a linear probability model (weights are on the 0/1
    scale, ``weight_type=beta_linear_probability``).

Samples are split into *train* (fit), *validation* (choose threshold / penalty) and
*test* (held out; every metric reported). With ``train_samples`` the training pool is
those samples (``validation_fraction`` of them, drawn per population, is the validation
set) and every other phenotyped sample is held out; otherwise a ``test_fraction`` of
each population is held out at random.

Metrics per ancestry on the held-out samples: incremental R² of the score over the
covariates (quantitative traits), AUC (binary traits), and calibration: the score's
prediction ``ŷ = a₀ + score`` (``a₀`` fitted on the training samples) regressed on the
outcome, ``y ~ a + b·ŷ`` (linear; logistic on the log-odds scale for a C+T score of a
binary trait): perfect calibration is ``a = 0, b = 1``.

Variants used: bi-allelic, MAF ≥ ``min_maf`` in the training samples and, unless
``keep_ambiguous``, not strand-ambiguous (A/T, C/G), so that the score file is matched in
full by ``genoma risk score`` with its default policy.

References
----------
Choi SW, Mak TS, O'Reilly PF (2020) Tutorial: a guide to performing polygenic risk score
analyses. Nat Protoc 15:2759–2772.
Privé F, Aschard H, Blum MGB (2019) Efficient implementation of penalized regression for
genetic risk prediction. Genetics 212:65–74.
Martin AR et al. (2019) Clinical use of current polygenic risk scores may exacerbate
health disparities. Nat Genet 51:584–591.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from genoma.errors import InconsistentInputError, MalformedInputError, UsageError

__all__ = [
    "DEFAULT_THRESHOLDS",
    "METHODS",
    "SUPERPOPULATION",
    "SampleSplit",
    "TrainedScore",
    "auc",
    "calibration",
    "evaluate_scores",
    "incremental_r2",
    "scoring_file_text",
    "split_samples",
    "train_score",
]

VERSION = "0.1.0"
#: Training methods.
METHODS = ("ct", "lasso")
#: p-value thresholds tried by C+T.
DEFAULT_THRESHOLDS = (5e-8, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 5e-2, 0.1, 0.2, 0.5)
#: Simulated population → superpopulation label used in reports.
SUPERPOPULATION = {"YRI": "AFR", "CEU": "EUR", "CHB": "EAS"}


# ----------------------------------------------------------------------------- splits
@dataclass
class SampleSplit:
    """Indexes (into the cohort's samples, ascending) of each set.

    Attributes
    ----------
    train, validation, test
        Disjoint index arrays; ``test`` is never used for fitting or tuning.
    """

    train: np.ndarray
    validation: np.ndarray
    test: np.ndarray

    def label(self, n: int) -> np.ndarray:
        """``train/validation/test/""`` per cohort sample."""
        out = np.full(n, "", dtype=object)
        out[self.train] = "train"
        out[self.validation] = "validation"
        out[self.test] = "test"
        return out


def _stratified_take(idx: np.ndarray, groups: np.ndarray, fraction: float,
                     rng: np.random.Generator) -> np.ndarray:
    """A random ``fraction`` of ``idx`` drawn within each group (at least 1 if possible)."""
    take: list[np.ndarray] = []
    for g in np.unique(groups):
        members = idx[groups == g]
        k = round(fraction * members.size)
        if members.size >= 2:
            k = min(max(k, 1), members.size - 1)
        else:
            k = 0
        take.append(rng.choice(members, size=k, replace=False))
    return np.sort(np.concatenate(take)) if take else np.array([], dtype=np.int64)


def split_samples(eligible: np.ndarray, sample_ids: np.ndarray, populations: np.ndarray, *,
                  train_samples: list[str] | None = None, test_fraction: float = 0.3,
                  validation_fraction: float = 0.2, seed: int = 0) -> SampleSplit:
    """Split the phenotyped samples into train / validation / test sets.

    Parameters
    ----------
    eligible
        Indexes of the samples with a phenotype and covariates.
    sample_ids
        All sample identifiers of the cohort.
    populations
        Population label of every cohort sample (stratifies the random draws).
    train_samples
        The training pool (validation is drawn from it); all other eligible samples are
        held out. None: hold out ``test_fraction`` of each population at random.
    test_fraction, validation_fraction
        Shares of the eligible samples (test) and of the training pool (validation).
    seed
        Seed of the random draws.

    Returns
    -------
    SampleSplit

    Raises
    ------
    UsageError
        Fractions outside (0, 1).
    InconsistentInputError
        Training samples absent from the cohort, or a set too small (exit 5).
    """
    if not (0 < test_fraction < 1 and 0 < validation_fraction < 1):
        raise UsageError("test and validation fractions must lie in (0, 1)")
    rng = np.random.default_rng(seed)
    eligible = np.sort(np.asarray(eligible, dtype=np.int64))
    ids = np.asarray(sample_ids).astype(str)
    if train_samples is not None:
        wanted = set(map(str, train_samples))
        unknown = wanted - set(ids.tolist())
        if unknown:
            raise InconsistentInputError(
                f"{len(unknown)} training sample(s) are not in the cohort, e.g. "
                f"{', '.join(sorted(unknown)[:3])}")
        in_pool = np.isin(ids[eligible], list(wanted))
        pool, test = eligible[in_pool], eligible[~in_pool]
    else:
        test = _stratified_take(eligible, populations[eligible], test_fraction, rng)
        pool = np.setdiff1d(eligible, test)
    validation = _stratified_take(pool, populations[pool], validation_fraction, rng)
    train = np.setdiff1d(pool, validation)
    for name, s in (("training", train), ("validation", validation), ("held-out", test)):
        if s.size < 10:
            raise InconsistentInputError(
                f"only {s.size} {name} samples with a phenotype (10 needed)")
    return SampleSplit(train, validation, test)


# ----------------------------------------------------------------------------- metrics
def _ols_rss(x: np.ndarray, y: np.ndarray) -> float:
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    r = y - x @ coef
    return float(r @ r)


def incremental_r2(y: np.ndarray, score: np.ndarray, covariates: np.ndarray | None = None
                   ) -> float:
    """R² gained by adding ``score`` to ``y ~ 1 + covariates`` (OLS).

    Parameters
    ----------
    y, score
        Outcome and score, (n,).
    covariates
        (n, k) covariates (an intercept is always added), or None.

    Returns
    -------
    float
        ``(RSS_reduced − RSS_full) / TSS``; NaN with fewer than 3 samples or a constant
        outcome.
    """
    y = np.asarray(y, dtype=np.float64)
    n = y.size
    base = np.ones((n, 1))
    if covariates is not None and covariates.size:
        base = np.column_stack([base, covariates])
    tss = float(((y - y.mean()) ** 2).sum())
    if n < 3 or tss <= 0:
        return math.nan
    full = np.column_stack([base, score])
    return (_ols_rss(base, y) - _ols_rss(full, y)) / tss


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties counted half); NaN without both classes."""
    from scipy.stats import rankdata

    y = np.asarray(y).astype(bool)
    n1 = int(y.sum())
    n0 = y.size - n1
    if n1 == 0 or n0 == 0:
        return math.nan
    r = rankdata(score)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


def _expit(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))


def _logistic_fit(x: np.ndarray, y: np.ndarray, offset: np.ndarray | None = None,
                  max_iter: int = 100) -> np.ndarray:
    """Newton–Raphson logistic regression ``logit p = offset + x β``."""
    beta = np.zeros(x.shape[1])
    off = np.zeros(y.size) if offset is None else offset
    for _ in range(max_iter):
        mu = _expit(off + x @ beta)
        w = np.maximum(mu * (1 - mu), 1e-12)
        try:
            step = np.linalg.solve(x.T @ (x * w[:, None]), x.T @ (y - mu))
        except np.linalg.LinAlgError:
            return np.full(x.shape[1], np.nan)
        beta += step
        if not np.all(np.isfinite(beta)):
            return np.full(x.shape[1], np.nan)
        if np.max(np.abs(step)) < 1e-10:
            break
    return beta


def calibration(y: np.ndarray, predicted: np.ndarray, scale: str) -> tuple[float, float]:
    """Calibration intercept and slope of ``predicted`` against the outcome ``y``.

    Parameters
    ----------
    y
        Outcome (0/1 for ``scale="logit"``).
    predicted
        The score's prediction (``a₀ + score``): outcome units, or log-odds for
        ``scale="logit"``.
    scale
        ``identity`` (OLS ``y ~ a + b·ŷ``) or ``logit`` (logistic ``logit P(y) = a + b·ŷ``).

    Returns
    -------
    tuple of float
        ``(a, b)``; perfect calibration is ``(0, 1)``. NaN when not estimable.
    """
    y = np.asarray(y, dtype=np.float64)
    x = np.column_stack([np.ones(y.size), predicted])
    if y.size < 3 or np.ptp(predicted) == 0:
        return math.nan, math.nan
    if scale == "logit":
        if y.min() == y.max():
            return math.nan, math.nan
        a, b = _logistic_fit(x, y)
        return float(a), float(b)
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    return float(coef[0]), float(coef[1])


def _signed_metric(y: np.ndarray, score: np.ndarray, cov: np.ndarray, binary: bool) -> float:
    """Tuning criterion: AUC (binary) or sign(r)·incremental R² (quantitative)."""
    if np.ptp(score) == 0:
        return -math.inf if not binary else 0.5
    if binary:
        return auc(y, score)
    r2 = incremental_r2(y, score, cov)
    c = np.corrcoef(score, y)[0, 1]
    return float(np.sign(c) * r2) if np.isfinite(r2) else -math.inf


def evaluate_scores(y: np.ndarray, score: np.ndarray, predicted: np.ndarray,
                    covariates: np.ndarray | None, groups: np.ndarray, *, binary: bool,
                    scale: str) -> list[dict[str, Any]]:
    """Metrics per group (and ``all``) of one set of samples.

    Returns
    -------
    list of dict
        ``ancestry, n, n_cases, r2 | auc, r, calibration_intercept, calibration_slope``.
    """
    rows: list[dict[str, Any]] = []
    present = sorted(set(map(str, groups)))
    labels = present if present == ["all"] else [*present, "all"]
    for lab in labels:
        m = np.ones(y.size, bool) if lab == "all" else (groups.astype(str) == lab)
        if not m.any():
            continue
        yy, ss, pp = y[m], score[m], predicted[m]
        cov = covariates[m] if covariates is not None else None
        row: dict[str, Any] = {"ancestry": lab, "n": int(m.sum())}
        if binary:
            row["n_cases"] = int(yy.sum())
            row["auc"] = auc(yy, ss)
        else:
            row["r2"] = incremental_r2(yy, ss, cov)
        row["r"] = (float(np.corrcoef(ss, yy)[0, 1])
                    if m.sum() > 2 and np.ptp(ss) > 0 and np.ptp(yy) > 0 else math.nan)
        a, b = calibration(yy, pp, scale)
        row["calibration_intercept"] = a
        row["calibration_slope"] = b
        rows.append(row)
    return rows


# ----------------------------------------------------------------------------- helpers
def _read_dosage(ds: Any, vidx: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """ALT dosages ``(len(vidx), len(cols))`` float64, NaN missing (chunked dask read)."""
    from genoma.model.cohort import alt_dosage

    if vidx.size == 0:
        return np.zeros((0, cols.size))
    order = np.argsort(vidx, kind="stable")
    d = alt_dosage(ds)[vidx[order]]
    arr = np.asarray(d.compute() if hasattr(d, "compute") else d)[:, cols]
    out = np.empty(arr.shape, dtype=np.float64)
    out[order] = np.where(arr >= 0, arr, np.nan)
    return out


def _impute(d: np.ndarray, mean: np.ndarray) -> np.ndarray:
    return np.where(np.isnan(d), mean[:, None], d)


def _prefilter(ds: Any, train: np.ndarray, min_maf: float, keep_ambiguous: bool
               ) -> np.ndarray:
    """Variants worth testing: bi-allelic, MAF ≥ min_maf in ``train``, not A/T or C/G."""
    import dask.array as da

    from genoma.model.cohort import alt_dosage

    alleles = np.asarray(ds["variant_allele"].values).astype(str)
    ok = (alleles[:, 1] != "") if alleles.shape[1] > 1 else np.zeros(len(alleles), bool)
    if alleles.shape[1] > 2:
        ok &= (alleles[:, 2:] == "").all(axis=1)
    if not keep_ambiguous:
        ref = np.char.upper(alleles[:, 0])
        alt = np.char.upper(alleles[:, 1]) if alleles.shape[1] > 1 else ref
        pair = np.char.add(ref, alt)
        ok &= ~np.isin(pair, ["AT", "TA", "CG", "GC"])
    d = alt_dosage(ds)
    if not isinstance(d, da.Array):
        d = da.from_array(d)
    d = d[:, np.sort(train)]
    obs = d >= 0
    n_obs, alt_ct = da.compute(obs.sum(axis=1), da.where(obs, d, 0).sum(axis=1))
    with np.errstate(divide="ignore", invalid="ignore"):
        f = alt_ct / (2.0 * n_obs)
    ok &= np.isfinite(f) & (np.minimum(f, 1 - f) >= min_maf)
    return np.flatnonzero(ok)


def _tested(table: pd.DataFrame) -> np.ndarray:
    """GWAS rows with a valid test."""
    return ((table["error"].to_numpy() == "")
            & np.isfinite(table["p"].to_numpy(np.float64)))


def _training_covariates(ds: Any, design: Any, split: SampleSplit, n_pcs: int,
                         seed: int) -> tuple[np.ndarray, list[str]]:
    """Covariates of the training samples (intercept first), with PCs if asked."""
    pos = np.searchsorted(design.sample_index, split.train)
    cov = design.covariates[pos]
    names = list(design.covariate_names)
    if n_pcs > 0:
        from genoma.analyses.cohort.pca import pca

        res = pca(ds.isel(samples=split.train), n_components=n_pcs, seed=seed)
        pcs = res.scores[[f"PC{k + 1}" for k in range(n_pcs)]].to_numpy(np.float64)
        pcs = (pcs - pcs.mean(axis=0)) / np.where(pcs.std(axis=0) > 0, pcs.std(axis=0), 1)
        cov = np.column_stack([cov, pcs])
        names += [f"PC{k + 1}" for k in range(n_pcs)]
    return cov, names


# ----------------------------------------------------------------------------- result
@dataclass
class TrainedScore:
    """A trained polygenic score with its tuning and per-ancestry evaluation.

    Attributes
    ----------
    method
        ``ct`` or ``lasso``.
    trait_type
        ``quantitative`` or ``binary``.
    weights
        ``chrom, pos, id, effect_allele, other_allele, effect_weight, p`` (effect allele =
        ALT), genome order.
    scale
        ``identity`` or ``logit``: the scale of ``offset + score`` (see
        :func:`calibration`).
    offset
        ``a₀`` fitted on the training samples.
    params
        The parameters of the run, including the chosen threshold or penalty.
    tuning
        One row per candidate (threshold / penalty): ``n_variants`` and the validation
        ``metric``; ``chosen`` marks the best.
    scores
        ``sample, population, set, score`` for every phenotyped sample.
    evaluation
        One row per set × ancestry (see :func:`evaluate_scores`).
    counts
        Samples per set and ancestry.
    limitations
        Caveats for the report.
    """

    method: str
    trait_type: str
    weights: pd.DataFrame
    scale: str
    offset: float
    params: dict[str, Any]
    tuning: pd.DataFrame
    scores: pd.DataFrame
    evaluation: pd.DataFrame
    counts: dict[str, dict[str, int]]
    limitations: list[str] = field(default_factory=list)

    @property
    def weight_type(self) -> str:
        """PGS Catalog ``#weight_type`` of the weights."""
        if self.trait_type == "binary":
            return "log(OR)" if self.method == "ct" else "beta_linear_probability"
        return "beta"

    def report(self) -> dict[str, Any]:
        """The JSON-ready ``train_report.json``."""

        def clean(v: Any) -> Any:
            if isinstance(v, float | np.floating):
                return None if not np.isfinite(v) else float(v)
            if isinstance(v, np.integer):
                return int(v)
            return v

        held = self.evaluation[self.evaluation["set"] == "test"]
        return {
            "analysis": "risk.train", "version": VERSION,
            "method": self.method, "trait_type": self.trait_type,
            "weight_type": self.weight_type, "n_variants": len(self.weights),
            "params": {k: clean(v) for k, v in self.params.items()},
            "n_per_ancestry": self.counts,
            "prediction": {"scale": self.scale, "offset": clean(self.offset),
                           "formula": "prediction = offset + sum(effect_weight x "
                                      "effect allele dosage)"},
            "held_out": [{k: clean(v) for k, v in r.items()}
                         for r in held.drop(columns="set").to_dict(orient="records")],
            "evaluation": [{k: clean(v) for k, v in r.items()}
                           for r in self.evaluation.to_dict(orient="records")],
            "tuning": [{k: clean(v) for k, v in r.items()}
                       for r in self.tuning.to_dict(orient="records")],
            "limitations": self.limitations,
        }


# ----------------------------------------------------------------------------- methods
def _fit_ct(ds_train: Any, table: pd.DataFrame, ok: np.ndarray, thresholds: tuple[float, ...],
            clump_r2: float, clump_kb: float) -> tuple[np.ndarray, list[np.ndarray], list[dict]]:
    """Clump the QC-passing candidates; candidate weight vectors per threshold."""
    from genoma.analyses.cohort.clump import clump

    tmax = max(thresholds)
    cand = table[ok & (table["p"].to_numpy() <= tmax)]
    if len(cand) == 0:
        raise InconsistentInputError(
            f"no variant passes QC with p <= {tmax} in the training GWAS")
    cl = clump(ds_train, cand, p1=tmax, p2=tmax, r2=clump_r2, kb_window=clump_kb)
    idx_rows = cl[cl["is_index"].astype(bool)]
    key = table[["chrom", "pos", "ref", "alt"]].assign(vidx=np.arange(len(table)))
    key = key[ok]
    m = idx_rows[["chrom", "pos", "ref", "alt", "p"]].merge(
        key, on=["chrom", "pos", "ref", "alt"], how="inner").drop_duplicates("vidx")
    vidx = np.sort(m["vidx"].to_numpy(np.int64))
    beta = table["beta"].to_numpy(np.float64)[vidx]
    p = table["p"].to_numpy(np.float64)[vidx]
    cands, info = [], []
    for t in sorted(thresholds):
        w = np.where(p <= t, beta, 0.0)
        cands.append(w)
        info.append({"threshold": t, "n_variants": int((w != 0).sum())})
    return vidx, cands, info


def _fit_lasso(d_train: np.ndarray, y: np.ndarray, cov: np.ndarray, n_alphas: int,
               l1_ratio: float, judge: Any, patience: int = 5
               ) -> tuple[np.ndarray, list[np.ndarray], list[dict], list[float]]:
    """Elastic-net path on standardised, covariate-residualised dosages (train only).

    The path runs from the largest penalty down, warm-started; ``judge(w)`` gives the
    validation metric of per-allele weights ``w`` and the path stops once it has not
    improved for ``patience`` consecutive penalties (the smaller penalties only overfit).
    """
    import warnings

    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import enet_path

    mean = np.nanmean(d_train, axis=1)
    x = _impute(d_train, mean).T  # samples × variants
    sd = x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    x = (x - mean) / sd
    q, _ = np.linalg.qr(cov)
    x = x - q @ (q.T @ x)
    yr = y - q @ (q.T @ y)
    x = np.asfortranarray(x)
    # from the smallest penalty that zeroes every weight down to 1e-3 of it
    a_max = float(np.max(np.abs(x.T @ yr))) / (x.shape[0] * l1_ratio)
    grid = np.geomspace(a_max, a_max * 1e-3, n_alphas) if a_max > 0 else np.array([1.0])
    cands, info, metrics = [], [], []
    coef = np.zeros(x.shape[1])
    best, since = -math.inf, 0
    for a in grid:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            _, c, _ = enet_path(x, yr, l1_ratio=l1_ratio, alphas=[a], coef_init=coef,
                                max_iter=2000, tol=1e-4)
        coef = c[:, 0]
        w = coef / sd
        m = judge(w) if np.any(w != 0) else -math.inf
        cands.append(w)
        info.append({"alpha": float(a), "n_variants": int((w != 0).sum())})
        metrics.append(m)
        if m > best:
            best, since = m, 0
        elif np.isfinite(best):
            since += 1
            if since >= patience:
                break
    return mean, cands, info, metrics


# ----------------------------------------------------------------------------- main
def train_score(
    ds: Any,
    pheno: pd.DataFrame,
    covar: pd.DataFrame | None = None,
    *,
    method: str = "ct",
    pheno_column: str | None = None,
    trait: str = "auto",
    covariate_columns: list[str] | None = None,
    train_samples: list[str] | None = None,
    populations: np.ndarray | None = None,
    n_pcs: int = 0,
    thresholds: tuple[float, ...] = DEFAULT_THRESHOLDS,
    clump_r2: float = 0.1,
    clump_kb: float = 250.0,
    screen_p: float = 0.05,
    max_variants: int = 20_000,
    n_alphas: int = 30,
    l1_ratio: float = 1.0,
    min_maf: float = 0.01,
    keep_ambiguous: bool = False,
    test_fraction: float = 0.3,
    validation_fraction: float = 0.2,
    seed: int = 0,
) -> TrainedScore:
    """Train a polygenic score on a cohort and evaluate it per ancestry on held-out samples.

    Parameters
    ----------
    ds
        Cohort dataset (:func:`genoma.io.vcz.open_cohort`).
    pheno
        Table with a ``sample`` column and the phenotype.
    covar
        Covariates (``sample`` + numeric columns), or None.
    method
        ``ct`` (clumping + thresholding) or ``lasso`` (penalised regression).
    pheno_column
        Phenotype column (default: the first column other than ``sample``).
    trait
        ``quantitative``, ``binary`` or ``auto`` (binary when the values are 0/1 or 1/2).
    covariate_columns
        Covariates to use (default: all columns of ``covar``).
    train_samples
        The training pool (see :func:`split_samples`); None for a random split.
    populations
        Ancestry label per cohort sample (default: the store's ``sample_population``
        mapped through :data:`SUPERPOPULATION`, else ``all``).
    n_pcs
        Principal components of the training samples added to the GWAS / lasso
        covariates (controls population stratification in multi-ancestry training).
    thresholds
        C+T p-value thresholds.
    clump_r2, clump_kb
        C+T clumping parameters (plink ``--clump-r2``, ``--clump-kb``).
    screen_p, max_variants
        Lasso pre-screen: training-GWAS ``p ≤ screen_p``, at most ``max_variants``.
    n_alphas, l1_ratio
        Lasso path length and elastic-net mixing (1 = lasso).
    min_maf, keep_ambiguous
        Variant QC (see the module docstring).
    test_fraction, validation_fraction, seed
        Sample split (see :func:`split_samples`).

    Returns
    -------
    TrainedScore

    Raises
    ------
    UsageError
        Unknown method or trait type, bad parameters (exit 2).
    MalformedInputError
        Non-numeric or non-binary phenotype, population labels of the wrong length
        (exit 4).
    InconsistentInputError
        Too few phenotyped samples in a set, no variant passing QC or the threshold, no
        non-zero weight (exit 5).
    """
    from genoma.analyses.cohort.gwas import GwasDesign, gwas, make_design

    if method not in METHODS:
        raise UsageError(f"unknown method {method!r} (one of {', '.join(METHODS)})")
    if trait not in ("auto", "quantitative", "binary"):
        raise UsageError(f"unknown trait type {trait!r} (auto, quantitative, binary)")
    if not thresholds or not all(0 < t <= 1 for t in thresholds):
        raise UsageError("p-value thresholds must lie in (0, 1]")
    if n_pcs < 0 or max_variants < 1 or not (0 < screen_p <= 1) or not (0 < l1_ratio <= 1):
        raise UsageError("n_pcs >= 0, max_variants >= 1, 0 < screen_p <= 1, "
                         "0 < l1_ratio <= 1 required")
    ids = np.asarray(ds["sample_id"].values).astype(str)
    n_all = ids.size
    if populations is None:
        if "sample_population" in ds:
            raw = np.asarray(ds["sample_population"].values).astype(str)
            populations = np.array([SUPERPOPULATION.get(p, p) for p in raw], dtype=object)
        else:
            populations = np.full(n_all, "all", dtype=object)
    populations = np.asarray(populations).astype(str).astype(object)
    if populations.size != n_all:
        raise MalformedInputError(
            f"{populations.size} population labels for {n_all} cohort samples")
    col = pheno_column or next((c for c in pheno.columns if c != "sample"), None)
    if col is None or col not in pheno.columns:
        raise UsageError(f"no phenotype column {pheno_column!r}")
    if trait == "auto":
        vals = set(pd.to_numeric(pheno[col], errors="coerce").dropna().unique().tolist())
        vals.discard(-9.0)
        trait = "binary" if vals and (vals <= {0.0, 1.0} or vals <= {1.0, 2.0}) else \
            "quantitative"
    binary = trait == "binary"
    design = make_design(ids, pheno, covar, pheno_column=col,
                         covariate_columns=covariate_columns,
                         model="logistic" if binary else "linear")
    split = split_samples(design.sample_index, ids, populations, train_samples=train_samples,
                          test_fraction=test_fraction,
                          validation_fraction=validation_fraction, seed=seed)
    y_all = np.full(n_all, np.nan)
    y_all[design.sample_index] = design.y
    cov_all = np.full((n_all, design.covariates.shape[1] - 1), np.nan)
    cov_all[design.sample_index] = design.covariates[:, 1:]
    if binary:
        for name, s in (("training", split.train), ("validation", split.validation)):
            if np.unique(y_all[s]).size < 2:
                raise InconsistentInputError(f"the {name} samples are all cases or all "
                                             "controls")
    # 1. GWAS on the training samples
    cov_train, cov_names = _training_covariates(ds, design, split, n_pcs, seed)
    if np.linalg.matrix_rank(cov_train) < cov_train.shape[1]:
        raise MalformedInputError("covariates are collinear in the training samples")
    gdesign = GwasDesign(split.train.astype(np.int64), y_all[split.train], cov_train,
                         cov_names, "logistic" if binary else "linear")
    n_tested_all = int(ds.sizes["variants"])
    keep_v = _prefilter(ds, split.train, min_maf, keep_ambiguous)
    if keep_v.size == 0:
        raise InconsistentInputError("no variant passes QC (bi-allelic, MAF, not "
                                     "strand-ambiguous) in the training samples")
    ds = ds.isel(variants=keep_v)
    table = gwas(ds, gdesign)
    ok = _tested(table)
    if not ok.any():
        raise InconsistentInputError("no variant could be tested in the training samples")
    # 2. candidate weight vectors
    eval_idx = np.concatenate([split.validation, split.test])
    if method == "ct":
        ds_train = ds.isel(samples=split.train)
        vidx, cands, info = _fit_ct(ds_train, table, ok, tuple(thresholds), clump_r2, clump_kb)
        d_train = _read_dosage(ds, vidx, split.train)
    else:
        okp = ok & (table["p"].to_numpy(np.float64) <= screen_p)
        sel = np.flatnonzero(okp)
        if sel.size == 0:
            raise InconsistentInputError(
                f"no variant passes QC with p <= {screen_p} in the training GWAS")
        if sel.size > max_variants:
            pv = table["p"].to_numpy(np.float64)[sel]
            sel = np.sort(sel[np.argsort(pv, kind="stable")[:max_variants]])
        vidx = sel
        d_train = _read_dosage(ds, vidx, split.train)
        cands, info = [], []
    nv = split.validation.size
    y_val = y_all[split.validation]
    cov_val = cov_all[split.validation]
    mean_t = np.nanmean(d_train, axis=1) if vidx.size else np.zeros(0)
    d_eval = _impute(_read_dosage(ds, vidx, eval_idx), mean_t)

    def judge(w: np.ndarray) -> float:
        return _signed_metric(y_val, w @ d_eval[:, :nv], cov_val, binary)

    if method == "ct":
        metrics = [judge(w) if np.any(w != 0) else -math.inf for w in cands]
    else:
        _, cands, info, metrics = _fit_lasso(d_train, y_all[split.train], cov_train,
                                             n_alphas, l1_ratio, judge)
    d_train = _impute(d_train, mean_t)
    best = int(np.argmax(metrics))
    if not np.isfinite(metrics[best]) or not np.any(cands[best] != 0):
        raise InconsistentInputError("no candidate score has a non-zero weight: too little "
                                     "signal in the training samples")
    tuning = pd.DataFrame(info)
    tuning["validation_metric"] = ["auc" if binary else "signed_incremental_r2"] * len(info)
    tuning["validation_value"] = metrics
    tuning["chosen"] = np.arange(len(info)) == best
    w = cands[best]
    keep = w != 0
    vidx_k, w_k = vidx[keep], w[keep]
    # 3. scores, offset and evaluation
    s_train = w_k @ d_train[keep]
    s_eval = w_k @ d_eval[keep]
    y_train = y_all[split.train]
    scale = "logit" if (binary and method == "ct") else "identity"
    if scale == "logit":
        a0 = float(_logistic_fit(np.ones((y_train.size, 1)), y_train, offset=s_train)[0])
    else:
        a0 = float(np.mean(y_train - s_train))
    sets = {"train": (split.train, s_train), "validation": (split.validation, s_eval[:nv]),
            "test": (split.test, s_eval[nv:])}
    rows: list[dict[str, Any]] = []
    score_rows: list[pd.DataFrame] = []
    counts: dict[str, dict[str, int]] = {}
    for name, (idx, s) in sets.items():
        pops = populations[idx]
        counts[name] = {str(k): int(v) for k, v in zip(*np.unique(pops, return_counts=True),
                                                          strict=True)}
        for r in evaluate_scores(y_all[idx], s, a0 + s, cov_all[idx], pops, binary=binary,
                                 scale=scale):
            rows.append({"set": name, **r})
        score_rows.append(pd.DataFrame({"sample": ids[idx], "population": pops, "set": name,
                                        "score": s, "prediction": a0 + s}))
    weights = table.iloc[vidx_k][["chrom", "pos", "id", "alt", "ref", "p"]].rename(
        columns={"alt": "effect_allele", "ref": "other_allele"}).reset_index(drop=True)
    weights.insert(5, "effect_weight", w_k)
    chosen = info[best]
    params: dict[str, Any] = {
        "pheno_column": col, "covariates": cov_names[1:], "n_pcs": n_pcs,
        "min_maf": min_maf, "keep_ambiguous": keep_ambiguous, "seed": seed,
        "test_fraction": test_fraction if train_samples is None else None,
        "validation_fraction": validation_fraction,
        "train_samples_given": train_samples is not None,
        "n_variants_in": n_tested_all, "n_variants_qc": int(keep_v.size),
        "n_variants_tested": int(ok.sum()),
    }
    if method == "ct":
        params.update(clump_r2=clump_r2, clump_kb=clump_kb,
                      thresholds=",".join(f"{t:g}" for t in sorted(thresholds)),
                      chosen_threshold=chosen["threshold"], n_index_variants=int(vidx.size))
    else:
        params.update(screen_p=screen_p, max_variants=max_variants, n_screened=int(vidx.size),
                      n_alphas=n_alphas, l1_ratio=l1_ratio, chosen_alpha=chosen["alpha"])
    limitations = []
    train_pops = set(counts["train"])
    held_pops = set(counts["test"]) - train_pops
    if held_pops:
        limitations.append(f"ancestries absent from the training samples: "
                           f"{', '.join(sorted(held_pops))}; expect lower accuracy there "
                           "(Martin et al. 2019)")
    if len(train_pops) > 1 and n_pcs == 0:
        limitations.append("multi-ancestry training without PCs as covariates: the GWAS "
                           "may be confounded by population stratification")
    if binary and method == "lasso":
        limitations.append("binary trait fitted as a linear probability model: weights "
                           "are on the 0/1 scale, not log-odds")
    return TrainedScore(method=method, trait_type=trait, weights=weights, scale=scale,
                        offset=a0, params=params, tuning=tuning,
                        scores=pd.concat(score_rows, ignore_index=True),
                        evaluation=pd.DataFrame(rows), counts=counts,
                        limitations=limitations)


# ----------------------------------------------------------------------------- output
def scoring_file_text(trained: TrainedScore, *, pgs_id: str, genome_build: str | None,
                      license_text: str, trait: str | None = None,
                      version: str | None = None) -> str:
    """A PGS Catalog formatted (v2) scoring file of a trained score.

    Parameters
    ----------
    trained
        The result of :func:`train_score`.
    pgs_id
        Identifier written as ``#pgs_id``.
    genome_build
        ``GRCh37`` / ``GRCh38``; anything else (``simulated``, ``unknown``) is written as
        ``NR`` (not reported), as the PGS Catalog does.
    license_text
        The ``#license`` line.
    trait
        ``#trait_reported`` (default: the phenotype column).
    version
        genoma version written in the header.

    Returns
    -------
    str
        The file text: ``chr_name chr_position effect_allele other_allele effect_weight``
        (``chr_name`` without ``chr``, as the PGS Catalog writes it).
    """
    build = genome_build if genome_build in ("GRCh37", "GRCh38") else "NR"
    trait = trait or str(trained.params.get("pheno_column", ""))
    p = trained.params
    detail = (f"C+T p<={p.get('chosen_threshold')}, clump r2={p.get('clump_r2')} "
              f"kb={p.get('clump_kb')}" if trained.method == "ct" else
              f"elastic net l1_ratio={p.get('l1_ratio')} alpha={p.get('chosen_alpha'):.4g}")
    lines = [
        "###PGS CATALOG SCORING FILE - see https://www.pgscatalog.org/downloads/"
        "#dl_ftp_scoring for additional information",
        "#format_version=2.0",
        "##POLYGENIC SCORE (PGS) INFORMATION",
        f"#pgs_id={pgs_id}",
        f"#pgs_name={pgs_id}",
        f"#trait_reported={trait}",
        f"#trait_mapped={trait}",
        f"#weight_type={trained.weight_type}",
        f"#genome_build={build}",
        f"#variants_number={len(trained.weights)}",
        f"#license={license_text}",
        "##SOURCE INFORMATION",
        f"#pgp_id=genoma-{trained.method}",
        f"#citation=genoma {version or ''} risk train: {detail}".rstrip(),
    ]
    w = trained.weights
    chrom = [c[3:] if c.lower().startswith("chr") else c for c in w["chrom"].astype(str)]
    body = pd.DataFrame({"chr_name": chrom, "chr_position": w["pos"].astype(np.int64),
                         "effect_allele": w["effect_allele"],
                         "other_allele": w["other_allele"],
                         "effect_weight": [f"{x:.10g}" for x in w["effect_weight"]]})
    return "\n".join(lines) + "\n" + body.to_csv(sep="\t", index=False)
