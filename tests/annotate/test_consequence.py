"""Hand-made transcripts: consequences, HGVS, bad input (plus and minus strand)."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pysam
import pytest

from genoma.annotate.consequence import Allele, TranscriptContext, annotate_allele, vep_alleles
from genoma.annotate.sequence import Reference, revcomp
from genoma.annotate.transcripts import read_transcripts
from genoma.errors import MalformedInputError

# plus-strand transcript TP: exons 101-200, 301-400, 501-600; CDS 151..551 (67 codons)
# minus-strand transcript TM: exons 1101-1200, 1301-1400 (tx order: 1301-1400 first); CDS 1350..1130
CODONS = ["ATG", "GCT", "TGG", "CAG", "AAA", "CTG"]


def _genome() -> str:
    rng = random.Random(7)
    seq = [rng.choice("ACGT") for _ in range(8000)]

    def put(pos1: int, s: str) -> None:
        seq[pos1 - 1:pos1 - 1 + len(s)] = list(s)

    body = [c for c in (rng.choice("ACGT") + rng.choice("ACGT") + rng.choice("ACGT") for _ in range(400))
            if c not in ("TAA", "TAG", "TGA")]
    cds = "".join(CODONS + body[: 66 - len(CODONS)]) + "TAA"
    assert len(cds) == 201
    # exon pieces of the CDS
    put(151, cds[:50])
    put(301, cds[50:150])
    put(501, cds[150:201])
    # canonical splice sites
    put(201, "GTAAGT")
    put(286, "TTTTTTTTTTTTCAG")
    put(401, "GT")
    put(499, "AG")
    put(552, "CCCCCCCCCCCC")  # 3' UTR without stop in frame
    # minus strand transcript: tx-orientation sequence
    mcds = "ATG" + "GCA" + "".join(body[20:40]) + "TGA"
    tx = "A" * 50 + mcds[:51] + "GTAAGT"  # exon 1 (1400..1301) then intron start
    # exon1 genomic 1301-1400, tx order positions 1..100 ; CDS starts at tx 51 (genomic 1350)
    ex1 = ("C" * 49 + "A") + mcds[:50]  # 100 bases
    ex2 = mcds[50:] + "G" * (100 - len(mcds[50:]))
    put(1301, revcomp(ex1))
    put(1101, revcomp(ex2))
    put(1295, revcomp("GTAAGT"))  # intron start (tx orientation) at genomic 1300..1295
    put(1201, revcomp("CAG"))
    del tx
    return "".join(seq)


GFF = """##gff-version 3
chr1\t.\tgene\t101\t600\t.\t+\t.\tID=gene:GP;Name=GENEP;biotype=protein_coding
chr1\t.\tmRNA\t101\t600\t.\t+\t.\tID=transcript:TP;Parent=gene:GP;biotype=protein_coding;version=1
chr1\t.\texon\t101\t200\t.\t+\t.\tParent=transcript:TP
chr1\t.\texon\t301\t400\t.\t+\t.\tParent=transcript:TP
chr1\t.\texon\t501\t600\t.\t+\t.\tParent=transcript:TP
chr1\t.\tCDS\t151\t200\t.\t+\t0\tID=CDS:PP;Parent=transcript:TP;protein_id=PP
chr1\t.\tCDS\t301\t400\t.\t+\t1\tID=CDS:PP;Parent=transcript:TP;protein_id=PP
chr1\t.\tCDS\t501\t551\t.\t+\t2\tID=CDS:PP;Parent=transcript:TP;protein_id=PP
chr1\t.\tgene\t1101\t1400\t.\t-\t.\tID=gene:GM;Name=GENEM;biotype=protein_coding
chr1\t.\tmRNA\t1101\t1400\t.\t-\t.\tID=transcript:TM;Parent=gene:GM;biotype=protein_coding;version=2
chr1\t.\texon\t1101\t1200\t.\t-\t.\tParent=transcript:TM
chr1\t.\texon\t1301\t1400\t.\t-\t.\tParent=transcript:TM
chr1\t.\tCDS\t1301\t1350\t.\t-\t0\tID=CDS:PM;Parent=transcript:TM;protein_id=PM
chr1\t.\tCDS\t1101\t1200\t.\t-\t1\tID=CDS:PM;Parent=transcript:TM;protein_id=PM
"""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    d = tmp_path_factory.mktemp("ann")
    g = _genome()
    fa = d / "ref.fa"
    fa.write_text(">chr1\n" + "\n".join(g[i:i + 60] for i in range(0, len(g), 60)) + "\n")
    pysam.faidx(str(fa))
    gff = d / "tx.gff3"
    gff.write_text(GFF)
    txs = {t.id: t for t in read_transcripts(gff)}
    ref = Reference(fa)
    return g, txs, ref, d


def _ann(world, tid: str, pos: int, ref: str | None, alt: str):
    g, txs, reference, _ = world
    if ref is None:
        ref = g[pos - 1]
    assert g[pos - 1:pos - 1 + len(ref)] == ref
    ctx = TranscriptContext(txs[tid], reference.chromosome("chr1"))
    return annotate_allele(vep_alleles(pos, ref, [alt])[0], ctx)


def test_models(world):
    _, txs, _, _ = world
    tp, tm = txs["TP"], txs["TM"]
    assert tp.strand == 1 and tm.strand == -1
    assert (tp.cds_start, tp.cds_end) == (151, 551)
    assert tp.versioned_id == "TP.1" and tp.gene_name == "GENEP" and tp.n_exons == 3


def test_missense_synonymous_stop(world):
    r = _ann(world, "TP", 154, "G", "C")  # c.4G>C, GCT>CCT
    assert r.terms == ["missense_variant"] and r.hgvsc == "TP.1:c.4G>C"
    assert r.hgvsp == "PP:p.Ala2Pro" and r.codons == "Gct/Cct" and r.amino_acids == "A/P"
    assert r.protein_position == "2" and r.cds_position == "4" and r.impact == "MODERATE"
    s = _ann(world, "TP", 156, "T", "C")
    assert s.terms == ["synonymous_variant"] and s.hgvsp == "PP:p.Ala2%3D"
    x = _ann(world, "TP", 159, "G", "A")  # TGG>TGA
    assert x.terms == ["stop_gained"] and x.hgvsp == "PP:p.Trp3Ter" and x.impact == "HIGH"


def test_start_and_stop_lost(world):
    r = _ann(world, "TP", 151, "A", "G")
    assert r.terms == ["start_lost"] and r.hgvsp == "PP:p.Met1?"
    g = world[0]
    stop_g = 549  # c.199 = first base of TAA (exon 3 starts at c.151 = 501)
    assert g[548:551] == "TAA"
    s = _ann(world, "TP", stop_g, "T", "C")
    assert "stop_lost" in s.terms
    assert re.fullmatch(r"PP:p\.Ter67GlnextTer(\d+|\?)", s.hgvsp)


def test_indels(world):
    g = world[0]
    # frameshift: delete c.10 (C of CAG); anchor base at c.9
    r = _ann(world, "TP", 159, g[158:160], g[158])
    assert r.terms == ["frameshift_variant"] and r.hgvsc == "TP.1:c.10del"
    assert re.fullmatch(r"PP:p\.Gln4\w{3}fsTer(\d+|\?)", r.hgvsp), r.hgvsp
    # in-frame deletion of codon 5 (AAA) : anchor c.12 (G)
    d = _ann(world, "TP", 162, g[161:165], g[161])
    assert "inframe_deletion" in d.terms and d.hgvsc == "TP.1:c.13_15del" and d.hgvsp == "PP:p.Lys5del"
    # duplication of c.12 (G; c.13 is A) is written dup, 3'-shifted
    u = _ann(world, "TP", 162, "G", "GG")
    assert u.hgvsc == "TP.1:c.12dup" and "frameshift_variant" in u.terms
    # delins (MNV) c.4_5GC>TT: Ala2Phe
    m = _ann(world, "TP", 154, "GC", "TT")
    assert m.hgvsc == "TP.1:c.4_5delinsTT" and m.hgvsp == "PP:p.Ala2Phe" and m.terms == ["missense_variant"]


def test_splice_and_noncoding_regions(world):
    g = world[0]
    alt = lambda b: "A" if b != "A" else "C"  # noqa: E731
    d = _ann(world, "TP", 201, "G", "A")
    assert d.terms == ["splice_donor_variant"] and d.hgvsc == "TP.1:c.50+1G>A" and d.intron == "1/2"
    a = _ann(world, "TP", 300, "G", "A")
    assert a.terms == ["splice_acceptor_variant"] and a.hgvsc == "TP.1:c.51-1G>A"
    r = _ann(world, "TP", 199, g[198], alt(g[198]))
    assert "splice_region_variant" in r.terms and r.exon == "1/3"
    f = _ann(world, "TP", 205, g[204], alt(g[204]))
    assert f.terms == ["splice_donor_5th_base_variant", "intron_variant"]
    p = _ann(world, "TP", 290, "T", "C")
    assert p.terms == ["splice_polypyrimidine_tract_variant", "intron_variant"]
    i = _ann(world, "TP", 250, g[249], alt(g[249]))
    assert i.terms == ["intron_variant"] and i.hgvsc.startswith("TP.1:c.50+50")
    u5 = _ann(world, "TP", 120, g[119], alt(g[119]))
    assert u5.terms == ["5_prime_UTR_variant"] and u5.hgvsc.startswith("TP.1:c.-31")
    u3 = _ann(world, "TP", 560, "C", "T")
    assert u3.terms == ["3_prime_UTR_variant"] and u3.hgvsc == "TP.1:c.*9C>T"
    up = _ann(world, "TP", 50, g[49], alt(g[49]))
    assert up.terms == ["upstream_gene_variant"] and up.distance == "51" and up.hgvsc == ""
    dn = _ann(world, "TP", 700, g[699], alt(g[699]))
    assert dn.terms == ["downstream_gene_variant"] and dn.distance == "100"
    far = Allele(6700, 6700, g[6699], alt(g[6699]), alt(g[6699]))
    assert annotate_allele(far, TranscriptContext(world[1]["TP"], g)) is None


def test_minus_strand(world):
    g = world[0]
    # c.1 of TM is genomic 1350 (A of ATG on the minus strand => T on the plus strand)
    assert g[1349] == "T"
    s = _ann(world, "TM", 1350, "T", "C")
    assert s.terms == ["start_lost"] and s.hgvsc == "TM.2:c.1A>G" and s.hgvsp == "PM:p.Met1?"
    m = _ann(world, "TM", 1346, g[1345], "A" if g[1345] != "A" else "G")  # c.5 (GCA codon 2)
    assert m.hgvsc.startswith("TM.2:c.5") and m.protein_position == "2"
    up = _ann(world, "TM", 1450, g[1449], "A" if g[1449] != "A" else "C")
    assert up.terms == ["upstream_gene_variant"] and up.distance == "50"
    d = _ann(world, "TM", 1300, g[1299], "A" if g[1299] != "A" else "C")
    assert d.terms == ["splice_donor_variant"] and d.hgvsc.startswith("TM.2:c.50+1")


def test_malformed_gff3_names_line(tmp_path: Path):
    bad = tmp_path / "bad.gff3"
    bad.write_text(GFF.replace("chr1\t.\texon\t301\t400", "chr1\t.\texon\tx301\t400", 1))
    with pytest.raises(MalformedInputError) as ei:
        read_transcripts(bad)
    assert ei.value.line == 5 and ei.value.exit_code == 4
    short = tmp_path / "short.gff3"
    short.write_text(GFF + "chr1\tonly\tthree\n")
    with pytest.raises(MalformedInputError, match=r"short\.gff3:16"):
        read_transcripts(short)


def test_vcf_ref_mismatch_flagged_and_cli(world, tmp_path: Path):
    import typer
    from typer.testing import CliRunner

    from genoma.cli.annotate import register

    g, _, _, d = world
    vcf = tmp_path / "in.vcf"
    wrong = "A" if g[153] != "A" else "C"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=8000>\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"
        f"chr1\t154\t.\tG\tC\t.\tPASS\t.\n"
        f"chr1\t154\t.\t{wrong}\tT\t.\tPASS\t.\n"
        f"chr1\t7500\t.\t{g[7499]}\t{'A' if g[7499] != 'A' else 'C'}\t.\t.\t.\n"
    )
    app = typer.Typer()
    register(app)
    app.command("noop")(lambda: None)
    out = tmp_path / "out.vcf.gz"
    res = CliRunner().invoke(app, ["annotate", str(vcf), "--fasta", str(d / "ref.fa"),
                                   "--transcripts", str(d / "tx.gff3"), "-o", str(out), "--json"])
    assert res.exit_code == 0, res.output
    from cyvcf2 import VCF

    recs = list(VCF(str(out)))
    assert "Consequence annotations from genoma. Format: Allele|Consequence|IMPACT|SYMBOL" in \
        open_header(out)
    assert recs[0].FILTER is None and "TP.1:c.4G>C" in recs[0].INFO["CSQ"]
    assert recs[1].FILTER == "REF_MISMATCH"
    assert recs[2].INFO["CSQ"].split("|")[1] == "intergenic_variant"
    bad = tmp_path / "bad.gff3"
    bad.write_text(GFF.replace("\t+\t0\tID=CDS", "\t+\t0", 1).replace("chr1\t.\tgene\t101", "chr1\t.\tgene\t101\t", 1))
    res = CliRunner().invoke(app, ["annotate", str(vcf), "--fasta", str(d / "ref.fa"),
                                   "--transcripts", str(bad), "-o", str(tmp_path / "o2.vcf.gz")])
    assert res.exit_code == 4


def open_header(path: Path) -> str:
    import gzip

    with gzip.open(path, "rt") as fh:
        return "".join(line for line in fh if line.startswith("##"))
