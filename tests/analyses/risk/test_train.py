"""Training polygenic scores (C+T, lasso) on a small simulated multi-ancestry cohort."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoma.analyses.risk.train import (
    auc,
    calibration,
    incremental_r2,
    scoring_file_text,
    split_samples,
    train_score,
)
from genoma.errors import InconsistentInputError, MalformedInputError, UsageError
from genoma.io.pgs import read_scoring_file


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory):
    """600 individuals × 1 Mb (OutOfAfrica_3G09) with 8 strong causal variants."""
    from genoma.io.vcz import open_cohort
    from genoma.sim.cohort import simulate_cohort, simulate_phenotypes

    sim = simulate_cohort(tmp_path_factory.mktemp("train") / "c.vcz", 600, 1_000_000,
                          seed=11, n_causal=8, h2=0.8)
    ds = open_cohort(sim.store)
    pheno, covar, causal = simulate_phenotypes(ds, ds["sample_population"].values,
                                               n_causal=8, h2=0.8, prevalence=0.3, seed=3)
    return ds, pheno, covar, causal, sim.samples


@pytest.fixture(scope="module")
def trained(cohort):
    """Scores trained once per method on ``qt`` (shared by the tests)."""
    ds, pheno, covar, _, _ = cohort
    cache: dict[str, object] = {}

    def get(method: str):
        if method not in cache:
            cache[method] = train_score(ds, pheno[["sample", "qt"]], covar, method=method,
                                        seed=1)
        return cache[method]

    return get


def _held_out(res, metric: str) -> pd.Series:
    ev = res.evaluation[res.evaluation["set"] == "test"].set_index("ancestry")
    return ev[metric]


@pytest.mark.parametrize("method", ["ct", "lasso"])
def test_recovers_planted_signal_on_held_out(trained, method: str) -> None:
    res = trained(method)
    r2 = _held_out(res, "r2")
    assert set(r2.index) == {"AFR", "EAS", "EUR", "all"}
    # 8 causal variants explain 80 % of the variance: the score must capture much of it
    assert r2["all"] > 0.25, res.evaluation
    # held-out samples never trained on
    test = set(res.scores.loc[res.scores["set"] == "test", "sample"])
    trained = set(res.scores.loc[res.scores["set"] != "test", "sample"])
    assert test and not test & trained
    assert res.tuning["chosen"].sum() == 1 and len(res.weights) > 0
    assert (res.weights["effect_weight"] != 0).all()
    # the default policy keeps no strand-ambiguous SNP
    pairs = {frozenset(a + b) for a, b in zip(res.weights["effect_allele"],
                                                res.weights["other_allele"], strict=True)}
    assert not pairs & {frozenset("AT"), frozenset("CG")}


def test_permuted_phenotype_gives_no_signal(cohort) -> None:
    ds, pheno, covar, _, _ = cohort
    rng = np.random.default_rng(0)
    null = pheno[["sample", "qt"]].copy()
    null["qt"] = rng.permutation(null["qt"].to_numpy())
    res = train_score(ds, null, covar, method="ct", seed=1, n_pcs=2)
    assert _held_out(res, "r2")["all"] < 0.05
    assert res.params["covariates"][-2:] == ["PC1", "PC2"]
    assert not any("without PCs" in m for m in res.limitations)


def test_binary_trait_auc(cohort) -> None:
    ds, pheno, covar, _, _ = cohort
    res = train_score(ds, pheno[["sample", "cc"]], covar, method="ct", seed=1)
    assert res.trait_type == "binary" and res.scale == "logit"
    assert res.weight_type == "log(OR)"
    a = _held_out(res, "auc")
    assert a["all"] > 0.65, res.evaluation
    rep = res.report()
    assert rep["held_out"] and all("auc" in r for r in rep["held_out"])


def test_train_samples_define_the_held_out_set(cohort) -> None:
    ds, pheno, covar, _, samples = cohort
    eur = samples.loc[samples["population"] == "CEU", "sample"].tolist()
    res = train_score(ds, pheno[["sample", "qt"]], covar, method="ct", train_samples=eur,
                      seed=2)
    assert set(res.counts["train"]) == {"EUR"} and set(res.counts["validation"]) == {"EUR"}
    assert res.counts["test"]["AFR"] == 200 and res.counts["test"]["EAS"] == 200
    assert any("absent from the training" in m for m in res.limitations)


def test_scoring_file_round_trips(trained, tmp_path: Path) -> None:
    res = trained("lasso")
    path = tmp_path / "s.txt"
    path.write_text(scoring_file_text(res, pgs_id="T1", genome_build="simulated",
                                      license_text="CC0"))
    sf = read_scoring_file(path)
    assert sf.pgs_id == "T1" and sf.build is None and sf.license == "CC0"
    assert sf.header["weight_type"] == "beta" and sf.header["genome_build"] == "NR"
    np.testing.assert_allclose(sf.weight, res.weights["effect_weight"], rtol=1e-9)
    np.testing.assert_array_equal(sf.pos, res.weights["pos"])
    assert list(sf.chrom) == list(res.weights["chrom"])
    assert list(sf.effect_allele) == list(res.weights["effect_allele"])


def test_metrics() -> None:
    y = np.array([0, 0, 1, 1, 0, 1])
    assert auc(y, np.array([1, 2, 3, 4, 0, 5])) == 1.0
    assert auc(y, -np.array([1, 2, 3, 4, 0, 5])) == 0.0
    assert auc(y, np.ones(6)) == 0.5
    rng = np.random.default_rng(1)
    x = rng.normal(size=20_000)
    c = rng.normal(size=(20_000, 1))
    yq = 2 * x + c[:, 0] + rng.normal(size=20_000)
    # y's variance is 4 + 1 + 1: the score adds about 4/6 over the covariate
    assert incremental_r2(yq, x, c) == pytest.approx(4 / 6, abs=0.02)
    # and exactly the difference of the two models' R² (numpy polyfit-free check)
    from sklearn.linear_model import LinearRegression

    full = LinearRegression().fit(np.column_stack([c, x]), yq).score(np.column_stack([c, x]), yq)
    base = LinearRegression().fit(c, yq).score(c, yq)
    assert incremental_r2(yq, x, c) == pytest.approx(full - base, rel=1e-9)
    a, b = calibration(yq, 2 * x + 3, "identity")
    assert b == pytest.approx(1, abs=0.1) and a == pytest.approx(-3, abs=0.3)
    lp = rng.normal(size=20_000)
    yb = (rng.random(20_000) < 1 / (1 + np.exp(-lp))).astype(float)
    a, b = calibration(yb, lp, "logit")
    assert b == pytest.approx(1, abs=0.08) and a == pytest.approx(0, abs=0.08)


def test_errors(cohort) -> None:
    ds, pheno, covar, _, _ = cohort
    with pytest.raises(UsageError):
        train_score(ds, pheno, covar, method="ldpred9")
    with pytest.raises(UsageError):
        train_score(ds, pheno, covar, trait="ordinal")
    with pytest.raises(InconsistentInputError, match="not in the cohort"):
        train_score(ds, pheno[["sample", "qt"]], covar, train_samples=["nobody"])
    other = pheno.assign(sample="X" + pheno["sample"])
    with pytest.raises(InconsistentInputError):
        train_score(ds, other[["sample", "qt"]], None)
    with pytest.raises(MalformedInputError):
        train_score(ds, pheno[["sample", "qt"]], None, populations=np.array(["EUR"]))
    ids = np.asarray(ds["sample_id"].values).astype(str)
    with pytest.raises(InconsistentInputError, match="training"):
        split_samples(np.arange(12), ids, np.array(["a"] * ids.size),
                      train_samples=list(ids[:5]))
