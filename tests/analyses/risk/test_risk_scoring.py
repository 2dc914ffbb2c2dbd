"""Scoring: matrix product = naive per-variant sums; plink2 --score; hmPOS vs raw files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from risk_testutil import make_target, write_scorefile, write_vcf

from genoma.analyses.risk.matching import MatchPolicy, match_score
from genoma.analyses.risk.scoring import build_weights, compute_scores
from genoma.io.pgs import load_target, read_scoring_file

from conftest import require_shared

PLINK2 = shutil.which("plink2")
needs_plink2 = pytest.mark.skipif(
    PLINK2 is None, reason="plink2 (the peer) is not installed: apt-get install -y plink2")


def _random_case(tmp_path: Path, n_sites: int = 60, n_samples: int = 80, seed: int = 1):
    rng = np.random.default_rng(seed)
    pos = list(range(100, 100 + 10 * n_sites, 10))
    bases = np.array(["A", "C", "G", "T"])
    ref = list(rng.choice(["A", "C"], n_sites))
    alt = [("G" if r == "A" else "T") for r in ref]  # never palindromic
    d = rng.binomial(2, rng.uniform(0.05, 0.95, n_sites)[:, None], (n_sites, n_samples))
    d = d.astype(float)
    d[rng.random(d.shape) < 0.05] = np.nan
    t = make_target(["chr1"] * n_sites, pos, ref, alt, d)
    rows = []
    for k in range(n_sites):
        if rng.random() < 0.5:
            ea, oa = alt[k], ref[k]
        else:
            ea, oa = ref[k], alt[k]
        rows.append({"chr_name": "1", "chr_position": pos[k], "effect_allele": ea,
                     "other_allele": oa, "effect_weight": float(rng.normal(0, 0.1))})
    s1 = read_scoring_file(write_scorefile(tmp_path / "a.txt", rows, {"pgs_id": "A"}))
    rows2 = [dict(r, effect_weight=float(rng.normal())) for r in rows[::2]]
    rows2[0]["effect_type"] = "additive"
    s2 = read_scoring_file(write_scorefile(tmp_path / "b.txt", rows2, {"pgs_id": "B"}))
    del bases
    return t, d, [s1, s2]


def _naive(t, d, m, mode: str) -> tuple[np.ndarray, np.ndarray]:
    sums = np.zeros(d.shape[1])
    ct = np.zeros(d.shape[1])
    for k in np.flatnonzero(m.status == "matched"):
        r = m.target_row[k]
        x = d[r].copy()
        eff = x if m.effect_is_alt[k] else 2 - x
        miss = np.isnan(eff)
        if mode == "mean":
            eff[miss] = np.nanmean(eff)
        else:
            eff[miss] = 0
        sums += m.score.weight[k] * eff
        ct += 2 * (~miss)
    return sums, ct


@pytest.mark.parametrize("mode", ["mean", "none"])
def test_matrix_product_equals_naive_sums(tmp_path: Path, mode: str) -> None:
    t, d, scores = _random_case(tmp_path)
    ms = [match_score(s, t) for s in scores]
    res = compute_scores(t, build_weights(ms), imputation=mode, chunk_rows=7)
    for j, m in enumerate(ms):
        exp, ct = _naive(t, d, m, mode)
        np.testing.assert_allclose(res.sums[:, j], exp, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(res.allele_ct[:, j], ct)
        denom = 2 * m.n_matched if mode == "mean" else ct
        np.testing.assert_allclose(res.avgs[:, j], exp / denom, rtol=1e-10)
    # many scores in one pass = one at a time
    alone = compute_scores(t, build_weights([ms[1]]), imputation=mode)
    np.testing.assert_allclose(alone.sums[:, 0], res.sums[:, 1], rtol=1e-12)


def test_auto_imputation_follows_pgsc_calc(tmp_path: Path) -> None:
    t, _, scores = _random_case(tmp_path, n_samples=49)
    w = build_weights([match_score(scores[0], t)])
    assert compute_scores(t, w).imputation == "none"
    t2, _, scores2 = _random_case(tmp_path, n_samples=50)
    assert compute_scores(t2, build_weights([match_score(scores2[0], t2)])).imputation == "mean"


def test_dominant_and_recessive(tmp_path: Path) -> None:
    d = np.array([[0, 1, 2, 1], [0, 1, 2, 2]], dtype=float)
    t = make_target(["chr1", "chr1"], [10, 20], ["A", "A"], ["G", "G"], d)
    rows = [{"chr_name": "1", "chr_position": 10, "effect_allele": "G", "other_allele": "A",
             "effect_weight": 1.0, "is_dominant": "True", "is_recessive": "False"},
            {"chr_name": "1", "chr_position": 20, "effect_allele": "A", "other_allele": "G",
             "effect_weight": 10.0, "is_dominant": "False", "is_recessive": "True"}]
    s = read_scoring_file(write_scorefile(tmp_path / "dr.txt", rows, {"pgs_id": "DR"}))
    res = compute_scores(t, build_weights([match_score(s, t)]), imputation="none")
    # dominant G at site 1: min(d,1); recessive A at site 2: max((2-d)-1, 0)
    assert res.sums[:, 0].tolist() == [0 + 10, 1 + 0, 1 + 0, 1 + 0]


def _plink2_scorefile(m, target, path: Path) -> None:
    ok = m.status == "matched"
    ea = np.where(m.effect_is_alt[ok], target.alt[m.target_row[ok]],
                  target.ref[m.target_row[ok]])
    pd.DataFrame({"ID": target.ids[m.target_row[ok]], "effect_allele": ea,
                  "w": [repr(float(x)) for x in m.score.weight[ok]]}).to_csv(
        path, sep="\t", index=False)


@pytest.mark.validation
@needs_plink2
@pytest.mark.parametrize("form", ["vcf", "plink"])
def test_pgs001229_chr22_equals_plink2(tmp_path: Path, form: str) -> None:
    d = require_shared("prs", "pgsc_calc")
    src = d / ("cineca_synthetic_subset.vcf.gz" if form == "vcf" else "cineca_synthetic_subset")
    t = load_target(src, build="GRCh37" if form == "plink" else None)
    s = read_scoring_file(d / "PGS001229_22.txt")
    m = match_score(s, t)
    assert m.n_matched == 782 and m.n_variants == 835
    res = compute_scores(t, build_weights([m]))
    assert res.imputation == "mean" and res.n_missing.sum() > 0
    sf = tmp_path / "score.tsv"
    _plink2_scorefile(m, t, sf)
    inp = ["--vcf", str(src)] if form == "vcf" else ["--bfile", str(src)]
    subprocess.run([PLINK2, *inp, "--score", str(sf), "1", "2", "3", "header-read",
                    "cols=+scoresums", "--out", str(tmp_path / "pl"), "--threads", "1"],
                   check=True, capture_output=True)
    p = pd.read_csv(tmp_path / "pl.sscore", sep="\t")
    iid = p["IID" if "IID" in p.columns else "#IID"].astype(str).tolist()
    assert iid == res.samples
    # plink2 prints 6 significant digits
    np.testing.assert_allclose(res.sums[:, 0], p["w_SUM"], rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(res.avgs[:, 0], p["w_AVG"], rtol=1e-5, atol=1e-9)
    np.testing.assert_array_equal(res.allele_ct[:, 0], p["ALLELE_CT"])


def _target_from_hm(tmp_path: Path, files: list[Path], build: str, gt: np.ndarray | None,
                    seed: int = 3) -> tuple[Path, np.ndarray]:
    """A VCF at the harmonized positions of ``files`` (union), alleles from the scores."""
    sites: dict[str, tuple] = {}
    for f in files:
        s = read_scoring_file(f)
        for k in range(s.n_variants):
            if s.pos[k] and s.rsid[k] not in sites:
                sites[s.rsid[k]] = (s.chrom[k], int(s.pos[k]), s.other_allele[k],
                                    s.effect_allele[k])
    rs = sorted(sites)
    if gt is None:
        rng = np.random.default_rng(seed)
        gt = rng.binomial(2, 0.3, (len(rs), 60))
        gt[rng.random(gt.shape) < 0.02] = -1
    chrom = [sites[r][0] for r in rs]
    # the VCF's REF is the score's other allele for half of the sites, else swapped
    ref = [sites[r][2] if i % 2 else sites[r][3] for i, r in enumerate(rs)]
    alt = [sites[r][3] if i % 2 else sites[r][2] for i, r in enumerate(rs)]
    pos = [sites[r][1] for r in rs]
    p = write_vcf(tmp_path / f"t{build}.vcf", chrom, pos, rs, ref, alt, gt)
    return p, gt


@pytest.mark.validation
def test_harmonized_and_raw_formats_give_identical_scores(tmp_path: Path) -> None:
    d = require_shared("prs", "pygscatalog")
    pol = MatchPolicy(keep_ambiguous=True)  # same variant set across formats
    for acc in ("PGS000001", "PGS000002"):
        ext = ".txt" if acc == "PGS000001" else ".txt.gz"
        h37, h38 = d / f"{acc}_hmPOS_GRCh37{ext}", d / f"{acc}_hmPOS_GRCh38{ext}"
        v37, gt = _target_from_hm(tmp_path / "a", [h37], "GRCh37", None) if (
            tmp_path / "a").mkdir() is None else (None, None)
        v38, _ = _target_from_hm(tmp_path / "b", [h37], "GRCh38", gt) if (
            tmp_path / "b").mkdir() is None else (None, None)
        # v38 carries GRCh37 positions: rewrite them with the GRCh38 harmonized ones
        s37, s38 = read_scoring_file(h37), read_scoring_file(h38)
        lift = {r: (c, p) for r, c, p in zip(s38.rsid, s38.chrom, s38.pos, strict=True)}
        lines = v38.read_text().splitlines()
        out = []
        for ln in lines:
            if ln.startswith("#"):
                out.append(ln)
                continue
            f = ln.split("\t")
            c, p = lift[f[2]]
            f[0], f[1] = c, str(p)
            out.append("\t".join(f))
        v38.write_text("\n".join(out) + "\n")
        t37 = load_target(v37, build="GRCh37")
        t38 = load_target(v38, build="GRCh38")
        sums, dos = [], []
        pairs = [(s37, t37), (s38, t38)]
        if acc == "PGS000001":
            raw = read_scoring_file(d / "PGS000001.txt.gz")  # rsIDs only: matched by ID
            pairs.append((raw, t37))
        for s, t in pairs:
            m = match_score(s, t, pol)
            assert m.n_matched == s.n_variants
            sums.append(compute_scores(t, build_weights([m]), imputation="mean").sums[:, 0])
            # effect-allele dosage of every variant, keyed by rsID
            x = t.read_dosage(m.target_row)
            eff = np.where(m.effect_is_alt[:, None], x, 2 - x)
            order = np.argsort(s.rsid)
            dos.append((s.rsid[order], eff[order], s.weight[order]))
        for (r, e, w), other in zip(dos[1:], sums[1:], strict=True):
            assert list(r) == list(dos[0][0])
            np.testing.assert_array_equal(e, dos[0][1])  # same genotypes, same alleles
            # the files print weights with different precision (8 vs 17 digits)
            np.testing.assert_allclose(w, dos[0][2], rtol=1e-7)
            np.testing.assert_allclose(other, sums[0], rtol=1e-7)
        assert np.std(sums[0]) > 0
        shutil.rmtree(tmp_path / "a")
        shutil.rmtree(tmp_path / "b")


@pytest.mark.parametrize("mode", ["mean", "none"])
def test_sparse_path_for_disjoint_scores(tmp_path: Path, mode: str) -> None:
    t, d, scores = _random_case(tmp_path, n_sites=60)
    full = scores[0]
    parts = []
    for j in range(6):
        sel = np.arange(j, 60, 6)
        rows = [{"chr_name": full.chrom[k][3:], "chr_position": int(full.pos[k]),
                 "effect_allele": full.effect_allele[k], "other_allele": full.other_allele[k],
                 "effect_weight": float(full.weight[k])} for k in sel]
        parts.append(read_scoring_file(write_scorefile(tmp_path / f"p{j}.txt", rows,
                                                       {"pgs_id": f"P{j}"})))
    ms = [match_score(s, t) for s in parts]
    w = build_weights(ms)
    assert w.weights.nnz < 0.3 * w.weights.shape[0] * w.weights.shape[1]
    res = compute_scores(t, w, imputation=mode)
    for j, m in enumerate(ms):
        np.testing.assert_allclose(res.sums[:, j], _naive(t, d, m, mode)[0], rtol=1e-10,
                                   atol=1e-12)
