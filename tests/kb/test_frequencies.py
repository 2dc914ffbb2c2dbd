"""Sites-VCF allele frequencies: schemas, popmax, filtering AF, tabix and in-memory lookups."""

from __future__ import annotations

import gzip
import math
from pathlib import Path

import pysam
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import poisson

from genoma.errors import InputMissingError, KnowledgeError
from genoma.kb.frequencies import SCHEMAS, FrequencyTable, filtering_af, normalise_alleles

from conftest import require_shared

GNOMAD_HEADER = """##fileformat=VCFv4.2
##INFO=<ID=AC,Number=A,Type=Integer,Description="x">
##INFO=<ID=AN,Number=1,Type=Integer,Description="x">
##INFO=<ID=AF,Number=A,Type=Float,Description="x">
##INFO=<ID=nhomalt,Number=A,Type=Integer,Description="x">
##INFO=<ID=AC_afr,Number=A,Type=Integer,Description="x">
##INFO=<ID=AN_afr,Number=1,Type=Integer,Description="x">
##INFO=<ID=AF_afr,Number=A,Type=Float,Description="x">
##INFO=<ID=AC_nfe,Number=A,Type=Integer,Description="x">
##INFO=<ID=AN_nfe,Number=1,Type=Integer,Description="x">
##INFO=<ID=AF_nfe,Number=A,Type=Float,Description="x">
##INFO=<ID=AC_fin,Number=A,Type=Integer,Description="x">
##INFO=<ID=AN_fin,Number=1,Type=Integer,Description="x">
##INFO=<ID=AF_fin,Number=A,Type=Float,Description="x">
##INFO=<ID=AF_grpmax,Number=A,Type=Float,Description="x">
##INFO=<ID=grpmax,Number=A,Type=String,Description="x">
##contig=<ID=chr1,length=1000000>
#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO
"""
RECORDS = [
    "chr1\t100\t.\tA\tG,T\t.\tPASS\tAC=10,1;AN=1000;AF=0.01,0.001;nhomalt=2,0;AC_afr=8,0;AN_afr=400;AF_afr=0.02,0;"
    "AC_nfe=1,1;AN_nfe=500;AF_nfe=0.002,0.002;AC_fin=1,0;AN_fin=100;AF_fin=0.01,0;AF_grpmax=0.02,0.002;grpmax=afr,nfe",
    "chr1\t200\t.\tCAG\tC\t.\tPASS\tAC=500;AN=1000;AF=0.5;nhomalt=100;AC_afr=50;AN_afr=400;AF_afr=0.125;"
    "AC_nfe=440;AN_nfe=500;AF_nfe=0.88;AC_fin=10;AN_fin=100;AF_fin=0.1;AF_grpmax=0.88;grpmax=nfe",
]


def write_vcf(path: Path, header: str = GNOMAD_HEADER, records: list[str] = RECORDS, index: bool = True) -> Path:
    text = header + "\n".join(records) + "\n"
    if not index:
        with gzip.open(path, "wt") as fh:
            fh.write(text)
        return path
    plain = path.with_suffix("")
    plain.write_text(text)
    pysam.tabix_compress(str(plain), str(path), force=True)
    pysam.tabix_index(str(path), preset="vcf", force=True)
    return path


@pytest.mark.parametrize("index", [True, False])
def test_gnomad_style_lookup(tmp_path, index):
    t = FrequencyTable(write_vcf(tmp_path / "g.vcf.gz", index=index))
    assert t.schema.name == "gnomad4"
    f = t.lookup("1", 100, "A", "T")  # second ALT: Number=A fields split
    assert f is not None and f.ac == 1 and f.af == pytest.approx(0.001) and f.hom == 0
    assert f.popmax_pop == "nfe" and f.popmax_af == pytest.approx(0.002)
    g = t.lookup("chr1", 100, "A", "G")
    assert g.ac == 10 and g.popmax_pop == "afr" and g.popmax_an == 400
    # faf: the highest per-population filtering AF over non-excluded groups (fin is excluded)
    assert g.faf95 == pytest.approx(max(filtering_af(8, 400), filtering_af(1, 500)))
    # deletion given with extra shared context still matches after trimming
    assert t.lookup("chr1", 200, "CAGT", "CT").af == pytest.approx(0.5)
    assert t.lookup("chr1", 100, "A", "C") is None
    assert t.lookup("chr2", 100, "A", "G") is None


def test_popmax_computed_when_absent(tmp_path):
    hdr = "\n".join(x for x in GNOMAD_HEADER.split("\n") if "grpmax" not in x)
    recs = [r.split(";AF_grpmax")[0] for r in RECORDS]
    t = FrequencyTable(write_vcf(tmp_path / "g.vcf.gz", hdr, recs), schema="gnomad4")
    f = t.lookup("chr1", 200, "CAG", "C")
    assert f.popmax_pop == "nfe" and f.popmax_af == pytest.approx(0.88)  # fin excluded


def test_filtering_af_is_poisson_lower_bound():
    assert filtering_af(0, 1000) == 0.0
    assert filtering_af(1, 100000) == pytest.approx(-math.log(0.95) / 100000)
    for ac, an in ((3, 20000), (50, 1000), (1000, 100000)):
        lam = filtering_af(ac, an) * an
        assert poisson.sf(ac - 1, lam) == pytest.approx(0.05, rel=1e-6)
        assert filtering_af(ac, an) < ac / an


@given(st.integers(1, 10_000), st.integers(1, 10_000))
def test_filtering_af_monotone(ac, extra):
    an = ac + extra
    assert filtering_af(ac, an) <= filtering_af(ac + 1, an + 1) + 1e-12 or ac + 1 > an
    assert 0 < filtering_af(ac, an) < ac / an


@given(st.text("ACGT", min_size=1, max_size=6), st.text("ACGT", min_size=1, max_size=6),
       st.text("ACGT", max_size=3))
def test_normalise_alleles_ignores_shared_context(ref, alt, tail):
    if ref == alt:
        return
    assert normalise_alleles(10, ref + tail, alt + tail) == normalise_alleles(10, ref, alt)


def test_errors(tmp_path):
    with pytest.raises(InputMissingError):
        FrequencyTable(tmp_path / "missing.vcf.gz")
    with pytest.raises(KnowledgeError):
        FrequencyTable(write_vcf(tmp_path / "g.vcf.gz"), schema="nope")


@pytest.mark.validation
def test_exac_excerpt():
    p = require_shared("annotation", "variants", "GRCh37_chr22_ADA2_GAB4.ExAC_r1.sites.vep.vcf.gz")
    t = FrequencyTable(p)
    assert t.schema is SCHEMAS["exac"]
    # 22:17443643 G>T,A: AC_Adj=1,2; AN_Adj=120158; all SAS (AN_SAS=16218)
    f = t.lookup("22", 17443643, "G", "A")
    assert f.ac == 2 and f.an == 120158 and f.af == pytest.approx(2 / 120158)
    assert f.popmax_pop == "SAS" and f.popmax_af == pytest.approx(2 / 16218)
    assert t.lookup("chr22", 17443643, "G", "T").ac == 1
