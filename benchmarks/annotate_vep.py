"""Benchmark: genoma annotate vs Ensembl VEP 115.2 (truth) and bcftools csq (speed).

Usage::

    .venv/bin/python benchmarks/annotate_vep.py [--shared ../shared/data] [--repeat 3]

Prints a Markdown report (concordance per subset, disagreement classes, timings).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import tempfile
import time
from collections import Counter
from pathlib import Path

from genoma.annotate.concordance import compare_csq, read_csq
from genoma.annotate.csq import annotate_vcf
from genoma.annotate.transcripts import read_transcripts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    d = Path(args.shared)
    var = d / "annotation/variants"
    inp = var / "GRCh38_chr21_dbsnp149_from_vepcache.vcf.gz"
    fasta = d / "reference/GRCh38/chr21.fa.gz"
    gff = d / "annotation/transcripts/ensembl_vep_test.chr21_full.gff3.gz"
    tmp = Path(tempfile.mkdtemp(prefix="genoma-bench-"))
    out = tmp / "genoma.vcf.gz"

    times = []
    for _ in range(args.repeat):
        t0 = time.perf_counter()
        annotate_vcf(inp, fasta, gff, out, force=True)
        times.append(time.perf_counter() - t0)
    bc_times = []
    if shutil.which("bcftools"):
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            subprocess.run(["bcftools", "csq", "-f", str(fasta), "-g", str(gff), str(inp), "-Oz",
                            "-o", str(tmp / "bcsq.vcf.gz")], check=True, capture_output=True)
            bc_times.append(time.perf_counter() - t0)

    truth: dict = {}
    for part in sorted(var.glob("GRCh38_chr21_dbsnp149.VEP115_cache84_ensembl.part*.vcf.gz")):
        truth.update(read_csq(part)[1])
    _, test = read_csq(out)
    bed = [tuple(map(int, ln.split()[1:3])) for ln in (d / "reference/GRCh38/chr21.covered.bed").read_text().splitlines() if ln.strip()]
    txs = {t.id: t for t in read_transcripts(gff)}

    def covered(tid: str) -> bool:
        t = txs.get(tid)
        return t is not None and any(s < t.start and t.end <= e for s, e in bed)

    subsets = {
        "protein-coding transcripts wholly in real sequence (headline)":
            lambda k, v: v["BIOTYPE"] == "protein_coding" and covered(k[4]),
        "all protein-coding transcripts": lambda k, v: v["BIOTYPE"] == "protein_coding",
        "all transcripts wholly in real sequence": lambda k, v: covered(k[4]),
        "all transcripts": lambda k, v: True,
    }
    print("# genoma annotate vs Ensembl VEP 115.2 (chr21, 115,344 dbSNP variants)\n")
    print("| subset | entries | transcripts | Consequence | HGVSc | HGVSp |")
    print("|---|---:|---:|---:|---:|---:|")
    classes: dict[str, Counter] = {}
    for name, sel in subsets.items():
        keep = {k for k, v in truth.items() if sel(k, v)}
        r = compare_csq(truth, test, keep)
        print(f"| {name} | {r.n + r.missing_in_test:,} | {len({k[4] for k in keep})} | "
              f"{100 * r.rate('Consequence'):.3f}% | {100 * r.rate('HGVSc'):.3f}% | {100 * r.rate('HGVSp'):.3f}% |")
        if name == "all transcripts":
            for f, c in r.disagreements.items():
                classes[f] = c
            examples = r.examples
    extra = Counter(k[4] for k in test if k not in truth)
    print(f"\nEntries genoma writes that VEP does not (transcripts outside VEP's 25-26 Mb cache "
          f"chunk): {sum(extra.values()):,} on {len(extra)} transcripts\n")
    print("## Remaining disagreements (all transcripts)\n")
    for f, c in classes.items():
        for cls, n in c.most_common():
            ex = examples[f + "|" + cls][0]
            print(f"- {f}: {n} × `{cls}` e.g. {ex[0]} VEP `{ex[1]}` genoma `{ex[2]}`")
    print("\n## Speed (wall clock, same input, same machine)\n")
    print("| tool | runs (s) | best (s) |")
    print("|---|---|---:|")
    print(f"| genoma annotate | {', '.join(f'{t:.2f}' for t in times)} | {min(times):.2f} |")
    if bc_times:
        print(f"| bcftools csq | {', '.join(f'{t:.2f}' for t in bc_times)} | {min(bc_times):.2f} |")


if __name__ == "__main__":
    main()
