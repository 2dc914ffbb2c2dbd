"""The 2-bit packed GWAS kernel equals the reference kernel on the same calls."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from genoma.analyses.cohort import gwas as G


def _pack(dose: np.ndarray) -> np.ndarray:
    """Reference packing: sample j in byte j >> 2, bits 2 (j & 3); 3 = missing."""
    v, n = dose.shape
    nb = (n + 3) // 4
    codes = np.zeros((v, 4 * nb), dtype=np.uint8)
    codes[:, :n] = np.where(dose < 0, 3, dose)
    c4 = codes.reshape(v, nb, 4)
    return (c4[..., 0] | (c4[..., 1] << 2) | (c4[..., 2] << 4) | (c4[..., 3] << 6)).astype(
        np.uint8)


def _world(rng: np.random.Generator, v: int, n: int, k: int, p_missing: float,
           p_unused: float, intercept: bool):
    gt = rng.choice(np.array([0, 1, 2], dtype=np.int8), size=(v, n, 2), p=[0.6, 0.35, 0.05])
    miss = rng.random((v, n)) < p_missing
    gt[miss, rng.integers(0, 2)] = -1
    dose = np.where((gt == -1).any(axis=2), -1, (gt == 1).sum(axis=2)).astype(np.int8)
    use = rng.random(n) >= p_unused
    y = np.where(use, rng.normal(size=n), 0.0)
    c = rng.normal(size=(n, k))
    if intercept and k:
        c[:, 0] = 1.0
    c[~use] = 0.0
    xt = np.ascontiguousarray(np.column_stack([use.astype(np.float64), y, c]).T)
    const = G._LinearConstants(use, y, c, int(use.sum()), c.T @ c, c.T @ y, float(y @ y), xt,
                               intercept and k > 0)
    return gt, dose, const


def _compare(gt, dose, const) -> None:
    ref = G._suffstats_py(gt, None, 0, const.use, const.y, const.c)
    pc = G._packed_constants(const, (gt.shape[1] + 3) // 4)
    got = G._packed_suffstats_py(_pack(dose), pc.pmask, pc.xs, G._PACKED_GROUP,
                                 const.intercept, const.c.shape[1])
    assert got.shape == ref.shape
    np.testing.assert_allclose(got[:, 1:], ref[:, 1:], rtol=1e-10, atol=1e-9)


@pytest.mark.parametrize("n", [1, 3, 4, 255, 256, 257, 1001])
@pytest.mark.parametrize("intercept", [True, False])
def test_packed_kernel_equals_reference(n: int, intercept: bool) -> None:
    rng = np.random.default_rng(n)
    _compare(*_world(rng, 9, n, 3, 0.05, 0.2, intercept))


def test_packed_kernel_compiled_equals_python() -> None:
    rng = np.random.default_rng(7)
    _gt, dose, const = _world(rng, 13, 700, 4, 0.02, 0.1, True)
    pc = G._packed_constants(const, (700 + 3) // 4)
    packed = _pack(dose)
    args = (packed, pc.pmask, pc.xs, G._PACKED_GROUP, True, 4)
    np.testing.assert_allclose(G._packed_kernel()(*args), G._packed_suffstats_py(*args),
                               rtol=1e-12, atol=1e-9)


def test_packed_layout_is_a_permutation() -> None:
    for nb, n in [(1, 1), (5, 19), (64, 256), (65, 259), (200, 800)]:
        pos = G._packed_layout(nb, n)
        assert sorted(pos[pos >= 0].tolist()) == list(range(n))


@settings(max_examples=40, deadline=None)
@given(v=st.integers(1, 6), n=st.integers(1, 300), k=st.integers(1, 3),
       p_missing=st.sampled_from([0.0, 0.1, 0.5]), seed=st.integers(0, 2**16))
def test_packed_kernel_random(v: int, n: int, k: int, p_missing: float, seed: int) -> None:
    _compare(*_world(np.random.default_rng(seed), v, n, k, p_missing, 0.15, True))


@pytest.mark.parametrize("model", ["linear", "logistic"])
def test_gwas_through_packed_copy_equals_dense_scan(tmp_path, model: str) -> None:
    """Whole scans: the packed copy gives the dense scan's table (missing calls, a second
    ALT, a sample without phenotype, samples not a multiple of 4, several chunks)."""
    import pandas as pd
    from _cohort_data import write_vcf

    from genoma.io.packed import build_packed_calls, open_packed_calls
    from genoma.io.vcz import import_vcfs, open_cohort

    rng = np.random.default_rng(11)
    n, v = 301, 70
    freq = rng.uniform(0.05, 0.6, v)
    gt = (rng.random((v, n, 2)) < freq[:, None, None]).astype(np.int8)
    gt[5, rng.random(n) < 0.3, 1] = 2  # a second ALT allele: dosage of the first ALT only
    gt[rng.random((v, n)) < 0.03] = -1
    samples = [f"S{i}" for i in range(n)]
    alts = ["G"] * v
    alts[5] = "G,T"
    vcf = write_vcf(tmp_path / "c.vcf.gz", samples, ["chr1"] * v, np.arange(1, v + 1) * 10,
                    ["A"] * v, alts, gt)
    import_vcfs([vcf], tmp_path / "c.vcz", variants_chunk_size=32, samples_chunk_size=128)
    ds = open_cohort(tmp_path / "c.vcz")
    assert open_packed_calls(ds) is None
    build_packed_calls(ds)
    assert open_packed_calls(ds) is not None
    y = rng.normal(size=n) if model == "linear" else (rng.random(n) < 0.4).astype(float)
    pheno = pd.DataFrame({"sample": samples, "t": y})
    pheno.loc[3, "t"] = np.nan  # not analysed
    covar = pd.DataFrame({"sample": samples, "age": rng.normal(50, 10, n),
                          "sex": rng.integers(1, 3, n)})
    design = G.make_design(ds["sample_id"].values, pheno, covar, pheno_column="t",
                           model=model)
    dense = G.gwas(ds, design, carrier_index="off", packed_calls="off")
    packed = G.gwas(ds, design, carrier_index="off", packed_calls="use")
    assert dense.attrs["genotype_source"] == "call_genotype"
    assert packed.attrs["genotype_source"] == "packed_calls"
    assert (packed.n.to_numpy() == dense.n.to_numpy()).all()
    assert (packed.error.to_numpy() == dense.error.to_numpy()).all()
    assert (dense.n < n - 1).any()  # some variants lost samples to missing calls
    for col in ("alt_freq", "beta", "se", "p"):
        np.testing.assert_allclose(packed[col].to_numpy(), dense[col].to_numpy(),
                                   rtol=1e-9, atol=1e-12, equal_nan=True)
