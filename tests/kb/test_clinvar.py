"""ClinVar VCF: significance classes, stars, lookups, protein index, install from a mirror."""

from __future__ import annotations

import urllib.parse

import pysam
import pytest

from genoma.kb import install as kbinstall
from genoma.kb.base import get_source
from genoma.kb.clinvar import ClinVar, ProteinChange, ProteinIndex, review_stars, significance_class

from conftest import require_shared

HEADER = """##fileformat=VCFv4.1
##fileDate=2025-11-09
##reference=GRCh38
##INFO=<ID=CLNSIG,Number=.,Type=String,Description="x">
##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="x">
##INFO=<ID=CLNSIGCONF,Number=.,Type=String,Description="x">
##INFO=<ID=GENEINFO,Number=1,Type=String,Description="x">
##INFO=<ID=MC,Number=.,Type=String,Description="x">
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
1\t1000\t11\tC\tT\t.\t.\tCLNSIG=Pathogenic;CLNREVSTAT=reviewed_by_expert_panel;GENEINFO=G1:1;MC=SO:0001583|missense_variant
1\t1001\t12\tG\tA\t.\t.\tCLNSIG=Conflicting_classifications_of_pathogenicity;CLNREVSTAT=criteria_provided,_conflicting_classifications;CLNSIGCONF=Pathogenic(1)|Benign(1)
1\t1500\t13\tCTT\tC\t.\t.\tCLNSIG=Benign;CLNREVSTAT=criteria_provided,_single_submitter
"""


def write_clinvar(path):
    plain = path.with_name("clinvar.vcf")
    plain.write_text(HEADER)
    pysam.tabix_compress(str(plain), str(path), force=True)
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


def test_classes_and_stars():
    assert significance_class("Pathogenic") == "P"
    assert significance_class("Pathogenic/Likely_pathogenic") == "LP"
    assert significance_class("Benign/Likely_benign") == "LB"
    assert significance_class("Uncertain_significance") == "VUS"
    assert significance_class("Conflicting_interpretations_of_pathogenicity") == "conflicting"
    assert significance_class("Pathogenic|risk_factor") == "P"
    assert significance_class("drug_response") == "other"
    assert review_stars("practice_guideline") == 4
    assert review_stars("reviewed_by_expert_panel") == 3
    assert review_stars("criteria_provided,_multiple_submitters,_no_conflicts") == 2
    assert review_stars("criteria_provided,_single_submitter") == 1
    assert review_stars("no_assertion_criteria_provided") == 0


def test_lookup_tabix(tmp_path):
    cv = ClinVar(write_clinvar(tmp_path / "clinvar.vcf.gz"))
    assert cv.version == "2025-11-09" and cv.build == "GRCh38"
    r = cv.lookup("chr1", 1000, "C", "T")
    assert r is not None and r.klass == "P" and r.stars == 3 and r.genes == ("G1",)
    assert r.consequences == ("missense_variant",) and r.is_pathogenic and "11" in r.url
    c = cv.lookup("1", 1001, "G", "A")
    assert c.klass == "conflicting" and c.stars == 1 and "Benign(1)" in c.conflicts
    assert cv.lookup("chr1", 1500, "CTTA", "CA").klass == "B"  # trimmed representation matches
    assert cv.lookup("chr1", 1000, "C", "G") is None
    assert [x.variation_id for x in cv.in_region("chr1", 999, 1001)] == ["11", "12"]


def test_protein_index():
    from genoma.kb.clinvar import ClinVarRecord

    r1 = ClinVarRecord("chr1", 10, "C", "T", "1", "Pathogenic", "P", "x", 2)
    r2 = ClinVarRecord("chr1", 11, "G", "A", "2", "Pathogenic", "P", "x", 2)
    idx = ProteinIndex([(ProteinChange("T", 4, "R", "W"), r1), (ProteinChange("T", 4, "R", "Q"), r2)])
    assert idx.same_change(ProteinChange("T", 4, "R", "W")) == [r1]
    assert [r for _, r in idx.same_residue(ProteinChange("T", 4, "R", "W"))] == [r2]
    assert idx.same_change(ProteinChange("T", 5, "R", "W")) == []


def test_install_from_file_mirror(tmp_path, monkeypatch):
    monkeypatch.setenv("GENOMA_HOME", str(tmp_path / "home"))
    from genoma.kb import base

    base.reset_cache()
    rel = get_source("clinvar").releases()[0]
    dest = tmp_path / "mirror" / urllib.parse.urlsplit(rel.url).path.lstrip("/")
    dest.parent.mkdir(parents=True)
    write_clinvar(dest)
    rec = kbinstall.install("clinvar", mirror=(tmp_path / "mirror").as_uri())
    assert rec.version.endswith("GRCh38") and "clinvar.vcf.gz.tbi" in rec.files
    src = get_source("clinvar")
    assert src.installed_build == "GRCh38"
    assert src.load().lookup("chr1", 1000, "C", "T").stars == 3
    assert kbinstall.verify("clinvar") == src.checksum()


@pytest.mark.validation
def test_exomiser_clinvar_excerpt():
    p = require_shared("annotation", "variants", "GRCh37_chr1.exomiser_clinvar-test.vcf.gz")
    cv = ClinVar(p)  # unindexed excerpt: read into memory
    assert cv.build == "GRCh37"
    r = cv.lookup("1", 69134, "A", "G")
    assert r.variation_id == "2205837" and r.klass == "LB" and r.stars == 1 and r.genes == ("OR4F5",)
    p1 = cv.lookup("chr1", 879375, "C", "T")
    assert p1.klass == "P" and p1.consequences == ("nonsense",)
    recs = cv.in_region("1", 1, 10_000_000)
    assert len(recs) == 1999  # one of the 2,000 records has no ALT (877831 T>.)
    assert sum(r.klass == "conflicting" for r in recs) == 25
    assert sum(r.stars == 2 for r in recs) == 139
