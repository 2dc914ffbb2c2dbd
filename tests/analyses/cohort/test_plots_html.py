"""Interactive (HTML) Manhattan and QQ plots: thinning, nearest genes, self-contained pages."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from _cohort_data import write_vcf
from typer.testing import CliRunner

from genoma.analyses.cohort.plots import (
    THIN_KEEP_P,
    manhattan_html,
    nearest_genes,
    qq_html,
    thin_points,
    top_loci,
)
from genoma.cli.main import app
from genoma.io.vcz import import_vcfs
from genoma.kb.genes import COLUMNS, GeneTable


def _genes() -> GeneTable:
    rows = [("chr1", 1000, 2000, "GA"), ("chr1", 5000, 9000, "GB"), ("chr1", 6000, 6500, "GC"),
            ("chr2", 100, 200, "GD")]
    cols = {k: [] for k in COLUMNS}
    for c, s, e, sym in rows:
        for k, v in zip(COLUMNS, (c, s, e, 1, sym, sym, "", "protein_coding", ""), strict=True):
            cols[k].append(v)
    arr = {k: np.asarray(v, dtype=np.int64 if k in ("start", "end") else
                         (np.int8 if k == "strand" else object)) for k, v in cols.items()}
    return GeneTable(arr, "GRCh38", "test", "1")


def _table(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    chrom = np.where(np.arange(n) < n // 2, "chr1", "chr2")
    pos = np.concatenate([np.sort(rng.integers(1, 10**7, n // 2)),
                          np.sort(rng.integers(1, 10**7, n - n // 2))])
    return pd.DataFrame({"chrom": chrom, "pos": pos, "id": ".", "ref": "A", "alt": "G",
                         "beta": rng.normal(size=n), "p": rng.uniform(size=n)})


def test_thinning_is_bounded_deterministic_and_keeps_the_signal() -> None:
    t = _table(200_000)
    x = t.pos.to_numpy() + np.where(t.chrom == "chr2", 10**7, 0)
    y = -np.log10(t.p.to_numpy())
    keep = thin_points(x, y, t.p.to_numpy(), x_bins=500, y_step=0.05)
    assert np.array_equal(keep, thin_points(x, y, t.p.to_numpy(), x_bins=500, y_step=0.05))
    assert len(keep) <= 500 * 3 / 0.05 + (t.p <= THIN_KEEP_P).sum()
    assert len(keep) < len(t) / 2
    assert set(np.flatnonzero(t.p.to_numpy() <= THIN_KEEP_P)) <= set(keep)
    # the highest point of every x bin survives (the plot's envelope is unchanged)
    xb = ((x - x.min()) / (x.max() - x.min()) * 500).astype(int).clip(max=499)
    top_all = pd.Series(y).groupby(xb).max()
    top_kept = pd.Series(y[keep]).groupby(xb[keep]).max()
    assert np.allclose(top_all.to_numpy(), top_kept.reindex(top_all.index).to_numpy())


def test_nearest_genes() -> None:
    g = _genes()
    got = nearest_genes(g, np.array(["chr1", "chr1", "chr1", "chr1", "chr1", "chr2", "chr3"]),
                        np.array([1500, 2100, 4800, 6200, 9100, 5000, 10]))
    assert got.tolist() == ["GA", "GA", "GB", "GC", "GB", "GD", ""]
    assert nearest_genes(None, np.array(["chr1"]), np.array([1])).tolist() == [""]


def test_top_loci_are_distance_separated() -> None:
    t = pd.DataFrame({"chrom": ["chr1"] * 4 + ["chr2"], "pos": [1000, 1500, 900_000, 2000, 10],
                      "p": [1e-10, 1e-12, 1e-9, 0.5, 1e-8]})
    assert top_loci(t).tolist() == [1, 2, 4]  # 0 is within 500 kb of 1
    assert top_loci(t, p_max=1e-11).tolist() == [1]


def test_html_pages_are_self_contained_with_hover_and_labels() -> None:
    t = _table(20_000, seed=1)
    t.loc[[100, 15_000], "p"] = [1e-12, 1e-9]
    t.loc[100, ["chrom", "pos"]] = ["chr1", 6100]  # inside GB and GC: labelled GC
    t.loc[15_000, "id"] = "rs999"
    h = manhattan_html(t, genes=_genes())
    assert h.lstrip().lower().startswith("<!doctype html")
    assert not re.search(r"<script[^>]*\bsrc=", h)  # BokehJS inlined: no CDN at view time
    assert not re.search(r"<link[^>]*stylesheet", h)
    assert "nearest gene" in h and "@gene" in h
    assert '"GC"' in h and "rs999" in h
    q = qq_html(t, genes=_genes())
    assert not re.search(r"<script[^>]*\bsrc=", q) and "GC = " in q


def test_gwas_cli_writes_html_plots(tmp_path: Path) -> None:
    rng = np.random.default_rng(4)
    samples = [f"S{i:03d}" for i in range(150)]
    gt = (rng.random((60, 150, 2)) < 0.3).astype(np.int8)
    vcf = write_vcf(tmp_path / "a.vcf.gz", samples, ["chr1"] * 60, np.arange(1, 61) * 1000,
                    ["A"] * 60, ["C"] * 60, gt)
    import_vcfs([vcf], tmp_path / "a.vcz")
    pheno = tmp_path / "p.tsv"
    pd.DataFrame({"sample": samples, "y": gt[5].sum(1) + rng.normal(size=150)}).to_csv(
        pheno, sep="\t", index=False)
    out = tmp_path / "g"
    r = CliRunner().invoke(app, ["cohort", "gwas", str(tmp_path / "a.vcz"), "--pheno",
                                 str(pheno), "-o", str(out), "--plots", "--json"])
    assert r.exit_code == 0, r.output
    names = {p.name for p in out.iterdir()}
    assert {"gwas.tsv", "manhattan.png", "qq.png", "manhattan.html", "qq.html"} <= names
    assert "chr1:6000" in (out / "manhattan.html").read_text()
    assert json.loads((out / "manifest.json").read_text())["outputs"]


@pytest.mark.parametrize("n", [0, 1])
def test_tiny_tables(n: int) -> None:
    t = _table(2)[:n]
    assert "<html" in manhattan_html(t) and "<html" in qq_html(t)
