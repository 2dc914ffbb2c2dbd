"""PC-Relate: equals sgkit.pc_relate; planted relatives in a structured cohort; vs KING."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cohort_data import write_vcf
from typer.testing import CliRunner

from genoma.analyses.cohort.relatedness import king_robust, pc_relate
from genoma.cli.main import app
from genoma.errors import InconsistentInputError
from genoma.io.vcz import import_vcfs, open_cohort

N, V = 240, 3000
PLANTED = {("R001", "R000"): 0.5, ("R003", "R002"): 0.25, ("R005", "R004"): 0.25,
           ("R125", "R124"): 0.25}


def _key(a: str, b: str) -> tuple[str, str]:
    return (max(a, b), min(a, b))


@pytest.fixture(scope="module")
def structured(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Two populations (Balding–Nichols, F_ST 0.1); a duplicate, parent–child and sibs."""
    rng = np.random.default_rng(8)
    d = tmp_path_factory.mktemp("pcrelate")
    anc = rng.uniform(0.1, 0.9, V)
    fst = 0.1
    a, b = anc * (1 - fst) / fst, (1 - anc) * (1 - fst) / fst
    freq = np.stack([rng.beta(a, b), rng.beta(a, b)], axis=1)  # V × 2 populations
    pop = (np.arange(N) >= N // 2).astype(int)
    hap = (rng.random((V, N, 2)) < freq[:, pop][:, :, None]).astype(np.int8)
    hap[:, 1] = hap[:, 0]                                   # R001 duplicates R000
    hap[:, 3, 0] = hap[:, 2, 0]                             # R003 child of R002
    for i, j in ((4, 5), (124, 125)):                       # full sibs (one per population)
        parents = (rng.random((V, 2, 2)) < freq[:, pop[i]][:, None, None]).astype(np.int8)
        for s in (i, j):
            pick = rng.integers(0, 2, (V, 2))
            hap[:, s, 0] = parents[np.arange(V), 0, pick[:, 0]]
            hap[:, s, 1] = parents[np.arange(V), 1, pick[:, 1]]
    hap[rng.random((V, N)) < 0.01] = -1
    samples = [f"R{i:03d}" for i in range(N)]
    vcf = write_vcf(d / "r.vcf.gz", samples, ["chr7"] * V, np.arange(1, V + 1) * 100,
                    ["G"] * V, ["A"] * V, hap)
    import_vcfs([vcf], d / "r.vcz")
    return {"dir": d, "store": d / "r.vcz", "pop": pop, "samples": samples}


def test_pc_relate_finds_planted_relatives_only(structured: dict) -> None:
    ds = open_cohort(structured["store"])
    pcs = pd.DataFrame({"sample": structured["samples"],
                        "PC1": structured["pop"] + np.random.default_rng(0).normal(0, 0.01, N)})
    allp = pc_relate(ds, pcs, n_pcs=1, min_kinship=None)
    assert len(allp) == N * (N - 1) // 2
    kin = {_key(a, b): k for a, b, k in zip(allp.sample1, allp.sample2, allp.kinship,
                                            strict=True)}
    for pair, expected in PLANTED.items():
        assert abs(kin[pair] - expected) < 0.05, (pair, kin[pair])
    unrelated = np.array([k for p, k in kin.items() if p not in PLANTED])
    assert abs(unrelated.mean()) < 0.005 and unrelated.max() < 0.0442
    close = pc_relate(ds, pcs, n_pcs=1)
    assert {_key(a, b) for a, b in zip(close.sample1, close.sample2, strict=True)} == set(PLANTED)
    # KING-robust agrees on the relatives (both estimate the same kinship)
    king = king_robust(ds, min_kinship=None)
    kk = {_key(a, b): k for a, b, k in zip(king.sample1, king.sample2, king.kinship,
                                           strict=True)}
    for pair in PLANTED:
        assert abs(kk[pair] - kin[pair]) < 0.05
    # without the ancestry PCs the structure would show up as kinship: PCs computed here
    auto = pc_relate(ds, n_pcs=2, min_kinship=None)
    assert auto.kinship.abs().median() < 0.01


def test_pc_relate_equals_sgkit(tmp_path: Path) -> None:
    """Where sgkit 0.8.0 works (no missing call, every μ inside (maf, 1 − maf)): equal."""
    import warnings

    import sgkit
    import xarray as xr

    rng = np.random.default_rng(2)
    n, v = 90, 800
    freq = rng.uniform(0.4, 0.6, v)
    gt = (rng.random((v, n, 2)) < freq[:, None, None]).astype(np.int8)
    gt[:, 1] = gt[:, 0]
    samples = [f"E{i:02d}" for i in range(n)]
    vcf = write_vcf(tmp_path / "e.vcf.gz", samples, ["chr2"] * v, np.arange(1, v + 1) * 10,
                    ["C"] * v, ["T"] * v, gt)
    import_vcfs([vcf], tmp_path / "e.vcz")
    ds = open_cohort(tmp_path / "e.vcz", variants_chunk=300)
    x = rng.uniform(-1, 1, (n, 2))  # no leverage outliers: every μ stays in (0.01, 0.99)
    ours = pc_relate(ds, x, n_pcs=2, min_kinship=None)
    sub = xr.Dataset({"call_genotype": (("variants", "samples", "ploidy"), gt),
                      "call_genotype_mask": (("variants", "samples", "ploidy"), gt < 0),
                      "sample_pca_projection": (("samples", "components"), x)})
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        phi = np.asarray(sgkit.pc_relate(sub, merge=False)["pc_relate_phi"].values)
    assert np.isfinite(phi).all()
    i, j = np.triu_indices(n, k=1)
    assert np.allclose(ours.kinship.to_numpy(), phi[i, j], rtol=0, atol=1e-12)
    assert abs(ours.kinship[0] - 0.5) < 0.05  # E00–E01 duplicates


def test_pc_relate_errors(structured: dict) -> None:
    ds = open_cohort(structured["store"])
    pcs = pd.DataFrame({"sample": structured["samples"][:-1], "PC1": 0.0})
    with pytest.raises(InconsistentInputError, match="no PCs"):
        pc_relate(ds, pcs)


def test_relatedness_cli_pc_relate(structured: dict, tmp_path: Path) -> None:
    out = tmp_path / "rel"
    r = CliRunner().invoke(app, ["cohort", "relatedness", str(structured["store"]), "-o",
                                 str(out), "--method", "pc-relate", "--n-pcs", "2", "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["pairs_reported"] == len(PLANTED)
    t = pd.read_csv(out / "pcrelate.tsv", sep="\t")
    assert list(t.columns) == ["sample1", "sample2", "kinship"]
    bad = CliRunner().invoke(app, ["cohort", "relatedness", str(structured["store"]), "-o",
                                   str(tmp_path / "x"), "--method", "ibd"])
    assert bad.exit_code == 2
