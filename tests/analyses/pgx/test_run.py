"""The PGx analysis: calls → phenotypes → recommendations → findings (run.py)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from genoma.analyses.pgx.caller import GeneCalls
from genoma.analyses.pgx.run import (
    CALL_COLUMNS,
    CYP2D6_LIMITATION,
    infer_build,
    pgx_analysis,
    pgx_from_calls,
)
from genoma.errors import InconsistentInputError
from genoma.io.pgx_outside import OutsideCall
from genoma.io.vcf import SiteGenotypes
from genoma.kb import get_source
from genoma.model.findings import Color, Confidence

SAMPLES = ["S1", "S2", "S3"]


@pytest.fixture(scope="module")
def knowledge():
    return get_source("pgx").load()


def gene_calls(gene, pairs, status=None, candidates=None, missing=None, notes=None,
               n_positions=5, n_in_vcf=5, version="pypgx-0.27.0"):
    n = len(pairs)
    return GeneCalls(
        gene=gene, build="GRCh38", samples=list(SAMPLES[:n]),
        allele1=np.array([p[0] if p else None for p in pairs], dtype=object),
        allele2=np.array([p[1] if p else None for p in pairs], dtype=object),
        status=np.array(status or ["called" if p else "not_callable" for p in pairs],
                        dtype=object),
        candidates=candidates or [[] for _ in range(n)],
        missing_positions=missing or [[] for _ in range(n)],
        n_positions=n_positions, n_positions_in_vcf=n_in_vcf,
        phased=np.ones(n, dtype=bool), notes=notes or [[] for _ in range(n)],
        knowledge_version=version,
    )


@pytest.fixture
def run(knowledge):
    calls = {
        "CYP2C9": gene_calls("CYP2C9", [("*1", "*3"), ("*1", "*1"), ("*1", "*1")],
                             status=["called", "called", "ambiguous"],
                             candidates=[[], [], ["*1/*1", "*1/*3"]],
                             missing=[[], ["chr10:94942290"], []]),
        "CYP2D6": gene_calls("CYP2D6", [("*1", "*1"), ("*4", "*4"), None],
                             notes=[[], [], ["none of the defining positions is in the VCF"]]),
        "TPMT": gene_calls("TPMT", [("*1", "*3A"), ("*1", "*1"), ("*3A", "*3A")]),
        "NUDT15": gene_calls("NUDT15", [("*1", "*1"), ("*1", "*1"), ("*1", "*1")]),
    }
    return pgx_from_calls(calls, knowledge, SAMPLES, "GRCh38")


def _row(run, sample, gene):
    t = run.calls
    (i,) = np.flatnonzero((t["sample"] == sample) & (t["gene"] == gene))
    return t.iloc[i]


def test_calls_table_shape_and_columns(run):
    assert list(run.calls.columns[:6]) == ["sample", "gene", "diplotype", "phenotype",
                                            "activity_score", "status"]
    assert list(run.calls.columns) == CALL_COLUMNS
    assert len(run.calls) == 3 * 4
    assert list(run.calls["sample"][:4]) == ["S1"] * 4
    assert list(run.calls["gene"][:4]) == ["CYP2C9", "CYP2D6", "TPMT", "NUDT15"]
    assert list(run.recommendations.columns[:6]) == [
        "sample", "drug", "genes", "recommendation", "classification", "color"]
    assert {"guideline", "knowledge_version"} <= set(run.recommendations.columns)


def test_phenotypes(run):
    r = _row(run, "S1", "CYP2C9")
    assert (r["diplotype"], r["phenotype"], r["activity_score"], r["status"]) == (
        "*1/*3", "Intermediate Metabolizer", 1.0, "called")
    assert _row(run, "S2", "CYP2D6")["phenotype"] == "Poor Metabolizer"
    assert _row(run, "S3", "TPMT")["phenotype"] == "Poor Metabolizer"
    assert math.isnan(_row(run, "S1", "TPMT")["activity_score"])


def test_ambiguous_with_differing_phenotypes_is_indeterminate(run):
    r = _row(run, "S3", "CYP2C9")
    assert r["status"] == "ambiguous"
    assert r["phenotype"] == "Indeterminate"
    assert r["candidates"] == ["*1/*1", "*1/*3"]
    assert any("Normal Metabolizer" in n and "Intermediate Metabolizer" in n
               for n in r["notes"])


def test_not_callable(run):
    r = _row(run, "S3", "CYP2D6")
    assert (r["status"], r["diplotype"], r["phenotype"]) == (
        "not_callable", "", "Indeterminate")
    f = {x.genes[0]: x for x in run.findings("S3") if x.kind == "diplotype"}["CYP2D6"]
    assert f.confidence == Confidence.NOT_ASSESSABLE
    assert any("none of the defining positions" in lim.text for lim in f.limitations)


def test_diplotype_findings(run):
    fs = run.findings("S1")
    dip = {f.genes[0]: f for f in fs if f.kind == "diplotype"}
    assert set(dip) == {"CYP2C9", "CYP2D6", "TPMT", "NUDT15"}
    c9 = dip["CYP2C9"]
    assert c9.confidence == Confidence.HIGH
    assert c9.data["diplotype"] == "*1/*3" and c9.data["activity_score"] == 1.0
    assert c9.data["phenotype"] == "Intermediate Metabolizer"
    assert c9.color == Color.YELLOW  # phenotype table priority: abnormal
    assert c9.evidence[0].source == "pgx" and c9.evidence[0].version == "pypgx-0.27.0"
    # CYP2D6: all positions present, yet never high, always the CNV limitation
    d6 = dip["CYP2D6"]
    assert d6.confidence == Confidence.MODERATE
    assert CYP2D6_LIMITATION in d6.limitations
    assert CYP2D6_LIMITATION.text == ("CYP2D6 copy number and hybrid alleles are not "
                                      "assessable from a VCF")
    # missing positions lower the confidence and are listed
    c9_s2 = {f.genes[0]: f for f in run.findings("S2") if f.kind == "diplotype"}["CYP2C9"]
    assert c9_s2.confidence == Confidence.MODERATE
    assert c9_s2.data["missing_positions"] == ["chr10:94942290"]
    assert any(lim.code == "PGX_MISSING_POSITIONS" for lim in c9_s2.limitations)
    import json
    json.dumps([f.model_dump(mode="json") for f in fs])  # JSON-ready


def test_drug_recommendation_findings(run, knowledge):
    fs = {f.title: f for f in run.findings("S1") if f.kind == "drug_recommendation"}
    aza = fs["azathioprine"]
    assert aza.genes == ("NUDT15", "TPMT")
    (rec,) = aza.recommendations
    assert rec.color == aza.color == Color.YELLOW  # TPMT IM: reduced starting dose
    assert rec.classification == "CPIC level A"
    assert rec.guideline and rec.guideline.startswith("https://cpicpgx.org/")
    assert "reduced" in rec.text
    codeine = fs["codeine"]
    assert codeine.color == Color.GREEN  # CYP2D6 *1/*1
    assert CYP2D6_LIMITATION in codeine.limitations
    assert fs["celecoxib"].data["phenotypes"] == "CYP2C9: Intermediate Metabolizer"
    s2 = {f.title: f for f in run.findings("S2") if f.kind == "drug_recommendation"}
    assert s2["codeine"].color == Color.RED  # CYP2D6 PM


def test_findings_unknown_sample(run):
    with pytest.raises(InconsistentInputError):
        run.findings("nobody")


def _oc(gene, diplotype=None, phenotype=None, score=None, sample=None, line=1):
    return OutsideCall(gene, diplotype, phenotype, score, sample, "calls.tsv", line)


def test_outside_calls_override(knowledge):
    calls = {"CYP2D6": gene_calls("CYP2D6", [("*1", "*1"), ("*1", "*4"), None]),
             "CYP2C9": gene_calls("CYP2C9", [("*1", "*1")] * 3)}
    outside = [_oc("CYP2D6", "*4/*1x2", sample="S1", line=3),
               _oc("CYP2C9", "*1/*1", phenotype="Poor Metabolizer", score=1.0, sample="S2",
                   line=4),
               _oc("HLA-B", "*58:01/*57:01", sample="S3", line=5)]
    run = pgx_from_calls(calls, knowledge, SAMPLES, "GRCh38", outside)
    d6 = _row(run, "S1", "CYP2D6")
    assert (d6["status"], d6["diplotype"], d6["phenotype"], d6["activity_score"]) == (
        "outside_call", "*1x2/*4", "Normal Metabolizer", 2.0)
    assert any("calls.tsv:3" in n for n in d6["notes"])
    assert any("overrides the VCF call *1/*1" in n for n in d6["notes"])
    assert _row(run, "S2", "CYP2D6")["status"] == "called"  # other samples untouched
    # activity score wins over a disagreeing phenotype (PharmCAT rule), with a note
    c9 = _row(run, "S2", "CYP2C9")
    assert (c9["status"], c9["phenotype"], c9["activity_score"]) == (
        "outside_call", "Intermediate Metabolizer", 1.0)
    assert any("disagrees" in n for n in c9["notes"])
    hla = _row(run, "S3", "HLA-B")
    assert hla["diplotype"] == "*57:01/*58:01" and hla["status"] == "outside_call"
    # a gene given for some samples only: the others have no row for it
    assert set(run.calls.loc[run.calls["gene"] == "HLA-B", "sample"]) == {"S3"}
    assert run.genes == ["CYP2D6", "CYP2C9", "HLA-B"]
    f = {x.genes[0]: x for x in run.findings("S1") if x.kind == "diplotype"}["CYP2D6"]
    assert f.data["outside_call"] is True and "[outside call]" in f.summary
    assert f.confidence == Confidence.MODERATE
    assert CYP2D6_LIMITATION in f.limitations


def test_sampleless_outside_file_with_several_samples_is_refused(knowledge):
    calls = {"CYP2D6": gene_calls("CYP2D6", [("*1", "*1")] * 3)}
    with pytest.raises(InconsistentInputError) as ei:
        pgx_from_calls(calls, knowledge, SAMPLES, "GRCh38", [_oc("CYP2D6", "*1/*2", line=2)])
    assert ei.value.line == 2 and ei.value.exit_code == 5
    one = {"CYP2D6": gene_calls("CYP2D6", [("*1", "*1")])}
    run = pgx_from_calls(one, knowledge, ["S1"], "GRCh38", [_oc("CYP2D6", "*1/*2")])
    assert _row(run, "S1", "CYP2D6")["status"] == "outside_call"


def test_outside_call_for_unknown_sample(knowledge):
    calls = {"CYP2D6": gene_calls("CYP2D6", [("*1", "*1")] * 3)}
    with pytest.raises(InconsistentInputError) as ei:
        pgx_from_calls(calls, knowledge, SAMPLES, "GRCh38",
                       [_oc("CYP2D6", "*1/*2", sample="S9", line=7)])
    assert ei.value.line == 7


# ------------------------------------------------------------------ genotypes level
def _core(knowledge, gene, allele, build):
    from genoma.analyses.pgx.definitions import parse_core

    a = knowledge.alleles
    (core,) = a.loc[(a["Gene"] == gene) & (a["StarAllele"] == allele), f"{build}Core"]
    return parse_core(core)


def _genotypes(sites, gts, build):
    n = len(sites)
    return SiteGenotypes(
        samples=list(SAMPLES[: gts.shape[1]]),
        chrom=np.array([s[0] for s in sites], dtype=object),
        pos=np.array([s[1] for s in sites], dtype=np.int64),
        ref=np.array([s[2] for s in sites], dtype=object),
        alt=np.array([s[3] for s in sites], dtype=object),
        gt=gts.astype(np.int8), phased=np.ones(gts.shape[:2], dtype=bool),
        record_index=np.arange(n), build=build)


@pytest.mark.parametrize("build", ["GRCh37", "GRCh38"])
def test_infer_build(knowledge, build):
    sites = []
    for gene, allele in [("CYP2C9", "*2"), ("CYP2C9", "*3"), ("CYP2C19", "*2"),
                         ("CYP2C19", "*17"), ("TPMT", "*3A")]:
        sites += _core(knowledge, gene, allele, build)
    g = _genotypes(sites, np.zeros((len(sites), 2, 2)), None)
    assert infer_build(g, knowledge) == build


def test_infer_build_without_pgx_positions(knowledge):
    g = _genotypes([("chr1", 1000 + i, "A", "G") for i in range(5)],
                   np.zeros((5, 1, 2)), None)
    with pytest.raises(InconsistentInputError) as ei:
        infer_build(g, knowledge)
    assert ei.value.exit_code == 5 and "--build" in str(ei.value)


def test_pgx_analysis_on_genotypes(knowledge):
    sites = _core(knowledge, "CYP2C9", "*2", "GRCh38") + _core(knowledge, "CYP2C9", "*3",
                                                                "GRCh38")
    # S1 *2 on haplotype 1, *3 on haplotype 2; S2 reference; S3 *3/*3
    gts = np.array([[[1, 0], [0, 0], [0, 0]],
                    [[0, 1], [0, 0], [1, 1]]])
    g = _genotypes(sites, gts, "GRCh38")
    seen = []
    run = pgx_analysis(g, "GRCh38", knowledge, genes=["CYP2C9", "TPMT"],
                       outside=[_oc("HLA-B", "*57:01/*44:02", sample="S1")],
                       progress=seen.append)
    assert seen == ["CYP2C9", "TPMT"]
    got = {(r.sample, r.gene): (r.diplotype, r.phenotype, r.status)
           for r in run.calls.itertuples()}
    assert got[("S1", "CYP2C9")] == ("*2/*3", "Poor Metabolizer", "called")
    assert got[("S2", "CYP2C9")] == ("*1/*1", "Normal Metabolizer", "called")
    assert got[("S3", "CYP2C9")] == ("*3/*3", "Poor Metabolizer", "called")
    assert got[("S1", "TPMT")][2] == "not_callable"
    assert got[("S1", "HLA-B")] == ("*44:02/*57:01", "n/a", "outside_call")
    assert run.summary()["samples"] == 3
