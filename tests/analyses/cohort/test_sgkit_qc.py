"""Cohort QC equals sgkit's standard functions on VCF Zarr stores written by bio2zarr."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
from _cohort_data import write_vcf

from genoma.analyses.cohort.qc import sample_qc, variant_qc
from genoma.io.vcz import import_vcfs, open_cohort

from conftest import require_shared

sgkit = pytest.importorskip("sgkit")


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(21)
    d = tmp_path_factory.mktemp("sgqc")
    n, v = 120, 90
    freq = rng.uniform(0.02, 0.5, v)
    gt = (rng.random((v, n, 2)) < freq[:, None, None]).astype(np.int8)
    gt[::4, :, 1] = gt[::4, :, 0]
    gt[rng.random((v, n)) < 0.03] = -1
    vcf = write_vcf(d / "s.vcf.gz", [f"S{i:03d}" for i in range(n)], ["chr4"] * v,
                    np.arange(1, v + 1) * 100, ["A"] * v, ["G"] * v, gt)
    import_vcfs([vcf], d / "s.vcz")
    return d / "s.vcz"


def _sg(fn: object, ds: object) -> object:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fn(ds).compute()  # type: ignore[operator]


def test_variant_and_sample_stats_equal_sgkit(store: Path) -> None:
    ds = open_cohort(store)
    v, s = variant_qc(ds), sample_qc(ds)
    sv, ss = _sg(sgkit.variant_stats, ds), _sg(sgkit.sample_stats, ds)
    assert np.array_equal(sv.variant_n_called.values, v.obs_ct - v.missing_ct)
    assert np.array_equal(sv.variant_n_het.values, v.het_ct)
    assert np.array_equal(sv.variant_n_hom_ref.values, v.hom_ref_ct)
    assert np.array_equal(sv.variant_n_hom_alt.values, v.hom_alt_ct)
    assert np.allclose(sv.variant_call_rate.values, 1 - v.f_miss, rtol=1e-12)
    assert np.allclose(sv.variant_allele_frequency.values[:, 1], v.alt_freq, rtol=1e-12)
    assert np.array_equal(ss.sample_n_called.values, s.obs_ct - s.missing_ct)
    assert np.array_equal(ss.sample_n_het.values, s.het_ct)
    assert np.allclose(ss.sample_call_rate.values, 1 - s.f_miss, rtol=1e-12)


def test_haploid_calls_differ_from_sgkit(tmp_path: Path) -> None:
    """sgkit counts a haploid (padded) call as missing; genoma counts it as called."""
    import pysam

    lines = ["##fileformat=VCFv4.2", '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">',
             "##contig=<ID=chrX,length=156040895>",
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB",
             "chrX\t3000000\tx1\tA\tG\t.\tPASS\t.\tGT\t0/1\t1",
             "chrX\t3000100\tx2\tA\tG\t.\tPASS\t.\tGT\t0/0\t0"]
    plain = tmp_path / "h.vcf"
    plain.write_text("\n".join(lines) + "\n")
    pysam.tabix_compress(str(plain), str(tmp_path / "h.vcf.gz"), force=True)
    pysam.tabix_index(str(tmp_path / "h.vcf.gz"), preset="vcf", force=True)
    import_vcfs([tmp_path / "h.vcf.gz"], tmp_path / "h.vcz")
    ds = open_cohort(tmp_path / "h.vcz")
    assert sample_qc(ds).missing_ct.tolist() == [0, 0]
    assert _sg(sgkit.sample_stats, ds).sample_n_called.values.tolist() == [2, 0]


@pytest.mark.validation
def test_hwe_equals_sgkit_on_1000g(tmp_path: Path) -> None:
    """Exact HWE p of the 968 autosomal tiny1000G sites (3,202 samples) = sgkit's."""
    vcf = require_shared("prs", "pygscatalog", "tiny1000G.vcf.gz")
    import_vcfs([vcf], tmp_path / "g.vcz")
    ds = open_cohort(tmp_path / "g.vcz")
    x = list(np.asarray(ds["contig_id"].values).astype(str)).index("X")
    auto = ds.isel(variants=np.flatnonzero(np.asarray(ds["variant_contig"].values) != x))
    ours = variant_qc(auto).p_hwe.to_numpy()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        theirs = sgkit.hardy_weinberg_test(auto, alleles=2).variant_hwe_p_value.values
    assert auto.sizes["variants"] == 968
    assert np.max(np.abs(ours - theirs) / np.maximum(theirs, 1e-300)) < 1e-9
