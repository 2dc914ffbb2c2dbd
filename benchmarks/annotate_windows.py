"""Benchmark: reference bases read for an exome-like call set, one span per batch
(``Reference.region``, the annotator before 2026-11-22 04:40) vs windows split at gaps
(``Reference.window`` + ``Annotator.max_gap``).

1. chr21: ≈ 2 calls in CDS exons of each protein-coding gene of the chr21_full GFF3
   (seeded), through ``Annotator.annotate_flat`` with several ``max_gap`` (entries
   compared: identical), CPU and Mb read.
2. MANE Select v1.5 gene spans: the windows an exome touching every gene needs,
   genome-wide (Mb), and the reads timed on the shared full-length GRCh38 FASTAs
   (chr21, chr17, chr13, chr2; mostly N).

Usage: ``.venv/bin/python benchmarks/annotate_windows.py [--shared ../shared/data]``
"""

from __future__ import annotations

import argparse
import gzip
import random
import statistics
import time
from pathlib import Path

from genoma.annotate.csq import Annotator
from genoma.annotate.model_cache import load_transcripts
from genoma.annotate.sequence import Reference


def merge(intervals: list[tuple[int, int]], gap: int) -> list[list[int]]:
    """Intervals merged when less than ``gap`` apart (the annotator's groups)."""
    out: list[list[int]] = []
    for lo, hi in sorted(intervals):
        if out and lo - out[-1][1] <= gap:
            out[-1][1] = max(out[-1][1], hi)
        else:
            out.append([lo, hi])
    return out


def reads(fa: Path, chrom: str, windows: list[list[int]], before: bool) -> tuple[float, int]:
    """Seconds and bases read: one ``region`` over the span, or one ``window`` each."""
    ref = Reference(fa)
    t0 = time.perf_counter()
    if before:
        ref.region(chrom, windows[0][0] - 100, windows[-1][1] + 100)
    else:
        for lo, hi in windows:
            ref.window(chrom, lo - 100, hi + 100)
    return time.perf_counter() - t0, ref.bases_read


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--repeat", type=int, default=5)
    d = Path(ap.parse_args().shared)
    n_rep = ap.parse_args().repeat
    models = load_transcripts(d / "annotation/transcripts/ensembl_vep_test.chr21_full.gff3.gz")
    fa21 = d / "reference/GRCh38/chr21.fa.gz"
    rng = random.Random(11)
    genes: dict[str, list] = {}
    for t in models:
        if t.biotype == "protein_coding" and t.cds_start is not None:
            genes.setdefault(t.gene_id, []).extend(zip(t.exon_starts, t.exon_ends, strict=True))
    calls = set()
    for exons in genes.values():
        for _ in range(2):
            a, b = rng.choice(exons)
            calls.add(rng.randint(int(a), int(b)))
    pos = sorted(calls)
    print(f"## chr21: {len(genes)} protein-coding genes, {len(pos)} exome-like calls\n")
    print("| grouping | groups | Mb read | CPU median (ms) |\n|---|---:|---:|---:|")
    first = None
    for label, gap in (("one span (before)", None), ("max_gap 1 Mb", 1 << 20), ("max_gap 256 kb", 1 << 18),
                       ("max_gap 64 kb", 1 << 16), ("max_gap 0", 0)):
        cpu, out, n_groups, mb = [], None, 1, 0.0
        for _ in range(n_rep):
            ann = Annotator(models, Reference(fa21))
            ann.max_gap = 1 << 62 if gap is None else gap
            if gap is None:  # the read before: one N-padded span
                r = ann.reference
                r.window = lambda c, s, e, r=r: (0, r.region(c, s, e))  # type: ignore[method-assign]
            calls_made = [0]
            flat = ann._flat

            def counted(*a, _f=flat, _n=calls_made):
                _n[0] += 1
                return _f(*a)

            ann._flat = counted  # type: ignore[method-assign]
            c0 = time.process_time()
            out = ann.annotate_flat("chr21", pos, ["N"] * len(pos), ["A"] * len(pos))
            cpu.append(time.process_time() - c0)
            n_groups, mb = max(calls_made[0] - 1, 1), ann.reference.bases_read / 1e6
        first = out if first is None else first
        assert out == first, "entries differ between groupings"
        print(f"| {label} | {n_groups} | {mb:.1f} | {statistics.median(cpu) * 1e3:.0f} |")

    mane: dict[str, list[tuple[int, int]]] = {}
    with gzip.open(d / "rare/knowledge/MANE.GRCh38.v1.5.summary.txt.gz", "rt") as fh:
        for line in fh:
            f = line.rstrip("\n").split("\t")
            if line.startswith("#") or f[9] != "MANE Select" or not f[10].startswith("NC_0000"):
                continue
            k = int(f[10].split(".")[0][7:])
            mane.setdefault(f"chr{k if k < 23 else 'X' if k == 23 else 'Y'}", []).append((int(f[11]), int(f[12])))
    print("\n## MANE Select gene spans, genome-wide\n\n| max_gap | windows | Mb |\n|---|---:|---:|")
    span = sum(max(e for _, e in iv) - min(s for s, _ in iv) + 201 for iv in mane.values())
    print(f"| one span per chromosome | {len(mane)} | {span / 1e6:.0f} |")
    for gap in (1 << 20, 1 << 18, 1 << 16, 0):
        w = [merge(iv, gap) for iv in mane.values()]
        print(f"| {gap} | {sum(map(len, w))} | {sum(e - s + 201 for x in w for s, e in x) / 1e6:.0f} |")
    print("\n## Reads on the shared FASTAs (MANE layout)\n\n| chromosome | reading | reads | Mb | s (median) |"
          "\n|---|---|---:|---:|---:|")
    for chrom in ("chr21", "chr17", "chr13", "chr2"):
        fa = d / f"reference/GRCh38/{chrom}.fa.gz"
        for label, before, gap in (("one span", True, 1 << 20), ("max_gap 1 Mb", False, 1 << 20),
                                   ("max_gap 256 kb", False, 1 << 18)):
            w = merge(mane[chrom], gap)
            got = [reads(fa, chrom, w, before) for _ in range(n_rep)]
            print(f"| {chrom} ({len(mane[chrom])} genes) | {label} | {1 if before else len(w)} | "
                  f"{got[-1][1] / 1e6:.1f} | {statistics.median(t for t, _ in got):.3f} |")


if __name__ == "__main__":
    main()
