"""Keyed pseudonyms, the encrypted mapping, and de-identified VCF export."""

from __future__ import annotations

from pathlib import Path

import pysam
import pytest

from genoma.errors import ConsentDeniedError, InconsistentInputError, InputMissingError, UsageError
from genoma.privacy.pseudonym import Pseudonymiser, deidentify_vcf

KEY = b"s" * 32

VCF = """##fileformat=VCFv4.2
##fileDate=20240101
##source=pipeline run by jdoe on /home/jdoe/PAT001
##SAMPLE=<ID=PAT001,Description="John Doe, born 1970-01-01">
##PEDIGREE=<Child=PAT001,Mother=PAT002>
##contig=<ID=chr1,length=248956422,assembly=GRCh38>
##INFO=<ID=DP,Number=1,Type=Integer,Description="Depth">
##INFO=<ID=NAME,Number=1,Type=String,Description="Patient name">
##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">
#CHROM	POS	ID	REF	ALT	QUAL	FILTER	INFO	FORMAT	PAT001	PAT002	PAT003
chr1	10	rs1	A	G	50	PASS	DP=10;NAME=JohnDoe	GT	0/1	1/1	0/0
chr1	20	.	C	T	50	PASS	DP=5	GT	0/0	0/1	1/1
"""


def test_pseudonyms_keyed_deterministic_and_study_scoped() -> None:
    a = Pseudonymiser(KEY, study="s1")
    assert a.pseudonym("PAT001") == Pseudonymiser(KEY, study="s1").pseudonym("PAT001")
    assert a.pseudonym("PAT001") != a.pseudonym("PAT002")
    assert a.pseudonym("PAT001") != Pseudonymiser(KEY, study="s2").pseudonym("PAT001")
    assert a.pseudonym("PAT001") != Pseudonymiser(b"t" * 32, study="s1").pseudonym("PAT001")
    p = a.pseudonym("PAT001")
    assert p.startswith("GP-") and len(p) == 23 and "PAT" not in p
    with pytest.raises(UsageError):
        Pseudonymiser(b"short")


def test_reversible_only_with_key(tmp_path: Path) -> None:
    a = Pseudonymiser(KEY, study="s1")
    p = a.pseudonym("PAT001")
    path = tmp_path / "map.bin"
    a.save_mapping(path)
    assert b"PAT001" not in path.read_bytes()  # encrypted
    assert Pseudonymiser.load_mapping(path, KEY, "s1").reidentify(p) == "PAT001"
    with pytest.raises(ConsentDeniedError):
        Pseudonymiser.load_mapping(path, b"t" * 32, "s1")
    with pytest.raises(ConsentDeniedError):
        Pseudonymiser.load_mapping(path, KEY, "other-study")
    blob = bytearray(path.read_bytes())
    blob[20] ^= 1
    path.write_bytes(bytes(blob))
    with pytest.raises(ConsentDeniedError):
        Pseudonymiser.load_mapping(path, KEY, "s1")
    with pytest.raises(InputMissingError):
        a.reidentify("GP-UNKNOWN")


def test_deidentified_vcf_export(tmp_path: Path) -> None:
    src = tmp_path / "in.vcf"
    src.write_text(VCF)
    ps = Pseudonymiser(KEY, study="cohort1")
    dst = tmp_path / "out.vcf.gz"
    res = deidentify_vcf(src, dst, ps, samples=["PAT001", "PAT003"], drop_info=["NAME"])
    assert res.records == 2 and res.dropped_info == ["NAME"]
    with pysam.VariantFile(str(dst)) as vf:
        assert list(vf.header.samples) == [ps.pseudonym("PAT001"), ps.pseudonym("PAT003")]
        header = str(vf.header)
        recs = list(vf)
    for leak in ("PAT00", "jdoe", "John", "fileDate", "PEDIGREE", "NAME"):
        assert leak not in header, leak
    assert "assembly=GRCh38" in header  # the build travels with the data
    assert recs[0].samples[0]["GT"] == (0, 1) and recs[0].samples[1]["GT"] == (0, 0)
    assert "NAME" not in recs[0].info and recs[0].info["DP"] == 10
    assert ps.reidentify(ps.pseudonym("PAT003")) == "PAT003"
    raw = dst.read_bytes()
    import gzip

    assert b"PAT00" not in gzip.decompress(raw)


def test_export_keep_info_allow_list_and_errors(tmp_path: Path) -> None:
    src = tmp_path / "in.vcf"
    src.write_text(VCF)
    ps = Pseudonymiser(KEY)
    res = deidentify_vcf(src, tmp_path / "o.vcf", ps, keep_info=["DP"], drop_ids=True)
    text = (tmp_path / "o.vcf").read_text()
    assert (
        "NAME" not in text
        and "rs1" not in text
        and res.samples.keys() == {"PAT001", "PAT002", "PAT003"}
    )
    with pytest.raises(UsageError):
        deidentify_vcf(src, tmp_path / "o.vcf", ps)  # exists
    with pytest.raises(InconsistentInputError):
        deidentify_vcf(src, tmp_path / "o2.vcf", ps, samples=["NOPE"])
