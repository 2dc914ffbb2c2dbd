"""``genoma cohort`` through the CLI runner (a throwaway Typer app mounting the sub-app)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import typer
from _cohort_data import write_vcf
from typer.testing import CliRunner

from genoma.cli.cohort import app as cohort_app

root = typer.Typer()
root.add_typer(cohort_app, name="cohort")


@root.callback()
def _root() -> None:
    """Test root."""


runner = CliRunner()


@pytest.fixture(scope="module")
def vcfs(tmp_path_factory: pytest.TempPathFactory) -> dict:
    rng = np.random.default_rng(3)
    d = tmp_path_factory.mktemp("cli")
    samples = [f"P{i:03d}" for i in range(120)]
    out = {}
    for name, chrom, smp in (("a", "chr1", samples), ("b", "chr2", samples),
                             ("c", "chr2", [*samples[:-1], "ZZZ"])):
        gt = (rng.random((40, len(smp), 2)) < 0.3).astype(np.int8)
        out[name] = write_vcf(d / f"{name}.vcf.gz", smp, [chrom] * 40,
                              np.arange(1, 41) * 100, ["A"] * 40, ["C"] * 40, gt)
    pd.DataFrame({"sample": samples, "y": rng.normal(size=120),
                  "cc": rng.integers(0, 2, 120)}).to_csv(d / "pheno.tsv", sep="\t", index=False)
    pd.DataFrame({"sample": samples, "age": rng.normal(50, 9, 120)}).to_csv(
        d / "covar.tsv", sep="\t", index=False)
    out["dir"] = d
    return out


def test_import_gwas_pca(vcfs: dict) -> None:
    d: Path = vcfs["dir"]
    store = d / "s.vcz"
    r = runner.invoke(root, ["cohort", "import", str(vcfs["a"]), str(vcfs["b"]), "-o", str(store),
                             "--json"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["variants"] == 80
    for extra in (["--plots"], ["--logistic", "--pheno-name", "cc"]):
        out = d / f"g{len(extra)}"
        r = runner.invoke(root, ["cohort", "gwas", str(store), "--pheno", str(d / "pheno.tsv"),
                                 "--covar", str(d / "covar.tsv"), "-o", str(out), *extra])
        assert r.exit_code == 0, r.output
        t = pd.read_csv(out / "gwas.tsv", sep="\t")
        assert {"chrom", "pos", "ref", "alt", "beta", "se", "p", "n"} <= set(t.columns)
        assert len(t) == 80 and t.chrom.isin(["chr1", "chr2"]).all() and (t.n == 120).all()
        assert (out / "manifest.json").is_file()
        assert (out / "manhattan.png").is_file() == ("--plots" in extra)
    r = runner.invoke(root, ["cohort", "gwas", str(store), "--pheno", str(d / "pheno.tsv"),
                             "-o", str(d / "bad"), "--carrier-index", "sometimes"])
    assert r.exit_code == 2, r.output
    r = runner.invoke(root, ["cohort", "pca", str(store), "-o", str(d / "pca"), "-k", "3",
                             "--ld-r2", "1"])
    assert r.exit_code == 0, r.output
    pcs = pd.read_csv(d / "pca" / "pcs.tsv", sep="\t")
    assert list(pcs.columns) == ["sample", "PC1", "PC2", "PC3"] and len(pcs) == 120
    r = runner.invoke(root, ["cohort", "qc", str(store), "-o", str(d / "qc")])
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(d / "qc" / "variants.tsv", sep="\t")) == 80
    r = runner.invoke(root, ["cohort", "relatedness", str(store), "-o", str(d / "king"),
                             "--all-pairs"])
    assert r.exit_code == 0, r.output
    assert len(pd.read_csv(d / "king" / "king.tsv", sep="\t")) == 120 * 119 // 2
    # existing output without --force: usage error
    r = runner.invoke(root, ["cohort", "pca", str(store), "-o", str(d / "pca")])
    assert r.exit_code == 2


def test_mismatched_samples_exit_5(vcfs: dict) -> None:
    d: Path = vcfs["dir"]
    r = runner.invoke(root, ["cohort", "import", str(vcfs["a"]), str(vcfs["c"]), "-o",
                             str(d / "bad.vcz")])
    assert r.exit_code == 5
    assert "ZZZ" in r.output and "P119" in r.output
    assert not (d / "bad.vcz").exists()


def test_gwas_on_incomplete_store_fails(vcfs: dict, tmp_path: Path) -> None:
    (tmp_path / "x.vcz").mkdir()
    r = runner.invoke(root, ["cohort", "gwas", str(tmp_path / "x.vcz"), "--pheno",
                             str(vcfs["dir"] / "pheno.tsv"), "-o", str(tmp_path / "o")])
    assert r.exit_code == 4 and "incomplete" in r.output


def test_gwas_packed_calls_flag(vcfs: dict, tmp_path: Path) -> None:
    """Dense store: ``auto`` builds and reads the packed copy (no carrier index); the
    table equals the dense scan's; a bad flag value is a usage error."""
    d: Path = vcfs["dir"]
    store = tmp_path / "s.vcz"
    r = runner.invoke(root, ["cohort", "import", str(vcfs["a"]), "-o", str(store)])
    assert r.exit_code == 0, r.output
    common = ["cohort", "gwas", str(store), "--pheno", str(d / "pheno.tsv"), "--covar",
              str(d / "covar.tsv"), "--json"]
    r = runner.invoke(root, [*common, "-o", str(tmp_path / "p")])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["genotype_source"] == "packed_calls"
    assert (store / "genoma_packed").is_dir() and not (store / "genoma_carriers").exists()
    r = runner.invoke(root, [*common, "-o", str(tmp_path / "d"), "--packed-calls", "off"])
    assert r.exit_code == 0, r.output
    assert json.loads(r.stdout)["genotype_source"] == "call_genotype"
    p = pd.read_csv(tmp_path / "p" / "gwas.tsv", sep="\t")
    q = pd.read_csv(tmp_path / "d" / "gwas.tsv", sep="\t")
    assert (p.n == q.n).all() and (p.error.fillna("") == q.error.fillna("")).all()
    for col in ("beta", "se", "p"):
        np.testing.assert_allclose(p[col], q[col], rtol=1e-8)
    r = runner.invoke(root, [*common, "-o", str(tmp_path / "x"), "--packed-calls", "always"])
    assert r.exit_code == 2, r.output
