"""genoma.io.vcf: formats, samples, regions, build, splitting, malformed input."""

from __future__ import annotations

import gzip
import os
from pathlib import Path

import numpy as np
import pysam
import pytest

from genoma.errors import (
    GenomaError,
    InconsistentInputError,
    InputMissingError,
    MalformedInputError,
    UsageError,
)
from genoma.io.vcf import detect_build, open_vcf, read_sample_list

from conftest import require_shared

GRCH38_CONTIGS = "##contig=<ID=chr1,length=248956422>\n##contig=<ID=chr2,length=242193529>\n"
GRCH37_CONTIGS = "##contig=<ID=1,length=249250621>\n##contig=<ID=2,length=243199373>\n"


def header(samples=("S1", "S2"), contigs=GRCH38_CONTIGS) -> str:
    cols = ["CHROM", "POS", "ID", "REF", "ALT", "QUAL", "FILTER", "INFO"]
    if samples:
        cols += ["FORMAT", *samples]
    return (
        "##fileformat=VCFv4.2\n"
        + contigs
        + '##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n'
        + '##FORMAT=<ID=DP,Number=1,Type=Integer,Description="Depth">\n'
        + "#" + "\t".join(cols) + "\n"
    )


def rec(chrom, pos, ref, alt, *gts, fmt="GT", rid=".") -> str:
    cols = [chrom, str(pos), rid, ref, alt, ".", "PASS", "."]
    if gts:
        cols += [fmt, *gts]
    return "\t".join(cols) + "\n"


BODY = (
    rec("chr1", 100, "A", "G", "0/1", "1|1", rid="rs1")
    + rec("chr1", 200, "CAG", "C,CAGAG,TAG", "1/2", "0|3")
    + rec("chr1", 300, "T", "C", "1", ".")
    + rec("chr2", 50, "G", "A", "./.", "0/0")
)


def write(tmp_path: Path, text: str, name: str = "t.vcf") -> Path:
    p = tmp_path / name
    p.write_text(text)
    return p


def bgzip(tmp_path: Path, text: str, index: str | None = None, name="t.vcf") -> Path:
    p = write(tmp_path, text, name)
    if index is None:
        out = Path(str(p) + ".gz")
        pysam.tabix_compress(str(p), str(out), force=True)
        return out
    return Path(pysam.tabix_index(str(p), preset="vcf", force=True, csi=(index == "csi")))


def to_bcf(tmp_path: Path, text: str, index: bool) -> Path:
    src = bgzip(tmp_path, text, name="src.vcf")
    out = tmp_path / "t.bcf"
    with pysam.VariantFile(str(src)) as vin, pysam.VariantFile(
        str(out), "wb", header=vin.header
    ) as vout:
        for r in vin:
            vout.write(r)
    if index:
        pysam.tabix_index(str(out), preset="vcf", force=True, csi=True)
    return out


@pytest.fixture(params=["plain", "bgzip", "tbi", "csi", "bcf", "bcf_csi", "gzip"])
def any_format(request, tmp_path):
    text = header() + BODY
    kind = request.param
    if kind == "plain":
        return write(tmp_path, text)
    if kind == "bgzip":
        return bgzip(tmp_path, text)
    if kind in ("tbi", "csi"):
        return bgzip(tmp_path, text, index=kind)
    if kind == "gzip":  # plain gzip, not BGZF
        p = tmp_path / "t.vcf.gz"
        with gzip.open(p, "wt") as fh:
            fh.write(text)
        return p
    return to_bcf(tmp_path, text, index=(kind == "bcf_csi"))


# -- formats, splitting, recoding -----------------------------------------------------


def test_genotypes_split_trim_recode(any_format):
    g = open_vcf(any_format).genotypes()
    assert g.samples == ["S1", "S2"]
    assert g.build == "GRCh38"
    assert list(g.chrom) == ["chr1", "chr1", "chr1", "chr1", "chr1", "chr2"]
    # CAG>C stays; CAG>CAGAG trims to C>CAG; CAG>TAG trims to C>T
    assert list(zip(g.pos, g.ref, g.alt, strict=True)) == [
        (100, "A", "G"), (200, "CAG", "C"), (200, "C", "CAG"), (200, "C", "T"),
        (300, "T", "C"), (50, "G", "A")]
    assert list(g.record_index) == [0, 1, 1, 1, 2, 3]
    assert g.ids[0] == "rs1"
    gt = g.gt.tolist()
    assert gt[0] == [[0, 1], [1, 1]]
    # 1/2 and 0|3 recoded per split row: 1 = this row's ALT, 2 = another ALT
    assert gt[1] == [[1, 2], [0, 2]]
    assert gt[2] == [[2, 1], [0, 2]]
    assert gt[3] == [[2, 2], [0, 1]]
    # haploid "1" and missing "." keep -2 in the second column
    assert gt[4] == [[1, -2], [-1, -2]]
    assert gt[5] == [[-1, -1], [0, 0]]
    assert g.phased.tolist()[0] == [False, True]
    assert g.phased.tolist()[4] == [False, False]  # haploid calls carry no phase
    d = g.dosage()
    assert d[0].tolist() == [1.0, 2.0]
    assert d[4, 0] == 1.0 and np.isnan(d[4, 1])
    assert np.isnan(d[5, 0]) and d[5, 1] == 0.0


def test_calls_split_and_lines(any_format):
    vf = open_vcf(any_format)
    calls = list(vf.calls("S1"))
    assert [(c.variant.pos, c.variant.ref, c.variant.alt, str(c.genotype)) for c in calls] == [
        (100, "A", "G", "0/1"), (200, "CAG", "C", "1/2"), (200, "C", "CAG", "2/1"),
        (200, "C", "T", "2/2"), (300, "T", "C", "1"), (50, "G", "A", "./.")]
    assert calls[0].variant.chrom == "chr1" and calls[0].variant.build == "GRCh38"
    assert calls[1].genotype.dosage() == 1 and calls[3].genotype.dosage() == 0
    if vf.is_bcf:
        assert calls[0].line is None
    else:
        assert [c.line for c in calls] == [7, 8, 8, 8, 9, 10]
    s2 = list(vf.calls("S2"))
    assert str(s2[0].genotype) == "1|1" and s2[0].genotype.phased


def test_reading_twice_gives_the_same(any_format):
    vf = open_vcf(any_format)
    a = vf.genotypes()
    b = vf.genotypes()
    assert np.array_equal(a.gt, b.gt) and list(a.pos) == list(b.pos)
    assert len(list(vf.calls("S1"))) == 6


@pytest.mark.parametrize("region,expected", [
    ("chr1:150-250", [200, 200, 200]),
    ("1:150-250", [200, 200, 200]),   # other chromosome naming
    ("chr1:201-201", [200, 200, 200]),  # overlaps the 3-base REF of the record at 200
    ("chr1", [100, 200, 200, 200, 300]),
    ("chr2:1-49", []),
    ("chr7:1-1000", []),
])
def test_regions_indexed_and_scanned_agree(any_format, region, expected):
    vf = open_vcf(any_format)
    g = vf.genotypes([region])
    assert list(g.pos) == expected
    calls = [c.variant.pos for c in vf.calls("S1", region=region)]
    assert calls == expected


def test_region_uses_index(tmp_path):
    p = bgzip(tmp_path, header() + BODY, index="tbi")
    assert open_vcf(p).has_index()
    assert not open_vcf(bgzip(tmp_path / "..", header() + BODY, name="u.vcf")).has_index()


@pytest.mark.parametrize("region", ["chr1:x-5", "chr1:10-5", ":1-5", "chr1:0-5"])
def test_bad_region_is_usage_error(tmp_path, region):
    plain = write(tmp_path, header() + BODY, "plain.vcf")
    for p in (plain, bgzip(tmp_path, header() + BODY, index="tbi")):
        with pytest.raises(UsageError):
            open_vcf(p).genotypes([region])


def test_sample_selection(tmp_path):
    text = header(("A", "B", "C")) + rec("chr1", 10, "A", "T", "0/1", "1/1", "0/0")
    p = bgzip(tmp_path, text, index="tbi")
    vf = open_vcf(p, samples=["C", "A"])
    assert vf.samples == ["A", "C"]  # file order
    g = vf.genotypes()
    assert g.gt.tolist() == [[[0, 1], [0, 0]]]
    assert str(next(vf.calls("C")).genotype) == "0/0"
    with pytest.raises(InconsistentInputError, match="Z"):
        open_vcf(p, samples=["A", "Z"])
    with pytest.raises(UsageError):
        next(open_vcf(p).calls())
    with pytest.raises(InconsistentInputError):
        next(open_vcf(p, samples=["A"]).calls("B"))


def test_records_without_gt_are_missing(tmp_path):
    text = header() + rec("chr1", 10, "A", "T", "7", "8", fmt="DP")
    g = open_vcf(write(tmp_path, text)).genotypes()
    assert g.gt.tolist() == [[[-1, -1], [-1, -1]]]


def test_sites_only_and_skipped_alleles(tmp_path):
    text = header(samples=()) + rec("chr1", 10, "A", "T,*") + rec("chr1", 20, "A", ".") + rec(
        "chr1", 30, "A", "<DEL>") + rec("chr1", 40, "G", "G]chr2:100]")
    g = open_vcf(write(tmp_path, text)).genotypes()
    assert g.samples == [] and g.gt.shape == (2, 0, 2)
    assert list(zip(g.pos, g.alt, strict=True)) == [(10, "T"), (30, "<DEL>")]


def test_triploid_is_rejected_with_line(tmp_path):
    text = header() + rec("chr1", 10, "A", "T", "0/1/1", "0/0")
    with pytest.raises(MalformedInputError) as ei:
        open_vcf(write(tmp_path, text)).genotypes()
    assert ei.value.line == 7 and "ploidy" in str(ei.value)


# -- build detection ----------------------------------------------------------------


def test_detect_build_tables():
    assert detect_build({"chr1": 248956422}) == "GRCh38"
    assert detect_build({"1": 249250621, "MT": 16569}) == "GRCh37"
    assert detect_build({"chr1": None, "chrUn": 5}) is None
    with pytest.raises(InconsistentInputError):
        detect_build({"1": 249250621, "chr2": 242193529})


def test_build_from_header_and_request(tmp_path):
    p37 = write(tmp_path, header(contigs=GRCH37_CONTIGS) + rec("1", 5, "A", "C", "0/1", "0/0"))
    vf = open_vcf(p37)
    assert vf.build == "GRCh37"
    assert next(vf.calls("S1")).variant.chrom == "chr1"
    with pytest.raises(InconsistentInputError) as ei:
        open_vcf(p37, build="GRCh38")
    assert ei.value.exit_code == 5
    nolen = write(tmp_path, header(contigs="##contig=<ID=chr1>\n") + rec(
        "chr1", 5, "A", "C", "0/1", "0/0"), "n.vcf")
    assert open_vcf(nolen).build is None
    with pytest.raises(InconsistentInputError, match="build"):
        next(open_vcf(nolen).calls("S1"))
    assert open_vcf(nolen, build="GRCh37").build == "GRCh37"


def test_build_of_real_headers():
    hg38 = require_shared("rare", "backgrounds", "PG_NA12878_hg38-chr21.vcf.gz")
    hg19 = require_shared("rare", "backgrounds", "Pfeiffer_hg19_exome_unspiked.vcf.gz")
    a = open_vcf(hg38)
    assert a.build == "GRCh38" and a.contigs["chr21"] == 46709983 and a.samples == ["NA12878"]
    b = open_vcf(hg19)  # plain gzip, contigs named 1, 2, … with b37 lengths
    assert b.build == "GRCh37" and b.contigs["1"] == 249250621 and not b.has_index()
    # a region on the un-indexed gzip file works by scanning
    calls = list(b.calls(region="chr1:1-1000000"))
    assert calls and all(c.variant.chrom == "chr1" and c.variant.end >= 1 for c in calls)
    assert all(c.variant.pos <= 1_000_000 for c in calls)


# -- malformed input -----------------------------------------------------------------

GOOD = rec("chr1", 100, "A", "G", "0/1", "1|1")
BAD_LINES = [
    ("\n", "empty line"),
    ("chr1 100 . A G . PASS . GT 0/1 1|1\n", "columns"),
    ("chr1\tABC\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t1|1\n", "POS 'ABC'"),
    ("chr1\t-5\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t1|1\n", "POS '-5'"),
    ("chr1\t0\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t1|1\n", "POS must be >= 1"),
    ("chr1\t100\t.\tA\tG\t.\tPASS\n", "found 7"),
    ("chr1\t100\t.\tA\tG\t.\tPASS\t.\n", "found 8"),
    ("chr1\t100\t.\tA\tG\t.\tPASS\t.\tGT\n", "found 9"),
    ("chr1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\n", "found 10"),
    ("chr1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t0/1\t1/1\n", "found 12"),
    ("chr1\t100\t.\tA\tG\t.\tPASS\t.\tGT\tX/Y\t1|1\n", "bad GT 'X/Y'"),
    ("chr1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/5\t1|1\n", "allele 5"),
    ("chr1\t100\t.\tAXZ\tG\t.\tPASS\t.\tGT\t0/1\t1|1\n", "REF 'AXZ'"),
    ("chr1\t100\t.\t.\tG\t.\tPASS\t.\tGT\t0/1\t1|1\n", "REF '.'"),
    ("chr1\t100\t.\tA\tQ\t.\tPASS\t.\tGT\t0/1\t1|1\n", "ALT allele 'Q'"),
    ("chr1\t100\t.\tA\tA\t.\tPASS\t.\tGT\t0/1\t1|1\n", "identical to REF"),
    ("chr 1\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t1|1\n", "CHROM 'chr 1'"),
    ("\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t1|1\n", "CHROM ''"),
    ("chr1,2\t100\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t1|1\n", "CHROM 'chr1,2'"),
]


@pytest.mark.parametrize("compress", [False, True])
@pytest.mark.parametrize("bad,problem", BAD_LINES)
def test_malformed_record_names_file_and_line(tmp_path, bad, problem, compress):
    text = header() + GOOD + GOOD + bad + GOOD
    p = bgzip(tmp_path, text) if compress else write(tmp_path, text)
    # the header is 6 lines; the bad record is line 9
    for read in (lambda v: v.genotypes(), lambda v: list(v.calls("S1"))):
        with pytest.raises(MalformedInputError) as ei:
            read(open_vcf(p))
        err = ei.value
        assert err.line == 9, str(err)
        assert err.path == str(p)
        assert problem in err.problem
        assert err.exit_code == 4
        assert f"{p}:9: " in str(err)


def test_malformed_record_in_indexed_region(tmp_path):
    text = header() + GOOD + rec("chr1", 200, "AXZ", "G", "0/1", "0/0") + GOOD.replace(
        "100", "300")
    p = bgzip(tmp_path, text, index="tbi")
    assert len(open_vcf(p).genotypes(["chr1:250-400"]).pos) == 1
    with pytest.raises(MalformedInputError) as ei:
        open_vcf(p).genotypes(["chr1:150-250"])
    assert ei.value.line == 8 and "AXZ" in ei.value.problem


def test_htslib_is_silenced(tmp_path, capfd):
    p = write(tmp_path, header() + GOOD + "chr1\tABC\t.\tA\tG\t.\tPASS\t.\tGT\t0/1\t1|1\n")
    with pytest.raises(MalformedInputError):
        open_vcf(p).genotypes()
    assert "vcf_parse" not in capfd.readouterr().err


@pytest.mark.parametrize("text,line", [
    ("#CHROM\tPOS\n", 1),
    ("##fileformat=VCFv4.2\nchr1\t1\n", 2),
    ("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\n", 2),
    ("##fileformat=VCFv4.2\n##contig=<ID=chr1>\n", 2),
])
def test_malformed_header(tmp_path, text, line):
    with pytest.raises(MalformedInputError) as ei:
        open_vcf(write(tmp_path, text))
    assert ei.value.line == line


def test_missing_unreadable_and_corrupt(tmp_path):
    with pytest.raises(InputMissingError) as ei:
        open_vcf(tmp_path / "nope.vcf")
    assert ei.value.exit_code == 3 and "nope.vcf" in str(ei.value)
    with pytest.raises(InputMissingError):
        open_vcf(tmp_path)
    if os.geteuid() != 0:  # root reads anything
        p = write(tmp_path, header() + GOOD, "locked.vcf")
        p.chmod(0)
        with pytest.raises(InputMissingError):
            open_vcf(p)
    body = "".join(rec("chr1", 100 + i, "A", "G", "0/1", "1|1") for i in range(5000))
    good = bgzip(tmp_path, header() + body)
    raw = good.read_bytes()
    trunc = tmp_path / "trunc.vcf.gz"
    trunc.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(MalformedInputError, match="truncated") as ei:
        open_vcf(trunc).genotypes()
    assert ei.value.exit_code == 4 and ei.value.line is not None
    corrupt = tmp_path / "corrupt.vcf.gz"
    corrupt.write_bytes(raw[:40] + bytes(200) + raw[240:])
    with pytest.raises(MalformedInputError):
        open_vcf(corrupt).genotypes()
    notvcf = write(tmp_path, "hello\n", "x.vcf")
    with pytest.raises(MalformedInputError) as ei:
        open_vcf(notvcf)
    assert ei.value.line == 1


def test_errors_are_genoma_errors(tmp_path):
    p = write(tmp_path, header() + GOOD + "junk\n")
    with pytest.raises(GenomaError):
        open_vcf(p).genotypes()


def test_read_sample_list(tmp_path):
    p = write(tmp_path, "# comment\nA\n\n B extra\n", "s.txt")
    assert read_sample_list(p) == ["A", "B"]
    with pytest.raises(MalformedInputError):
        read_sample_list(write(tmp_path, "# none\n", "e.txt"))
    with pytest.raises(InputMissingError):
        read_sample_list(tmp_path / "missing.txt")


def test_real_panel_genotypes_shape():
    p = require_shared("pgx", "1kgp_grch38", "CYP2D6.vcf.gz")
    vf = open_vcf(p, samples=["HG00096", "NA12878"], build="GRCh38")
    g = vf.genotypes(["chr22:42126000-42131000"])
    assert g.samples == ["HG00096", "NA12878"]
    assert g.n_sites > 50 and g.gt.shape == (g.n_sites, 2, 2)
    assert set(np.unique(g.gt)) <= {-1, 0, 1, 2}
    # phased panel: every called diploid genotype is phased
    assert g.phased[(g.gt >= 0).all(axis=2)].all()


def test_unindexed_multi_region_read_is_one_pass_and_each_record_once(tmp_path: Path) -> None:
    """Without an index, several regions are served by one pass; overlapping regions
    never return a record twice."""
    body = "".join(f"chr1\t{p}\t.\tA\tG\t50\tPASS\t.\tGT\t0|1\n" for p in range(100, 1100, 100))
    path = tmp_path / "multi.vcf"
    path.write_text("##fileformat=VCFv4.2\n" + GRCH38_CONTIGS
                    + '##FORMAT=<ID=GT,Number=1,Type=String,Description="GT">\n'
                    + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n" + body)
    with open_vcf(path) as v:
        calls = {"n": 0}
        real = v._full_pass_reader

        def counting():
            calls["n"] += 1
            return real()

        v._full_pass_reader = counting
        g = v.genotypes(["chr1:150-350", "1:300-450", "chr1:900-900", "chr2:1-10"])
    assert calls["n"] == 1
    assert g.pos.tolist() == [200, 300, 400, 900]


def test_htslib_log_level_restored_while_the_caller_runs(tmp_path):
    """Records are read in silenced batches, but the caller's code between records runs
    with htslib's own log level (its messages are not swallowed)."""
    from genoma.io.vcf import _hts

    lib = _hts()
    if not lib:
        pytest.skip("htslib's log level is not reachable through ctypes in this build")
    text = header() + "".join(rec("chr1", 100 + i, "A", "G", "0/1", "0/0") for i in range(600))
    p = bgzip(tmp_path, text)
    before = lib.hts_get_log_level()
    assert before != 0
    seen = set()
    n = 0
    with open_vcf(p) as v:
        for _ in v.calls("S1"):
            seen.add(lib.hts_get_log_level())
            n += 1
    assert n == 600 and seen == {before}
