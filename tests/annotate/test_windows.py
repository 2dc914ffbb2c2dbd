"""Reference windows: the annotator reads only the windows a batch needs (records and
the transcripts they touch), split at large gaps, with entries identical to one read of
the whole span."""

from __future__ import annotations

import gzip
import random
from pathlib import Path

import pytest
from _annotate_world import write_world

from genoma.annotate.csq import Annotator, _shift_indel
from genoma.annotate.model_cache import load_transcripts
from genoma.annotate.sequence import Reference
from genoma.annotate.transcripts import read_transcripts

from conftest import require_shared

_LEN = 2_200_000
_TX = [  # id, strand, exons, cds (or None), biotype
    ("TA", "+", [(10001, 10200), (12002, 12150), (15001, 15400)], (10101, 15100), "protein_coding"),
    ("TB", "-", [(1_000_001, 1_000_300), (1_003_002, 1_003_120), (1_006_001, 1_006_400)],
     (1_000_201, 1_006_050), "protein_coding"),
    ("TC", "+", [(2_000_001, 2_000_100), (2_000_131, 2_000_200), (2_002_001, 2_002_500)], None, "lincRNA"),
]
_LONG = ("TL", "+", [(11001, 11100), (1_100_001, 1_100_200)], None, "lincRNA")  # spans the first gap


def _world(tmp: Path, extra: tuple | None = None) -> tuple[str, Path, Path]:
    rng = random.Random(5)
    g = list(rng.choices("ACGT", k=_LEN))
    for k, p in enumerate((12100, 13500, 1_003_050, 1_004_500, 2_000_150)):  # indels shift (3' rule)
        g[p:p + 12] = "AAAAAAAAAAAA" if k % 2 == 0 else "CACACACACACA"
    seq = "".join(g)
    fa, gff = write_world(tmp, seq, [*_TX, *([extra] if extra else [])])
    return seq, fa, gff


def _records(g: str, seed: int) -> tuple[list[int], list[str], list[list[str]]]:
    """Calls around the genes (SNVs, deletions, insertions, MNVs), sorted."""
    rng = random.Random(seed)
    recs = []
    for _tid, _strand, exons, _cds, _bt in _TX:
        lo, hi = exons[0][0] - 6000, exons[-1][1] + 6000
        for _ in range(150):
            p = rng.randrange(lo, hi)
            ref = g[p - 1]
            kind = rng.random()
            if kind < 0.55:
                alt = [rng.choice([b for b in "ACGT" if b != ref])]
            elif kind < 0.75:
                ref = g[p - 1:p + rng.randrange(1, 6)]
                alt = [ref[0]]
            elif kind < 0.92:
                alt = [ref + (g[p:p + rng.randrange(1, 4)] if rng.random() < 0.5 else "T")]
            else:
                ref = g[p - 1:p + 1]
                alt = ["".join(rng.choices("ACGT", k=2))]
            recs.append((p, ref, alt))
        for p in (12100, 13500, 1_003_050, 1_004_500, 2_000_150):  # indels in the repeats
            if lo <= p <= hi:
                recs += [(p, g[p - 1:p + 3], [g[p - 1]]), (p + 4, g[p + 3], [g[p + 3] + g[p + 4:p + 6]])]
    recs.sort(key=lambda r: r[0])
    return [r[0] for r in recs], [r[1] for r in recs], [r[2] for r in recs]


def _run(models, fa: Path, pos, refs, alts, max_gap: int, per_pair: bool = False) -> tuple[list, int]:
    ann = Annotator(models, Reference(fa), per_pair=per_pair)
    ann.max_gap = max_gap
    return list(ann.annotate_batch("chr1", pos, refs, alts)), ann.reference.bases_read


def test_window_reads_only_the_requested_bases(tmp_path: Path):
    g, fa, _ = _world(tmp_path)
    ref = Reference(fa)
    ref.readahead = 1000
    off, seq = ref.window("chr1", 1_500_001, 1_500_100)
    assert off <= 1_500_000 and seq[1_500_000 - off:1_500_100 - off] == g[1_500_000:1_500_100]
    assert ref.bases_read == 1000  # not the 1.5 Mb before it
    assert ref.window("1", 1_500_050, 1_500_900) == (off, seq)  # inside: no read
    assert ref.bases_read == 1000
    off2, seq2 = ref.window("chr1", 1_500_500, 1_503_000)  # grows to the right: new bases only
    assert seq2[1_500_499 - off2:1_503_000 - off2] == g[1_500_499:1_503_000]
    assert ref.bases_read == 3000
    off3, seq3 = ref.window("chr1", 20, 30)  # left of it: a new window
    assert seq3[19 - off3:30 - off3] == g[19:30] and ref.bases_read == 4000
    off4, seq4 = ref.window("chr1", _LEN - 5, _LEN + 50)  # clipped at the chromosome end
    assert seq4[_LEN - 6 - off4:] == g[_LEN - 6:]
    assert ref.window("chrUn", 1, 10) == (0, "")


def test_groups_give_identical_entries_and_read_less(tmp_path: Path):
    g, fa, gff = _world(tmp_path)
    models = read_transcripts(gff)
    pos, refs, alts = _records(g, 3)
    whole, read_whole = _run(models, fa, pos, refs, alts, 1 << 62)
    assert read_whole >= 2_000_000  # one window from the first gene to the last
    assert sum(not ok for ok, _ in whole) == 0  # REF from the FASTA: every window is right
    for gap in (Annotator.max_gap, 0):
        got, read = _run(models, fa, pos, refs, alts, gap)
        assert got == whole
        assert read < 250_000  # three windows around the genes (≥ 64 kb read-ahead each)
    pp, _ = _run(models, fa, pos, refs, alts, 0, per_pair=True)
    assert pp == whole  # the fast path's edge cases (shifts near a window end) too
    entries = [e for _, es in whole for e in es]
    assert any("dup" in e or "del" in e for e in entries) and any("missense" in e for e in entries)


def test_groups_with_records_in_any_order(tmp_path: Path):
    g, fa, gff = _world(tmp_path)
    models = read_transcripts(gff)
    pos, refs, alts = _records(g, 4)
    order = list(range(len(pos)))
    random.Random(1).shuffle(order)
    sorted_res, _ = _run(models, fa, pos, refs, alts, 1 << 62)
    for gap in (Annotator.max_gap, 0):
        shuffled, _ = _run(models, fa, [pos[i] for i in order], [refs[i] for i in order],
                           [alts[i] for i in order], gap)
        assert shuffled == [sorted_res[i] for i in order]


def test_no_split_inside_a_transcript(tmp_path: Path):
    """A transcript spanning the gap between two genes keeps them in one window."""
    g, fa, gff = _world(tmp_path, _LONG)
    models = read_transcripts(gff)
    pos, refs, alts = _records(g, 5)
    whole, _ = _run(models, fa, pos, refs, alts, 1 << 62)
    got, read = _run(models, fa, pos, refs, alts, Annotator.max_gap)
    assert got == whole
    assert any("NTL" in e for _, es in got for e in es)
    assert 1_090_000 < read < 1_200_000  # gene TA to TB (joined by TL) + TC's window


def test_shift_indel_on_a_window(tmp_path: Path):
    g, _, _ = _world(tmp_path)
    off = 12000
    win = g[off:off + 1000]  # the A repeat at 12101..12112 inside
    for fwd in (True, False):
        # deletion of one A of the homopolymer / insertion of an A into it
        for start, end, ref, alt in ((12105, 12105, "A", ""), (12106, 12105, "", "A")):
            full = _shift_indel(g, 0, start, end, ref, alt, fwd)
            assert full is not None and _shift_indel(win, off, start, end, ref, alt, fwd) == full
    # the shift runs into the window's end: undecided from the window alone
    assert _shift_indel(g[12095:12108], 12095, 12105, 12105, "A", "", True) is None
    assert _shift_indel(g[12103:12200], 12103, 12106, 12105, "", "A", False) is None
    assert _shift_indel(g[12095:12108], 12095, 12105, 12105, "A", "", False) is not None


def test_canonical_chrom_reexported():
    import genoma.chrom
    import genoma.model.variant

    assert genoma.model.variant.canonical_chrom is genoma.chrom.canonical_chrom
    assert genoma.chrom.canonical_chrom("MT") == "chrM" and genoma.chrom.canonical_chrom("23") == "chrX"


def test_chr21_groups_identical():
    """Real chr21 variants and transcripts: every possible split gives the entries of one
    window over the whole span, and of the whole chromosome in memory (offset 0)."""
    vcf = require_shared("annotation", "variants", "GRCh38_chr21_dbsnp149_from_vepcache.vcf.gz")
    fa = require_shared("reference", "GRCh38", "chr21.fa.gz")
    gff = require_shared("annotation", "transcripts", "ensembl_vep_test.chr21_full.gff3.gz")
    with gzip.open(vcf, "rt") as fh:
        recs = [ln.split("\t", 5) for ln in fh if not ln.startswith("#")][::7]
    pos, refs, alts = [int(f[1]) for f in recs], [f[3] for f in recs], [f[4] for f in recs]
    models = load_transcripts(gff)
    res = {}
    for gap in (1 << 62, 0, -1):
        ann = Annotator(models, Reference(fa))
        ann.max_gap = max(gap, 0)
        if gap < 0:  # the oracle: the whole chromosome in memory, offset 0
            ref = ann.reference
            ann.reference.window = lambda c, s, e, ref=ref: (0, ref.chromosome(c))  # type: ignore[method-assign]
        res[gap] = ann.annotate_flat("chr21", pos, refs, alts)
    assert res[0] == res[1 << 62] == res[-1]
    assert len(res[0][1]) > len(pos)


if __name__ == "__main__":  # pragma: no cover
    pytest.main([__file__])
