"""The branch-free dense kernel (common variants) equals the branching kernel."""

from __future__ import annotations

import numpy as np
import pytest

from genoma.analyses.cohort import gwas as g


def _constants(n_all: int, use: np.ndarray, rng: np.random.Generator) -> g._LinearConstants:
    idx = np.flatnonzero(use)
    cov = np.column_stack([np.ones(idx.size), rng.normal(size=(idx.size, 2))])
    design = g.GwasDesign(idx.astype(np.int64), rng.normal(size=idx.size), cov,
                          ["intercept", "a", "b"], "linear")
    return g._linear_constants(design, n_all)


@pytest.mark.parametrize("s0", [0, 37])
def test_dense_kernel_equals_branching_kernel(s0: int) -> None:
    rng = np.random.default_rng(1)
    v, ns = 23, 301  # not a multiple of the kernel's 4 rows
    n_all = s0 + ns + 5
    use = rng.random(n_all) < 0.9
    const = _constants(n_all, use, rng)
    gt = (rng.random((v, ns, 2)) < rng.uniform(0, 0.6, (v, 1, 1))).astype(np.int8)
    gt[rng.random((v, ns)) < 0.03] = -1  # missing calls
    gt[2, 4, 0] = -1  # half-missing call: missing
    gt[3, 5, 1] = -2  # fill (haploid call in a diploid block): not missing, dosage of [1, -2]
    gt[3, 5, 0] = 1
    gt[4, :, :] = 2  # a second ALT allele everywhere: dosage 0
    gt[6] = 0  # all hom-REF
    pair = gt.view(np.int16)[..., 0]
    ref = g._suffstats_kernel()(gt, pair, s0, const.use, const.y, const.c)
    xs = np.ascontiguousarray(const.xt[:, s0:s0 + ns])
    assert const.intercept
    p16 = gt.view(np.int16).reshape(v, ns)
    new = g._dense_kernel()(p16, s0, const.use, xs, const.y, const.c, True)
    assert new.shape == ref.shape
    np.testing.assert_allclose(new, ref, rtol=1e-12, atol=1e-9)
    # without the intercept shortcut: every covariate by its dot product
    np.testing.assert_allclose(g._dense_kernel()(p16, s0, const.use, xs, const.y, const.c,
                                                 False), ref, rtol=1e-12, atol=1e-9)
    assert ref[:, 4 + 3].sum() > 0  # missing calls were counted
    assert new[3, 1] == ref[3, 1] and new[4, 1] == 0


def test_block_dispatch_by_carrier_density() -> None:
    """Both dispatch branches of ``_suffstats_block`` give the branching kernel's sums."""
    rng = np.random.default_rng(2)
    n_all = 640
    use = np.ones(n_all, dtype=bool)
    const = _constants(n_all, use, rng)
    for p in (0.005, 0.3):  # rare block: branching kernel; common block: branch-free
        gt = (rng.random((40, n_all, 2)) < p).astype(np.int8)
        pair = gt.view(np.int16)[..., 0]
        dense = g._carrier_fraction(pair) > g._DENSE_CARRIER_FRACTION
        assert dense == (p > 0.1)
        ref = g._suffstats_kernel()(gt, pair, 0, const.use, const.y, const.c)
        got = g._suffstats_block(gt, const)[:, 0, :]
        np.testing.assert_allclose(got, ref, rtol=1e-12, atol=1e-9)


def test_genotype_array_reads_chunk_files_directly(tmp_path) -> None:
    """Same calls as xarray/zarr (edge chunks, missing calls); anything else falls back."""
    from _cohort_data import write_vcf

    from genoma.io.vcz import genotype_array, import_vcfs, open_cohort

    rng = np.random.default_rng(3)
    n, v = 70, 55
    gt = (rng.random((v, n, 2)) < 0.3).astype(np.int8)
    gt[rng.random((v, n)) < 0.05] = -1
    vcf = write_vcf(tmp_path / "c.vcf.gz", [f"S{i}" for i in range(n)], ["chr1"] * v,
                    np.arange(1, v + 1) * 10, ["A"] * v, ["G"] * v, gt)
    import_vcfs([vcf], tmp_path / "c.vcz", variants_chunk_size=20, samples_chunk_size=32)
    ds = open_cohort(tmp_path / "c.vcz")
    direct = genotype_array(ds)
    assert str(direct.name).startswith("genoma-gt-")  # the direct reader was used
    assert direct.chunks == ds["call_genotype"].data.chunks
    np.testing.assert_array_equal(direct.compute(), ds["call_genotype"].values)
    np.testing.assert_array_equal(direct.compute(), gt)
    sub = ds.isel(samples=np.arange(n)[::-1])  # not the store's layout: xarray's array
    assert not str(genotype_array(sub).name).startswith("genoma-gt-")
    np.testing.assert_array_equal(genotype_array(sub).compute(), gt[:, ::-1])
