"""Scoring-file reader (formatted, harmonized, custom) and target loaders."""

from __future__ import annotations

import gzip
from pathlib import Path

import numpy as np
import pytest

from genoma.errors import InputMissingError, MalformedInputError
from genoma.io.pgs import load_target, normalise_build, read_pcs, read_scoring_file

from conftest import require_shared

FORMATTED = """###PGS CATALOG SCORING FILE - see https://www.pgscatalog.org
#format_version=2.0
##POLYGENIC SCORE (PGS) INFORMATION
#pgs_id=PGS999999
#pgs_name=TEST
#trait_reported=Test trait
#genome_build=hg19
#variants_number=3
#license=CC BY 4.0
rsID\tchr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\tis_dominant
rs1\t1\t100\ta\tG\t0.5\tFalse
rs2\tchr2\t200\tC\tT\t-1e-2\tTrue
rs3\tX\t300\tT\t\t2\t
"""

HARMONIZED = """###PGS CATALOG SCORING FILE - see https://www.pgscatalog.org
#format_version=2.0
#pgs_id=PGS999998
#genome_build=NR
#HmPOS_build=GRCh38
rsID\tchr_name\teffect_allele\tother_allele\teffect_weight\thm_source\thm_rsID\thm_chr\thm_pos\thm_inferOtherAllele
rs1\t1\tA\t\t0.5\tENSEMBL\trs1\t1\t150\tG
rs9\t2\tC\tT\t0.1\tENSEMBL\trs9\t\t\t
"""


def test_formatted_header_build_license_and_columns(tmp_path: Path) -> None:
    p = tmp_path / "PGS999999.txt.gz"
    with gzip.open(p, "wt") as fh:
        fh.write(FORMATTED)
    s = read_scoring_file(p)
    assert s.pgs_id == "PGS999999"
    assert s.build == "GRCh37"  # hg19
    assert not s.harmonized
    assert s.license == "CC BY 4.0"
    assert s.header["pgs_name"] == "TEST" and s.trait == "Test trait"
    assert list(s.chrom) == ["chr1", "chr2", "chrX"]
    assert list(s.pos) == [100, 200, 300]
    assert list(s.effect_allele) == ["A", "C", "T"]
    assert list(s.other_allele) == ["G", "T", ""]
    assert s.weight.tolist() == [0.5, -0.01, 2.0]
    assert list(s.effect_type) == ["additive", "dominant", "additive"]
    assert list(s.line) == [11, 12, 13]
    assert s.metadata()["license"] == "CC BY 4.0"


def test_harmonized_uses_hm_columns_and_hm_build(tmp_path: Path) -> None:
    p = tmp_path / "PGS999998_hmPOS_GRCh38.txt"
    p.write_text(HARMONIZED)
    s = read_scoring_file(p)
    assert s.harmonized and s.build == "GRCh38"
    assert list(s.pos) == [150, 0]  # unmapped row kept without a position
    assert s.other_allele[0] == "G"  # inferred other allele fills the gap
    assert "PGS Catalog default" in s.license


def test_custom_file_without_header(tmp_path: Path) -> None:
    p = tmp_path / "my_score.tsv"
    p.write_text("chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
                 "22\t10\tA\tG\t1.5\n\n22\t12\tC\n")
    with pytest.raises(MalformedInputError) as ei:  # short row: no weight
        read_scoring_file(p)
    assert ei.value.line == 4
    p.write_text("chr_name\tchr_position\teffect_allele\tother_allele\teffect_weight\n"
                 "22\t10\tA\tG\t1.5\n\n22\t12\tC\tA/G\t-1\n")
    s = read_scoring_file(p)
    assert s.pgs_id == "my_score" and s.build is None and s.n_variants == 2
    assert list(s.line) == [2, 4] and list(s.other_allele) == ["G", ""]
    assert s.chrom[1] == "chr22" and s.pos[1] == 12


@pytest.mark.parametrize(
    ("body", "line", "msg"),
    [
        ("chr_name\tchr_position\teffect_allele\teffect_weight\n1\t5\tA\tx\n", 2, "not a finite number"),
        ("chr_name\tchr_position\teffect_allele\teffect_weight\n1\t5\tA\t1\t9\n", 2,
         "more columns"),
        ("chr_name\tchr_position\teffect_allele\teffect_weight\n1\t-5\tA\t1\n", 2, "position"),
        ("chr_name\tchr_position\teffect_weight\n1\t5\t1\n", 1, "effect_allele"),
        ("#genome_build=NCBI35\nchr_name\tchr_position\teffect_allele\teffect_weight\n",
         None, "unsupported genome build"),
    ],
)
def test_malformed_names_file_and_line(tmp_path: Path, body: str, line: int | None,
                                       msg: str) -> None:
    p = tmp_path / "bad.txt"
    p.write_text(body)
    with pytest.raises(MalformedInputError) as ei:
        read_scoring_file(p)
    assert ei.value.line == line and msg in str(ei.value) and str(p) in str(ei.value)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(InputMissingError):
        read_scoring_file(tmp_path / "nope.txt")


def test_build_aliases() -> None:
    assert normalise_build("hg38") == "GRCh38" and normalise_build("NR") is None
    with pytest.raises(ValueError):
        normalise_build("NCBI36")


def test_read_pcs(tmp_path: Path) -> None:
    p = tmp_path / "x.pcs"
    p.write_text("FID\tIID\tPC1\tPC2\na\ta\t1.5\t-2\nb\tb\t0\t3\n")
    ids, pcs = read_pcs(p)
    assert ids == ["a", "b"] and pcs.tolist() == [[1.5, -2.0], [0.0, 3.0]]


@pytest.mark.validation
def test_real_scoring_files_keep_license_and_build() -> None:
    d = require_shared("prs")
    s15 = read_scoring_file(d / "pgs-harmonizer" / "PGS000015.txt.gz")
    assert s15.build == "GRCh37" and s15.license.startswith("Freely available to the academic")
    assert s15.n_variants == 5218
    hm = read_scoring_file(d / "pygscatalog" / "PGS000001_hmPOS_GRCh38.txt")
    assert hm.harmonized and hm.build == "GRCh38" and hm.n_variants == 77
    raw = read_scoring_file(d / "pygscatalog" / "PGS000001.txt.gz")
    assert raw.build is None and (raw.pos == 0).all() and (raw.rsid != "").all()
    o = read_scoring_file(d / "pygscatalog" / "OPGS017309_hmPOS_GRCh38.txt.gz")
    assert o.license == "CC BY"


@pytest.mark.validation
def test_vcf_and_plink_targets_agree() -> None:
    d = require_shared("prs", "pgsc_calc")
    v = load_target(d / "cineca_synthetic_subset.vcf.gz")
    b = load_target(d / "cineca_synthetic_subset")
    assert v.n_sites == b.n_sites == 829 and v.n_samples == b.n_samples == 2504
    assert (v.pos == b.pos).all() and (v.ref == b.ref).all() and (v.alt == b.alt).all()
    rows = np.arange(829)
    dv, db = v.read_dosage(rows), b.read_dosage(rows[::-1])[::-1]
    assert np.array_equal(np.isnan(dv), np.isnan(db))
    assert np.array_equal(np.nan_to_num(dv, nan=-9), np.nan_to_num(db, nan=-9))
    assert np.isnan(dv).sum() > 0  # the data set has missing calls


def test_vcf_ds_dosages(tmp_path: Path) -> None:
    p = tmp_path / "ds.vcf"
    p.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=1>\n"
        '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
        '##FORMAT=<ID=DS,Number=A,Type=Float,Description="ALT dosage">\n'
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tA\tB\n"
        "1\t10\t.\tA\tG\t.\t.\t.\tGT:DS\t0/1:0.8\t1/1:.\n"
        "1\t20\t.\tC\tT\t.\t.\t.\tGT\t0/1\t./.\n"
        "1\t30\t.\tC\tT,G\t.\t.\t.\tGT:DS\t0/1:0.9,0.1\t1/2:1,1\n")
    hard = load_target(p)
    soft = load_target(p, dosage_field="DS")
    h = hard.read_dosage(np.arange(4))
    d = soft.read_dosage(np.arange(4))
    assert h[0].tolist() == [1.0, 2.0]
    assert d[0, 0] == pytest.approx(0.8) and np.isnan(d[0, 1])  # DS missing → missing
    assert d[1, 0] == 1.0 and np.isnan(d[1, 1])  # no DS: hard call
    np.testing.assert_array_equal(d[2:], h[2:])  # multi-allelic: hard calls
    assert soft.kind == "vcf-DS" and hard.kind == "vcf"
