"""The carrier index (sparse genotypes) gives the same association scan as the dense one,
equals plink2, and is never used when stale or incomplete."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cohort_data import run_plink2, write_vcf

from genoma.analyses.cohort.gwas import gwas, make_design
from genoma.io import carriers as sparse
from genoma.io.vcz import import_vcfs, open_cohort
from genoma.model.cohort import alt_dosage_block

N, V = 300, 160


@pytest.fixture(scope="module")
def cohort(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Rare and common variants (a few with ALT frequency > 0.5), 20 multi-allelic sites,
    2 % missing calls in every third variant, two sample chunks."""
    rng = np.random.default_rng(11)
    d = tmp_path_factory.mktemp("sparse")
    samples = [f"S{i:03d}" for i in range(N)]
    freq = np.concatenate([rng.uniform(0.003, 0.03, V // 2), rng.uniform(0.03, 0.95, V - V // 2)])
    gt = (rng.random((V, N, 2)) < freq[:, None, None]).astype(np.int8)
    gt[3] = 0  # constant
    second = rng.random((V, N, 2)) < 0.05  # a second ALT allele in the last 20 variants
    second[:V - 20] = False
    gt[second & (gt == 0)] = 2
    miss = rng.random((V, N)) < 0.02
    miss[np.arange(V) % 3 != 0] = False
    gt[miss] = -1
    chrom = ["chr1"] * V
    pos = np.arange(1, V + 1) * 100
    alts = ["G"] * (V - 20) + ["G,T"] * 20
    vcf = write_vcf(d / "c.vcf.gz", samples, chrom, pos, ["A"] * V, alts, gt)
    store = d / "c.vcz"
    import_vcfs([vcf], store, samples_chunk_size=128, variants_chunk_size=40)
    dose = alt_dosage_block(gt)
    age = rng.normal(50, 10, N)
    sex = rng.integers(1, 3, N)
    qt = 0.5 * np.where(dose[100] < 0, 0, dose[100]) + 0.02 * age + rng.normal(size=N)
    eta = -0.3 + 0.7 * np.where(dose[120] < 0, 0, dose[120]) - 0.7
    cc = (rng.random(N) < 1 / (1 + np.exp(-eta))).astype(int)
    pheno = pd.DataFrame({"sample": samples, "qt": qt, "cc": cc})
    covar = pd.DataFrame({"sample": samples, "age": age, "sex": sex})
    return {"dir": d, "vcf": vcf, "store": store, "pheno": pheno, "covar": covar, "gt": gt}


def _design(ds, cohort: dict, model: str = "linear", pheno: str = "qt"):
    return make_design(ds["sample_id"].values, cohort["pheno"], cohort["covar"],
                       pheno_column=pheno, model=model)  # type: ignore[arg-type]


def test_entries_round_trip() -> None:
    """Entries hold exactly the non-zero first-ALT dosages and the missing calls."""
    rng = np.random.default_rng(3)
    gt = rng.choice(np.array([0, 0, 0, 0, 1, 2, -1], dtype=np.int8), size=(25, 700, 2))
    gt[4, :, 1] = -2  # padding (haploid call in a diploid array) is not missing
    entries, counts = sparse.carrier_entries_block(gt)
    dose = alt_dosage_block(gt)
    assert np.array_equal(counts, (dose != 0).sum(axis=1))
    off = np.concatenate([[0], np.cumsum(counts)])
    assert np.array_equal(sparse.dosage_from_entries(entries, off, 700), dose)
    # within a variant the samples ascend; codes are dosage 1, 2 or 3 (missing)
    codes = entries & 3
    assert set(np.unique(codes).tolist()) <= {1, 2, 3}
    j = (entries >> 2).astype(np.int64)
    for i in range(25):
        assert np.all(np.diff(j[off[i]:off[i + 1]]) > 0)
    haploid = gt[:, :, :1].copy()
    e1, c1 = sparse.carrier_entries_block(haploid)
    o1 = np.concatenate([[0], np.cumsum(c1)])
    assert np.array_equal(sparse.dosage_from_entries(e1, o1, 700), alt_dosage_block(haploid))


def test_index_build_open_and_stale(cohort: dict, tmp_path: Path) -> None:
    store = tmp_path / "s.vcz"
    shutil.copytree(cohort["store"], store)
    shutil.rmtree(store / sparse.GROUP, ignore_errors=True)
    ds = open_cohort(store)
    assert sparse.open_carrier_index(ds) is None
    idx = sparse.build_carrier_index(ds, entries_chunk=256, batch=2)  # many small chunks
    assert idx.n_variants == V and idx.n_samples == N
    again = sparse.open_carrier_index(ds)
    assert again is not None and np.array_equal(again.offsets, idx.offsets)
    # the index is an ordinary Zarr array: the direct chunk reader returns the same entries
    import zarr

    whole = zarr.open_array(str(store / sparse.GROUP / "entries"), mode="r")[:]
    assert len(whole) > 4 * 256
    for v0, v1 in ((17, 129), (0, V), (40, 41), (5, 5)):  # whole and partial chunks
        e, off = idx.read(v0, v1)
        assert np.array_equal(e, whole[idx.offsets[v0]:idx.offsets[v1]])
        assert off[0] == 0 and off[-1] == len(e) and len(off) == v1 - v0 + 1
    assert "genoma_carriers" not in open_cohort(store).data_vars  # invisible to xarray
    # rewriting a call_genotype chunk makes the index stale: it is ignored, then rebuilt
    chunk = next(p for p in (store / "call_genotype").iterdir() if not p.name.startswith("."))
    st = chunk.stat()
    os.utime(chunk, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert sparse.open_carrier_index(ds) is None
    assert sparse.ensure_carrier_index(ds) is not None
    assert sparse.open_carrier_index(ds) is not None
    # an index without its attributes (interrupted build) is never used
    (store / sparse.GROUP / ".zattrs").unlink()
    assert sparse.open_carrier_index(ds) is None


def test_without_index_the_scan_is_dense(cohort: dict, tmp_path: Path) -> None:
    """``use`` never builds; a dataset not opened from a local store is never indexed."""
    store = tmp_path / "u.vcz"
    shutil.copytree(cohort["store"], store)
    shutil.rmtree(store / sparse.GROUP, ignore_errors=True)
    ds = open_cohort(store)
    table = gwas(ds, _design(ds, cohort), carrier_index="use")
    assert not (store / sparse.GROUP).exists()
    assert table.beta.notna().sum() > 100
    subset = ds.isel(variants=slice(0, 50))  # never indexed (nor overwrites an index)
    assert sparse.ensure_carrier_index(subset) is None
    assert gwas(subset, _design(ds, cohort)).beta.notna().sum() > 30
    detached = ds.copy()
    detached.encoding = {}
    assert sparse.store_path(detached) is None
    assert sparse.ensure_carrier_index(detached) is None
    assert not (store / sparse.GROUP).exists()


@pytest.mark.parametrize(("model", "pheno"), [("linear", "qt"), ("logistic", "cc")])
def test_sparse_scan_equals_dense_scan(cohort: dict, model: str, pheno: str) -> None:
    ds = open_cohort(cohort["store"])
    design = _design(ds, cohort, model, pheno)
    dense = gwas(ds, design, carrier_index="off")
    if sparse.open_carrier_index(ds) is None:
        sparse.build_carrier_index(ds)  # (auto declines on this fairly dense cohort)
    fast = gwas(ds, design, carrier_index="use")
    assert dense.attrs["genotype_source"] == "call_genotype"
    assert fast.attrs["genotype_source"] == "carrier_index"
    assert np.array_equal(dense.n, fast.n) and np.array_equal(dense.error, fast.error)
    assert (dense.n < N).any() and dense.error.iloc[3] == "CONST_ALLELE"
    for col in ("alt_freq", "beta", "se", "p"):
        assert np.allclose(dense[col], fast[col], rtol=1e-9, atol=0, equal_nan=True), col
    if model == "logistic":
        assert np.array_equal(dense.firth, fast.firth)
    # variant ranges other than the store's chunks give the same scan
    other = gwas(ds, design, carrier_index="use", variants_chunk=7)
    assert np.allclose(other.beta, fast.beta, rtol=1e-12, equal_nan=True)


def test_sparse_scan_equals_plink2(cohort: dict) -> None:
    """Linear through the carrier index vs plink2 --glm on the biallelic sites (with
    missing calls and ALT frequencies up to 0.95)."""
    ds = open_cohort(cohort["store"])
    if sparse.open_carrier_index(ds) is None:
        sparse.build_carrier_index(ds)
    ours = gwas(ds, _design(ds, cohort), carrier_index="use")
    assert ours.attrs["genotype_source"] == "carrier_index"
    d: Path = cohort["dir"]
    cohort["pheno"][["sample", "qt"]].rename(columns={"sample": "#IID"}).to_csv(
        d / "qt.pheno", sep="\t", index=False, float_format="%.17g")
    cohort["covar"].rename(columns={"sample": "#IID"}).to_csv(
        d / "p.covar", sep="\t", index=False, float_format="%.17g")
    run_plink2(["--vcf", str(cohort["vcf"]), "--glm", "omit-ref", "hide-covar",
                "--pheno", "qt.pheno", "--covar", "p.covar", "--out", "sp"], d)
    pl = pd.read_csv(next(d.glob("sp.qt.glm.*")), sep="\t", na_values=["NA"])
    m = ours.iloc[:V - 20].merge(pl, left_on="id", right_on="ID")
    assert len(m) == V - 20
    assert (m["n"] == m["OBS_CT"]).all()
    ok = m["BETA"].notna()
    assert np.array_equal(ok, m["beta"].notna())
    for a, b in (("beta", "BETA"), ("se", "SE")):
        x, y = m.loc[ok, a].to_numpy(), m.loc[ok, b].to_numpy()
        half_unit = 0.5 * 10.0 ** (np.floor(np.log10(np.abs(y))) - 5)
        assert (np.abs(x - y) <= half_unit * (1 + 1e-6)).all(), a


def test_auto_indexes_only_sparse_cohorts(cohort: dict, tmp_path: Path) -> None:
    """``ensure_carrier_index`` builds an index for rare-variant data, not for dense
    common-variant data (where the dense scan is cheaper); ``gwas`` itself never writes
    into the store; both scans give the same statistics."""
    rng = np.random.default_rng(5)
    samples = [f"S{i:03d}" for i in range(N)]
    dense_store = tmp_path / "dense.vcz"
    shutil.copytree(cohort["store"], dense_store)
    shutil.rmtree(dense_store / sparse.GROUP, ignore_errors=True)
    ds = open_cohort(dense_store)
    assert sparse.estimate_carrier_fraction(ds) > sparse.MAX_AUTO_CARRIER_FRACTION
    assert sparse.ensure_carrier_index(ds) is None
    table = gwas(ds, _design(ds, cohort), carrier_index="auto")
    assert table.attrs["genotype_source"] == "call_genotype"
    assert not (dense_store / sparse.GROUP).exists()
    # rare variants only (ALT frequency 0.2-3 %): auto builds the index
    gt = (rng.random((60, N, 2)) < rng.uniform(0.002, 0.03, (60, 1, 1))).astype(np.int8)
    vcf = write_vcf(tmp_path / "rare.vcf.gz", samples, ["chr1"] * 60, np.arange(1, 61) * 10,
                    ["A"] * 60, ["G"] * 60, gt)
    rare_store = tmp_path / "rare.vcz"
    import_vcfs([vcf], rare_store, variants_chunk_size=20)
    rds = open_cohort(rare_store)
    frac = sparse.estimate_carrier_fraction(rds)
    assert frac == pytest.approx(np.count_nonzero(gt.any(axis=2)) / gt[..., 0].size, rel=0.5)
    assert frac < sparse.MAX_AUTO_CARRIER_FRACTION
    before = gwas(rds, _design(rds, cohort), carrier_index="auto")
    assert before.attrs["genotype_source"] == "call_genotype"  # the analysis never builds
    assert not (rare_store / sparse.GROUP).exists()
    # the CLI's --carrier-index auto (the default) is the step that builds it
    from typer.testing import CliRunner

    from genoma.cli.main import app

    cohort["pheno"].to_csv(tmp_path / "pheno.tsv", sep="\t", index=False)
    r = CliRunner().invoke(app, ["cohort", "gwas", str(rare_store), "--pheno",
                                 str(tmp_path / "pheno.tsv"), "--pheno-name", "qt",
                                 "-o", str(tmp_path / "out"), "--json"])
    assert r.exit_code == 0, r.output
    assert (rare_store / sparse.GROUP).is_dir()
    assert sparse.open_carrier_index(rds) is not None
    fast = gwas(rds, _design(rds, cohort), carrier_index="auto")
    assert fast.attrs["genotype_source"] == "carrier_index"
    slow = gwas(rds, _design(rds, cohort), carrier_index="off")
    assert np.allclose(fast.beta, slow.beta, rtol=1e-9, equal_nan=True)
    assert np.allclose(fast.p, slow.p, rtol=1e-9, equal_nan=True)


def test_separated_variants_go_straight_to_firth() -> None:
    """The shortcut's premise: with every ALT allele in cases (or in controls) the ordinary
    Newton fit cannot converge, so routing such variants to Firth changes nothing."""
    from genoma.analyses.cohort.gwas import (
        _firth_rows,
        _logistic,
        _logistic_null,
        _logistic_rows,
    )

    rng = np.random.default_rng(5)
    n = 400
    c = np.column_stack([np.ones(n), rng.normal(size=n)])
    y = (rng.random(n) < 0.3).astype(float)
    cases, controls = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    d = np.zeros((4, n))
    d[0, cases[0]] = 1  # singleton in a case
    d[1, controls[:2]] = 1  # doubleton in controls
    d[2, cases[:3]] = [2, 1, 1]  # carriers only in cases
    d[3, rng.choice(n, 60, replace=False)] = 1  # common, both classes: ordinary fit
    obs = np.ones_like(d, dtype=bool)
    beta0 = _logistic_null(y, c)
    _, _, conv = _logistic_rows(d, obs, y, c, beta0, firth=False, max_iter=25)
    assert not conv[:3].any() and conv[3]
    out = np.full((4, 8), np.nan)
    _logistic(d, obs, y, c, beta0, out, firth_fallback=True)
    fb, finv, fconv = _firth_rows(d[:3], obs[:3], y, c, beta0)
    assert fconv.all() and (out[:3, 6] == 1).all() and out[3, 6] == 0
    assert np.allclose(out[:3, 2], fb[:, -1], rtol=1e-12)
    assert np.allclose(out[:3, 3], np.sqrt(finv[:, -1, -1]), rtol=1e-12)
    assert np.isfinite(out[3, 2]) and (out[:, 7] == 0).all()
