"""GWAS equals plink2 --glm (linear exactly to print precision; logistic to plink2's float32)
and statsmodels (to 1e-8), including variants with missing calls."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cohort_data import round6, run_plink2, write_vcf

from genoma.analyses.cohort.gwas import gwas, make_design
from genoma.errors import InconsistentInputError, MalformedInputError
from genoma.io.vcz import import_vcfs, open_cohort

N, V = 500, 240


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Synthetic cohort with rare and common variants, 1 % missing calls in half of them,
    a constant variant, a quantitative and a binary trait and three covariates."""
    rng = np.random.default_rng(7)
    d = tmp_path_factory.mktemp("gwas")
    samples = [f"S{i:04d}" for i in range(N)]
    freq = np.concatenate([rng.uniform(0.002, 0.02, V // 4), rng.uniform(0.02, 0.5, V - V // 4)])
    gt = (rng.random((V, N, 2)) < freq[:, None, None]).astype(np.int8)
    gt[5] = 0  # constant
    miss = rng.random((V, N)) < 0.01
    miss[::2] = False
    gt[miss] = -1
    chrom = ["chr1"] * (V // 2) + ["chr2"] * (V - V // 2)
    pos = np.concatenate([np.arange(1, V // 2 + 1), np.arange(1, V - V // 2 + 1)]) * 1000
    vcf = write_vcf(d / "c.vcf.gz", samples, chrom, pos, ["A"] * V, ["G"] * V, gt)
    store = d / "c.vcz"
    import_vcfs([vcf], store)
    age = rng.normal(50, 10, N).round(1)
    sex = rng.integers(1, 3, N)
    pc = rng.normal(size=N)
    dose = np.where((gt < 0).any(-1), 0, gt.sum(-1)).astype(float)
    qt = 0.4 * dose[100] + 0.02 * age + 0.3 * pc + rng.normal(size=N)
    eta = -0.5 + 0.8 * (dose[150] - dose[150].mean()) + 0.02 * (age - 50)
    cc = (rng.random(N) < 1 / (1 + np.exp(-eta))).astype(int)
    pheno = pd.DataFrame({"sample": samples, "qt": qt, "cc": cc})
    covar = pd.DataFrame({"sample": samples, "age": age, "sex": sex, "pc": pc})
    pheno.to_csv(d / "pheno.tsv", sep="\t", index=False, float_format="%.17g")
    covar.to_csv(d / "covar.tsv", sep="\t", index=False, float_format="%.17g")
    return {"dir": d, "vcf": vcf, "store": store, "pheno": pheno, "covar": covar, "gt": gt}


def _plink(cohort: dict, pheno: str) -> pd.DataFrame:
    d: Path = cohort["dir"]
    p = cohort["pheno"][["sample", pheno]].rename(columns={"sample": "#IID"})
    if pheno == "cc":
        p[pheno] = p[pheno] + 1
    p.to_csv(d / f"{pheno}.pheno", sep="\t", index=False, float_format="%.17g")
    cohort["covar"].rename(columns={"sample": "#IID"}).to_csv(
        d / "p.covar", sep="\t", index=False, float_format="%.17g")
    run_plink2(["--vcf", str(cohort["vcf"]), "--glm", "omit-ref", "hide-covar", "cols=+beta",
                "--pheno", f"{pheno}.pheno", "--covar", "p.covar", "--out", f"pl_{pheno}"], d)
    f = next(d.glob(f"pl_{pheno}.{pheno}.glm.*"))
    return pd.read_csv(f, sep="\t", na_values=["NA"])


def _ours(cohort: dict, model: str, pheno: str) -> pd.DataFrame:
    ds = open_cohort(cohort["store"])
    design = make_design(ds["sample_id"].values, cohort["pheno"], cohort["covar"],
                         pheno_column=pheno, model=model)  # type: ignore[arg-type]
    return gwas(ds, design, variants_chunk=64)


def _within_print_precision(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """|ours - theirs| no larger than half a unit of plink2's 6th significant digit."""
    half_unit = 0.5 * 10.0 ** (np.floor(np.log10(np.abs(theirs))) - 5)
    return np.abs(ours - theirs) <= half_unit * (1 + 1e-6)


def test_linear_equals_plink2(cohort: dict) -> None:
    pl = _plink(cohort, "qt")
    ours = _ours(cohort, "linear", "qt")
    m = ours.merge(pl, left_on="id", right_on="ID")
    assert len(m) == V
    # same variants fail (the constant one) and the same sample counts (missing calls dropped)
    assert (m["error"] != "").sum() == 1 and m.loc[m.pos.eq(6000) & m.chrom.eq("chr1"), "error"].item() == "CONST_ALLELE"
    assert np.array_equal(m["BETA"].isna(), m["beta"].isna())
    assert (m["n"] == m["OBS_CT"]).all() and (m["n"] < N).any()
    ok = m["BETA"].notna()
    for ours_col, col in (("beta", "BETA"), ("se", "SE")):
        x, y = m.loc[ok, ours_col].to_numpy(), m.loc[ok, col].to_numpy()
        assert _within_print_precision(x, y).all(), ours_col
        assert np.max(np.abs(round6(x) - y) / np.abs(y)) < 1e-5
    # plink2's t-distribution tail is itself accurate to ~1e-5 relative
    x, y = m.loc[ok, "p"].to_numpy(), m.loc[ok, "P"].to_numpy()
    assert np.max(np.abs(x - y) / y) < 2e-5
    assert m.loc[m.id.eq("chr1:101000"), "p"].item() < 1e-10  # the simulated effect is found


def test_logistic_agrees_with_plink2(cohort: dict) -> None:
    pl = _plink(cohort, "cc")
    ours = _ours(cohort, "logistic", "cc")
    m = ours.merge(pl, left_on="id", right_on="ID")
    assert (m["n"] == m["OBS_CT"]).all()
    # the same variants fall back to Firth regression (rare alleles, MAC 1-4 here)
    firth = m["FIRTH?"] == "Y"
    assert firth.sum() >= 3 and (m["firth"] == firth).all()
    fitted = m["BETA"].notna() & (m["error"] == "")
    assert fitted.sum() == V - 1
    # plink2 fits logistic models in single precision: agreement to ~1e-5 (regular fits)
    # and ~1e-4 (Firth, whose iterations plink2 stops earlier)
    regular = fitted & ~firth & (m["n"] == N)
    assert regular.sum() > 0.3 * V
    for rows, tol in ((regular, 1e-4), (fitted & firth, 1e-3)):
        assert np.max(np.abs(m.beta - m.BETA)[rows] / m.SE[rows]) < tol
        assert np.max((np.abs(m.se - m.SE) / m.SE)[rows]) < tol
        assert np.max((np.abs(m.p - m.P) / m.P)[rows]) < 10 * tol
    # variants with missing calls: same estimates; plink2 a3.5's standard errors there
    # differ by up to ~1 % from the exact ones (statsmodels agrees with ours to 1e-7,
    # see test_against_statsmodels), so only beta is compared
    holes = fitted & ~firth & (m["n"] < N)
    assert holes.sum() > 0
    assert np.max(np.abs(m.beta - m.BETA)[holes] / m.SE[holes]) < 1e-4


def test_against_statsmodels(cohort: dict) -> None:
    import statsmodels.api as sm

    lin = _ours(cohort, "linear", "qt")
    log = _ours(cohort, "logistic", "cc")
    gt = cohort["gt"]
    cov = cohort["covar"][["age", "sex", "pc"]].to_numpy()
    for i in (61, 100, 101, 150, 201):  # common variants; odd rows carry missing calls
        obs = ~(gt[i] < 0).any(-1)
        x = sm.add_constant(np.column_stack([cov, gt[i].sum(-1)]))[obs]
        fit = sm.OLS(cohort["pheno"]["qt"].to_numpy()[obs], x).fit()
        assert lin.beta[i] == pytest.approx(fit.params[-1], rel=1e-8)
        assert lin.se[i] == pytest.approx(fit.bse[-1], rel=1e-8)
        assert lin.p[i] == pytest.approx(fit.pvalues[-1], rel=1e-7)
        assert lin.n[i] == obs.sum()
        lf = sm.Logit(cohort["pheno"]["cc"].to_numpy()[obs], x).fit(disp=0, tol=1e-12)
        assert log.beta[i] == pytest.approx(lf.params[-1], rel=1e-7)
        assert log.se[i] == pytest.approx(lf.bse[-1], rel=1e-7)


def test_design_errors(cohort: dict) -> None:
    ds = open_cohort(cohort["store"])
    with pytest.raises(MalformedInputError, match="not binary"):
        make_design(ds["sample_id"].values, cohort["pheno"], cohort["covar"],
                    pheno_column="qt", model="logistic")
    other = cohort["pheno"].assign(sample=lambda t: "X" + t["sample"])
    with pytest.raises(InconsistentInputError):
        make_design(ds["sample_id"].values, other, cohort["covar"])
    coded = cohort["pheno"].assign(cc=lambda t: t["cc"] + 1)
    coded.loc[:9, "cc"] = -9  # plink coding: 1/2, -9 missing
    d = make_design(ds["sample_id"].values, coded, cohort["covar"], pheno_column="cc",
                    model="logistic")
    assert len(d.y) == N - 10 and set(np.unique(d.y)) == {0.0, 1.0}
    with pytest.raises(MalformedInputError, match="sample"):
        make_design(ds["sample_id"].values, cohort["pheno"].drop(columns="sample"), None)


def test_sample_chunks_give_the_same_scan(cohort: dict, tmp_path: Path) -> None:
    """Sufficient statistics summed over sample chunks equal the one-chunk scan."""
    store = tmp_path / "chunked.vcz"
    import_vcfs([cohort["vcf"]], store, samples_chunk_size=96, variants_chunk_size=50)
    ds = open_cohort(store)
    assert len(ds["call_genotype"].data.chunks[1]) > 1
    design = make_design(ds["sample_id"].values, cohort["pheno"], cohort["covar"])
    a = gwas(ds, design)
    b = _ours(cohort, "linear", "qt")
    assert np.array_equal(a.n, b.n) and np.array_equal(a.error, b.error)
    assert np.allclose(a.beta, b.beta, rtol=1e-10, equal_nan=True)
    assert np.allclose(a.p, b.p, rtol=1e-9, equal_nan=True)


def test_genomic_inflation_and_plots() -> None:
    from genoma.analyses.cohort.plots import genomic_inflation, manhattan_figure, qq_figure

    rng = np.random.default_rng(0)
    p = rng.uniform(size=20000)
    assert genomic_inflation(p) == pytest.approx(1.0, abs=0.05)
    assert genomic_inflation(p**2) > 1.5  # inflated statistics
    t = pd.DataFrame({"chrom": np.repeat(["chr1", "chr2", "chrX"], 100),
                      "pos": np.tile(np.arange(100) * 1000, 3), "p": rng.uniform(size=300)})
    assert len(manhattan_figure(t).axes[0].collections) == 2
    assert "λGC" in qq_figure(t).axes[0].get_title()
