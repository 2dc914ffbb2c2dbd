"""The vectorised fast path gives the same CSQ entries as the per-pair path; helpers
(translation, alt protein, BGZF writer, reference windows) equal their simple versions."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pysam
import pytest
from _annotate_world import write_world

from genoma.annotate.bgzf import BgzfWriter
from genoma.annotate.consequence import TranscriptContext
from genoma.annotate.csq import Annotator, annotate_vcf
from genoma.annotate.fastpath import (
    PAIR_DEEP_INTRON,
    PAIR_DOWN,
    PAIR_OTHER,
    PAIR_UP,
    TranscriptArrays,
)
from genoma.annotate.hgvs import CODON_TABLE, protein_change, translate
from genoma.annotate.sequence import Reference
from genoma.annotate.transcripts import read_transcripts

from conftest import require_shared

_TX = [  # id, strand, exons, cds (or None), biotype
    ("TA", "+", [(1001, 1200), (3002, 3150), (6001, 6400)], (1101, 6100), "protein_coding"),
    ("TB", "-", [(9001, 9300), (12002, 12120), (15001, 15400)], (9201, 15050), "protein_coding"),
    ("TC", "+", [(17001, 17100), (17131, 17200), (19001, 19500)], None, "lincRNA"),
    ("TD", "-", [(2001, 2100), (4001, 4200)], (2051, 4150), "nonsense_mediated_decay"),
]


def _world(tmp: Path) -> tuple[str, Path, Path]:
    rng = random.Random(11)
    g = "".join(rng.choice("ACGT") for _ in range(26000))
    # homopolymers / repeats in introns so that indels shift (3' rule)
    g = g[:4999] + "AAAAAAAAAA" + g[5009:10999] + "CACACACACA" + g[11009:]
    fa, gff = write_world(tmp, g, _TX)
    return g, fa, gff


def _random_records(g: str, n: int, seed: int) -> tuple[list[int], list[str], list[list[str]]]:
    rng = random.Random(seed)
    pos, refs, alts = [], [], []
    for _ in range(n):
        p = rng.randrange(2, len(g) - 20)
        kind = rng.random()
        ref = g[p - 1]
        if kind < 0.55:
            alt = [rng.choice([b for b in "ACGT" if b != ref])]
        elif kind < 0.7:  # deletion
            ref = g[p - 1:p + rng.randrange(1, 6)]
            alt = [ref[0]]
        elif kind < 0.85:  # insertion (sometimes a duplication)
            ins = g[p:p + rng.randrange(1, 4)] if rng.random() < 0.5 else "".join(
                rng.choice("ACGT") for _ in range(rng.randrange(1, 5)))
            alt = [ref + ins]
        elif kind < 0.93:  # multi-allelic
            alt = [*[b for b in "ACGT" if b != ref][:2], ref + "T"]
        else:  # MNV
            ref = g[p - 1:p + 1]
            alt = ["".join(rng.choice("ACGT") for _ in range(2))]
        pos.append(p)
        refs.append(ref)
        alts.append(alt)
    for p in (2101, 10651):  # intron midpoints: HGVS ties go to the 5' exon (c.N+k)
        pos.append(p)
        refs.append(g[p - 1])
        alts.append(["A" if g[p - 1] != "A" else "C"])
    order = sorted(range(len(pos)), key=pos.__getitem__)
    return [pos[i] for i in order], [refs[i] for i in order], [alts[i] for i in order]


def _annotate(models, fa: Path, chrom: str, pos, refs, alts, per_pair: bool) -> list:
    ann = Annotator(models, Reference(fa), per_pair=per_pair)
    out = []
    for i in range(0, len(pos), 700):  # several batches: the reference window grows
        out.extend(ann.annotate_batch(chrom, pos[i:i + 700], refs[i:i + 700], alts[i:i + 700]))
    return out


def test_fast_path_equals_per_pair_synthetic(tmp_path: Path):
    g, fa, gff = _world(tmp_path)
    models = read_transcripts(gff)
    pos, refs, alts = _random_records(g, 4000, 3)
    # every class occurs
    arr = TranscriptArrays(models)
    import numpy as np

    cls = arr.classify(np.asarray(pos), np.asarray(pos), np.zeros(len(pos), np.int64)).cls
    assert {PAIR_UP, PAIR_DOWN, PAIR_DEEP_INTRON, PAIR_OTHER} <= set(cls.tolist())
    fast = _annotate(models, fa, "chr1", pos, refs, alts, per_pair=False)
    slow = _annotate(models, fa, "chr1", pos, refs, alts, per_pair=True)
    assert len(fast) == len(slow) == len(pos)
    diff = [(p, a, b) for p, a, b in zip(pos, fast, slow, strict=True) if a != b]
    assert diff == []
    entries = [e for _, es in fast for e in es]
    assert any("intron_variant|" in e and "+" in e.split("|")[10] for e in entries)
    assert any("dup|" in e for e in entries) and any("del|" in e for e in entries)
    assert any(e.split("|")[-1] == "1" for e in entries)


@pytest.mark.validation
def test_fast_path_equals_per_pair_chr21(tmp_path: Path):
    inp = require_shared("annotation", "variants", "GRCh38_chr21_dbsnp149_from_vepcache.vcf.gz")
    fasta = require_shared("reference", "GRCh38", "chr21.fa.gz")
    gff = require_shared("annotation", "transcripts", "ensembl_vep_test.chr21_full.gff3.gz")
    pos, refs, alts = [], [], []
    with pysam.TabixFile(str(inp)) as tb:
        for line in tb.fetch("21", 25_560_000, 25_600_000):
            f = line.split("\t")
            pos.append(int(f[1]))
            refs.append(f[3])
            alts.append(f[4].split(","))
    assert len(pos) > 3000
    models = read_transcripts(gff)
    fast = _annotate(models, fasta, "21", pos, refs, alts, per_pair=False)
    slow = _annotate(models, fasta, "21", pos, refs, alts, per_pair=True)
    assert [i for i, (a, b) in enumerate(zip(fast, slow, strict=True)) if a != b] == []


def _translate_simple(seq: str, to_stop: bool, partial: bool) -> str:
    out = []
    for i in range(0, len(seq) - len(seq) % 3, 3):
        aa = CODON_TABLE.get(seq[i:i + 3], "X")
        out.append(aa)
        if to_stop and aa == "*":
            return "".join(out)
    return "".join(out) + ("X" if partial and len(seq) % 3 else "")


def test_translate_and_alt_protein_equal_full_translation(tmp_path: Path):
    rng = random.Random(5)
    for _ in range(300):
        s = "".join(rng.choice("ACGTN" if rng.random() < 0.1 else "ACGT") for _ in range(rng.randrange(0, 4000)))
        for ts in (False, True):
            for pa in (False, True):
                assert translate(s, to_stop=ts, partial=pa) == _translate_simple(s, ts, pa)
    g, _fa, gff = _world(tmp_path)
    models = {t.id: t for t in read_transcripts(gff)}
    for tid in ("TA", "TB", "TD"):
        ctx = TranscriptContext(models[tid], g)
        cdna = ctx.cdna
        assert ctx.ccs is not None
        for _ in range(400):
            c_lo = rng.randrange(ctx.ccs - 3, len(cdna) + 1)
            kind = rng.random()
            if kind < 0.5:
                ln = rng.randrange(1, 4)
                alt = "".join(rng.choice("ACGT") for _ in range(ln))
                c_hi = c_lo + ln - 1
            elif kind < 0.75:
                alt, c_hi = "", c_lo + rng.randrange(0, 5)
            else:
                alt, c_hi = "".join(rng.choice("ACGT") for _ in range(rng.randrange(1, 7))), c_lo - 1
            c_hi = min(c_hi, len(cdna))
            alt_cdna = cdna[:c_lo - 1] + alt + cdna[c_hi:]
            coding = "N" * ctx.pad + alt_cdna[ctx.ccs - 1:]
            same = len(alt) == c_hi - c_lo + 1
            assert ctx.alt_protein(c_lo, alt, same, coding) == _translate_simple(coding, True, False)


def test_protein_change_prefix_suffix():
    assert protein_change("MAWQK*", "MAWRK*", frameshift=False, syn_pos=None) == "Gln4Arg"
    assert protein_change("MAKKKL*", "MAKKKKL*", frameshift=False, syn_pos=None) == "Lys5dup"
    assert protein_change("MAWQK*", "MAWQK*", frameshift=False, syn_pos=3) == "Trp3="


def test_bgzf_writer_roundtrip(tmp_path: Path):
    rng = random.Random(2)
    lines = [f"chr1\t{i}\t.\tA\tC\t.\t.\tX={''.join(rng.choice('ACGT|&') for _ in range(rng.randrange(0, 400)))}"
             for i in range(1, 6000)]
    text = "##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "\n".join(lines) + "\n"
    for threads, level in ((1, 1), (3, 6), (2, None)):
        out = tmp_path / f"x{threads}.vcf.gz"
        with BgzfWriter(out, threads=threads, level=level) as w:
            for i in range(0, len(text), 5000):
                w.write(text[i:i + 5000])
        assert gzip.open(out, "rt").read() == text
        pysam.tabix_index(str(out), preset="vcf", force=True)
        with pysam.TabixFile(str(out)) as tb:
            assert len(list(tb.fetch("chr1", 2999, 3001))) == 2
    with pytest.raises(ValueError):
        BgzfWriter(tmp_path / "bad.gz", level=12)
    empty = tmp_path / "e.gz"
    BgzfWriter(empty).close()
    assert gzip.open(empty, "rb").read() == b""


def test_reference_region_grows(tmp_path: Path):
    g, fa, _ = _world(tmp_path)
    ref = Reference(fa)
    ref.min_window = 50
    s1 = ref.region("chr1", 5000, 5100)
    assert s1[4999:5100] == g[4999:5100]
    s2 = ref.region("chr1", 5050, 20000)
    assert s2[5049:20000] == g[5049:20000] and s2[4999:5100] == g[4999:5100]
    s3 = ref.region("chr1", 10, 20)  # left of the window: reloads from the start
    assert s3[9:20] == g[9:20] and s3[4999:20000] == g[4999:20000]
    assert ref.region("chrUn", 1, 10) == ""


def test_annotate_vcf_text_path_keeps_columns(tmp_path: Path):
    g, fa, gff = _world(tmp_path)
    vcf = tmp_path / "in.vcf"
    wrong = "A" if g[1149] != "A" else "C"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##INFO=<ID=CSQ,Number=.,Type=String,Description=\"old\">\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
        f"chr1\t1150\trs1\t{g[1149]}\t{'A' if g[1149] != 'A' else 'C'}\t50\tPASS\tDP=3;CSQ=old\tGT\t0/1\n"
        f"chr1\t1150\trs2\t{wrong}\tT\t.\tq10\t.\tGT\t1/1\n"
        f"chr1\t25000\t.\t{g[24999]}\t.\t.\t.\t.\tGT\t0/0\n"
        "chr1\t26050\t.\tA\tG\t.\t.\t.\tGT\t0/1\n"  # beyond the contig: flagged, no crash
    )
    out = tmp_path / "out.vcf.gz"
    stats = annotate_vcf(vcf, fa, gff, out)
    lines = gzip.open(out, "rt").read().splitlines()
    header = [ln for ln in lines if ln.startswith("#")]
    recs = [ln.split("\t") for ln in lines if not ln.startswith("#")]
    assert sum("ID=CSQ" in h for h in header) == 1 and "Consequence annotations from genoma" in "".join(header)
    assert recs[0][:7] == ["chr1", "1150", "rs1", g[1149], recs[0][4], "50", "PASS"]
    assert recs[0][7].startswith("DP=3;CSQ=") and "old" not in recs[0][7] and recs[0][8:] == ["GT", "0/1"]
    assert recs[1][6] == "q10;REF_MISMATCH" and recs[1][9] == "1/1"
    assert recs[2][7] == "." and stats.records == 4 and stats.ref_mismatch == 2
    assert recs[3][6] == "REF_MISMATCH" and "intergenic_variant" in recs[3][7]


def test_annotate_vcf_workers_same_output(tmp_path: Path):
    g, fa, gff = _world(tmp_path)
    pos, refs, alts = _random_records(g, 3000, 9)
    vcf = tmp_path / "in.vcf"
    vcf.write_text("##fileformat=VCFv4.2\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "".join(
        f"chr1\t{p}\t.\t{r}\t{','.join(a)}\t.\t.\t.\n" for p, r, a in zip(pos, refs, alts, strict=True)))
    one, two = tmp_path / "one.vcf.gz", tmp_path / "two.vcf.gz"
    s1 = annotate_vcf(vcf, fa, gff, one, batch=400)
    s2 = annotate_vcf(vcf, fa, gff, two, batch=400, workers=2)
    assert gzip.open(one, "rt").read() == gzip.open(two, "rt").read()
    assert (s1.records, s1.entries, s1.alleles) == (s2.records, s2.entries, s2.alleles) == (3002, s1.entries, s1.alleles)
    assert s1.entries > 3000


def test_annotate_bcf_replaces_an_existing_csq_declaration(tmp_path: Path):
    """BCF input goes through cyvcf2: a VEP-style CSQ declaration already in the header
    is replaced by genoma's, not kept beside it (the header would describe old fields)."""
    g, fa, gff = _world(tmp_path)
    vcf = tmp_path / "in.vcf"
    vcf.write_text(
        "##fileformat=VCFv4.2\n##contig=<ID=chr1,length=26000>\n"
        "##INFO=<ID=CSQ,Number=.,Type=String,Description=\"Consequence annotations from Ensembl VEP. "
        "Format: Allele|Consequence\">\n##FORMAT=<ID=GT,Number=1,Type=String,Description=\"GT\">\n"
        "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tS1\n"
        f"chr1\t1150\trs1\t{g[1149]}\t{'A' if g[1149] != 'A' else 'C'}\t50\tPASS\tCSQ=A|old\tGT\t0/1\n")
    bcf = tmp_path / "in.bcf"
    with pysam.VariantFile(str(vcf)) as src, pysam.VariantFile(str(bcf), "wb", header=src.header) as dst:
        for rec in src:
            dst.write(rec)
    out = tmp_path / "out.vcf.gz"
    annotate_vcf(bcf, fa, gff, out)
    lines = gzip.open(out, "rt").read().splitlines()
    decl = [ln for ln in lines if ln.startswith("##INFO=<ID=CSQ,")]
    assert len(decl) == 1 and "genoma" in decl[0] and "Ensembl VEP" not in decl[0]
    rec = next(ln.split("\t") for ln in lines if not ln.startswith("#"))
    assert "CSQ=" in rec[7] and "old" not in rec[7]
