"""The demo's disease-risk section: a demonstration score genoma builds itself.

The score's sites are 1000 Genomes sites of the embedded reference panel (PyPI
``peddy``), the demo patient's genotypes there are Hardy–Weinberg draws from one
superpopulation's frequencies, and ``genoma demo`` scores them: the report must show
the most similar population, a percentile, the PCA and the distribution with the
patient marked, and say "relative, not absolute" and "demonstration score".
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from genoma.cli.main import app
from genoma.demo import (
    DEMO_SCORE_ID,
    DEMO_SCORE_SITES,
    DEMO_SUPERPOPULATION,
    _records,
    demo_score,
    write_demo_inputs,
)

pytest.importorskip("peddy")

runner = CliRunner()


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    return write_demo_inputs(tmp_path_factory.mktemp("demo-inputs"))


@pytest.fixture(scope="module")
def demo_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One ``genoma demo`` run for the report-level checks of this module."""
    base = tmp_path_factory.mktemp("demo-risk")
    out = base / "report"
    r = runner.invoke(app, ["demo", "-o", str(out), "--inputs", str(base / "in"), "--json"])
    assert r.exit_code == 0, r.output
    return out


def test_demo_score_is_deterministic_and_on_panel_sites() -> None:
    from genoma.kb import refpanel

    a = demo_score("GRCh38")
    demo_score.cache_clear()
    b = demo_score("GRCh38")
    assert a is not b
    for field in ("chrom", "pos", "ref", "alt", "effect_allele", "weight", "gt"):
        assert np.array_equal(getattr(a, field), getattr(b, field)), field
    assert len(a) == DEMO_SCORE_SITES
    panel = refpanel.load("GRCh38")
    ids = np.char.add(np.char.add(np.char.add(a.chrom, ":"), a.pos.astype(str)),
                      np.char.add(np.char.add(":", a.ref), np.char.add(":", a.alt)))
    assert np.isin(ids, panel.site_ids()).all()
    pairs = set(np.char.add(a.ref, a.alt).tolist())
    assert not pairs & {"AT", "TA", "CG", "GC"}, "strand-ambiguous sites are dropped by matching"
    # effect allele is one of the two alleles, both orientations used
    assert ((a.effect_allele == a.ref) | (a.effect_allele == a.alt)).all()
    assert 0.3 < (a.effect_allele == a.alt).mean() < 0.7
    assert np.unique(a.weight).size > DEMO_SCORE_SITES * 0.9
    assert set(a.gt.tolist()) <= {"0/0", "0/1", "1/1"}


def test_demo_genotypes_are_draws_from_the_superpopulation() -> None:
    s = demo_score("GRCh38")
    dosage = np.array([int(g[0]) + int(g[2]) for g in s.gt])
    expected = 2 * s.frequency
    sd = np.sqrt((2 * s.frequency * (1 - s.frequency)).sum())
    # the total ALT count of a Hardy-Weinberg draw lies within 4 SD of its expectation
    assert abs(dosage.sum() - expected.sum()) < 4 * sd
    # heterozygosity close to its Hardy-Weinberg expectation
    het = (dosage == 1).sum()
    exp_het = (2 * s.frequency * (1 - s.frequency)).sum()
    assert abs(het - exp_het) < 4 * np.sqrt(exp_het)


def test_demo_sites_place_superpopulation_draws_in_it() -> None:
    """Fresh draws from the demo superpopulation at the demo sites are assigned to it."""
    from genoma.analyses.ancestry.assign import assign_populations
    from genoma.analyses.ancestry.reference import fit_pca, project
    from genoma.kb import refpanel

    s = demo_score("GRCh38")
    panel = refpanel.load("GRCh38")
    index = {k: i for i, k in enumerate(panel.site_ids().tolist())}
    sites = np.array([index[f"{c}:{p}:{r}:{a}"] for c, p, r, a in
                      zip(s.chrom, s.pos.tolist(), s.ref, s.alt, strict=True)])
    pca = fit_pca(panel.genotypes, site_index=np.sort(sites))
    pop = panel.superpopulations == DEMO_SUPERPOPULATION
    f = panel.genotypes[pca.site_index][:, pop].mean(axis=1) / 2
    rng = np.random.default_rng(7)
    draws = rng.binomial(2, f, size=(40, len(f))).T.astype(np.float32)
    got = assign_populations(pca.ref_pcs, panel.superpopulations, project(pca, draws))
    assert (got.labels == DEMO_SUPERPOPULATION).mean() >= 0.95


def test_score_file_round_trips(inputs) -> None:  # type: ignore[no-untyped-def]
    from genoma.io.pgs import read_scoring_file

    assert inputs.score is not None and inputs.score.name == "demo_score.txt"
    sf = read_scoring_file(inputs.score)
    s = demo_score("GRCh38")
    assert sf.pgs_id == DEMO_SCORE_ID
    assert sf.build == "GRCh38"
    assert sf.n_variants == len(s)
    assert sf.name == "genoma demonstration score (no clinical meaning)"
    assert sf.trait == "none (demonstration)"
    assert sf.header["license"].startswith("CC0")
    text = inputs.score.read_text()
    rows = [ln.split("\t") for ln in text.splitlines() if ln and not ln.startswith("#")][1:]
    assert [int(r[1]) for r in rows] == s.pos.tolist()
    assert [r[2] for r in rows] == s.effect_allele.tolist()
    assert np.allclose([float(r[4]) for r in rows], s.weight)


def test_demo_vcf_has_the_sites_and_keeps_the_pgx_records(inputs) -> None:  # type: ignore[no-untyped-def]
    import pysam

    from genoma.model.builds import CONTIG_LENGTHS

    s = demo_score("GRCh38")
    order = {c: i for i, c in enumerate(CONTIG_LENGTHS["GRCh38"])}
    with pysam.VariantFile(str(inputs.vcf)) as vf:
        recs = [(r.chrom, r.pos, r.ref, r.alts[0],
                 "/".join(map(str, sorted(r.samples[0]["GT"]))), r.samples[0].phased)
                for r in vf]
    keys = [(order[c], p) for c, p, *_ in recs]
    assert keys == sorted(keys), "records sorted by contig and position"
    got = {(c, p, r, a): gt for c, p, r, a, gt, _ in recs}
    assert len(got) == len(recs)
    pgx_pos = {(c, p) for c, p, *_ in _records("GRCh38")}
    score_pos = set(zip(s.chrom.tolist(), s.pos.tolist(), strict=True))
    assert len(score_pos) == len(s) and not score_pos & pgx_pos
    for c, p, r, a, gt in zip(s.chrom, s.pos.tolist(), s.ref, s.alt, s.gt, strict=True):
        assert got[(c, p, r, a)] == gt
    # every PGx / CFTR record exactly as without the score (phased GT kept)
    phased = {(c, p, r, a): (gt, ph) for c, p, r, a, gt, ph in recs}
    for c, p, r, a, gt in _records("GRCh38"):
        assert phased[(c, p, r, a)] == ("/".join(sorted(gt.split("|"))), True)
    assert len(recs) == len(s) + len(_records("GRCh38"))


def test_demo_risk_finding_in_findings_json(demo_out: Path) -> None:
    findings = json.loads((demo_out / "findings.json").read_text())["findings"]
    risk = [f for f in findings if f["analysis"] == "risk" and f["kind"] == "polygenic_score"]
    assert len(risk) == 1
    d = risk[0]["data"]
    assert d["pgs_id"] == DEMO_SCORE_ID
    assert d["n_matched"] == d["n_variants"] == DEMO_SCORE_SITES
    assert d["most_similar_population"] == DEMO_SUPERPOPULATION
    assert d["percentile"] is not None and 0 <= d["percentile"] <= 100
    assert d["z_norm2"] is not None and np.isfinite(d["z_norm2"])
    assert d["interpretation"] == "relative, not absolute"
    assert d["pca"]["patient_pc1"] is not None and d["distribution"]["bin_edges"]
    m = json.loads((demo_out / "manifest.json").read_text())
    assert "pgs" in {i["role"] for i in m["inputs"]}
    assert DEMO_SCORE_ID in {k["name"] for k in m["knowledge"]}


def test_demo_html_draws_pca_and_distribution(demo_out: Path) -> None:
    html = (demo_out / "report.html").read_text()
    sec = html[html.index('class="major analysis analysis-risk"'):]
    sec = sec[:sec.index("</section>")]
    for kind in ("pca", "distribution"):
        m = re.search(rf'<figure class="figure-{kind}">(.*?)</figure>', sec, re.S)
        assert m, kind
        assert "<svg" in m.group(1) and "this patient" in m.group(1), kind
    pca = re.search(r'<figure class="figure-pca">(.*?)</figure>', sec, re.S).group(1)
    assert pca.count("<circle") > 100  # reference samples drawn
    assert "<polygon" in pca  # the patient's mark
    assert f"most similar: {DEMO_SUPERPOPULATION}" in pca
    assert "relative, not absolute" in sec
    assert "Demonstration score" in sec
    assert "percentile" in sec
    # the figure data is drawn, not dumped as JSON into the details table
    assert "ref_pc1" not in sec and "counts_by_population" not in sec


def test_plots_mark_the_patient_and_escape_labels() -> None:
    from genoma.report.plots import pca_scatter, score_histogram

    svg = pca_scatter([0.0, 1.0, 2.0], [0.0, 1.0, 0.5], ["EUR", "AFR", "<x>"], (1.5, 0.2),
                      title="t", patient_label="me & you")
    assert "<polygon" in svg and "me &amp; you" in svg and "&lt;x&gt;" in svg
    assert "<polygon" not in pca_scatter([0.0], [0.0], ["EUR"], None, title="t")
    h = score_histogram([-1.0, 0.0, 1.0], {"EUR": [2, 3], "AFR": [1, 0]}, 0.4, title="t",
                        highlight="EUR")
    assert h.count("<rect") >= 4 and "stroke-dasharray" in h and "EUR (5)" in h
    assert "no data" in score_histogram([], {}, None, title="t")
