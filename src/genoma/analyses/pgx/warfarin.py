"""Warfarin weekly dose: the IWPC algorithms, a fixed-dose baseline and genoma's model.

Three predictions of the stable therapeutic warfarin dose (mg/week):

* ``dose_iwpc``: the IWPC pharmacogenetic algorithm, exactly as published [1]_
  (supplementary appendix S1f): ``sqrt(dose)`` is linear in age in decades, height,
  weight, VKORC1 -1639 G>A (rs9923231) genotype, CYP2C9 diplotype (*1, *2, *3), race,
  enzyme inducers (carbamazepine, phenytoin, rifampin) and amiodarone; then squared.
* ``dose_clinical``: the IWPC clinical algorithm [1]_ (no genotypes).
* ``dose_model``: genoma's model, a linear model on ``sqrt(dose)`` fitted by median
  (quantile 0.5) regression on the same inputs plus further clinical variables of the
  IWPC table (sex, indication, interacting drugs, comorbidities, other
  CYP2C9 alleles, race × genotype interactions). It ships as a small JSON artefact
  (coefficients only, no patient data) in ``genoma/analyses/pgx/models/``; it is
  (re)trained by :func:`train_warfarin_model` from ``benchmarks/warfarin_cv.py``.

The input of :func:`predict_weekly_dose` is the normalised features frame of
:func:`genoma.io.iwpc.read_iwpc_table` (columns described there); every column except
the IWPC inputs is optional. When ``vkorc1_1639`` is missing it is imputed by the IWPC
rules (:func:`impute_vkorc1`).

References
----------
.. [1] International Warfarin Pharmacogenetics Consortium. Estimation of the warfarin
   dose with clinical and pharmacogenetic data. N Engl J Med 2009;360:753-64.
   https://doi.org/10.1056/NEJMoa0809329
.. [2] Johnson JA et al. Clinical Pharmacogenetics Implementation Consortium (CPIC)
   guideline for pharmacogenetics-guided warfarin dosing: 2017 update. Clin Pharmacol
   Ther 2017;102:397-404. https://cpicpgx.org/guidelines/guideline-for-warfarin-and-cyp2c9-and-vkorc1/
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from genoma.errors import KnowledgeError, UsageError
from genoma.io.iwpc import normalise_cyp2c9, normalise_race

if TYPE_CHECKING:
    from genoma.model.findings import Finding
    from genoma.model.subject import Patient

__all__ = [
    "ANALYSIS",
    "ANALYSIS_VERSION",
    "FIXED_DOSE_MG_WEEK",
    "IWPC_CLINICAL",
    "IWPC_PHARMACOGENETIC",
    "WarfarinModel",
    "design_matrix",
    "features_from_patient",
    "impute_clinical",
    "impute_vkorc1",
    "iwpc_clinical_dose",
    "iwpc_pharmacogenetic_dose",
    "load_warfarin_model",
    "predict_weekly_dose",
    "stable_rows",
    "train_warfarin_model",
    "training_rows",
    "warfarin_finding",
]

ANALYSIS = "pgx.warfarin"
ANALYSIS_VERSION = "0.1.0"
MODEL_FILE = "warfarin_model.json"
FIXED_DOSE_MG_WEEK = 35.0
"""The fixed-dose baseline: 5 mg/day."""

IWPC_URL = "https://doi.org/10.1056/NEJMoa0809329"
CPIC_URL = "https://cpicpgx.org/guidelines/guideline-for-warfarin-and-cyp2c9-and-vkorc1/"

#: IWPC pharmacogenetic algorithm (NEJM 2009;360:753-64, supplementary appendix):
#: sqrt(weekly dose in mg) = sum of coefficient × term.
IWPC_PHARMACOGENETIC: dict[str, float] = {
    "intercept": 5.6044,
    "age_decade": -0.2614,
    "height_cm": 0.0087,
    "weight_kg": 0.0128,
    "vkorc1_AG": -0.8677,
    "vkorc1_AA": -1.6974,
    "vkorc1_unknown": -0.4854,
    "cyp2c9_1_2": -0.5211,
    "cyp2c9_1_3": -0.9357,
    "cyp2c9_2_2": -1.0616,
    "cyp2c9_2_3": -1.9206,
    "cyp2c9_3_3": -2.3312,
    "cyp2c9_unknown": -0.2188,
    "race_asian": -0.1092,
    "race_black": -0.2760,
    "race_mixed_or_missing": -0.1032,
    "enzyme_inducer": 1.1816,
    "amiodarone": -0.5503,
}

#: IWPC clinical algorithm (same source): no genotype terms.
IWPC_CLINICAL: dict[str, float] = {
    "intercept": 4.0376,
    "age_decade": -0.2546,
    "height_cm": 0.0118,
    "weight_kg": 0.0134,
    "race_asian": -0.6752,
    "race_black": 0.4060,
    "race_mixed_or_missing": 0.0443,
    "enzyme_inducer": 1.2799,
    "amiodarone": -0.5695,
}

_IWPC_CYP2C9 = {"*1/*2": "cyp2c9_1_2", "*1/*3": "cyp2c9_1_3", "*2/*2": "cyp2c9_2_2",
                "*2/*3": "cyp2c9_2_3", "*3/*3": "cyp2c9_3_3"}

#: Ranges of the training data (IWPC iwpc_dev, complete cases); outside them no dose.
TRAINING_RANGES = {"age_decade": (1.0, 9.0), "height_cm": (124.0, 203.0),
                   "weight_kg": (30.0, 238.0)}

_ENZYME_INDUCERS = ("carbamazepine", "phenytoin", "rifampin")


# --------------------------------------------------------------------------- VKORC1


def impute_vkorc1(features: pd.DataFrame) -> pd.Series:
    """VKORC1 -1639 G>A (rs9923231) genotype, imputed by the IWPC rules where missing.

    When ``vkorc1_1639`` is missing the IWPC supplement imputes it, in this order, from

    1. rs2359612 (2255C>T; column ``vkorc1_2255``): C/C → G/G, C/T → A/G, T/T → A/A,
       only when race is not Black or African American and not missing/mixed;
    2. rs9934438 (1173C>T; ``vkorc1_1173``): C/C → G/G, C/T → A/G, T/T → A/A, any race;
    3. rs8050894 (1542G>C; ``vkorc1_1542``): G/G → G/G, C/G → A/G, C/C → A/A, only
       when race is not Black or African American and not missing/mixed.

    Parameters
    ----------
    features
        Normalised features (``race``, ``vkorc1_1639`` and, optionally, ``vkorc1_2255``,
        ``vkorc1_1173``, ``vkorc1_1542``).

    Returns
    -------
    pandas.Series
        ``A/A``, ``A/G``, ``G/G`` or ``None`` (still unknown), indexed like ``features``.
    """
    n = len(features)

    def col(name: str) -> pd.Series:
        if name in features:
            return features[name].astype(object).where(features[name].notna(), None)
        return pd.Series([None] * n, index=features.index, dtype=object)

    out = col("vkorc1_1639").copy()
    race = features["race"] if "race" in features else pd.Series("mixed_or_missing",
                                                                   index=features.index)
    not_black = ~race.isin(["black", "mixed_or_missing"])
    rules = [
        ("vkorc1_2255", {"C/C": "G/G", "C/T": "A/G", "T/T": "A/A"}, not_black),
        ("vkorc1_1173", {"C/C": "G/G", "C/T": "A/G", "T/T": "A/A"},
         pd.Series(True, index=features.index)),
        ("vkorc1_1542", {"G/G": "G/G", "C/G": "A/G", "C/C": "A/A"}, not_black),
    ]
    for name, mapping, allowed in rules:
        proxy = col(name).map(lambda g, m=mapping: m.get(g) if isinstance(g, str) else None)
        fill = out.isna() & allowed & proxy.notna()
        out[fill] = proxy[fill]
    return out


def _vkorc1_from_text(text: str | None) -> str | None:
    """Parse a VKORC1 -1639 genotype in any common notation to ``A/A``/``A/G``/``G/G``.

    Accepts the -1639 coding notation (``A/G``, ``GA``), the genomic rs9923231 alleles
    (``C/T``: C ≡ -1639G, T ≡ -1639A) and PharmCAT's ``rs9923231 reference (C)/rs9923231
    variant (T)``.
    """
    if text is None or not text.strip():
        return None
    t = text.strip()
    if "reference" in t or "variant" in t:
        parts = ["G" if "reference" in p else "A" for p in t.split("/")]
    else:
        t = re.sub(r"^(rs9923231|-1639|c\.-1639)[:\s]*", "", t, flags=re.I)
        parts = re.split(r"[/|]", t) if ("/" in t or "|" in t) else list(t)
        parts = [p.strip().upper() for p in parts]
        if all(p in "CT" for p in parts):
            parts = ["G" if p == "C" else "A" for p in parts]
    if len(parts) != 2 or any(p not in ("A", "G") for p in parts):
        raise UsageError(f"not a VKORC1 -1639 G>A (rs9923231) genotype: {text!r}")
    return "/".join(sorted(parts))


# --------------------------------------------------------------------------- IWPC


def _enzyme_inducer(features: pd.DataFrame) -> pd.Series:
    if "enzyme_inducer" in features:
        return features["enzyme_inducer"].fillna(0).astype(float)
    cols = [c for c in _ENZYME_INDUCERS if c in features]
    if not cols:
        return pd.Series(0.0, index=features.index)
    return (features[cols].fillna(0).sum(axis=1) > 0).astype(float)


def _flag(features: pd.DataFrame, name: str) -> pd.Series:
    if name not in features:
        return pd.Series(0.0, index=features.index)
    return features[name].astype(float).fillna(0.0)


def _iwpc_terms(features: pd.DataFrame) -> pd.DataFrame:
    """The IWPC terms (columns named as the coefficient keys) for every row."""
    idx = features.index
    t = pd.DataFrame(index=idx)
    t["intercept"] = 1.0
    t["age_decade"] = features["age_decade"].astype(float)
    t["height_cm"] = features["height_cm"].astype(float)
    t["weight_kg"] = features["weight_kg"].astype(float)
    vk = impute_vkorc1(features)
    t["vkorc1_AG"] = (vk == "A/G").astype(float)
    t["vkorc1_AA"] = (vk == "A/A").astype(float)
    t["vkorc1_unknown"] = vk.isna().astype(float)
    cyp = features["cyp2c9"] if "cyp2c9" in features else pd.Series(None, index=idx)
    for dip, name in _IWPC_CYP2C9.items():
        t[name] = (cyp == dip).astype(float)
    # Diplotypes outside the six IWPC categories (e.g. *1/*5) count as unknown.
    t["cyp2c9_unknown"] = (~cyp.isin(["*1/*1", *_IWPC_CYP2C9])).astype(float)
    race = features["race"]
    t["race_asian"] = (race == "asian").astype(float)
    t["race_black"] = (race == "black").astype(float)
    t["race_mixed_or_missing"] = (race == "mixed_or_missing").astype(float)
    t["enzyme_inducer"] = _enzyme_inducer(features)
    t["amiodarone"] = _flag(features, "amiodarone")
    return t


def _linear_dose(terms: pd.DataFrame, coef: dict[str, float]) -> pd.Series:
    sqrt_dose = sum(terms[k] * v for k, v in coef.items())
    assert isinstance(sqrt_dose, pd.Series)
    return sqrt_dose.clip(lower=0.0) ** 2


def iwpc_pharmacogenetic_dose(features: pd.DataFrame) -> pd.Series:
    """Weekly dose (mg) by the IWPC pharmacogenetic algorithm.

    Parameters
    ----------
    features
        Normalised features (see :func:`genoma.io.iwpc.read_iwpc_table`).

    Returns
    -------
    pandas.Series
        mg/week; NaN where age, height or weight is missing. Missing medication flags
        count as "not taking" (as in IWPC); VKORC1 is imputed by :func:`impute_vkorc1`;
        CYP2C9 diplotypes other than combinations of *1, *2, *3 count as unknown.
    """
    return _linear_dose(_iwpc_terms(features), IWPC_PHARMACOGENETIC).rename("dose_iwpc")


def iwpc_clinical_dose(features: pd.DataFrame) -> pd.Series:
    """Weekly dose (mg) by the IWPC clinical algorithm (no genotypes); NaN as above."""
    return _linear_dose(_iwpc_terms(features), IWPC_CLINICAL).rename("dose_clinical")


# --------------------------------------------------------------------------- model

#: Optional 0/1 inputs of the model: missing counts as 0 ("not recorded/not taking").
MODEL_FLAGS = ("amiodarone", "aspirin", "acetaminophen", "sulfonamide", "macrolide", "azole",
               "herbal", "smoker", "diabetes", "chf", "valve_replacement", "ind_dvt",
               "ind_pe", "ind_af", "ind_valve", "ind_cardiomyopathy", "ind_stroke",
               "ind_orthopedic", "ind_other")
_STATINS = ("simvastatin", "atorvastatin", "fluvastatin", "lovastatin", "pravastatin",
            "rosuvastatin", "cerivastatin")
#: CYP2C9 alleles counted individually; any other non-*1 allele counts as "other".
_NORMAL_CYP2C9 = {"*1", "*9"}


def _cyp2c9_counts(cyp: pd.Series) -> pd.DataFrame:
    rows = []
    for d in cyp:
        if not isinstance(d, str):
            rows.append((0.0, 0.0, 0.0, 1.0))
            continue
        alleles = d.split("/")
        n2 = float(alleles.count("*2"))
        n3 = float(alleles.count("*3"))
        other = float(sum(a not in _NORMAL_CYP2C9 and a not in ("*2", "*3") for a in alleles))
        rows.append((n2, n3, other, 0.0))
    return pd.DataFrame(rows, index=cyp.index,
                        columns=["cyp2c9_n2", "cyp2c9_n3", "cyp2c9_nother", "cyp2c9_unknown"])


def design_matrix(features: pd.DataFrame) -> pd.DataFrame:
    """The model's numeric inputs, one column per term (no intercept).

    Parameters
    ----------
    features
        Normalised features (see :func:`genoma.io.iwpc.read_iwpc_table`); ``age_decade``,
        ``height_cm``, ``weight_kg`` and ``race`` are required, the rest optional.
    Returns
    -------
    pandas.DataFrame
        Float columns named after the terms; rows with missing age, height or weight
        yield NaN in those columns (the model then predicts NaN).
    """
    idx = features.index
    x = pd.DataFrame(index=idx)
    age = features["age_decade"].astype(float)
    height = features["height_cm"].astype(float)
    weight = features["weight_kg"].astype(float)
    x["age_decade"] = age
    x["height_cm"] = height
    x["weight_kg"] = weight
    race = features["race"]
    for r in ("asian", "black", "mixed_or_missing"):
        x[f"race_{r}"] = (race == r).astype(float)
    sex = features["sex"] if "sex" in features else pd.Series(None, index=idx)
    # Unknown sex (4 training rows) sits halfway rather than getting its own term.
    x["male"] = sex.map({"male": 1.0, "female": 0.0}).fillna(0.5).astype(float)
    vk = impute_vkorc1(features)
    n_a = vk.map({"G/G": 0.0, "A/G": 1.0, "A/A": 2.0})
    x["vkorc1_AG"] = (vk == "A/G").astype(float)
    x["vkorc1_AA"] = (vk == "A/A").astype(float)
    x["vkorc1_unknown"] = vk.isna().astype(float)
    cyp = features["cyp2c9"] if "cyp2c9" in features else pd.Series(None, index=idx)
    cyp = cyp.where(cyp.notna(), None)
    x = x.join(_cyp2c9_counts(cyp))
    x["cyp2c9_n3_sq"] = (x["cyp2c9_n3"] == 2).astype(float)
    # Genotype effects differ by ancestry (IWPC, Limdi 2015): race × genotype terms.
    for r in ("asian", "black"):
        x[f"vkorc1_nA_x_{r}"] = n_a.fillna(0.0) * x[f"race_{r}"]
        x[f"cyp2c9_nvar_x_{r}"] = (x["cyp2c9_n2"] + x["cyp2c9_n3"] + x["cyp2c9_nother"]) \
            * x[f"race_{r}"]
    x["vkorc1_nA_x_age"] = n_a.fillna(0.0) * (age - 6.0)
    x["enzyme_inducer"] = _enzyme_inducer(features)
    for f in MODEL_FLAGS:
        x[f] = _flag(features, f)
    stat = [c for c in _STATINS if c in features]
    x["statin"] = ((features[stat].fillna(0).sum(axis=1) > 0).astype(float) if stat
                   else pd.Series(0.0, index=idx))
    # Inputs filled by impute_clinical (column ``imputed``, e.g. "height_cm;weight_kg").
    imputed = features["imputed"].fillna("").astype(str) if "imputed" in features \
        else pd.Series("", index=idx)
    for c in ("age_decade", "height_cm", "weight_kg"):
        x[f"{c}_imputed"] = imputed.str.contains(c, regex=False).astype(float)
    return x.astype(float)


@dataclass
class WarfarinModel:
    """A linear model on ``sqrt(weekly dose)``; transparent and JSON-serialisable.

    Attributes
    ----------
    intercept, coefficients
        ``sqrt(dose) = intercept + Σ coefficients[term] × term`` over
        :func:`design_matrix` terms.
    fill
        Medians of age decade, height and weight in the training data, overall
        (``height_cm``), per race (``height_cm/asian``) and per race and sex
        (``height_cm/asian/female``): used by :func:`impute_clinical` on request.
    metadata
        Training data version, date, method, cross-validation metrics.
    """

    intercept: float
    coefficients: dict[str, float]
    fill: dict[str, float] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def version(self) -> str:
        """The model version recorded in its metadata."""
        return str(self.metadata.get("model_version", "unversioned"))

    def predict(self, features: pd.DataFrame) -> pd.Series:
        """Weekly dose (mg) for each row; NaN where age, height or weight is missing."""
        x = design_matrix(features)
        missing = [k for k in self.coefficients if k not in x]
        if missing:
            raise KnowledgeError(f"warfarin model needs terms genoma does not compute: "
                                 f"{missing}")
        beta = np.array([self.coefficients[k] for k in self.coefficients])
        s = x[list(self.coefficients)].to_numpy() @ beta + self.intercept
        return pd.Series(np.clip(s, 0.0, None) ** 2, index=features.index, name="dose_model")

    def to_json(self) -> str:
        """The model as a JSON document (coefficients and metadata; no patient data)."""
        doc = {"format": "genoma.warfarin.linear-sqrt/1", "intercept": self.intercept,
               "coefficients": self.coefficients, "fill": self.fill,
               "metadata": self.metadata}
        return json.dumps(doc, indent=2, sort_keys=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> WarfarinModel:
        """Read a model written by :meth:`to_json`.

        Raises
        ------
        KnowledgeError
            When the document is not a genoma warfarin model.
        """
        try:
            doc = json.loads(text)
            if doc.get("format") != "genoma.warfarin.linear-sqrt/1":
                raise ValueError(f"unknown format {doc.get('format')!r}")
            return cls(intercept=float(doc["intercept"]),
                       coefficients={k: float(v) for k, v in doc["coefficients"].items()},
                       fill={k: float(v) for k, v in doc.get("fill", {}).items()},
                       metadata=dict(doc.get("metadata", {})))
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KnowledgeError(f"not a genoma warfarin model: {exc}") from exc


def stable_rows(table: pd.DataFrame) -> pd.Series:
    """Rows with a stable therapeutic dose > 0 (the model's training rows)."""
    stable = table["stable_dose"] == 1 if "stable_dose" in table else True
    return stable & table["dose_mg_week"].notna() & (table["dose_mg_week"] > 0)


def training_rows(table: pd.DataFrame) -> pd.Series:
    """Stable-dose rows with complete age, height and weight (the IWPC formula's inputs):
    the rows every method is compared on."""
    return (stable_rows(table) & table["age_decade"].notna() & table["height_cm"].notna()
            & table["weight_kg"].notna())


def train_warfarin_model(table: pd.DataFrame, *, alpha: float = 0.0005,
                         data_version: str = "", seed: int = 0) -> WarfarinModel:
    """Fit genoma's warfarin model on a normalised IWPC table.

    Median (quantile 0.5) regression with a small L1 penalty on ``sqrt(dose)`` over
    :func:`design_matrix` terms: the median of ``sqrt(dose)`` squared is the median
    dose, which minimises the absolute error in mg/week.

    Parameters
    ----------
    table
        Output of :func:`genoma.io.iwpc.read_iwpc_table` with ``dose_mg_week``. Rows
        with a stable dose (:func:`stable_rows`) are used; missing age, height or weight
        are filled with the medians of the complete rows (:func:`impute_clinical`) and
        flagged by ``*_imputed`` terms.
    alpha
        L1 penalty of :class:`sklearn.linear_model.QuantileRegressor` (inputs scaled).
    data_version
        Identifier of the training data (recorded in the metadata).
    seed
        Recorded for reproducibility (the solver is deterministic).

    Returns
    -------
    WarfarinModel

    Raises
    ------
    UsageError
        When fewer than 50 usable rows remain.
    """
    from sklearn.linear_model import QuantileRegressor

    complete = table[training_rows(table)]
    if len(complete) < 50:
        raise UsageError(f"too few usable rows to train the warfarin model: {len(complete)}")
    fill = _fill_values(complete)
    rows, imputed = impute_clinical(table[stable_rows(table)], fill)
    rows["imputed"] = imputed
    rows = rows[rows[["age_decade", "height_cm", "weight_kg"]].notna().all(axis=1)]
    x = design_matrix(rows)
    keep = [c for c in x.columns if x[c].std() > 0]
    xs = x[keep]
    mu, sd = xs.mean(), xs.std()
    z = ((xs - mu) / sd).to_numpy()
    y = np.sqrt(rows["dose_mg_week"].to_numpy(dtype=float))
    reg = QuantileRegressor(quantile=0.5, alpha=alpha, solver="highs").fit(z, y)
    coef = reg.coef_ / sd.to_numpy()
    intercept = float(reg.intercept_ - np.sum(coef * mu.to_numpy()))
    coefficients = {k: round(float(v), 8) for k, v in zip(keep, coef, strict=True)
                    if abs(v) > 0}
    meta = {
        "model_version": ANALYSIS_VERSION,
        "method": f"QuantileRegressor(quantile=0.5, alpha={alpha}, solver='highs') on "
                  "sqrt(weekly dose), standardised inputs",
        "trained": datetime.now(UTC).isoformat(timespec="seconds"),
        "training_data": data_version,
        "n_train": len(rows),
        "n_train_imputed": int((rows["imputed"] != "").sum()),
        "seed": seed,
        "race_counts": {str(k): int(v) for k, v in rows["race"].value_counts().items()},
        "ranges": {c: [float(complete[c].min()), float(complete[c].max())]
                   for c in ("age_decade", "height_cm", "weight_kg")},
    }
    return WarfarinModel(intercept=round(intercept, 8), coefficients=coefficients,
                         fill=fill, metadata=meta)


def _fill_values(rows: pd.DataFrame) -> dict[str, float]:
    fill: dict[str, float] = {"age_decade": float(rows["age_decade"].median())}
    for c in ("height_cm", "weight_kg"):
        fill[c] = round(float(rows[c].median()), 2)
        for race, g in rows.groupby("race"):
            fill[f"{c}/{race}"] = round(float(g[c].median()), 2)
            for sex, gs in g.groupby("sex"):
                if len(gs) >= 10:
                    fill[f"{c}/{race}/{sex}"] = round(float(gs[c].median()), 2)
    return fill


def impute_clinical(features: pd.DataFrame, fill: dict[str, float]
                    ) -> tuple[pd.DataFrame, pd.Series]:
    """Fill missing age decade, height and weight with training medians.

    Height and weight take the median of the same race and sex (else race, else
    overall); age the overall median decade. For batch tables only: the report's
    :func:`warfarin_finding` never imputes.

    Parameters
    ----------
    features
        Normalised features.
    fill
        :attr:`WarfarinModel.fill`.

    Returns
    -------
    (pandas.DataFrame, pandas.Series)
        The completed features and, per row, the imputed inputs joined by ``;``
        (empty when none).
    """
    out = features.copy()
    imputed = pd.Series("", index=features.index, dtype=object)
    sex = out["sex"] if "sex" in out else pd.Series(None, index=out.index)
    for c in ("age_decade", "height_cm", "weight_kg"):
        miss = out[c].isna()
        if not miss.any():
            continue
        vals = []
        for race, sx in zip(out.loc[miss, "race"], sex[miss], strict=True):
            keys = [f"{c}/{race}/{sx}", f"{c}/{race}", c]
            vals.append(next((fill[k] for k in keys if k in fill), np.nan))
        out.loc[miss, c] = vals
        done = miss & out[c].notna()
        imputed[done] = imputed[done].map(lambda s, c=c: f"{s};{c}" if s else c)
    return out, imputed


@lru_cache(maxsize=1)
def load_warfarin_model() -> WarfarinModel:
    """The shipped model (``genoma/analyses/pgx/models/warfarin_model.json``).

    Raises
    ------
    KnowledgeError
        When the artefact is missing or unreadable (exit 6).
    """
    try:
        text = resources.files("genoma.analyses.pgx").joinpath("models", MODEL_FILE) \
            .read_text(encoding="utf-8")
    except (FileNotFoundError, OSError) as exc:
        raise KnowledgeError(f"warfarin model artefact missing: {exc}") from exc
    return WarfarinModel.from_json(text)


def predict_weekly_dose(features: pd.DataFrame, model: WarfarinModel | None = None,
                        *, impute_missing: bool = False) -> pd.DataFrame:
    """Predict the stable weekly warfarin dose (mg/week) for every row.

    Parameters
    ----------
    features
        Normalised features (see :func:`genoma.io.iwpc.read_iwpc_table`); required
        columns ``age_decade``, ``height_cm``, ``weight_kg``, ``race``; genotypes
        ``cyp2c9`` and ``vkorc1_1639`` (or its IWPC proxies) optional (unknown when absent).
    model
        The model to use (default: :func:`load_warfarin_model`).
    impute_missing
        Fill missing age, height and weight with the training medians of the model
        (:func:`impute_clinical`) instead of returning NaN; the output then has an
        ``imputed`` column naming the filled inputs of each row.

    Returns
    -------
    pandas.DataFrame
        Columns ``dose_iwpc``, ``dose_model``, ``dose_clinical`` (mg/week, NaN where age,
        height or weight is missing and not imputed), indexed like ``features``.

    Raises
    ------
    UsageError
        When a required column is absent.
    """
    need = [c for c in ("age_decade", "height_cm", "weight_kg", "race") if c not in features]
    if need:
        raise UsageError(f"warfarin features lack columns: {need}")
    model = model or load_warfarin_model()
    imputed = None
    if impute_missing:
        features, imputed = impute_clinical(features, model.fill)
        features["imputed"] = imputed
    out = pd.DataFrame({
        "dose_iwpc": iwpc_pharmacogenetic_dose(features),
        "dose_model": model.predict(features),
        "dose_clinical": iwpc_clinical_dose(features),
    }, index=features.index)
    if imputed is not None:
        out["imputed"] = imputed
    return out


# --------------------------------------------------------------------------- report

_LOINC_HEIGHT = ("LOINC:8302-2", "8302-2", "loinc:8302-2")
_LOINC_WEIGHT = ("LOINC:29463-7", "29463-7", "loinc:29463-7")
_MED_NAMES: dict[str, tuple[str, ...]] = {
    "amiodarone": ("amiodarone", "cordarone", "pacerone"),
    "carbamazepine": ("carbamazepine", "tegretol"),
    "phenytoin": ("phenytoin", "dilantin", "fosphenytoin"),
    "rifampin": ("rifampin", "rifampicin", "rifadin"),
    "aspirin": ("aspirin", "acetylsalicylic"),
    "acetaminophen": ("acetaminophen", "paracetamol", "tylenol"),
    "sulfonamide": ("sulfamethoxazole", "trimethoprim-sulfamethoxazole", "bactrim",
                    "septra", "cotrimoxazole", "co-trimoxazole"),
    "macrolide": ("erythromycin", "azithromycin", "clarithromycin"),
    "azole": ("ketoconazole", "fluconazole", "itraconazole", "voriconazole",
              "posaconazole", "miconazole"),
    "simvastatin": ("simvastatin",), "atorvastatin": ("atorvastatin",),
    "fluvastatin": ("fluvastatin",), "lovastatin": ("lovastatin",),
    "pravastatin": ("pravastatin",), "rosuvastatin": ("rosuvastatin",),
}


def _to_unit(value: float, unit: str | None, kind: str) -> float | None:
    u = (unit or "").lower().replace("ucum:", "").strip()
    if kind == "height":
        factor = {"": 1.0, "cm": 1.0, "centimeter": 1.0, "m": 100.0, "meter": 100.0,
                  "[in_i]": 2.54, "in": 2.54, "inch": 2.54}.get(u)
    else:
        factor = {"": 1.0, "kg": 1.0, "kilogram": 1.0, "g": 0.001, "gram": 0.001,
                  "[lb_av]": 0.45359237, "lb": 0.45359237, "pound": 0.45359237}.get(u)
    return None if factor is None else value * factor


def features_from_patient(patient: Patient, cyp2c9_diplotype: str | None,
                          vkorc1_genotype: str | None) -> pd.DataFrame | None:
    """A one-row features frame from a :class:`~genoma.model.subject.Patient`.

    Height (LOINC 8302-2) and weight (LOINC 29463-7) come from the measurements, age
    from the subject age, medications by name from ``patient.medications`` (a listed
    medication counts as taken; an unlisted one as not taken), race from
    ``patient.extra['race']`` (missing/mixed when absent).

    Returns
    -------
    pandas.DataFrame or None
        ``None`` when age, height or weight is missing or cannot be read.

    Raises
    ------
    UsageError
        When a genotype or the race cannot be read.
    """
    age = patient.age_years
    h = patient.measurement(*_LOINC_HEIGHT)
    w = patient.measurement(*_LOINC_WEIGHT)
    if age is None or h is None or w is None or h.value is None or w.value is None:
        return None
    height = _to_unit(h.value, h.unit, "height")
    weight = _to_unit(w.value, w.unit, "weight")
    if height is None or weight is None:
        return None
    try:
        race = normalise_race(patient.extra.get("race"))
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    try:
        cyp = normalise_cyp2c9(cyp2c9_diplotype)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    labels = " ".join(m.label.lower() for m in patient.medications
                      if (m.status or "").lower() not in {"stopped", "discontinued",
                                                          "completed", "cancelled"})
    row: dict[str, Any] = {
        "id": patient.id, "race": race, "age_decade": float(math.floor(age / 10)),
        "height_cm": height, "weight_kg": weight,
        "sex": {"MALE": "male", "FEMALE": "female"}.get(patient.sex),
        "cyp2c9": cyp, "vkorc1_1639": _vkorc1_from_text(vkorc1_genotype),
    }
    for feat, names in _MED_NAMES.items():
        row[feat] = float(any(re.search(rf"\b{re.escape(n)}\b", labels) for n in names))
    return pd.DataFrame([row])


def _outside_ranges(feat: pd.Series, ranges: dict[str, list[float]]) -> list[str]:
    out = []
    for c, (lo, hi) in ranges.items():
        v = float(feat[c])
        if not (lo <= v <= hi):
            out.append(f"{c}={v:g} outside the training range [{lo:g}, {hi:g}]")
    return out


def warfarin_finding(patient: Patient, cyp2c9_diplotype: str | None,
                     vkorc1_genotype: str | None, model: WarfarinModel | None = None
                     ) -> Finding | None:
    """The warfarin dose finding for the report, or ``None`` without the clinical inputs.

    Parameters
    ----------
    patient
        The patient (age, height LOINC 8302-2, weight LOINC 29463-7, medications,
        ``extra['race']``).
    cyp2c9_diplotype
        CYP2C9 diplotype as called (``*1/*3``), or ``None`` if not callable.
    vkorc1_genotype
        VKORC1 -1639 G>A (rs9923231) genotype (``A/G``, ``C/T`` genomic, or PharmCAT's
        ``rs9923231 reference (C)/rs9923231 variant (T)``), or ``None``.
    model
        Model to use (default: the shipped one).

    Returns
    -------
    Finding or None
        ``kind='warfarin_dose'`` with ``data`` holding ``dose_model``, ``dose_iwpc``,
        ``dose_clinical`` (mg/week), the inputs used and the model version; ``None`` when
        age, height or weight is missing. Patients outside the training ranges get a
        finding without doses (``confidence=not_assessable``) saying why.
    """
    from genoma.model.findings import Color, Confidence, Evidence, Finding, Limitation

    notes: list[str] = []
    try:
        _vkorc1_from_text(vkorc1_genotype)
    except UsageError:
        notes.append(f"VKORC1 genotype {vkorc1_genotype!r} not readable as -1639 G>A: "
                     "treated as unknown.")
        vkorc1_genotype = None
    try:
        normalise_cyp2c9(cyp2c9_diplotype)
    except ValueError:
        notes.append(f"CYP2C9 diplotype {cyp2c9_diplotype!r} not readable: treated as "
                     "unknown.")
        cyp2c9_diplotype = None
    race_label = patient.extra.get("race")
    try:
        normalise_race(race_label)
    except ValueError:
        notes.append(f"race {race_label!r} is not an IWPC category: treated as missing/"
                     "mixed.")
        patient = patient.model_copy(update={"extra": {**patient.extra, "race": ""}})
    feats = features_from_patient(patient, cyp2c9_diplotype, vkorc1_genotype)
    if feats is None:
        return None
    model = model or load_warfarin_model()
    row = feats.iloc[0]
    ranges = model.metadata.get("ranges") or {k: list(v) for k, v in TRAINING_RANGES.items()}
    if float(patient.age_years or 0) < 18:
        outside = ["age under 18 years (IWPC cohort: adults)"]
    else:
        outside = _outside_ranges(row, ranges)
    limitations = [
        Limitation(code="WARFARIN_CYP4F2_NOT_MODELLED",
                   text="CYP4F2 (and CYP2C9 *5/*6/*8/*11 in the IWPC formula) are not in "
                        "the IWPC algorithm; CPIC suggests adding 5-10% for CYP4F2*3 "
                        "carriers of non-African ancestry."),
        Limitation(code="WARFARIN_POPULATION_COVERAGE",
                   text="Trained on the IWPC cohort (about 55% White, 29% Asian, 8% Black, "
                        "8% missing/mixed race); accuracy is lower in Black patients, in "
                        "whom variants common in African ancestry are not typed."),
        Limitation(code="WARFARIN_TRAINING_RANGE",
                   text="Not for patients outside the training ranges (adults, height, "
                        "weight, doses of the IWPC cohort); a maintenance-dose estimate "
                        "only, to be titrated by INR."),
    ]
    limitations += [Limitation(code="WARFARIN_INPUT_NOT_READABLE", text=n) for n in notes]
    if row["cyp2c9"] is None or row["vkorc1_1639"] is None:
        limitations.append(Limitation(code="WARFARIN_GENOTYPE_UNKNOWN",
                                      text="CYP2C9 or VKORC1 genotype unknown: the "
                                           "algorithms use their 'unknown' terms."))
    evidence = (
        Evidence(source="IWPC", version="2009", identifier="PMID:19228618", url=IWPC_URL,
                 description="IWPC pharmacogenetic and clinical dosing algorithms "
                             "(N Engl J Med 2009;360:753-64)."),
        Evidence(source="CPIC", version="2017", identifier="PMID:28198005", url=CPIC_URL,
                 description="CPIC guideline for pharmacogenetics-guided warfarin "
                             "dosing: 2017 update."),
        Evidence(source="genoma-warfarin-model", version=model.version,
                 description=f"genoma model trained on {model.metadata.get('training_data')}"
                             f" ({model.metadata.get('trained', '')})"),
    )
    inputs = {k: (None if (isinstance(v, float) and math.isnan(v)) else v)
              for k, v in row.to_dict().items()}
    if outside:
        return Finding(analysis=ANALYSIS, analysis_version=ANALYSIS_VERSION,
                       kind="warfarin_dose", title="Warfarin dose: not assessable",
                       summary="No dose estimate: " + "; ".join(outside) + ".",
                       subject=patient.id, genes=("CYP2C9", "VKORC1"),
                       confidence=Confidence.NOT_ASSESSABLE, color=Color.GREY,
                       evidence=evidence, limitations=tuple(limitations),
                       data={"inputs": inputs, "outside_training_range": outside})
    pred = predict_weekly_dose(feats, model).iloc[0]
    dm, di, dc = (round(float(pred[c]), 1) for c in ("dose_model", "dose_iwpc",
                                                      "dose_clinical"))
    summary = (f"Estimated stable warfarin dose {dm:.1f} mg/week ({dm / 7:.1f} mg/day) by "
               f"the genoma model; IWPC pharmacogenetic algorithm {di:.1f} mg/week, IWPC "
               f"clinical algorithm {dc:.1f} mg/week. CYP2C9 {row['cyp2c9'] or 'unknown'}, "
               f"VKORC1 -1639 {row['vkorc1_1639'] or 'unknown'}.")
    genetic = row["cyp2c9"] not in (None, "*1/*1") or row["vkorc1_1639"] not in (None, "G/G")
    return Finding(analysis=ANALYSIS, analysis_version=ANALYSIS_VERSION,
                   kind="warfarin_dose", title=f"Warfarin: about {dm:.0f} mg/week",
                   summary=summary, subject=patient.id, genes=("CYP2C9", "VKORC1"),
                   confidence=Confidence.MODERATE,
                   color=Color.YELLOW if genetic else Color.GREEN,
                   score=dm, evidence=evidence, limitations=tuple(limitations),
                   data={"dose_model": dm, "dose_iwpc": di, "dose_clinical": dc,
                         "unit": "mg/week", "model_version": model.version,
                         "inputs": inputs})
