"""KING-robust kinship equals plink2 --make-king-table and finds planted relatives."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from _cohort_data import run_plink2, write_vcf

from genoma.analyses.cohort.relatedness import king_robust
from genoma.io.vcz import import_vcfs, open_cohort


def _pair_key(t: pd.DataFrame, a: str, b: str) -> pd.DataFrame:
    return t.assign(k1=np.minimum(t[a], t[b]), k2=np.maximum(t[a], t[b]))


def test_king_equals_plink2_and_finds_relatives(tmp_path: Path) -> None:
    rng = np.random.default_rng(5)
    n, v = 80, 1500
    freq = rng.uniform(0.05, 0.5, v)
    hap = (rng.random((v, n, 2)) < freq[:, None, None]).astype(np.int8)
    hap[:, 1] = hap[:, 0]  # sample 1 duplicates sample 0
    hap[:, 3, 0] = hap[:, 2, 0]  # sample 3 is a child of sample 2 (one shared haplotype)
    hap[rng.random((v, n)) < 0.01] = -1
    samples = [f"K{i:02d}" for i in range(n)]
    vcf = write_vcf(tmp_path / "k.vcf.gz", samples, ["chr5"] * v, np.arange(1, v + 1) * 10,
                    ["A"] * v, ["T"] * v, hap)
    import_vcfs([vcf], tmp_path / "k.vcz")
    ours = king_robust(open_cohort(tmp_path / "k.vcz"), min_kinship=None)
    assert len(ours) == n * (n - 1) // 2
    run_plink2(["--vcf", str(vcf), "--make-king-table", "--out", "pl"], tmp_path)
    pl = pd.read_csv(tmp_path / "pl.kin0", sep="\t").rename(columns={"#IID1": "IID1"})
    m = _pair_key(ours, "sample1", "sample2").merge(_pair_key(pl, "IID1", "IID2"),
                                                    on=["k1", "k2"])
    assert len(m) == len(ours)
    assert (m.nsnp == m.NSNP).all()
    # plink2 prints kinship with 4-5 decimals
    assert np.max(np.abs(m.kinship - m.KINSHIP)) < 1e-4
    assert np.max(np.abs(m.ibs0 - m.IBS0)) < 1e-5
    kin = ours.set_index(["sample1", "sample2"]).kinship
    assert abs(kin[("K00", "K01")] - 0.5) < 0.02
    assert abs(kin[("K02", "K03")] - 0.25) < 0.05
    close = king_robust(open_cohort(tmp_path / "k.vcz"))
    assert {("K00", "K01"), ("K02", "K03")} <= set(zip(close.sample1, close.sample2,
                                                       strict=True))
