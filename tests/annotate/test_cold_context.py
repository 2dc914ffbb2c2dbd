"""Cheap first sight of a transcript: NumPy translation and a lazy transcript context.

The fast paths are compared with their definitions (codon-by-codon translation, the
flags and protein read off the fully built cDNA) on random sequences and transcripts of
both strands, windows that hold the transcript and windows that do not.
"""

from __future__ import annotations

import random

import numpy as np
import pytest

from genoma.annotate.consequence import TranscriptContext
from genoma.annotate.hgvs import _MITO, CODON_TABLE, translate
from genoma.annotate.sequence import revcomp
from genoma.annotate.transcripts import Transcript


def _translate_ref(seq: str, to_stop: bool, partial: bool, mito: bool) -> str:
    """Codon-by-codon definition of :func:`translate`."""
    table = _MITO if mito else CODON_TABLE
    out = []
    for i in range(0, len(seq) - len(seq) % 3, 3):
        aa = table.get(seq[i:i + 3], "X")
        out.append(aa)
        if to_stop and aa == "*":
            return "".join(out)
    if partial and len(seq) % 3:
        out.append("X")
    return "".join(out)


@pytest.mark.parametrize("alphabet", ["ACGT", "ACGTTTTAAGA", "ACGTN", "ACGTNRYacgt", "ACGTé"])
def test_translate_equals_codon_by_codon(alphabet: str):
    rng = random.Random(len(alphabet))
    lengths = [0, 1, 2, 3, 4, 5, 6, 87, 88, 89, 90, 91, 92, 93, 147, 148, 149, 150, 151, 152, 153, 1799, 1800, 1801, 1803, 3601, 5000]
    for n in lengths + [rng.randrange(0, 6000) for _ in range(40)]:
        seq = "".join(rng.choice(alphabet) for _ in range(n))
        for to_stop in (False, True):
            for partial in (False, True):
                for mito in (False, True):
                    got = translate(seq, to_stop=to_stop, partial=partial, mito=mito)
                    assert got == _translate_ref(seq, to_stop, partial, mito), (n, to_stop, partial, mito)


def test_translate_stop_at_chunk_edges():
    # a stop codon as the first / last codon of a 1800-base chunk, after a long ORF
    body = "GCT" * 1200
    for at in (0, 597, 599, 600, 601, 1199):
        seq = body[:3 * at] + "TAG" + body[3 * at + 3:]
        assert translate(seq, to_stop=True) == "A" * at + "*"
        assert translate(seq, to_stop=True, mito=True) == "A" * at + "*"
    assert translate(body + "AG", to_stop=True) == "A" * 1200 + "X"
    assert translate(body + "AG", to_stop=True, partial=False) == "A" * 1200


def _random_transcript(rng: random.Random, genome: str, strand: int, tid: str) -> Transcript:
    n_ex = rng.choice([1, 1, 2, 3, 6])
    pos = rng.randrange(200, 400)
    starts, ends = [], []
    for _ in range(n_ex):
        ln = rng.choice([1, 2, 3, 4, 5, 7, 40, 151])
        starts.append(pos)
        ends.append(pos + ln - 1)
        pos += ln + rng.randrange(1, 60)
    exons = [g for s, e in zip(starts, ends, strict=True) for g in range(s, e + 1)]
    cds_start = cds_end = None
    phase = 0
    if rng.random() < 0.8 and len(exons) >= 1:
        i, j = sorted(rng.sample(range(len(exons)), 2)) if len(exons) > 1 else (0, 0)
        cds_start, cds_end = exons[i], exons[j]
        phase = rng.choice([0, 0, 0, 1, 2])
    return Transcript(id=tid, chrom=rng.choice(["chr1", "chr1", "chrM"]), strand=strand,
                      start=starts[0], end=ends[-1], protein_id="P" + tid if cds_start else None,
                      exon_starts=np.asarray(starts, np.int64), exon_ends=np.asarray(ends, np.int64),
                      cds_start=cds_start, cds_end=cds_end, start_phase=phase)


def _genome(rng: random.Random) -> str:
    # codon-rich sequence: frequent ATG starts and stop codons
    words = ["ATG", "TAA", "TAG", "TGA", "AGA", "AGG", "GCT", "CAG", "N", "A", "C", "G", "T"]
    return "".join(rng.choice(words) for _ in range(900))[:2000]


def _expected(tx: Transcript, seq: str, off: int) -> tuple[str, bool, bool, str, str]:
    """cDNA, start_nf, end_nf, protein, protein_utr from their definitions."""
    ctx = TranscriptContext(tx, seq, off)
    cdna = "".join(seq[s - 1 - off:e - off] for s, e in zip(ctx.gs, ctx.ge, strict=True))
    cdna = cdna if tx.strand == 1 else revcomp(cdna)
    if ctx.ccs is None or ctx.cce is None:
        return cdna, False, False, "", ""
    mito = tx.chrom == "chrM"
    cds = "N" * ctx.pad + cdna[ctx.ccs - 1:ctx.cce]
    prot = _translate_ref(cds, True, False, mito)
    utr = _translate_ref("N" * ctx.pad + cdna[ctx.ccs - 1:], True, False, mito)
    start_nf = bool(ctx.pad) or cds[:3] != "ATG"
    end_nf = not prot.endswith("*") or len(cds) % 3 != 0
    return cdna, start_nf, end_nf, prot, utr


def test_lazy_context_equals_definitions():
    rng = random.Random(11)
    n_lazy = 0
    for it in range(1500):
        genome = _genome(rng)
        tx = _random_transcript(rng, genome, rng.choice([1, -1]), f"T{it}")
        # windows: whole sequence, a window covering the transcript, one cut inside it
        whole = (0, genome)
        lo, hi = tx.start - 1 - rng.randrange(0, 50), tx.end + rng.randrange(0, 50)
        cover = (lo, genome[lo:hi])
        cut = (tx.start + 1, genome[tx.start + 1:tx.end - 2])
        for off, seq in (whole, cover, cut):
            cdna, start_nf, end_nf, prot, utr = _expected(tx, seq, off)
            for order in range(3):  # flags first, protein first, cDNA first
                ctx = TranscriptContext(tx, seq, off)
                if order == 1 and ctx.ccs is not None:
                    assert ctx.protein == prot
                if order == 2:
                    assert ctx.cdna == cdna
                assert ctx.start_nf == start_nf
                if ctx.ccs is not None:
                    assert ctx.end_nf == end_nf
                    if order == 0 and not end_nf and off != cut[0] and ctx._cdna is None:
                        n_lazy += 1  # the flags came from the genome alone
                    assert ctx.protein_utr == utr
                    assert ctx.protein == prot
                    assert ctx.cds == "N" * ctx.pad + cdna[ctx.ccs - 1:ctx.cce]
                assert ctx.cdna == cdna
                for _ in range(5):
                    a = rng.randrange(1, len(cdna) + 3)
                    b = rng.randrange(a - 2, len(cdna) + 4)
                    fresh = TranscriptContext(tx, seq, off)
                    assert fresh._cdna_slice(a, b) == cdna[a - 1:b]
    assert n_lazy > 50  # complete CDSs were classified without building their cDNA
