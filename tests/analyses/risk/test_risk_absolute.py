"""Absolute risk: pooled cohort equations (published worked examples) and PRS combination."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genoma.analyses.risk.absolute import PceInputs, absolute_risk, pooled_cohort_risk
from genoma.errors import UsageError


@pytest.mark.parametrize(
    ("sex", "race", "expected_sum", "expected_risk"),
    [  # Goff et al. 2013, Table A (55 y, TC 213, HDL 50, SBP 120 untreated, no smoking/DM)
        ("female", "white", -29.67, 0.021),
        ("female", "african_american", 86.16, 0.030),
        ("male", "white", 60.69, 0.053),
        ("male", "african_american", 18.97, 0.061),
    ],
)
def test_pce_published_examples(sex: str, race: str, expected_sum: float,
                                expected_risk: float) -> None:
    r = pooled_cohort_risk(PceInputs(55, sex, 213, 50, 120, race=race))
    assert r.intermediate["linear_predictor"] == pytest.approx(expected_sum, abs=0.011)
    # the published table rounds the sum to 2 decimals before exponentiating
    assert r.risk == pytest.approx(expected_risk, abs=0.0011)
    assert r.relative_hazard == 1.0 and r.risk == r.baseline_risk
    assert r.inputs["total_cholesterol"] == 213 and r.limitations


def test_prs_shifts_risk_and_is_centred() -> None:
    base = pooled_cohort_risk(PceInputs(60, "male", 200, 45, 140, smoker=True))
    hi = pooled_cohort_risk(PceInputs(60, "male", 200, 45, 140, smoker=True), z=2.0,
                            hr_per_sd=1.5)
    lo = pooled_cohort_risk(PceInputs(60, "male", 200, 45, 140, smoker=True), z=-2.0,
                            hr_per_sd=1.5)
    assert lo.risk < base.risk < hi.risk
    b = math.log(1.5)
    assert hi.relative_hazard == pytest.approx(math.exp(2 * b - b * b / 2))
    # centring: the mean relative hazard over z ~ N(0,1) is 1
    z = np.random.default_rng(0).normal(size=200_000)
    assert np.mean(np.exp(b * z - b * b / 2)) == pytest.approx(1.0, abs=0.01)


def test_baseline_incidence_model_and_guards() -> None:
    r = absolute_risk(0.05, 10, z=0.0, hr_per_sd=1.0)
    assert r.risk == pytest.approx(0.05)
    r2 = absolute_risk(0.05, 10, z=1.0, hr_per_sd=2.0)
    assert r2.risk == pytest.approx(1 - 0.95 ** math.exp(math.log(2) - math.log(2) ** 2 / 2))
    with pytest.raises(UsageError):
        absolute_risk(1.5, 10)
    with pytest.raises(UsageError):
        pooled_cohort_risk(PceInputs(55, "other", 213, 50, 120))
    out = pooled_cohort_risk(PceInputs(85, "female", 213, 50, 120, race="asian"))
    assert any("outside the range" in t for t in out.limitations)
    assert any("white equations" in t for t in out.limitations)
