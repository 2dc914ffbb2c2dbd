"""ML pathogenicity: features from HGVS descriptions, a calibrated gradient-boosting model,
gene-held-out evaluation and per-variant SHAP explanations.

The model scores one variant on one transcript from its ``c.``/``n.`` and ``p.``
descriptions alone (see :mod:`genoma.ml.hgvs_grammar`): variant class (derived from the
descriptions, not from a peer tool), distance to the splice site, position in the CDS and
protein, indel lengths and frame, the new stop of a frameshift, and amino-acid substitution
properties (BLOSUM62, Grantham, hydropathy, volume, charge, Pro/Gly/Cys/Trp/aromatic
changes). Features from the description alone give the same values for a literature variant
(``NM_…:c.174del``) and for a variant annotated by ``genoma annotate``; they need no
sequence, no transcript model and no peer predictor (SIFT, PolyPhen, CADD are only used as
baselines in the evaluation). No population frequency is a feature: benign training labels
are defined by frequency.

Scope: coding, splice, UTR, ``n.`` exonic and intronic variants up to
:data:`MAX_INTRON_OFFSET` bases from an exon. Outside it (deep intronic, an unparsable
description, a coding substitution without its ``p.``) :func:`predict_variants` returns no
score and says why.

Model: :class:`sklearn.ensemble.HistGradientBoostingClassifier`; probabilities calibrated
by Platt scaling or isotonic regression (the shipped model: the one with the lower
gene-held-out ECE, Platt in 1.1.0) fitted on cross-fitted, gene-grouped out-of-fold
margins of the training data only; explanations are exact TreeSHAP values (PyPI ``shap``,
``TreeExplainer``) on the booster's log-odds margin, i.e. before calibration. The shipped
model (``models/pathogenicity_v1.joblib`` + ``.json``) is trained by
``benchmarks/train_pathogenicity.py``; the model card is ``docs/model-cards/pathogenicity.md``.

Intended use: supporting computational evidence (ACMG/AMP PP3/BP4-like), never a diagnosis.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from genoma.errors import KnowledgeError
from genoma.ml.aaprops import blosum62, charge, grantham, hydropathy, volume
from genoma.ml.hgvs_grammar import (
    AA3_TO_1,
    CPosition,
    CVariant,
    HGVSParseError,
    PVariant,
    parse_c,
    parse_p,
)

__all__ = [
    "FEATURES",
    "MAX_INTRON_OFFSET",
    "MODEL_DIR",
    "SUPPORTING_ODDS",
    "VARIANT_CLASSES",
    "PathogenicityModel",
    "PathogenicityPrediction",
    "classify",
    "computational_evidence",
    "cross_validate",
    "expected_calibration_error",
    "feature_matrix",
    "fit_model",
    "load_model",
    "odds_path",
    "predict_variants",
    "reliability_table",
    "save_model",
    "variant_features",
]

MODEL_DIR = Path(__file__).parent / "models"
DEFAULT_MODEL = "pathogenicity_v1"

#: Intronic variants farther than this from the nearest exon are outside the model's scope.
MAX_INTRON_OFFSET = 50

VARIANT_CLASSES: tuple[str, ...] = (
    "missense",
    "synonymous",
    "stop_gained",
    "frameshift",
    "inframe_deletion",
    "inframe_insertion",
    "inframe_indel",
    "start_lost",
    "stop_lost",
    "splice_donor",
    "splice_acceptor",
    "splice_region",
    "intron",
    "utr5",
    "utr3",
    "noncoding_exon",
)
_LOF = {"stop_gained", "frameshift", "start_lost", "splice_donor", "splice_acceptor"}
_EDITS = ("sub", "del", "dup", "ins", "delins")

FEATURES: tuple[str, ...] = (
    *(f"class_{c}" for c in VARIANT_CLASSES),
    "lof",
    *(f"edit_{e}" for e in _EDITS),
    "splice_distance",
    "intron_side",
    "utr_distance",
    "protein_position",
    "log_protein_position",
    "deleted_length",
    "inserted_length",
    "net_length",
    "frame_preserving",
    "aa_changed",
    "fs_new_stop",
    "ext_length",
    "blosum62",
    "grantham",
    "delta_hydropathy",
    "delta_volume",
    "delta_charge",
    "ref_cys",
    "alt_cys",
    "ref_gly",
    "alt_gly",
    "ref_pro",
    "alt_pro",
    "ref_trp",
    "ref_aromatic",
    "alt_aromatic",
)
_F = {name: i for i, name in enumerate(FEATURES)}


class _OutOfScope(Exception):
    """A variant the model does not score (the message says why)."""


# ----------------------------------------------------------------------------- classes


def _min_abs_offset(c: CVariant) -> int:
    """Smallest |intron offset| over the positions a description covers (0: touches an exon)."""
    s, e = c.start, c.end
    if e is None:
        return abs(s.offset)
    if s.offset == 0 or e.offset == 0:
        return 0
    if (s.base, s.region) == (e.base, e.region) and (s.offset > 0) == (e.offset > 0):
        return min(abs(s.offset), abs(e.offset))
    nxt = 1 if (s.region == "-" and s.base == 1) else s.coding_index + 1
    if s.offset > 0 and e.offset < 0 and e.coding_index == nxt:  # both ends in one intron
        return min(s.offset, -e.offset)
    return 0  # the range contains at least one exon base


def _intron_side(c: CVariant) -> int:
    offs = [p.offset for p in (c.start, c.end) if p is not None and p.offset != 0]
    if not offs:
        return 0
    return 1 if min(offs, key=abs) > 0 else -1


def classify(c: CVariant, p: PVariant | None) -> str:
    """The variant class of a parsed description (one of :data:`VARIANT_CLASSES`).

    Splice classes follow Sequence Ontology / VEP: donor/acceptor = intron bases ±1–2,
    splice region = intron bases 3–8. A description touching both an exon and an intron
    (``c.100_100+3del``) counts as touching the splice site. Coding classes come from the
    ``p.`` description when present, else from the frame of an indel.

    Raises
    ------
    _OutOfScope
        Deep intronic (> :data:`MAX_INTRON_OFFSET`) or a coding substitution whose
        protein consequence is not given.
    """
    positions = [c.start] + ([c.end] if c.end is not None else [])
    any_intronic = any(q.offset != 0 for q in positions)
    if any_intronic:
        dist = _min_abs_offset(c)
        side = _intron_side(c)
        if dist <= 2:
            return "splice_donor" if side > 0 else "splice_acceptor"
        if dist <= 8:
            return "splice_region"
        if dist > MAX_INTRON_OFFSET:
            raise _OutOfScope(f"intronic, {dist} bases from the exon (scope ≤ {MAX_INTRON_OFFSET})")
        return "intron"
    if c.coordinate == "n":
        return "noncoding_exon"
    regions = {q.region for q in positions}
    if regions == {"-"}:
        return "utr5"
    if regions == {"*"}:
        return "utr3"
    if p is not None:
        cls = _class_from_p(p, c)
        if cls is not None:
            return cls
    if c.edit == "sub":
        if regions == {""} and c.start.base <= 3:
            return "start_lost"
        raise _OutOfScope("coding substitution without a p. description")
    if c.edit == "identity":
        return "synonymous"
    if c.edit == "inv":
        raise _OutOfScope("coding inversion without a p. description")
    net = c.net_length
    if net is None:
        raise _OutOfScope("indel of unknown length")
    if "-" in regions and "" in regions:
        return "start_lost"
    if "*" in regions:
        return "stop_lost"
    if net % 3:
        return "frameshift"
    return "inframe_deletion" if net < 0 else ("inframe_insertion" if net > 0 else "inframe_indel")


def _class_from_p(p: PVariant, c: CVariant) -> str | None:
    k = p.kind
    if k == "sub":
        if p.alt == ("Ter",):
            return "stop_gained"
        if p.ref_aa == "Met" and p.pos == 1:
            return "start_lost"
        if p.ref_aa == "Ter":
            return "stop_lost"
        return "missense"
    if k in ("synonymous", "identity"):
        return "synonymous"
    if k in ("start_unknown", "no_protein"):
        return "start_lost"
    if k == "fs":
        return "frameshift"
    if k == "ext":
        return "stop_lost" if p.ref_aa == "Ter" else "start_lost"
    if k == "del":
        return "inframe_deletion"
    if k in ("dup", "ins"):
        return "stop_gained" if "Ter" in p.alt else "inframe_insertion"
    if k == "delins":
        return "stop_gained" if "Ter" in p.alt else "inframe_indel"
    return None  # p.? : decide from c.


# ----------------------------------------------------------------------------- features


def _aa1(aa3: str) -> str:
    return AA3_TO_1.get(aa3, "X")


def _features(c: CVariant, p: PVariant | None) -> tuple[str, np.ndarray]:
    cls = classify(c, p)
    x = np.full(len(FEATURES), np.nan)
    for name in VARIANT_CLASSES:
        x[_F[f"class_{name}"]] = 1.0 if name == cls else 0.0
    x[_F["lof"]] = 1.0 if cls in _LOF else 0.0
    edit = "del" if c.edit == "inv" else ("sub" if c.edit == "identity" else c.edit)
    for e in _EDITS:
        x[_F[f"edit_{e}"]] = 1.0 if e == edit else 0.0
    side = _intron_side(c)
    x[_F["intron_side"]] = float(side)
    if side:
        x[_F["splice_distance"]] = float(_min_abs_offset(c))
    anchor = c.start
    if c.coordinate == "c" and anchor.region != "":
        x[_F["utr_distance"]] = float(anchor.base)
    prot = float("nan")
    if p is not None and p.pos:
        prot = float(p.pos)
    elif c.coordinate == "c" and anchor.region == "":
        prot = float(math.ceil(anchor.base / 3))
    x[_F["protein_position"]] = prot
    x[_F["log_protein_position"]] = math.log10(prot) if prot == prot else np.nan
    dl, il, net = c.deleted_length, c.inserted_length, c.net_length
    x[_F["deleted_length"]] = np.nan if dl is None else float(dl)
    x[_F["inserted_length"]] = np.nan if il is None else float(il)
    x[_F["net_length"]] = np.nan if net is None else float(net)
    x[_F["frame_preserving"]] = np.nan if net is None else float(net % 3 == 0)
    if p is not None:
        if p.kind in ("del", "dup", "delins"):
            x[_F["aa_changed"]] = float((p.end_pos or p.pos) - p.pos + 1)
        elif p.kind == "ins":
            x[_F["aa_changed"]] = float(len(p.alt))
        elif p.kind in ("sub", "fs", "ext"):
            x[_F["aa_changed"]] = 1.0
        if p.kind == "fs" and p.new_stop is not None:
            x[_F["fs_new_stop"]] = float(p.new_stop)
        if p.kind == "ext" and p.new_stop is not None:
            x[_F["ext_length"]] = float(abs(p.new_stop))
        if p.kind == "sub":
            a, b = _aa1(p.ref_aa), _aa1(p.alt[0])
            x[_F["blosum62"]] = blosum62(a, b)
            x[_F["grantham"]] = grantham(a, b)
            x[_F["delta_hydropathy"]] = hydropathy(b) - hydropathy(a)
            x[_F["delta_volume"]] = volume(b) - volume(a)
            x[_F["delta_charge"]] = charge(b) - charge(a)
            for res, name in (("C", "cys"), ("G", "gly"), ("P", "pro")):
                x[_F[f"ref_{name}"]] = float(a == res)
                x[_F[f"alt_{name}"]] = float(b == res)
            x[_F["ref_trp"]] = float(a == "W")
            x[_F["ref_aromatic"]] = float(a in "FWY")
            x[_F["alt_aromatic"]] = float(b in "FWY")
    return cls, x


def _snv_for_protein(p: PVariant) -> CVariant:
    """Stand-in for a missing ``c.`` of a protein substitution: a single-nucleotide
    substitution in the protein's codon (only its edit type and lengths are used as
    features; no nucleotide-level feature is derived from it)."""
    if p.kind not in ("sub", "synonymous"):
        raise _OutOfScope("no c. description (a p. alone is scored only for substitutions)")
    return CVariant("c", CPosition(3 * p.pos), None, "sub", "A", "G")


def variant_features(hgvs_c: str, hgvs_p: str | None = None) -> tuple[str, dict[str, float]]:
    """Variant class and feature values of one variant on one transcript.

    Parameters
    ----------
    hgvs_c
        ``c.``/``n.`` description, with or without accession.
    hgvs_p
        ``p.`` description (``None`` or ``""`` when absent).

    Returns
    -------
    (str, dict)
        The variant class and ``{feature name: value}`` (NaN = not applicable).

    Raises
    ------
    genoma.ml.hgvs_grammar.HGVSParseError
        An unparsable description (exit 4).
    ValueError
        A variant outside the model's scope (message says why).
    """
    c = parse_c(hgvs_c)
    p = parse_p(hgvs_p) if hgvs_p else None
    try:
        cls, x = _features(c, p)
    except _OutOfScope as exc:
        raise ValueError(str(exc)) from None
    return cls, dict(zip(FEATURES, x.tolist(), strict=True))


def feature_matrix(
    hgvs_c: Sequence[str | None], hgvs_p: Sequence[str | None] | None = None
) -> tuple[np.ndarray, list[str | None], list[str | None]]:
    """Feature matrix of many variants; never raises for one bad variant.

    Parameters
    ----------
    hgvs_c
        ``c.``/``n.`` descriptions. ``None`` is accepted when the ``p.`` is a substitution
        (missense, nonsense, synonymous): the variant is then taken as a single-nucleotide
        substitution in that codon.
    hgvs_p
        ``p.`` descriptions (``None`` / ``""`` when absent).

    Returns
    -------
    X : numpy.ndarray
        ``(n, len(FEATURES))`` float matrix; rows of unscorable variants are NaN.
    classes : list of str or None
        Variant class per row (``None`` when unscorable).
    reasons : list of str or None
        Why a row is unscorable (``None`` when scored).
    """
    n = len(hgvs_c)
    ps: Sequence[str | None] = hgvs_p if hgvs_p is not None else [None] * n
    if len(ps) != n:
        raise ValueError("hgvs_c and hgvs_p differ in length")
    X = np.full((n, len(FEATURES)), np.nan)
    classes: list[str | None] = [None] * n
    reasons: list[str | None] = [None] * n
    for i, (c_text, p_text) in enumerate(zip(hgvs_c, ps, strict=True)):
        if not c_text and not p_text:
            reasons[i] = "no c./n. description"
            continue
        try:
            p = parse_p(p_text) if p_text else None
            c = parse_c(c_text) if c_text else _snv_for_protein(p)  # type: ignore[arg-type]
            classes[i], X[i] = _features(c, p)
        except HGVSParseError as exc:
            reasons[i] = exc.problem
        except _OutOfScope as exc:
            reasons[i] = str(exc)
    return X, classes, reasons


# ----------------------------------------------------------------------------- model

_BOOSTER_PARAMS: dict[str, Any] = {
    "max_iter": 100,
    "learning_rate": 0.1,
    "max_leaf_nodes": 15,
    "min_samples_leaf": 20,
    "l2_regularization": 1.0,
}


@dataclass
class PathogenicityModel:
    """A fitted booster plus its probability calibration.

    Attributes
    ----------
    booster
        Fitted :class:`~sklearn.ensemble.HistGradientBoostingClassifier`.
    calibrator
        Maps the booster's log-odds margin to a calibrated probability: an
        :class:`~sklearn.isotonic.IsotonicRegression` or a 1-feature
        :class:`~sklearn.linear_model.LogisticRegression` (Platt).
    calibration
        ``"isotonic"`` or ``"platt"``.
    feature_names
        Column order the model expects (:data:`FEATURES` at training time).
    metadata
        Version, training data summary and metrics (written to the JSON sidecar).
    columns
        Indices of the feature columns the booster was fitted on (columns with fewer than
        two distinct values in the training data are left out); ``None`` = all.
    """

    booster: Any
    calibrator: Any
    calibration: str
    feature_names: tuple[str, ...] = FEATURES
    metadata: dict[str, Any] = field(default_factory=dict)
    columns: tuple[int, ...] | None = None

    def _check(self, X: np.ndarray) -> np.ndarray:
        X = np.asarray(X, dtype=float)
        if X.ndim != 2 or X.shape[1] != len(self.feature_names):
            raise ValueError(f"expected {len(self.feature_names)} feature columns, got {X.shape}")
        return X if self.columns is None else X[:, list(self.columns)]

    def margin(self, X: np.ndarray) -> np.ndarray:
        """Uncalibrated log-odds of the booster."""
        return np.asarray(self.booster.decision_function(self._check(X)), dtype=float)

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        """Calibrated probability of pathogenicity per row."""
        return _apply_calibrator(self.calibrator, self.calibration, self.margin(X))

    def explain(self, X: np.ndarray) -> tuple[np.ndarray, float]:
        """Exact TreeSHAP contributions to the log-odds margin.

        Returns
        -------
        values : numpy.ndarray
            ``(n, n_features)``; each row sums with ``base`` to :meth:`margin`.
        base : float
            The explainer's expected margin.
        """
        import shap  # heavy: imported only when explanations are asked for

        explainer = shap.TreeExplainer(self.booster)
        sub = np.asarray(explainer.shap_values(self._check(X)), dtype=float)
        base = float(np.ravel(explainer.expected_value)[0])
        values = np.zeros((sub.shape[0], len(self.feature_names)))
        cols = (
            list(self.columns) if self.columns is not None else list(range(len(self.feature_names)))
        )
        values[:, cols] = sub
        return values, base


def _apply_calibrator(cal: Any, method: str, margin: np.ndarray) -> np.ndarray:
    if method == "isotonic":
        return np.asarray(cal.predict(margin), dtype=float)
    return np.asarray(cal.predict_proba(margin.reshape(-1, 1))[:, 1], dtype=float)


def _fit_calibrator(method: str, margin: np.ndarray, y: np.ndarray) -> Any:
    if method == "isotonic":
        from sklearn.isotonic import IsotonicRegression

        return IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(margin, y)
    if method == "platt":
        from sklearn.linear_model import LogisticRegression

        return LogisticRegression(C=1e6).fit(margin.reshape(-1, 1), y)
    raise ValueError(f"unknown calibration {method!r} (isotonic or platt)")


def _new_booster(seed: int, params: Mapping[str, Any] | None) -> Any:
    from sklearn.ensemble import HistGradientBoostingClassifier

    kw = {**_BOOSTER_PARAMS, **(params or {})}
    return HistGradientBoostingClassifier(random_state=seed, early_stopping=False, **kw)


def _gene_folds(n_splits: int, seed: int) -> Any:
    """Gene-grouped folds with similar label balance (no gene in two folds)."""
    from sklearn.model_selection import StratifiedGroupKFold

    return StratifiedGroupKFold(n_splits=n_splits, shuffle=True, random_state=seed)


def _informative_columns(X: np.ndarray) -> tuple[int, ...]:
    """Columns with at least two distinct non-missing values."""
    keep = []
    for j in range(X.shape[1]):
        col = X[:, j]
        vals = np.unique(col[~np.isnan(col)])
        if len(vals) >= 2:
            keep.append(j)
    return tuple(keep)


def _fit(
    X: np.ndarray,
    y: np.ndarray,
    g: np.ndarray,
    inner_splits: int,
    seed: int,
    params: Mapping[str, Any] | None,
) -> tuple[Any, tuple[int, ...], np.ndarray]:
    """Booster on all rows + gene-grouped out-of-fold margins of the same rows."""
    cols = _informative_columns(X)
    oof = np.empty(len(y))
    for tr, te in _gene_folds(inner_splits, seed).split(X, y, g):
        inner = _informative_columns(X[tr])
        booster = _new_booster(seed, params).fit(X[tr][:, list(inner)], y[tr])
        oof[te] = booster.decision_function(X[te][:, list(inner)])
    booster = _new_booster(seed, params).fit(X[:, list(cols)], y)
    return booster, cols, oof


def fit_model(
    X: np.ndarray,
    y: np.ndarray,
    groups: Sequence[str],
    *,
    calibration: str = "isotonic",
    inner_splits: int = 3,
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
) -> PathogenicityModel:
    """Fit the booster and its calibration on training data only.

    The calibrator is fitted on cross-fitted margins: the training genes are split into
    ``inner_splits`` gene groups, a booster fitted on the others scores each group, and
    the calibrator maps those out-of-fold margins to the labels. The final booster is
    then fitted on all training rows.

    Parameters
    ----------
    X, y
        Features (:data:`FEATURES` order) and labels (1 = pathogenic, 0 = benign).
    groups
        Gene per row (calibration folds never split a gene).
    calibration
        ``"isotonic"`` or ``"platt"``.
    inner_splits
        Gene-grouped folds for the calibration margins.
    seed
        Random state of the booster and of the fold assignment.
    params
        Booster hyper-parameters overriding the defaults.

    Returns
    -------
    PathogenicityModel
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=int)
    booster, cols, oof = _fit(X, y, np.asarray(groups), inner_splits, seed, params)
    cal = _fit_calibrator(calibration, oof, y)
    return PathogenicityModel(
        booster=booster, calibrator=cal, calibration=calibration, columns=cols
    )


# ----------------------------------------------------------------------------- evaluation


def expected_calibration_error(y: np.ndarray, prob: np.ndarray, n_bins: int = 10) -> float:
    """Expected calibration error over ``n_bins`` equal-width probability bins.

    ECE = Σ_b (n_b / n) · |mean(y in b) − mean(p in b)|.
    """
    y = np.asarray(y, dtype=float)
    prob = np.asarray(prob, dtype=float)
    bins = np.minimum((prob * n_bins).astype(int), n_bins - 1)
    ece = 0.0
    for b in range(n_bins):
        m = bins == b
        if m.any():
            ece += m.mean() * abs(y[m].mean() - prob[m].mean())
    return float(ece)


def reliability_table(y: np.ndarray, prob: np.ndarray, n_bins: int = 10) -> list[dict[str, float]]:
    """Per equal-width bin: count, mean predicted probability, observed pathogenic fraction."""
    y = np.asarray(y, dtype=float)
    prob = np.asarray(prob, dtype=float)
    bins = np.minimum((prob * n_bins).astype(int), n_bins - 1)
    rows = []
    for b in range(n_bins):
        m = bins == b
        if m.any():
            rows.append(
                {
                    "bin_low": b / n_bins,
                    "bin_high": (b + 1) / n_bins,
                    "n": int(m.sum()),
                    "mean_predicted": float(prob[m].mean()),
                    "observed": float(y[m].mean()),
                }
            )
    return rows


def _auc(y: np.ndarray, s: np.ndarray) -> tuple[float | None, float | None]:
    from sklearn.metrics import average_precision_score, roc_auc_score

    if len(np.unique(y)) < 2:
        return None, None
    return float(roc_auc_score(y, s)), float(average_precision_score(y, s))


def _summary(y: np.ndarray, prob: np.ndarray, margin: np.ndarray, g: np.ndarray) -> dict[str, Any]:
    from sklearn.metrics import brier_score_loss

    auroc, auprc = _auc(y, prob)
    m_auroc, m_auprc = _auc(y, margin)
    return {
        "n": len(y),
        "pathogenic": int(y.sum()),
        "genes": len(np.unique(g)),
        "auroc": auroc,
        "auprc": auprc,
        "auroc_uncalibrated_margin": m_auroc,
        "auprc_uncalibrated_margin": m_auprc,
        "brier": float(brier_score_loss(y, prob)),
        "ece": expected_calibration_error(y, prob),
    }


def cross_validate(
    X: np.ndarray,
    y: np.ndarray,
    groups: Sequence[str],
    classes: Sequence[str],
    *,
    n_splits: int = 5,
    calibrations: Sequence[str] = ("isotonic", "platt"),
    seed: int = 0,
    params: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Gene-held-out cross-validation (``StratifiedGroupKFold`` by gene).

    Each fold fits the booster and the calibrators exactly as :func:`fit_model` does, on
    the other folds' genes only, and scores the held-out genes. The first calibration
    method is the primary one (``prob``, ``folds``, ``overall``, ``reliability``); every
    method's pooled summary is in ``calibration``.

    Returns
    -------
    dict
        ``prob`` / ``margin`` (out-of-fold, per row), ``fold`` (per row), ``folds`` (per-fold
        n, positives, auROC, auPRC, missense auROC), ``overall`` (pooled auROC, auPRC,
        Brier, ECE), ``calibration`` (method → pooled summary and reliability),
        ``by_class`` (auROC/auPRC of the margin within each variant class with both
        labels) and ``reliability`` (:func:`reliability_table`).
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=int)
    g = np.asarray(groups)
    cls = np.asarray(classes)
    probs = {m: np.empty(len(y)) for m in calibrations}
    margin = np.empty(len(y))
    fold_of = np.empty(len(y), dtype=int)
    folds = []
    primary = calibrations[0]
    for k, (tr, te) in enumerate(_gene_folds(n_splits, seed).split(X, y, g)):
        booster, cols, oof = _fit(X[tr], y[tr], g[tr], 3, seed, params)
        margin[te] = booster.decision_function(X[te][:, list(cols)])
        for m in calibrations:
            probs[m][te] = _apply_calibrator(_fit_calibrator(m, oof, y[tr]), m, margin[te])
        fold_of[te] = k
        auroc, auprc = _auc(y[te], probs[primary][te])
        miss = cls[te] == "missense"
        m_auroc, _ = _auc(y[te][miss], margin[te][miss])
        folds.append(
            {
                "fold": k,
                "n": len(te),
                "pathogenic": int(y[te].sum()),
                "genes": len(np.unique(g[te])),
                "auroc": auroc,
                "auprc": auprc,
                "missense_n": int(miss.sum()),
                "missense_auroc": m_auroc,
            }
        )
    by_class = {}
    for c in VARIANT_CLASSES:
        m = cls == c
        if m.any():
            a, p = _auc(y[m], margin[m])
            by_class[c] = {"n": int(m.sum()), "pathogenic": int(y[m].sum()), "auroc": a, "auprc": p}
    calib = {
        m: {**_summary(y, probs[m], margin, g), "reliability": reliability_table(y, probs[m])}
        for m in calibrations
    }
    return {
        "prob": probs[primary],
        "margin": margin,
        "fold": fold_of,
        "folds": folds,
        "overall": _summary(y, probs[primary], margin, g),
        "calibration": calib,
        "by_class": by_class,
        "reliability": calib[primary]["reliability"],
    }


# ----------------------------------------------------------------------------- registry


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def save_model(
    model: PathogenicityModel,
    check_X: np.ndarray,
    *,
    name: str = DEFAULT_MODEL,
    directory: str | Path | None = None,
) -> Path:
    """Write ``NAME.joblib`` (booster + calibrator) and ``NAME.json`` (metadata, checksum,
    and a check set: feature rows with the probabilities they must give after loading).

    Returns
    -------
    pathlib.Path
        The JSON sidecar.
    """
    import joblib
    import sklearn

    out = Path(directory) if directory is not None else MODEL_DIR
    out.mkdir(parents=True, exist_ok=True)
    blob = out / f"{name}.joblib"
    tmp = blob.with_suffix(".joblib.tmp")
    joblib.dump({"booster": model.booster, "calibrator": model.calibrator}, tmp, compress=3)
    tmp.replace(blob)
    check_X = np.asarray(check_X, dtype=float)
    meta = {
        **model.metadata,
        "name": name,
        "calibration": model.calibration,
        "features": list(model.feature_names),
        "columns": None if model.columns is None else list(model.columns),
        "sklearn_version": sklearn.__version__,
        "joblib_sha256": _sha256(blob),
        "check_X": [[None if v != v else v for v in row] for row in check_X.tolist()],
        "check_prob": model.predict_proba(check_X).tolist(),
    }
    side = out / f"{name}.json"
    tmp = side.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(meta, indent=1, sort_keys=True) + "\n")
    tmp.replace(side)
    return side


def load_model(
    name: str = DEFAULT_MODEL, directory: str | Path | None = None
) -> PathogenicityModel:
    """Load a model from the registry and verify it.

    The joblib file must match the checksum in the JSON sidecar, the feature list must
    equal :data:`FEATURES`, and the stored check rows must give the stored probabilities
    (to 1e-9) with the installed scikit-learn.

    Raises
    ------
    genoma.errors.KnowledgeError
        Missing files, checksum mismatch, other features, or predictions that differ
        (e.g. an incompatible scikit-learn: retrain with ``benchmarks/train_pathogenicity.py``).
    """
    import warnings

    import joblib

    base = Path(directory) if directory is not None else MODEL_DIR
    side, blob = base / f"{name}.json", base / f"{name}.joblib"
    if not side.exists() or not blob.exists():
        raise KnowledgeError(f"pathogenicity model {name!r} not found", path=blob)
    meta = json.loads(side.read_text())
    if _sha256(blob) != meta.get("joblib_sha256"):
        raise KnowledgeError("model file does not match the checksum in its sidecar", path=blob)
    if tuple(meta.get("features", ())) != FEATURES:
        raise KnowledgeError(
            "model was trained on another feature set than this genoma computes; retrain it",
            path=side,
        )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # sklearn version warnings: checked below by predictions
        parts = joblib.load(blob)
    check_X = np.array(
        [[np.nan if v is None else v for v in row] for row in meta["check_X"]], dtype=float
    )
    extra = {k: v for k, v in meta.items() if k not in ("check_X", "check_prob")}
    model = PathogenicityModel(
        booster=parts["booster"],
        calibrator=parts["calibrator"],
        calibration=meta["calibration"],
        feature_names=FEATURES,
        metadata=extra,
        columns=None if meta.get("columns") is None else tuple(meta["columns"]),
    )
    got = model.predict_proba(check_X)
    if not np.allclose(got, np.asarray(meta["check_prob"]), atol=1e-9, rtol=0):
        raise KnowledgeError(
            f"model {name!r} predicts differently with scikit-learn installed here than with "
            f"{meta.get('sklearn_version')} it was trained with; retrain with "
            "benchmarks/train_pathogenicity.py",
            path=blob,
        )
    return model


@lru_cache(maxsize=2)
def _default_model(name: str) -> PathogenicityModel:
    return load_model(name)


# ----------------------------------------------------------------------------- prediction


@dataclass(frozen=True)
class PathogenicityPrediction:
    """The model's output for one variant on one transcript.

    Attributes
    ----------
    hgvs_c, hgvs_p
        The descriptions scored.
    variant_class
        Class derived from the descriptions (``None`` when unscorable).
    score
        Calibrated probability of pathogenicity (``None`` when unscorable).
    margin
        Booster log-odds before calibration (``None`` when unscorable).
    reason
        Why no score was given (``None`` when scored).
    contributions
        Top SHAP contributions ``(feature, value, contribution to log-odds)``, largest
        absolute first (empty unless asked for).
    model
        Model name and version.
    odds_path
        Likelihood ratio of pathogenicity: the score's odds divided by the odds of the
        training prevalence (scores clipped to [0.001, 0.999]); prior-free, so usable
        in the ACMG/AMP Bayesian framework (Tavtigian 2018). ``None`` when unscorable.
    evidence
        ``"PP3"`` (odds_path ≥ 2.08) or ``"BP4"`` (≤ 1/2.08) at *supporting* strength, else
        ``None`` (see :func:`computational_evidence`).
    """

    hgvs_c: str | None
    hgvs_p: str | None
    variant_class: str | None
    score: float | None
    margin: float | None
    reason: str | None
    contributions: tuple[tuple[str, float, float], ...] = ()
    model: str = ""
    odds_path: float | None = None
    evidence: str | None = None


#: Tavtigian et al. 2018 (Genet Med 20:1054): OddsPath of a *supporting* criterion.
SUPPORTING_ODDS = 2.08


def odds_path(score: float, prevalence: float) -> float:
    """Likelihood ratio of pathogenicity from a calibrated score.

    ``(s / (1 − s)) / (π / (1 − π))`` with ``π`` the pathogenic fraction of the training
    data the calibration was fitted on; ``s`` is clipped to [0.001, 0.999].
    """
    s = min(max(score, 0.001), 0.999)
    return (s / (1 - s)) / (prevalence / (1 - prevalence))


def computational_evidence(odds: float | None) -> str | None:
    """ACMG/AMP computational evidence from an OddsPath, capped at *supporting* strength.

    ``"PP3"`` when ``odds ≥ 2.08``, ``"BP4"`` when ``odds ≤ 1/2.08``, else ``None``. The cap
    reflects the model card: gene-held-out missense auROC is modest, so the score is never
    more than supporting evidence.
    """
    if odds is None:
        return None
    if odds >= SUPPORTING_ODDS:
        return "PP3"
    if odds <= 1 / SUPPORTING_ODDS:
        return "BP4"
    return None


def predict_variants(
    variants: Iterable[tuple[str | None, str | None] | Mapping[str, str | None]],
    *,
    model: PathogenicityModel | None = None,
    explain: bool = False,
    top: int = 5,
) -> list[PathogenicityPrediction]:
    """Score variants with the pathogenicity model (the ``ML_PATHOGENICITY`` score).

    Parameters
    ----------
    variants
        ``(hgvs_c, hgvs_p)`` pairs, or mappings with ``HGVSc``/``HGVSp`` (VEP/genoma CSQ
        field names) or ``hgvs_c``/``hgvs_p`` keys. ``hgvs_p`` may be ``None``/``""``.
    model
        A loaded model; default: the shipped :data:`DEFAULT_MODEL` (loaded once).
    explain
        Add the ``top`` SHAP contributions per scored variant.
    top
        Number of contributions kept.

    Returns
    -------
    list of PathogenicityPrediction
        One per input, in order. Unscorable inputs get ``score=None`` and a ``reason``.

    Raises
    ------
    genoma.errors.KnowledgeError
        The shipped model is missing or fails its checks.
    """
    pairs: list[tuple[str | None, str | None]] = []
    for v in variants:
        if isinstance(v, Mapping):
            c = v.get("HGVSc", v.get("hgvs_c"))
            p = v.get("HGVSp", v.get("hgvs_p"))
        else:
            c, p = v
        pairs.append((c or None, p or None))
    mdl = model if model is not None else _default_model(DEFAULT_MODEL)
    label = f"{mdl.metadata.get('name', DEFAULT_MODEL)} {mdl.metadata.get('version', '')}".strip()
    X, classes, reasons = feature_matrix([c for c, _ in pairs], [p for _, p in pairs])
    ok = np.array([r is None for r in reasons], dtype=bool)
    probs = np.full(len(pairs), np.nan)
    margins = np.full(len(pairs), np.nan)
    contrib: dict[int, tuple[tuple[str, float, float], ...]] = {}
    if ok.any():
        margins[ok] = mdl.margin(X[ok])
        probs[ok] = _apply_calibrator(mdl.calibrator, mdl.calibration, margins[ok])
        if explain:
            values, _ = mdl.explain(X[ok])
            for row, i in enumerate(np.flatnonzero(ok)):
                order = np.argsort(-np.abs(values[row]))[:top]
                contrib[int(i)] = tuple(
                    (FEATURES[j], float(X[i, j]), float(values[row, j])) for j in order
                )
    prevalence = float(mdl.metadata.get("training_prevalence", 0.5))
    out = []
    for i, (c, p) in enumerate(pairs):
        scored = bool(ok[i])
        odds = odds_path(float(probs[i]), prevalence) if scored else None
        out.append(
            PathogenicityPrediction(
                hgvs_c=c,
                hgvs_p=p,
                variant_class=classes[i],
                score=float(probs[i]) if scored else None,
                margin=float(margins[i]) if scored else None,
                reason=reasons[i],
                contributions=contrib.get(i, ()),
                model=label,
                odds_path=odds,
                evidence=computational_evidence(odds),
            )
        )
    return out
