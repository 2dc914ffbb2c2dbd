"""Absolute risk: a polygenic score's relative effect combined with a clinical model.

Two baselines:

* the **pooled cohort equations** (PCE, ACC/AHA 2013) for the 10-year risk of a first
  atherosclerotic cardiovascular event (ASCVD), with the published sex- and
  race-specific coefficients (:func:`pooled_cohort_risk`);
* a **baseline incidence** over a horizon given by the user (e.g. a registry's 10-year
  incidence for the patient's age and sex) (:func:`absolute_risk`).

The score enters as a hazard ratio per standard deviation (``hr_per_sd``, from the
score's publication) applied to the patient's ancestry-adjusted Z (``Z_norm2`` or
``Z_norm1``). The baseline is assumed to describe the average person, so the relative
hazard is centred: ``exp(β z − β² / 2)`` with ``β = ln(hr_per_sd)`` has mean 1 over
``z ~ N(0, 1)`` and leaves the population's mean hazard unchanged. Then
``risk = 1 − (1 − baseline)^(relative hazard)``, which for the PCE is the same as adding
``β z − β²/2`` to its linear predictor.

Every input, the intermediate values and the assumptions are returned, so that a report
can show them. Limitations are returned as text, not hidden.

References
----------
Goff DC Jr et al. 2013 ACC/AHA guideline on the assessment of cardiovascular risk.
Circulation 129 (Suppl 2), S49–S73 (2014). doi:10.1161/01.cir.0000437741.48606.98
Mars N et al. Polygenic and clinical risk scores and their impact on age at onset and
prediction of cardiometabolic diseases and common cancers. Nat Med 26, 549–557 (2020).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from genoma.errors import UsageError

__all__ = ["AbsoluteRisk", "PceInputs", "absolute_risk", "pooled_cohort_risk"]

# (sex, race) -> coefficients, baseline 10-year survival, mean linear predictor
_PCE: dict[tuple[str, str], dict[str, float]] = {
    ("female", "white"): {
        "ln_age": -29.799, "ln_age_sq": 4.884, "ln_tc": 13.540, "ln_age_ln_tc": -3.114,
        "ln_hdl": -13.578, "ln_age_ln_hdl": 3.149, "ln_sbp_treated": 2.019,
        "ln_age_ln_sbp_treated": 0.0, "ln_sbp_untreated": 1.957,
        "ln_age_ln_sbp_untreated": 0.0, "smoker": 7.574, "ln_age_smoker": -1.665,
        "diabetes": 0.661, "s10": 0.9665, "mean": -29.18},
    ("female", "african_american"): {
        "ln_age": 17.114, "ln_age_sq": 0.0, "ln_tc": 0.940, "ln_age_ln_tc": 0.0,
        "ln_hdl": -18.920, "ln_age_ln_hdl": 4.475, "ln_sbp_treated": 29.291,
        "ln_age_ln_sbp_treated": -6.432, "ln_sbp_untreated": 27.820,
        "ln_age_ln_sbp_untreated": -6.087, "smoker": 0.691, "ln_age_smoker": 0.0,
        "diabetes": 0.874, "s10": 0.9533, "mean": 86.61},
    ("male", "white"): {
        "ln_age": 12.344, "ln_age_sq": 0.0, "ln_tc": 11.853, "ln_age_ln_tc": -2.664,
        "ln_hdl": -7.990, "ln_age_ln_hdl": 1.769, "ln_sbp_treated": 1.797,
        "ln_age_ln_sbp_treated": 0.0, "ln_sbp_untreated": 1.764,
        "ln_age_ln_sbp_untreated": 0.0, "smoker": 7.837, "ln_age_smoker": -1.795,
        "diabetes": 0.658, "s10": 0.9144, "mean": 61.18},
    ("male", "african_american"): {
        "ln_age": 2.469, "ln_age_sq": 0.0, "ln_tc": 0.302, "ln_age_ln_tc": 0.0,
        "ln_hdl": -0.307, "ln_age_ln_hdl": 0.0, "ln_sbp_treated": 1.916,
        "ln_age_ln_sbp_treated": 0.0, "ln_sbp_untreated": 1.809,
        "ln_age_ln_sbp_untreated": 0.0, "smoker": 0.549, "ln_age_smoker": 0.0,
        "diabetes": 0.645, "s10": 0.8954, "mean": 19.54},
}
_RANGES = {"age": (40, 79), "total_cholesterol": (130, 320), "hdl": (20, 100),
           "systolic_bp": (90, 200)}


@dataclass(frozen=True)
class PceInputs:
    """Inputs of the pooled cohort equations (US units: mg/dL, mmHg).

    ``race`` is ``white`` or ``african_american`` as in the published equations; the
    guideline uses the ``white`` equations for other groups, which is a limitation.
    """

    age: float
    sex: str
    total_cholesterol: float
    hdl: float
    systolic_bp: float
    bp_treated: bool = False
    smoker: bool = False
    diabetes: bool = False
    race: str = "white"


@dataclass
class AbsoluteRisk:
    """An individual absolute risk with everything that produced it.

    Attributes
    ----------
    model
        ``pooled_cohort_equations`` or ``baseline_incidence``.
    horizon_years
        Risk horizon.
    baseline_risk
        Risk from the clinical model alone (or the given incidence).
    relative_hazard
        The score's centred relative hazard ``exp(β z − β²/2)`` (1 without a score).
    risk
        Combined absolute risk.
    inputs
        Every input value (clinical factors, z, hr_per_sd, …).
    limitations
        Caveats to show with the number.
    """

    model: str
    horizon_years: float
    baseline_risk: float
    relative_hazard: float
    risk: float
    inputs: dict[str, Any]
    intermediate: dict[str, float] = field(default_factory=dict)
    limitations: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"model": self.model, "horizon_years": self.horizon_years,
                "baseline_risk": self.baseline_risk, "relative_hazard": self.relative_hazard,
                "risk": self.risk, "inputs": self.inputs, "intermediate": self.intermediate,
                "limitations": self.limitations}


_COMMON_LIMITS = [
    "The score's hazard ratio per SD comes from the score's development/validation "
    "cohorts; it is assumed to hold for this person's ancestry, age and sex.",
    "The polygenic score is assumed independent of the clinical factors (no double "
    "counting of, e.g., cholesterol-raising variants).",
    "Calibration of the combined risk has not been checked in a cohort like this person's.",
]


def _prs_factor(z: float | None, hr_per_sd: float | None) -> tuple[float, dict[str, Any]]:
    if z is None or hr_per_sd is None or not math.isfinite(z):
        return 1.0, {}
    if hr_per_sd <= 0:
        raise UsageError("hr_per_sd must be positive")
    beta = math.log(hr_per_sd)
    return math.exp(beta * z - beta * beta / 2.0), {"beta": beta}


def pooled_cohort_risk(
    inputs: PceInputs, z: float | None = None, hr_per_sd: float | None = None
) -> AbsoluteRisk:
    """10-year ASCVD risk from the pooled cohort equations, optionally with a PRS.

    Parameters
    ----------
    inputs
        Clinical factors.
    z
        The patient's ancestry-adjusted score Z (``None``: clinical model only).
    hr_per_sd
        Hazard ratio of the score per standard deviation.

    Returns
    -------
    AbsoluteRisk

    Raises
    ------
    UsageError
        Unknown sex/race or non-positive values.

    Examples
    --------
    The guideline's worked example (white woman, 55 y, TC 213, HDL 50, SBP 120
    untreated, non-smoker, no diabetes) gives 2.1 %:

    >>> round(pooled_cohort_risk(PceInputs(55, "female", 213, 50, 120)).risk, 3)
    0.021
    """
    sex = inputs.sex.lower()
    race = inputs.race.lower().replace(" ", "_").replace("-", "_")
    if race in ("black", "aa"):
        race = "african_american"
    if sex not in ("female", "male"):
        raise UsageError(f"sex must be female or male for the pooled cohort equations, "
                         f"got {inputs.sex!r}")
    limits = list(_COMMON_LIMITS)
    if race not in ("white", "african_american"):
        limits.append(f"The equations have no coefficients for {inputs.race!r}; the white "
                      "equations are used, as the guideline advises (may over- or "
                      "under-estimate).")
        race = "white"
    for name in ("age", "total_cholesterol", "hdl", "systolic_bp"):
        v = getattr(inputs, name)
        if v <= 0:
            raise UsageError(f"{name} must be positive")
        lo, hi = _RANGES[name]
        if not lo <= v <= hi:
            limits.append(f"{name} = {v} is outside the range the equations were derived on "
                          f"({lo}–{hi}).")
    c = _PCE[(sex, race)]
    la = math.log(inputs.age)
    lt = math.log(inputs.total_cholesterol)
    lh = math.log(inputs.hdl)
    ls = math.log(inputs.systolic_bp)
    sm = 1.0 if inputs.smoker else 0.0
    lp = (c["ln_age"] * la + c["ln_age_sq"] * la * la + c["ln_tc"] * lt
          + c["ln_age_ln_tc"] * la * lt + c["ln_hdl"] * lh + c["ln_age_ln_hdl"] * la * lh
          + c["smoker"] * sm + c["ln_age_smoker"] * la * sm
          + c["diabetes"] * (1.0 if inputs.diabetes else 0.0))
    if inputs.bp_treated:
        lp += c["ln_sbp_treated"] * ls + c["ln_age_ln_sbp_treated"] * la * ls
    else:
        lp += c["ln_sbp_untreated"] * ls + c["ln_age_ln_sbp_untreated"] * la * ls
    base = 1.0 - c["s10"] ** math.exp(lp - c["mean"])
    rh, extra = _prs_factor(z, hr_per_sd)
    risk = 1.0 - c["s10"] ** (math.exp(lp - c["mean"]) * rh)
    ins = {**inputs.__dict__, "equation": f"{sex}/{race}", "z": z, "hr_per_sd": hr_per_sd}
    inter = {"linear_predictor": lp, "mean_linear_predictor": c["mean"],
             "baseline_survival_10y": c["s10"], **extra}
    return AbsoluteRisk("pooled_cohort_equations", 10.0, base, rh, risk, ins, inter, limits)


def absolute_risk(
    baseline_incidence: float,
    horizon_years: float,
    z: float | None = None,
    hr_per_sd: float | None = None,
) -> AbsoluteRisk:
    """Absolute risk from a user-given baseline incidence and a PRS.

    Parameters
    ----------
    baseline_incidence
        Cumulative incidence over ``horizon_years`` for a person of this age and sex in
        the population the baseline comes from (0–1).
    horizon_years
        Horizon of the incidence.
    z, hr_per_sd
        As in :func:`pooled_cohort_risk`.

    Raises
    ------
    UsageError
        Incidence outside (0, 1) or a non-positive horizon.
    """
    if not 0.0 < baseline_incidence < 1.0:
        raise UsageError("baseline incidence must be between 0 and 1 (exclusive)")
    if horizon_years <= 0:
        raise UsageError("horizon must be positive")
    rh, extra = _prs_factor(z, hr_per_sd)
    risk = 1.0 - (1.0 - baseline_incidence) ** rh
    limits = [*_COMMON_LIMITS,
              "The baseline incidence is taken as given; it should match the person's "
              "age, sex and population."]
    return AbsoluteRisk("baseline_incidence", horizon_years, baseline_incidence, rh, risk,
                        {"baseline_incidence": baseline_incidence,
                         "horizon_years": horizon_years, "z": z, "hr_per_sd": hr_per_sd},
                        extra, limits)
