"""The faster annotation paths (issue 4, speed) give the same output as the reference
paths: deep-intronic indels formatted in bulk vs the per-pair HGVS code, the block text
writer vs the per-record writer, bulk line checks vs line-by-line errors."""

from __future__ import annotations

import gc
import gzip
import random
from pathlib import Path

import numpy as np
import pytest
from _annotate_world import write_world

import genoma.annotate.csq as csq_mod
from genoma.annotate.csq import Annotator, _unique, annotate_vcf
from genoma.annotate.hgvs import protein_change
from genoma.annotate.sequence import Reference
from genoma.annotate.transcripts import read_transcripts
from genoma.errors import MalformedInputError

_TX = [  # id, strand, exons, cds (or None), biotype
    ("PA", "+", [(1001, 1200), (3001, 3200), (6001, 6300)], (1101, 6100), "protein_coding"),
    ("MB", "-", [(8001, 8200), (10001, 10200), (13001, 13300)], (8101, 13100), "protein_coding"),
    ("NC", "+", [(15001, 15100), (17001, 17200)], None, "lincRNA"),
]
# repeats running from deep inside an intron up to (and into) the next / previous exon,
# so that 3'-shifted indels leave the deep-intronic zone (or stay in it)
_REPEATS = [(2950, "T" * 52), (2400, "CA" * 12), (8201, "G" * 45), (9500, "TTA" * 8), (16960, "AC" * 25),
            (5950, "A" * 52)]


def _world(tmp: Path) -> tuple[str, Path, Path]:
    rng = random.Random(5)
    g = list("".join(rng.choice("ACGT") for _ in range(30000)))
    for start, rep in _REPEATS:
        g[start - 1:start - 1 + len(rep)] = rep
    seq = "".join(g)
    fa, gff = write_world(tmp, seq, _TX, version=2)
    return seq, fa, gff


def _indels_in_repeats(g: str) -> tuple[list[int], list[str], list[list[str]]]:
    """Deletions, insertions, duplications and MNVs at every offset of every repeat."""
    recs = []
    for start, rep in _REPEATS:
        for p in range(start - 3, start + len(rep) + 2):
            a = g[p - 1]
            recs.append((p, g[p - 1:p + 1], [a]))  # 1-base deletion
            recs.append((p, g[p - 1:p + 3], [a]))  # 3-base deletion
            recs.append((p, a, [a + g[p:p + 2]]))  # duplication of the next 2 bases
            recs.append((p, a, [a + "GT"]))  # insertion
            recs.append((p, g[p - 1:p + 2], ["ACG"[: 3]]))  # MNV / delins
            recs.append((p, a, [a + g[p], "T" if a != "T" else "C"]))  # multi-allelic
    recs.sort(key=lambda r: r[0])
    return [r[0] for r in recs], [r[1] for r in recs], [r[2] for r in recs]


def _annotate(models, fa: Path, pos, refs, alts, per_pair: bool) -> list:
    ann = Annotator(models, Reference(fa), per_pair=per_pair)
    out = []
    for i in range(0, len(pos), 500):
        out.extend(ann.annotate_batch("chr1", pos[i:i + 500], refs[i:i + 500], alts[i:i + 500]))
    return out


def test_deep_intronic_indels_in_bulk_equal_per_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    g, fa, gff = _world(tmp_path)
    models = read_transcripts(gff)
    pos, refs, alts = _indels_in_repeats(g)
    slow = _annotate(models, fa, pos, refs, alts, per_pair=True)
    calls = []
    real = csq_mod._hgvs
    monkeypatch.setattr(csq_mod, "_hgvs", lambda *a: calls.append(1) or real(*a))
    fast = _annotate(models, fa, pos, refs, alts, per_pair=False)
    assert [i for i, (a, b) in enumerate(zip(fast, slow, strict=True)) if a != b] == []
    entries = [e.split("|") for _, es in fast for e in es]
    deep = [e for e in entries if e[1].startswith("intron_variant") and e[10] and ">" not in e[10]]
    assert len(deep) > 100
    # most deep-intronic indels were formatted in bulk, some fell back (shifted out of the zone)
    assert 0 < len(calls) < len(deep)
    assert any(e[10].endswith("dup") for e in deep) and any(e[10].endswith("del") for e in deep)
    assert any("ins" in e[10] for e in deep) and any(e[20] for e in deep)  # HGVS_OFFSET set
    assert any(e[20].startswith("-") for e in deep)  # minus strand: negative offset


def _vcf(tmp: Path, body: list[str], samples: bool = False) -> Path:
    cols = "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO" + ("\tFORMAT\tS1" if samples else "")
    p = tmp / "in.vcf"
    p.write_text("##fileformat=VCFv4.2\n" + cols + "\n" + "".join(ln + "\n" for ln in body))
    return p


def test_block_writer_records(tmp_path: Path):
    """Every kind of record line: INFO '.', other keys, an old CSQ in several places,
    FORMAT / sample columns, REF mismatch, no ALT, intergenic, multi-allelic."""
    g, fa, gff = _world(tmp_path)
    bad = "A" if g[1149] != "A" else "C"
    alt = "G" if g[1149] != "G" else "T"
    specs = [
        (1150, g[1149], alt, ".", "."),
        (1151, g[1150], "A,C,T".replace(g[1150], "G"), "PASS", "DP=3"),
        (1152, g[1151], alt, ".", "CSQ=old"),
        (1153, g[1152], alt, ".", "X=1;CSQ=old;Y=2"),
        (1154, g[1153], alt, ".", "XCSQ=1"),
        (1150, bad, alt, "q10", "."),
        (1150, bad, alt, "PASS", "DP=1"),
        (1155, g[1154], ".", ".", "."),
        (29000, g[28999], alt, ".", "."),  # intergenic
        (2960, "TT", "T", ".", ""),
    ]
    ann = Annotator(read_transcripts(gff), Reference(fa))
    expect_csq = [",".join(e) for _, e in ann.annotate_batch(
        "chr1", [s[0] for s in specs], [s[1] for s in specs], [[] if s[2] == "." else s[2].split(",") for s in specs])]
    for samples in (False, True):
        body = [f"chr1\t{p}\tid{i}\t{r}\t{a}\t.\t{flt}\t{info}" + ("\tGT\t0/1" if samples else "")
                for i, (p, r, a, flt, info) in enumerate(specs)]
        out = tmp_path / f"out{samples}.vcf"
        stats = annotate_vcf(_vcf(tmp_path, body, samples), fa, gff, out, force=True)
        got = [ln.split("\t") for ln in out.read_text().splitlines() if not ln.startswith("#")]
        assert len(got) == len(specs) and stats.records == len(specs) and stats.ref_mismatch == 2
        assert stats.entries == sum(len(c.split(",")) for c in expect_csq if c)
        for (p, _, _, flt, info), rec, csq in zip(specs, got, expect_csq, strict=True):
            mismatch = rec[3] == bad and p == 1150
            want_filter = (flt + ";REF_MISMATCH" if flt not in (".", "PASS") else "REF_MISMATCH") if mismatch else flt
            assert rec[6] == want_filter
            if not csq:
                assert rec[7] == info
            elif info in (".", ""):
                assert rec[7] == "CSQ=" + csq
            elif "CSQ=old" in info:
                assert rec[7] == info.replace("CSQ=old", "CSQ=" + csq)
            else:
                assert rec[7] == info + ";CSQ=" + csq
            assert rec[8:] == (["GT", "0/1"] if samples else [])
    assert "intergenic_variant" in got[8][7]


def test_bulk_reader_errors_name_the_line(tmp_path: Path):
    g, fa, gff = _world(tmp_path)
    good = [f"chr1\t{p}\t.\t{g[p - 1]}\t{'A' if g[p - 1] != 'A' else 'C'}\t.\t.\t." for p in range(2000, 2600)]
    cases = [
        ([*good[:300], "chr1\tx12\t.\tA\tC\t.\t.\t.", *good[300:]], "integer POS", 303),
        ([*good[:10], "chr1\t12\t.\tA\tC\t.", *good[10:]], "8 tab-separated", 13),
        ([*good[:50], "#late header", *good[50:]], "header line after records", 53),
    ]
    for body, msg, line in cases:
        with pytest.raises(MalformedInputError, match=msg) as ei:
            annotate_vcf(_vcf(tmp_path, body), fa, gff, tmp_path / "o.vcf.gz", force=True)
        assert ei.value.line == line
    assert not (tmp_path / "o.vcf.gz").exists()
    # blank lines are skipped, chromosome changes start a new batch
    body = good[:5] + [""] + good[5:] + [ln.replace("chr1", "chr2", 1) for ln in good[:3]]
    stats = annotate_vcf(_vcf(tmp_path, body), fa, gff, tmp_path / "o.vcf.gz", batch=7)
    assert stats.records == 603 and stats.chrom_missing == {"chr2"}
    assert len([ln for ln in gzip.open(tmp_path / "o.vcf.gz", "rt") if not ln.startswith("#")]) == 603


def test_gc_state_restored(tmp_path: Path):
    g, fa, gff = _world(tmp_path)
    body = [f"chr1\t1150\t.\t{g[1149]}\tA\t.\t.\t."]
    assert gc.isenabled()
    annotate_vcf(_vcf(tmp_path, body), fa, gff, tmp_path / "a.vcf")
    assert gc.isenabled()
    with pytest.raises(MalformedInputError):
        annotate_vcf(_vcf(tmp_path, ["chr1\tbad"]), fa, gff, tmp_path / "b.vcf")
    assert gc.isenabled()
    gc.disable()
    try:  # a caller's disabled collector stays disabled
        annotate_vcf(_vcf(tmp_path, body), fa, gff, tmp_path / "c.vcf")
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_unique_and_protein_change_shortcuts():
    rng = np.random.default_rng(1)
    for n in (0, 1, 7, 500):
        x = rng.integers(0, 20, n)
        assert _unique(x).tolist() == np.unique(x).tolist()
    ref = "MKTAYIAKQRQISFVKSHFSRQ*"
    assert protein_change(ref, ref, frameshift=False, syn_pos=4) == "Ala4="
    assert protein_change(ref, ref[:3] + "V" + ref[4:], frameshift=False, syn_pos=4) == "Ala4Val"
    assert protein_change(ref, ref[:3] + "VV" + ref[5:], frameshift=False, syn_pos=4) == "Ala4_Tyr5delinsValVal"
    assert protein_change(ref, ref[:3] + "*", frameshift=False, syn_pos=4) == "Ala4Ter"


def _coding_world(tmp: Path) -> tuple[str, Path, Path]:
    """Complete CDSs (ATG … stop, no inner stop) on both strands, one NMD transcript and
    one without a protein id, so that the coding-SNV shortcut applies."""
    from genoma.annotate.hgvs import CODON_TABLE
    from genoma.annotate.sequence import revcomp

    rng = random.Random(8)
    sense = [c for c, a in CODON_TABLE.items() if a != "*"]
    g = list("".join(rng.choice("ACGT") for _ in range(12000)))

    def cds(n_codons: int) -> str:
        return "ATG" + "".join(rng.choice(sense) for _ in range(n_codons - 2)) + rng.choice(["TAA", "TAG", "TGA"])

    transcripts: list = []
    no_pid: set[str] = set()
    # (id, strand, exons, biotype, protein id): CDS from the first exon's 11th base to the
    # last exon's 10th-from-last base
    layout = [("CP", "+", [(1001, 1100), (2001, 2150), (3001, 3100)], "protein_coding", True),
              ("CM", "-", [(5001, 5100), (6001, 6151), (7001, 7100)], "protein_coding", True),
              ("CN", "+", [(9001, 9100), (10001, 10150), (11001, 11100)], "nonsense_mediated_decay", False)]
    for tid, strand, exons, bt, has_pid in layout:
        spans = [(a, b) for a, b in exons]
        spans[0] = (spans[0][0] + 10, spans[0][1]) if strand == "+" else spans[0]
        spans[-1] = (spans[-1][0], spans[-1][1] - 10) if strand == "+" else spans[-1]
        if strand == "-":
            spans[0] = (spans[0][0] + 10, spans[0][1])
            spans[-1] = (spans[-1][0], spans[-1][1] - 10)
        n = sum(b - a + 1 for a, b in spans)
        n -= n % 3
        spans[-1 if strand == "+" else 0] = ((spans[-1][0], spans[-1][1] - (sum(b - a + 1 for a, b in spans) - n))
                                             if strand == "+" else
                                             (spans[0][0] + (sum(b - a + 1 for a, b in spans) - n), spans[0][1]))
        seq = cds(n // 3)
        seq = seq if strand == "+" else revcomp(seq)
        i = 0
        for a, b in spans:
            g[a - 1:b] = seq[i:i + b - a + 1]
            i += b - a + 1
        transcripts.append((tid, strand, exons, (spans[0][0], spans[-1][1]), bt))
        if not has_pid:
            no_pid.add(tid)
    text = "".join(g)
    fa, gff = write_world(tmp, text, transcripts, without_protein_id=no_pid)
    return text, fa, gff


def test_coding_snv_shortcut_equals_per_pair(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    g, fa, gff = _coding_world(tmp_path)
    models = read_transcripts(gff)
    pos, refs, alts = [], [], []
    for a, b in [(1001, 3100), (5001, 7100), (9001, 11100)]:
        for p in range(a, b + 1):
            if g[p - 1] in "ACGT":
                pos.append(p)
                refs.append(g[p - 1])
                alts.append([x for x in "ACGT" if x != g[p - 1]])  # every substitution
    slow = _annotate(models, fa, pos, refs, alts, per_pair=True)
    calls: list[bool] = []
    real = csq_mod._coding_snv
    monkeypatch.setattr(csq_mod, "_coding_snv", lambda *a: calls.append(real(*a) is not None) or real(*a))
    fast = _annotate(models, fa, pos, refs, alts, per_pair=False)
    assert [i for i, (a, b) in enumerate(zip(fast, slow, strict=True)) if a != b] == []
    assert sum(calls) > 1000 and not all(calls)  # the shortcut did most, the per-pair path some
    entries = [e.split("|") for _, es in fast for e in es]
    kinds = {e[1] for e in entries if e[11]}
    assert {"missense_variant", "synonymous_variant", "stop_gained"} <= kinds
    assert "missense_variant&NMD_transcript_variant" in {e[1] for e in entries}
    assert any(e[11].endswith("%3D") for e in entries) and any(e[6] == "CN" and e[10] and not e[11]
                                                               for e in entries if e[1].startswith("missense"))


def test_bgzf_blocks_independent_of_write_sizes(tmp_path: Path):
    """Blocks are consecutive 0xFF00-byte pieces of the stream whatever the write sizes
    (pieces carried across writes, full blocks as views): same file bytes as one write."""
    import struct

    from genoma.annotate.bgzf import BgzfWriter

    rng = random.Random(4)
    text = "".join(rng.choice("ACGT|,;\t\n") for _ in range(900_000))
    one = tmp_path / "one.gz"
    with BgzfWriter(one, threads=1) as w:
        w.write(text)
    for threads in (1, 2):
        many = tmp_path / f"many{threads}.gz"
        with BgzfWriter(many, threads=threads) as w:
            i = 0
            while i < len(text):
                n = rng.choice([1, 7, 100, 0xFF00 - 1, 0xFF00, 0xFF00 + 1, 70_000, 300_000])
                w.write(text[i:i + n])
                i += n
        assert many.read_bytes() == one.read_bytes()
    data, sizes, off = one.read_bytes(), [], 0
    while off < len(data):  # walk the BGZF blocks: BSIZE in the extra field, ISIZE at the end
        bsize = struct.unpack_from("<H", data, off + 16)[0] + 1
        sizes.append(struct.unpack_from("<I", data, off + bsize - 4)[0])
        off += bsize
    assert sizes[-1] == 0 and set(sizes[:-2]) == {0xFF00} and sum(sizes) == len(text)
    assert gzip.decompress(data).decode() == text
