"""Concordance with Ensembl VEP 115.2 on a real chr21 window (MRPL39 / JAM2 region)."""

from __future__ import annotations

from pathlib import Path

import pysam
import pytest

from genoma.annotate.concordance import compare_csq, read_csq
from genoma.annotate.csq import annotate_vcf
from genoma.annotate.transcripts import read_transcripts

from conftest import require_shared

REGION = ("21", 25_585_000, 25_599_999)  # inside part1 of the VEP truth and the real sequence


@pytest.mark.validation
def test_vep115_concordance_window(tmp_path: Path):
    inp = require_shared("annotation", "variants", "GRCh38_chr21_dbsnp149_from_vepcache.vcf.gz")
    truth_vcf = require_shared("annotation", "variants",
                               "GRCh38_chr21_dbsnp149.VEP115_cache84_ensembl.part1_21-1-25600000.vcf.gz")
    fasta = require_shared("reference", "GRCh38", "chr21.fa.gz")
    bed = require_shared("reference", "GRCh38", "chr21.covered.bed")
    gff = require_shared("annotation", "transcripts", "ensembl_vep_test.chr21_full.gff3.gz")

    def extract(src: Path, dst: Path) -> int:
        n = 0
        with pysam.TabixFile(str(src)) as tb, open(dst, "w") as fh:
            fh.write("\n".join(tb.header) + "\n")
            for line in tb.fetch(*REGION):
                fh.write(line + "\n")
                n += 1
        return n

    n_in = extract(inp, tmp_path / "in.vcf")
    extract(truth_vcf, tmp_path / "truth.vcf")
    assert n_in > 1000
    annotate_vcf(tmp_path / "in.vcf", fasta, gff, tmp_path / "out.vcf.gz")
    _, truth = read_csq(tmp_path / "truth.vcf")
    _, test = read_csq(tmp_path / "out.vcf.gz")
    covered = [tuple(map(int, ln.split()[1:3])) for ln in bed.read_text().splitlines() if ln.strip()]
    txs = {t.id: t for t in read_transcripts(gff)}
    keep = {k for k, v in truth.items()
            if v["BIOTYPE"] == "protein_coding" and k[4] in txs
            and any(s < txs[k[4]].start and txs[k[4]].end <= e for s, e in covered)}
    assert len(keep) > 2000
    res = compare_csq(truth, test, keep)
    assert res.missing_in_test == 0
    assert res.rate("Consequence") >= 0.995, res.disagreements
    assert res.rate("HGVSc") >= 0.99, res.disagreements
    assert res.rate("HGVSp") >= 0.99, res.disagreements


def test_gtf_and_gff3_models_agree():
    d = require_shared("annotation", "transcripts")
    gtf = {t.id: t for t in read_transcripts(d / "ensembl_vep_test.chr21_24.0-27.0Mb.gtf.gz")}
    gff = {t.id: t for t in read_transcripts(d / "ensembl_vep_test.chr21_full.gff3.gz")}
    assert len(gtf) > 50 and set(gtf) <= set(gff)

    def key(t):
        return (t.chrom, t.strand, t.start, t.end, list(t.exon_starts), list(t.exon_ends),
                t.cds_start, t.cds_end, t.gene_name, t.biotype, t.version, t.protein_id)

    assert [i for i in gtf if key(gtf[i]) != key(gff[i])] == []
