"""Compiled scoring kernels (packed .bed bytes, int8 codes) = a plain numpy reference."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from risk_testutil import make_target, write_scorefile

from genoma.analyses.risk import kernels as K
from genoma.analyses.risk.matching import match_score
from genoma.analyses.risk.scoring import build_weights, compute_scores
from genoma.errors import MalformedInputError
from genoma.io.pgs import load_target, read_scoring_file

# ALT (A1) dosage → .bed 2-bit code; -1 (missing) → 01
_CODE = {2: 0, -1: 1, 1: 2, 0: 3}


def pack_bed(codes: np.ndarray) -> np.ndarray:
    """``(rows, samples)`` ALT counts (-1 missing) → .bed bytes (magic included)."""
    n_rows, ns = codes.shape
    nb = (ns + 3) // 4
    c = np.vectorize(_CODE.get, otypes=[np.uint8])(codes) if codes.size else np.zeros(
        codes.shape, np.uint8)
    pad = np.zeros((n_rows, nb * 4), dtype=np.uint8)
    pad[:, :ns] = c
    pad = pad.reshape(n_rows, nb, 4)
    packed = pad[:, :, 0] | (pad[:, :, 1] << 2) | (pad[:, :, 2] << 4) | (pad[:, :, 3] << 6)
    return np.concatenate([np.array([0x6C, 0x1B, 0x01], np.uint8),
                           packed.astype(np.uint8).ravel()])


def reference(codes: np.ndarray, w_alt: np.ndarray, rc: np.ndarray, present: np.ndarray,
              mode: int, fill_given: np.ndarray | None = None) -> tuple[np.ndarray,
                                                                          np.ndarray]:
    """Plain numpy: per row and sample, w × dosage + constant; missing as documented."""
    d = codes.astype(float)
    miss = codes < 0
    d[miss] = np.nan
    ns = codes.shape[1]
    sums = np.zeros((ns, w_alt.shape[1]))
    for r in range(codes.shape[0]):
        if mode == K.FILL_MEAN:
            ok = ~miss[r]
            fill = d[r, ok].mean() if ok.any() else 0.0
        elif mode == K.FILL_GIVEN:
            fill = fill_given[r]
        x = np.where(miss[r], fill if mode != K.FILL_NONE else 0.0, d[r])
        contrib = np.outer(x, w_alt[r]) + rc[r][None, :]
        if mode == K.FILL_NONE:
            contrib[miss[r]] = 0.0
        sums += contrib
    n_missing = miss.T.astype(np.int64) @ (present != 0).astype(np.int64)
    return sums, n_missing


@st.composite
def cases(draw):
    n_rows = draw(st.integers(0, 24))
    ns = draw(st.integers(1, 13))  # every tail length of the last .bed byte
    k = draw(st.integers(1, 4))
    seed = draw(st.integers(0, 2**31 - 1))
    p_miss = draw(st.sampled_from([0.0, 0.1, 0.5, 1.0]))
    sparsity = draw(st.sampled_from([0.0, 0.4, 1.0]))  # share of (row, score) cells unused
    mode = draw(st.sampled_from([K.FILL_MEAN, K.FILL_NONE, K.FILL_GIVEN]))
    subset = draw(st.booleans())
    rng = np.random.default_rng(seed)
    codes = rng.integers(0, 3, (n_rows, ns)).astype(np.int8)
    codes[rng.random(codes.shape) < p_miss] = -1
    use = rng.random((n_rows, k)) >= sparsity
    w = np.where(use, rng.normal(size=(n_rows, k)), 0.0)
    ref_eff = rng.random((n_rows, k)) < 0.5
    rc = np.where(use & ref_eff, -2.0 * w, 0.0)
    w = np.where(ref_eff, -w, w)
    present = use.astype(np.int64)
    fg = rng.uniform(0, 2, n_rows)
    sel = np.sort(rng.choice(ns, rng.integers(1, ns + 1), replace=False)) if subset else None
    return codes, w, rc, present, mode, fg, sel


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_kernels_equal_numpy_reference(case) -> None:
    codes, w, rc, present, mode, fg, sel = case
    n_rows, ns = codes.shape
    bed = pack_bed(codes)
    rows = np.arange(n_rows)
    s_b, m_b = K.score_bed(bed, rows, ns, w, rc, present, fill_mode=mode, fill_given=fg,
                           samples=sel)
    sub = codes if sel is None else codes[:, sel]
    s_ref, m_ref = reference(sub, w, rc, present, mode, fg)
    np.testing.assert_allclose(s_b, s_ref, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(m_b, m_ref)
    s_c, m_c = K.score_codes(sub, w, rc, present, fill_mode=mode, fill_given=fg)
    np.testing.assert_allclose(s_c, s_ref, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(m_c, m_ref)


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("mode", [K.FILL_MEAN, K.FILL_NONE, K.FILL_GIVEN])
def test_many_samples_four_row_tables_equal_reference(k: int, mode: int) -> None:
    # from 64 samples on, full rows are scored four at a time (256-entry tables); runs
    # of full rows of every length (padding), rows of one score, and unused rows
    rng = np.random.default_rng(k * 10 + mode)
    n_rows, ns = 157, 131
    codes = rng.integers(0, 3, (n_rows, ns)).astype(np.int8)
    codes[rng.random(codes.shape) < 0.05] = -1
    codes[7] = -1
    use = np.ones((n_rows, k), dtype=bool)
    for r in rng.choice(n_rows, 30, replace=False):
        use[r] = rng.random(k) < 0.5
    w = np.where(use, rng.normal(size=(n_rows, k)), 0.0)
    rc = np.where(use & (rng.random((n_rows, k)) < 0.5), 0.3, 0.0)
    fg = rng.uniform(0, 2, n_rows)
    bed = pack_bed(codes)
    s, m = K.score_bed(bed, np.arange(n_rows), ns, w, rc, use, fill_mode=mode,
                       fill_given=fg)
    s_ref, m_ref = reference(codes, w, rc, use, mode, fg)
    np.testing.assert_allclose(s, s_ref, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(m, m_ref)


def test_bed_rows_in_any_order_and_row_counts() -> None:
    rng = np.random.default_rng(3)
    codes = rng.integers(-1, 3, (40, 23)).astype(np.int8)
    bed = pack_bed(codes)
    rows = np.array([39, 0, 17, 17, 5])
    w = rng.normal(size=(5, 3))
    s, m = K.score_bed(bed, rows, 23, w, np.zeros_like(w), np.ones_like(w))
    s_ref, m_ref = reference(codes[rows], w, np.zeros_like(w), np.ones_like(w), K.FILL_MEAN)
    np.testing.assert_allclose(s, s_ref, rtol=1e-12, atol=1e-9)
    np.testing.assert_array_equal(m, m_ref)
    alt, miss = K.bed_row_counts(bed, rows, 23)
    sub = codes[rows]
    np.testing.assert_array_equal(miss, (sub < 0).sum(axis=1))
    np.testing.assert_array_equal(alt, np.where(sub < 0, 0, sub).sum(axis=1))


def test_kernel_argument_errors() -> None:
    bed = pack_bed(np.zeros((2, 5), np.int8))
    w = np.ones((1, 1))
    with pytest.raises(ValueError, match=r"outside the \.bed"):
        K.score_bed(bed, np.array([2]), 5, w, w * 0, w)
    with pytest.raises(ValueError, match="sample index"):
        K.score_bed(bed, np.array([0]), 5, w, w * 0, w, samples=np.array([5]))
    with pytest.raises(ValueError, match="ALT allele counts"):
        K.score_codes(np.array([[3]], np.int8), w, w * 0, w)
    with pytest.raises(ValueError, match="rows, scores"):
        K.score_codes(np.zeros((2, 3), np.int8), w, w * 0, w)


def _write_plink(prefix: Path, chrom, pos, ref, alt, codes: np.ndarray) -> None:
    pack_bed(codes).tofile(prefix.with_suffix(".bed"))
    with open(prefix.with_suffix(".bim"), "w") as fh:
        for k, (c, p, r, a) in enumerate(zip(chrom, pos, ref, alt, strict=True)):
            fh.write(f"{c}\tv{k}\t0\t{p}\t{a}\t{r}\n")
    with open(prefix.with_suffix(".fam"), "w") as fh:
        for s in range(codes.shape[1]):
            fh.write(f"f{s} s{s} 0 0 0 -9\n")


def _plink_case(tmp_path: Path, ns: int = 150, n_sites: int = 50, seed: int = 5):
    rng = np.random.default_rng(seed)
    pos = list(range(1000, 1000 + 7 * n_sites, 7))
    ref = list(rng.choice(["A", "C"], n_sites))
    alt = [("G" if r == "A" else "T") for r in ref]
    codes = rng.binomial(2, rng.uniform(0.05, 0.9, n_sites)[:, None], (n_sites, ns))
    codes = codes.astype(np.int8)
    codes[rng.random(codes.shape) < 0.08] = -1
    codes[3] = -1  # a row with every call missing
    prefix = tmp_path / "t"
    _write_plink(prefix, ["1"] * n_sites, pos, ref, alt, codes)
    scores = []
    for j, frac in enumerate((1.0, 0.5)):
        rows = []
        for k in range(n_sites):
            if rng.random() > frac:
                continue
            ea, oa = (alt[k], ref[k]) if rng.random() < 0.5 else (ref[k], alt[k])
            row = {"chr_name": "1", "chr_position": pos[k], "effect_allele": ea,
                   "other_allele": oa, "effect_weight": float(rng.normal())}
            if k % 11 == 0:
                row["effect_type"] = "dominant" if j == 0 else "recessive"
            rows.append(row)
        for r in rows:
            r.setdefault("effect_type", "additive")
        scores.append(read_scoring_file(write_scorefile(tmp_path / f"s{j}.txt", rows,
                                                        {"pgs_id": f"S{j}"})))
    d = codes.astype(float)
    d[codes < 0] = np.nan
    return prefix, d, pos, ref, alt, scores


@pytest.mark.parametrize("imputation", ["mean", "none", "reference"])
@pytest.mark.parametrize("subset", [False, True])
def test_plink_target_kernel_equals_dense_path(tmp_path: Path, imputation: str,
                                               subset: bool) -> None:
    prefix, d, pos, ref, alt, scores = _plink_case(tmp_path)
    samples = [f"s{i}" for i in range(0, d.shape[1], 3)] if subset else None
    t = load_target(prefix, samples=samples, build="GRCh38")
    assert t.packed is not None
    cols = np.arange(d.shape[1]) if samples is None else np.arange(0, d.shape[1], 3)
    dense = make_target(["chr1"] * len(pos), pos, ref, alt, d[:, cols])
    assert dense.packed is None and dense.read_codes is None
    freq = np.random.default_rng(0).uniform(0, 1, len(pos))
    mode = "mean" if imputation == "reference" else imputation
    rf = freq if imputation == "reference" else None
    for sc in (scores, scores[:1]):
        w_k = build_weights([match_score(s, t) for s in sc])
        w_d = build_weights([match_score(s, dense) for s in sc])
        a = compute_scores(t, w_k, imputation=mode, ref_freq=rf)
        b = compute_scores(dense, w_d, imputation=mode, ref_freq=rf, chunk_rows=9)
        np.testing.assert_allclose(a.sums, b.sums, rtol=1e-12, atol=1e-10)
        np.testing.assert_array_equal(a.n_missing, b.n_missing)
        np.testing.assert_array_equal(a.allele_ct, b.allele_ct)
        np.testing.assert_allclose(a.avgs, b.avgs, rtol=1e-12, atol=1e-12)


def test_vcf_codes_equal_dosages(tmp_path: Path) -> None:
    from risk_testutil import write_vcf

    rng = np.random.default_rng(2)
    g = rng.integers(0, 3, (12, 7))
    g[rng.random(g.shape) < 0.2] = -1
    path = write_vcf(tmp_path / "t.vcf", ["chr1"] * 12, list(range(100, 220, 10)),
                     [""] * 12, ["A"] * 12, ["G"] * 12, g)
    t = load_target(path, build="GRCh38")
    assert t.read_codes is not None
    rows = np.array([5, 0, 11])
    x = t.read_dosage(rows)
    c = t.read_codes(rows)
    np.testing.assert_array_equal(np.where(np.isnan(x), -1, x), c)
    np.testing.assert_array_equal(c, g[rows])


def test_bad_bed_is_malformed(tmp_path: Path) -> None:
    prefix, *_ = _plink_case(tmp_path, ns=9, n_sites=6)
    t = load_target(prefix, build="GRCh38")
    bed = prefix.with_suffix(".bed")
    raw = bed.read_bytes()
    bed.write_bytes(raw[:-1])
    with pytest.raises(MalformedInputError, match="does not match") as ei:
        t.packed.array()
    assert str(bed) in str(ei.value)
    bed.write_bytes(b"\x6c\x1b\x00" + raw[3:])
    with pytest.raises(MalformedInputError, match="variant-major"):
        t.packed.array()
