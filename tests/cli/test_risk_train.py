"""``genoma risk train`` through the CLI runner; the score it writes read back by ``risk score``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from genoma.cli.risk import app as risk_app


def _invoke(*args: str):
    root = typer.Typer()
    root.add_typer(risk_app, name="risk")
    return CliRunner().invoke(root, ["risk", *args])


@pytest.fixture(scope="module")
def sim(tmp_path_factory: pytest.TempPathFactory):
    """450 simulated individuals × 1 Mb, pheno/covar TSVs beside the store."""
    from genoma.sim.cohort import simulate_cohort

    d = tmp_path_factory.mktemp("risktrain")
    res = simulate_cohort(d / "c.vcz", 450, 1_000_000, seed=4, n_causal=8, h2=0.8)
    res.pheno.to_csv(d / "pheno.tsv", sep="\t", index=False)
    res.covar.to_csv(d / "covar.tsv", sep="\t", index=False)
    return d, res


def _vcf_of(store: Path, weights: pd.DataFrame, samples: list[str], path: Path) -> Path:
    """A plain VCF of ``samples`` at the scoring file's sites, genotypes from the store."""
    from genoma.io.vcz import open_cohort
    from genoma.model.cohort import alt_dosage

    ds = open_cohort(store)
    ids = np.asarray(ds["sample_id"].values).astype(str)
    pos = np.asarray(ds["variant_position"].values)
    vidx = np.searchsorted(pos, weights["chr_position"].to_numpy())
    assert (pos[vidx] == weights["chr_position"].to_numpy()).all()
    cols = np.array([int(np.flatnonzero(ids == s)[0]) for s in samples])
    dose = np.asarray(alt_dosage(ds)[vidx].compute())[:, cols]
    code = {0: "0/0", 1: "0/1", 2: "1/1"}
    lines = ["##fileformat=VCFv4.2",
             '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">',
             "##contig=<ID=chr1>",
             "\t".join(["#CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO",
                        "FORMAT", *samples])]
    for k, row in enumerate(weights.itertuples()):
        lines.append("\t".join(["chr1", str(row.chr_position), ".", row.other_allele,
                                row.effect_allele, ".", "PASS", ".", "GT",
                                *[code[int(x)] for x in dose[k]]]))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_writes_score_that_risk_score_reads_back(sim, tmp_path: Path) -> None:
    d, res = sim
    out = tmp_path / "out"
    r = _invoke("train", str(res.store), "--pheno", str(d / "pheno.tsv"), "--covar",
                str(d / "covar.tsv"), "--pheno-column", "qt", "--method", "lasso",
                "-o", str(out), "--pgs-id", "SIMQT", "--json")
    assert r.exit_code == 0, r.output
    for f in ("score.txt", "train_report.json", "evaluation.tsv", "tuning.tsv",
              "sample_scores.tsv", "manifest.json", "run.log"):
        assert (out / f).is_file(), f
    rep = json.loads((out / "train_report.json").read_text())
    assert rep["method"] == "lasso" and rep["pgs_id"] == "SIMQT"
    assert set(rep["n_per_ancestry"]["test"]) == {"AFR", "EAS", "EUR"}
    held = {h["ancestry"]: h for h in rep["held_out"]}
    assert held["all"]["r2"] > 0.2
    assert {"calibration_slope", "calibration_intercept"} <= set(held["EUR"])
    text = (out / "score.txt").read_text()
    assert "#license=" in text and "#genome_build=NR" in text and "#weight_type=beta" in text
    man = json.loads((out / "manifest.json").read_text())
    assert man["status"] == "ok" and {i["role"] for i in man["inputs"]} == {"pheno", "covar"}
    # read back by `genoma risk score` on a VCF of held-out samples: same sums
    w = pd.read_csv(out / "score.txt", sep="\t", comment="#", dtype={"chr_name": str})
    scores = pd.read_csv(out / "sample_scores.tsv", sep="\t")
    test = scores[scores["set"] == "test"].head(60)
    vcf = _vcf_of(res.store, w, test["sample"].tolist(), tmp_path / "t.vcf")
    r2 = _invoke("score", str(vcf), "--pgs", str(out / "score.txt"), "-o",
                 str(tmp_path / "scored"), "--reference", "none", "--target-build", "GRCh38")
    assert r2.exit_code == 0, r2.output
    got = pd.read_csv(tmp_path / "scored" / "scores.tsv", sep="\t")
    assert (got["n_matched"] == len(w)).all()
    merged = got.merge(test, on="sample")
    assert len(merged) == len(test)
    np.testing.assert_allclose(merged["sum"], merged["score"], rtol=1e-6, atol=1e-6)


def test_train_errors(sim, tmp_path: Path) -> None:
    d, res = sim
    base = ["--pheno", str(d / "pheno.tsv"), "--pheno-column", "qt"]
    r = _invoke("train", str(tmp_path / "none.vcz"), *base, "-o", str(tmp_path / "a"))
    assert r.exit_code == 3, r.output
    r = _invoke("train", str(res.store), *base, "--method", "magic", "-o", str(tmp_path / "b"))
    assert r.exit_code == 2, r.output
    (tmp_path / "c").mkdir()
    (tmp_path / "c" / "x").write_text("x")
    r = _invoke("train", str(res.store), *base, "-o", str(tmp_path / "c"))
    assert r.exit_code == 2 and "--force" in r.output
    ts = tmp_path / "train.txt"
    ts.write_text("NOBODY\n")
    r = _invoke("train", str(res.store), *base, "--train-samples", str(ts),
                "-o", str(tmp_path / "d"))
    assert r.exit_code == 5, r.output
    bad = tmp_path / "bad.tsv"
    bad.write_text("id\tqt\nS1\t1\n")
    r = _invoke("train", str(res.store), "--pheno", str(bad), "-o", str(tmp_path / "e"))
    assert r.exit_code == 4, r.output
    pops = tmp_path / "pops.tsv"
    pops.write_text("sample\tpopulation\n" + "".join(
        f"{s}\tP\n" for s in res.samples["sample"].iloc[:-1]))
    r = _invoke("train", str(res.store), *base, "--populations", str(pops),
                "-o", str(tmp_path / "f"))
    assert r.exit_code == 5 and "no population label" in r.output, r.output
    assert not any((tmp_path / x).exists() for x in ("d", "e", "f"))
