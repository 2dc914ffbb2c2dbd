"""PCA (LD pruning; 1000 Genomes superpopulations) and msprime cohort simulation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from genoma.analyses.cohort.gwas import gwas, make_design
from genoma.analyses.cohort.pca import ld_prune_mask, pca
from genoma.io.vcz import import_vcfs, open_cohort
from genoma.sim.cohort import out_of_africa_3g09, simulate_cohort

from conftest import require_shared


def _nearest_centroid_accuracy(x: np.ndarray, labels: np.ndarray) -> float:
    """Leave-one-out nearest-centroid classification accuracy."""
    keys = np.unique(labels)
    sums = np.array([x[labels == k].sum(0) for k in keys])
    counts = np.array([(labels == k).sum() for k in keys])
    own = np.searchsorted(keys, labels)
    correct = 0
    for i in range(len(x)):
        cent = sums / counts[:, None]
        cent[own[i]] = (sums[own[i]] - x[i]) / (counts[own[i]] - 1)
        correct += keys[np.argmin(((cent - x[i]) ** 2).sum(1))] == labels[i]
    return correct / len(x)


def test_ld_prune_drops_duplicates() -> None:
    rng = np.random.default_rng(0)
    z = rng.normal(size=(6, 400))
    z[1] = z[0]  # perfect LD with the previous variant
    z[4] = -z[3]
    z = (z - z.mean(1, keepdims=True)) / z.std(1, keepdims=True)
    keep = ld_prune_mask(z, np.array([0, 0, 0, 0, 0, 1]), window=5, r2_max=0.2)
    assert keep.tolist() == [True, False, True, True, False, True]
    z[5] = z[3]  # other contig: never compared
    assert ld_prune_mask(z, np.array([0, 0, 0, 0, 0, 1]))[5]


@pytest.mark.validation
def test_pca_separates_1000g_superpopulations(tmp_path: Path) -> None:
    vcf = require_shared("prs", "pygscatalog", "tiny1000G.vcf.gz")
    labels = pd.read_csv(require_shared("prs", "pygscatalog", "ref.psam"), sep="\t")
    import_vcfs([vcf], tmp_path / "g.vcz")
    res = pca(open_cohort(tmp_path / "g.vcz"), n_components=5)
    assert res.variants_used > 500
    m = res.scores.merge(labels, left_on="sample", right_on="#IID")
    assert len(m) == 3202
    acc = _nearest_centroid_accuracy(m[[f"PC{i}" for i in range(1, 6)]].to_numpy(),
                                     m["SuperPop"].to_numpy())
    assert acc > 0.9, acc
    # PC1 splits Africans from East Asians
    means = m.groupby("SuperPop")["PC1"].mean()
    assert abs(means["AFR"] - means["EAS"]) > 3 * m["PC1"].std() / 2


def test_simulated_cohort(tmp_path: Path) -> None:
    d = out_of_africa_3g09()
    assert [p.name for p in d.populations][:3] == ["YRI", "CEU", "CHB"]
    res = simulate_cohort(tmp_path / "sim.vcz", 150, 1_000_000, seed=5, n_causal=5)
    ds = open_cohort(res.store)
    assert ds.sizes["samples"] == 150 and ds.sizes["variants"] == res.n_variants > 100
    assert ds.attrs["genome_build"] == "simulated"
    assert res.samples.population.value_counts().to_dict() == {"YRI": 50, "CEU": 50, "CHB": 50}
    pos = ds["variant_position"].values
    assert pos.min() >= 1 and np.all(np.diff(pos) >= 0)
    assert set(res.pheno.columns) == {"sample", "qt", "cc"}
    assert res.pheno.cc.mean() == pytest.approx(0.2, abs=0.02)
    # same seed → same cohort
    again = simulate_cohort(tmp_path / "sim2.vcz", 150, 1_000_000, seed=5, n_causal=5)
    assert np.array_equal(open_cohort(again.store)["call_genotype"].values,
                          ds["call_genotype"].values)
    # the scan runs on simulated data and ancestry PCs separate the populations
    pcs = pca(ds, n_components=3, min_maf=0.05)
    lab = res.samples.set_index("sample").loc[pcs.scores["sample"], "population"].to_numpy()
    assert _nearest_centroid_accuracy(pcs.scores[["PC1", "PC2"]].to_numpy(), lab) > 0.9
    covar = res.covar.merge(pcs.scores[["sample", "PC1", "PC2"]], on="sample")
    table = gwas(ds, make_design(ds["sample_id"].values, res.pheno, covar))
    assert len(table) == res.n_variants and table.p.notna().mean() > 0.9
