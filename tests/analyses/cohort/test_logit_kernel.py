"""The compiled logistic Newton kernel equals the NumPy reference fits."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special

from genoma.analyses.cohort import _logit_kernel
from genoma.analyses.cohort._logit_kernel import firth_kernel, logistic_kernel
from genoma.analyses.cohort.gwas import _firth_rows, _logistic_null, _logistic_rows


def _world(k: int, n: int = 3000, v: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    c = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1))])
    eta = -0.4 + (c[:, 1:] @ rng.normal(scale=0.5, size=k - 1) if k > 1 else 0.0)
    y = (rng.random(n) < special.expit(eta)).astype(float)
    freq = rng.uniform(0.02, 0.5, v)
    dose = rng.binomial(2, freq[:, None], size=(v, n)).astype(np.int8)
    dose[rng.random((v, n)) < 0.02] = -1
    return c, y, dose


@pytest.mark.parametrize("k", [1, 3, 6])
def test_kernel_equals_numpy_newton(k: int) -> None:
    c, y, dose = _world(k, seed=k)
    idx = np.arange(0, dose.shape[1], 2)  # a subset of the samples, as in a real design
    c, y = c[idx], y[idx]
    beta0 = _logistic_null(y, c)
    out = np.empty((dose.shape[0], 6))
    logistic_kernel(k)(dose, idx, y, np.ascontiguousarray(c.T), beta0, 25, 1e-10, out)
    sub = dose[:, idx]
    obs = sub >= 0
    d0 = np.where(obs, sub, 0).astype(float)
    beta, inv, conv = _logistic_rows(d0, obs, y, c, beta0, firth=False, max_iter=25)
    assert conv.all() and (out[:, 5] == 0).all()
    np.testing.assert_allclose(out[:, 3], beta[:, k], rtol=1e-9)
    np.testing.assert_allclose(out[:, 4], inv[:, k, k], rtol=1e-8)
    np.testing.assert_array_equal(out[:, 0], obs.sum(axis=1))
    np.testing.assert_allclose(out[:, 1], d0.sum(axis=1))
    ss = (d0 ** 2).sum(axis=1) - d0.sum(axis=1) ** 2 / obs.sum(axis=1)
    np.testing.assert_allclose(out[:, 2], ss, rtol=1e-12)


def test_kernel_statuses() -> None:
    c, y, dose = _world(2, n=600, v=5, seed=3)
    dose = dose.astype(np.float64)
    dose[0] = 1.0  # constant genotype
    dose[1] = 0.0
    dose[1, np.flatnonzero(y == 1)[:3]] = 1.0  # every ALT allele in cases: separated
    dose[2] = np.where(y == 0, 0.0, -1.0)  # only controls observed, all hom-REF: constant
    c = np.column_stack([c, dose[3]])  # genotype 3 is a covariate too: singular
    beta0 = _logistic_null(y, c)
    out = np.empty((5, 6))
    logistic_kernel(3)(dose, np.arange(600), y, np.ascontiguousarray(c.T), beta0, 25, 1e-10,
                       out)
    assert out[:, 5].tolist() == [1.0, 2.0, 1.0, 4.0, 0.0]
    assert np.isnan(out[:4, 3]).all() and np.isfinite(out[4, 3:5]).all()


def test_kernel_without_writable_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    """No writable cache directory: the same kernel, compiled in memory."""
    c, y, dose = _world(2, n=800, v=6, seed=4)
    beta0 = _logistic_null(y, c)
    args = (dose, np.arange(800), y, np.ascontiguousarray(c.T), beta0, 25, 1e-10)
    cached = logistic_kernel(2)(*args, np.empty((6, 6)))
    from genoma.scale import codegen

    monkeypatch.setattr(codegen, "kernel_dir", lambda: None)
    in_memory = _logit_kernel._load_module.__wrapped__(2, False, False).fit(*args, np.empty((6, 6)))
    np.testing.assert_array_equal(cached, in_memory)


def test_expit_matches_scipy() -> None:
    """The in-loop ``1 / (1 + e^-x)``: a few ulps where fits live, 1e-13 at the clamp."""
    expit = _logit_kernel._helpers()[1]
    rng = np.random.default_rng(0)
    for x, rtol in ((np.concatenate([np.linspace(-40, 40, 4001), rng.normal(scale=5, size=2000)]),
                     4e-15),
                    (np.array([-800.0, -701.0, -700.0, -350.5, 350.5, 700.0, 800.0]), 1e-13)):
        ours = np.array([expit(v) for v in x])
        np.testing.assert_allclose(ours, special.expit(np.clip(x, -700, 700)), rtol=rtol, atol=0)


def test_packed_kernel_equals_dosage_kernel() -> None:
    """The kernel reading 2-bit packed calls fits exactly what it fits from dosages, and
    the constant intercept column may be skipped (same sums)."""
    from genoma.io.packed import pack_calls_block

    c, y, dose = _world(3, n=1001, v=12, seed=7)  # 1001: a partly filled last byte
    gt = np.stack([np.minimum(dose, 1), dose - np.minimum(dose, 1)], axis=2).astype(np.int8)
    gt[dose < 0] = -1
    packed = pack_calls_block(gt)
    idx = np.flatnonzero(np.arange(1001) % 3 != 1)
    c, y = c[idx], y[idx]
    beta0 = _logistic_null(y, c)
    args = (idx, y, np.ascontiguousarray(c.T), beta0, 25, 1e-10)
    plain = logistic_kernel(3)(dose, *args, np.empty((12, 6)))
    from_packed = logistic_kernel(3, packed=True)(packed, *args, np.empty((12, 6)))
    np.testing.assert_array_equal(from_packed, plain)
    skip = logistic_kernel(3, packed=True, intercept=True)(packed, *args, np.empty((12, 6)))
    np.testing.assert_allclose(skip, plain, rtol=1e-12)
    assert (plain[:, 5] == 0).all()


def test_expit_softplus_matches_numpy() -> None:
    both = _logit_kernel._helpers()[4]
    for x, rtol in ((np.concatenate([np.linspace(-60, 60, 6001), [-1e-9, 0.0, 1e-9]]), 4e-15),
                    (np.array([-700.0, -500.5, 500.5, 700.0]), 1e-13)):
        ours = np.array([both(v) for v in x])
        np.testing.assert_allclose(ours[:, 1], np.logaddexp(0.0, x), rtol=rtol, atol=0)
        np.testing.assert_allclose(ours[:, 0], special.expit(x), rtol=rtol, atol=0)


@pytest.mark.parametrize("k", [1, 3])
def test_firth_kernel_equals_numpy_firth(k: int) -> None:
    """Rare and separated variants (where Firth is used): the compiled Firth fits equal
    the NumPy reference's."""
    rng = np.random.default_rng(11 + k)
    n = 1500
    c = np.column_stack([np.ones(n), rng.normal(size=(n, k - 1))])
    y = (rng.random(n) < 0.2).astype(float)
    dose = np.zeros((8, n), dtype=np.int8)
    cases, controls = np.flatnonzero(y == 1), np.flatnonzero(y == 0)
    dose[0, cases[0]] = 1  # singleton in a case (separated)
    dose[1, controls[:3]] = 1  # tripleton in controls
    dose[2, cases[:2]] = 2  # hom-ALT carriers, cases only
    dose[3, rng.choice(n, 5, replace=False)] = 1  # rare, both classes
    dose[4, rng.choice(n, 40, replace=False)] = 1
    dose[5, rng.choice(n, 300, replace=False)] = rng.integers(1, 3, 300)  # common
    dose[6, cases[:5]] = 1
    dose[6, controls[:1]] = 1
    dose[7, rng.choice(n, 12, replace=False)] = 1
    dose[7, rng.choice(n, 30, replace=False)] = -1  # missing calls
    beta0 = _logistic_null(y, c)
    out = np.empty((8, 3))
    firth_kernel(k)(dose, np.arange(n), y, np.ascontiguousarray(c.T), beta0, 100, 1e-8, out)
    obs = dose >= 0
    d0 = np.where(obs, dose, 0).astype(float)
    fb, finv, fconv = _firth_rows(d0, obs, y, c, beta0)
    assert fconv.all() and (out[:, 2] == 1).all()
    np.testing.assert_allclose(out[:, 0], fb[:, k], rtol=1e-6, atol=1e-9)
    np.testing.assert_allclose(out[:, 1], finv[:, k, k], rtol=1e-6)


def test_damaged_kernel_file_is_rewritten(tmp_path) -> None:
    """A generated module file whose text is not the source (damaged) is rewritten."""
    from genoma.scale.codegen import load_source_module

    source = "VALUE = 41 + 1\n"
    (tmp_path / "genoma_test_mod.py").write_text("VALUE = (  # truncated")
    module = load_source_module("genoma_test_mod", source, tmp_path)
    assert module.VALUE == 42
    assert (tmp_path / "genoma_test_mod.py").read_text() == source
    assert not list(tmp_path.glob("*.tmp"))
