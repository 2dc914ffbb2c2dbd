"""``genoma risk score`` through the CLI runner (a throwaway Typer root)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from risk_testutil import write_scorefile, write_vcf
from typer.testing import CliRunner

from genoma.cli.risk import app as risk_app

from conftest import require_shared

COLUMNS = ["sample", "pgs_id", "sum", "avg", "n_matched", "n_variants", "z_norm1",
           "z_norm2", "percentile", "most_similar_population"]


def _invoke(*args: str):
    root = typer.Typer()
    root.add_typer(risk_app, name="risk")
    return CliRunner().invoke(root, ["risk", "score", *args])


def _small(tmp_path: Path, build: str = "GRCh38"):
    rng = np.random.default_rng(0)
    n = 30
    pos = list(range(1000, 1000 + 100 * n, 100))
    ref = ["A"] * n
    alt = ["G"] * n
    gt = rng.integers(0, 3, (n, 4))
    vcf = write_vcf(tmp_path / "t.vcf", ["chr2"] * n, pos, [""] * n, ref, alt, gt)
    rows = [{"chr_name": "2", "chr_position": p, "effect_allele": "G", "other_allele": "A",
             "effect_weight": 0.1} for p in pos]
    good = write_scorefile(tmp_path / "good.txt", rows, {"pgs_id": "GOOD",
                                                         "genome_build": build,
                                                         "license": "CC0"})
    half = rows[:10] + [dict(r, chr_position=r["chr_position"] + 1) for r in rows[10:]]
    low = write_scorefile(tmp_path / "low.txt", half, {"pgs_id": "LOW", "genome_build": build})
    return vcf, good, low, gt


def test_scores_tsv_report_manifest_and_findings(tmp_path: Path) -> None:
    vcf, good, _, gt = _small(tmp_path)
    out = tmp_path / "out"
    r = _invoke(str(vcf), "--pgs", str(good), "-o", str(out), "--target-build", "GRCh38",
                "--reference", "none", "--baseline-incidence", "0.1", "--hr-per-sd", "1.4")
    assert r.exit_code == 0, r.output
    t = pd.read_csv(out / "scores.tsv", sep="\t")
    assert set(COLUMNS) <= set(t.columns) and len(t) == 4
    np.testing.assert_allclose(t["sum"], 0.1 * gt.sum(axis=0))
    assert (t["n_matched"] == 30).all() and t["z_norm1"].isna().all()
    rep = pd.read_csv(out / "match_report.tsv", sep="\t")
    assert rep.loc[0, "n_matched"] == 30
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "ok" and "scores.tsv" in man["outputs"]
    assert any(k["license"] == "CC0" for k in man["knowledge"])
    meta = json.loads((out / "scoring_files.json").read_text())
    assert meta[0]["license"] == "CC0"
    fnd = json.loads((out / "findings.json").read_text())
    ps = [f for f in fnd if f["kind"] == "polygenic_score"]
    assert len(ps) == 4 and "relative, not absolute" in ps[0]["summary"]
    assert any(f["kind"] == "absolute_risk" for f in fnd)
    assert (out / "absolute_risk.tsv").exists()


def test_low_overlap_exits_5_with_report(tmp_path: Path) -> None:
    vcf, good, low, _ = _small(tmp_path)
    out = tmp_path / "out"
    r = _invoke(str(vcf), "--pgs", str(good), str(low), "-o", str(out), "--target-build",
                "GRCh38", "--reference", "none")
    assert r.exit_code == 5, r.output
    rep = pd.read_csv(out / "match_report.tsv", sep="\t")
    assert rep.set_index("pgs_id").loc["LOW", "n_matched"] == 10
    assert not (out / "scores.tsv").exists()
    assert json.loads((out / "manifest.json").read_text())["status"] == "failed"
    r2 = _invoke(str(vcf), "--pgs", str(low), "-o", str(tmp_path / "o2"), "--target-build",
                 "GRCh38", "--reference", "none", "--min-overlap", "0.3")
    assert r2.exit_code == 0, r2.output


def test_wrong_build_exits_5(tmp_path: Path) -> None:
    vcf, _, _, _ = _small(tmp_path / "x" if (tmp_path / "x").mkdir() is None else tmp_path,
                          build="GRCh37")
    r = _invoke(str(vcf), "--pgs", str(tmp_path / "x" / "good.txt"), "-o",
                str(tmp_path / "o"), "--target-build", "GRCh38", "--reference", "none")
    assert r.exit_code == 5 and "GRCh37" in r.output


@pytest.mark.validation
def test_cineca_vcf_build_inferred_and_wrong_build_refused(tmp_path: Path) -> None:
    d = require_shared("prs")
    vcf = d / "pgsc_calc" / "cineca_synthetic_subset.vcf.gz"
    r = _invoke(str(vcf), "--pgs", str(d / "pgsc_calc" / "PGS001229_22.txt"), "-o",
                str(tmp_path / "o"))
    assert r.exit_code == 0, r.output
    t = pd.read_csv(tmp_path / "o" / "scores.tsv", sep="\t")
    assert len(t) == 2504 and (t["n_matched"] == 782).all()
    r = _invoke(str(vcf), "--pgs", str(d / "pygscatalog" / "PGS000001_hmPOS_GRCh38.txt"),
                "-o", str(tmp_path / "o2"))
    assert r.exit_code == 5 and "GRCh38" in r.output


@pytest.mark.validation
def test_vcf_zarr_store_scores_equal_the_vcf(tmp_path: Path) -> None:
    """A cohort store (`genoma cohort import`) is a target: the same sums, matches and
    missing-call imputation as the VCF it was imported from (PGS001229 chr22, 2,504 1000G)."""
    d = require_shared("prs/pgsc_calc")
    from genoma.io.vcz import import_vcfs

    vcf = d / "cineca_synthetic_subset.vcf.gz"
    store = tmp_path / "c.vcz"
    import_vcfs([vcf], store)
    outs = {}
    for name, target in (("vcf", vcf), ("vcz", store)):
        outs[name] = out = tmp_path / name
        r = _invoke(str(target), "--pgs", str(d / "PGS001229_22.txt"), "-o", str(out),
                    "--target-build", "GRCh37", "--reference", "none")
        assert r.exit_code == 0, r.output
    a = pd.read_csv(outs["vcf"] / "scores.tsv", sep="\t").set_index("sample")
    b = pd.read_csv(outs["vcz"] / "scores.tsv", sep="\t").set_index("sample")
    assert len(a) == 2504 and list(a.index) == list(b.index)
    np.testing.assert_array_equal(a["n_matched"], b["n_matched"])
    np.testing.assert_allclose(b["sum"], a["sum"], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(b["avg"], a["avg"], rtol=1e-12, atol=1e-12)
