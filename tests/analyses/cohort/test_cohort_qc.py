"""Sample/variant QC equal plink2 --missing and --hardy."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _cohort_data import run_plink2, write_vcf

from genoma.analyses.cohort.qc import hwe_exact_p, sample_qc, variant_qc
from genoma.io.vcz import import_vcfs, open_cohort

N, V = 300, 150


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict:
    rng = np.random.default_rng(11)
    d = tmp_path_factory.mktemp("qc")
    samples = [f"Q{i:03d}" for i in range(N)]
    freq = rng.uniform(0.01, 0.5, V)
    gt = (rng.random((V, N, 2)) < freq[:, None, None]).astype(np.int8)
    # HWE departures: copy allele 0 onto allele 1 (excess homozygotes) in a third of variants
    gt[::3, :, 1] = gt[::3, :, 0]
    rate = rng.uniform(0, 0.05, N)  # per-sample missingness
    gt[rng.random((V, N)) < rate[None, :]] = -1
    pos = np.arange(1, V + 1) * 500
    vcf = write_vcf(d / "q.vcf.gz", samples, ["chr3"] * V, pos, ["C"] * V, ["T"] * V, gt)
    store = d / "q.vcz"
    import_vcfs([vcf], store)
    return {"dir": d, "vcf": vcf, "store": store, "gt": gt}


def test_missing_and_hardy_equal_plink2(cohort: dict) -> None:
    d = cohort["dir"]
    run_plink2(["--vcf", str(cohort["vcf"]), "--missing", "--hardy", "--out", "pl"], d)
    ds = open_cohort(cohort["store"])
    s, v = sample_qc(ds), variant_qc(ds)
    smiss = pd.read_csv(d / "pl.smiss", sep="\t")
    m = s.merge(smiss, left_on="sample", right_on="#IID")
    assert len(m) == N
    assert (m.missing_ct == m.MISSING_CT).all() and (m.obs_ct == m.OBS_CT).all()
    assert np.allclose(m.f_miss, m.F_MISS, rtol=1e-5, atol=0)
    vmiss = pd.read_csv(d / "pl.vmiss", sep="\t")
    mv = v.merge(vmiss, left_on="id", right_on="ID")
    assert len(mv) == V
    assert (mv.missing_ct == mv.MISSING_CT).all() and (mv.obs_ct == mv.OBS_CT).all()
    hardy = pd.read_csv(d / "pl.hardy", sep="\t")
    mh = v.merge(hardy, left_on="id", right_on="ID")
    assert len(mh) == V
    a1_alt = mh.A1 == mh.alt
    hom_a1 = np.where(a1_alt, mh.hom_alt_ct, mh.hom_ref_ct)
    hom_ax = np.where(a1_alt, mh.hom_ref_ct, mh.hom_alt_ct)
    assert (hom_a1 == mh.HOM_A1_CT).all() and (hom_ax == mh.TWO_AX_CT).all()
    assert (mh.het_ct == mh.HET_A1_CT).all()
    assert np.allclose(mh.o_het, mh["O(HET_A1)"], rtol=1e-5)
    assert np.allclose(mh.e_het, mh["E(HET_A1)"], rtol=1e-5)
    # exact HWE p-values to plink2's printed precision (6 significant digits)
    assert np.max(np.abs(mh.p_hwe - mh.P) / mh.P) < 1e-5
    assert (mh.p_hwe.iloc[::3] < 1e-3).mean() > 0.5  # the planted departures are seen


def _brute_force_hwe(het: int, hom1: int, hom2: int) -> float:
    """Exact HWE p by enumerating every heterozygote count (Levene's distribution)."""
    from math import factorial as f

    n = het + hom1 + hom2
    n_a = 2 * hom1 + het
    n_b = 2 * n - n_a
    probs = {}
    for h in range(n_a % 2, min(n_a, n_b) + 1, 2):
        aa, bb = (n_a - h) // 2, (n_b - h) // 2
        probs[h] = 2**h * f(n) * f(n_a) * f(n_b) / (f(aa) * f(h) * f(bb) * f(2 * n))
    return min(1.0, sum(p for p in probs.values() if p <= probs[het] * (1 + 1e-9)))


def test_hwe_exact_against_enumeration() -> None:
    cases = [(0, 10, 2), (12, 3, 5), (1, 20, 0), (30, 10, 10), (5, 0, 0), (2, 2, 2)]
    het, hom1, hom2 = (np.array(x) for x in zip(*cases, strict=True))
    ours = hwe_exact_p(het, hom1, hom2)
    for value, (h, a, b) in zip(ours, cases, strict=True):
        assert value == pytest.approx(_brute_force_hwe(h, a, b), rel=1e-9)
    assert np.isnan(hwe_exact_p(np.array([0]), np.array([0]), np.array([0])))[0]
