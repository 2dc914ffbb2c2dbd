"""Benchmark: genoma annotate vs Ensembl VEP 115.2 (truth) and bcftools csq (speed).

Usage::

    .venv/bin/python benchmarks/annotate_vep.py [--shared ../shared/data] [--repeat 5] [--skip-snpeff]

Prints a Markdown report (concordance per subset, disagreement classes, timings). genoma
(in process and as a CLI process) and bcftools csq are timed in interleaved rounds after
one warm-up each (the warm-up fills genoma's transcript-model cache), wall and CPU, with
the load average per round; SnpEff runs after them.
"""

from __future__ import annotations

import argparse
import gc
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

from genoma.annotate.concordance import compare_csq, read_csq
from genoma.annotate.csq import annotate_vcf
from genoma.annotate.model_cache import load_transcripts
from genoma.annotate.transcripts import read_transcripts


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--skip-snpeff", action="store_true", help="leave out SnpEff (≈ 20 s CPU a run)")
    args = ap.parse_args()
    d = Path(args.shared)
    var = d / "annotation/variants"
    inp = var / "GRCh38_chr21_dbsnp149_from_vepcache.vcf.gz"
    fasta = d / "reference/GRCh38/chr21.fa.gz"
    gff = d / "annotation/transcripts/ensembl_vep_test.chr21_full.gff3.gz"
    tmp = Path(tempfile.mkdtemp(prefix="genoma-bench-"))
    out = tmp / "genoma.vcf.gz"

    # Interleaved rounds (genoma in process, genoma CLI process, bcftools csq) after one
    # warm-up of each, so that a load change hits every tool alike; the 1-minute load
    # average is recorded per round. The warm-up also fills the transcript-model cache.
    genoma_exe = Path(sys.executable).with_name("genoma")
    cli = [str(genoma_exe), "annotate", str(inp), "--fasta", str(fasta), "--transcripts", str(gff),
           "-o", str(tmp / "cli.vcf.gz"), "--force"] if genoma_exe.exists() else None
    bcsq = ["bcftools", "csq", "-f", str(fasta), "-g", str(gff), str(inp), "-Oz",
            "-o", str(tmp / "bcsq.vcf.gz")] if shutil.which("bcftools") else None

    def child(cmd: list[str]) -> tuple[float, float]:
        t0 = time.perf_counter()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(cmd, check=True, capture_output=True)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.perf_counter() - t0, r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime

    # what a CLI run spends before reading any input: interpreter start + imports
    imports = [sys.executable, "-c", "import genoma.cli.main, genoma.cli.annotate, genoma.annotate.csq, "
               "typer._adapters, pysam, isal.isal_zlib"]
    # the least any Python implementation on the project's stack spends: interpreter start
    # and the two libraries it cannot do without (NumPy, pysam for the FASTA)
    floor = [sys.executable, "-c", "import numpy, pysam"]
    annotate_vcf(inp, fasta, gff, out, force=True)
    for cmd in (cli, bcsq):
        if cmd:
            child(cmd)
    times, cpu, cli_times, cli_cpu, bc_times, bc_cpu, loads = [], [], [], [], [], [], []
    imp_times, imp_cpu, floor_times, floor_cpu = [], [], [], []
    for _ in range(args.repeat):
        loads.append(os.getloadavg()[0])
        w, c = child(imports)
        imp_times.append(w)
        imp_cpu.append(c)
        w, c = child(floor)
        floor_times.append(w)
        floor_cpu.append(c)
        t0, c0 = time.perf_counter(), time.process_time()
        annotate_vcf(inp, fasta, gff, out, force=True)
        times.append(time.perf_counter() - t0)
        cpu.append(time.process_time() - c0)
        if cli:
            w, c = child(cli)
            cli_times.append(w)
            cli_cpu.append(c)
        if bcsq:
            w, c = child(bcsq)
            bc_times.append(w)
            bc_cpu.append(c)
    se_times, se_cpu = ([], []) if args.skip_snpeff else _snpeff(d, inp, tmp, args.repeat)
    stages = _stages(inp, fasta, gff)

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
    print("\n## Speed (same input, same machine; median of the runs)\n")
    print("| tool | wall runs (s) | median wall (s) | median CPU (s) |")
    print("|---|---|---:|---:|")

    def row(name: str, ts: list[float], cs: list[float] | None) -> None:
        c = f"{statistics.median(cs):.2f}" if cs else "n/a"
        print(f"| {name} | {', '.join(f'{t:.2f}' for t in ts)} | {statistics.median(ts):.2f} | {c} |")

    row("genoma annotate_vcf (in process)", times, cpu)
    if cli_times:
        row("genoma annotate (CLI process, incl. imports)", cli_times, cli_cpu)
    row("of which: python start + imports only", imp_times, imp_cpu)
    row("floor: python start + `import numpy, pysam` only", floor_times, floor_cpu)
    if se_times:
        row("SnpEff ann (JVM, uncompressed VCF out)", se_times, se_cpu)
    if bc_times:
        row("bcftools csq -Oz", bc_times, bc_cpu)
        print(f"\nRatio genoma / bcftools csq (median wall, in process): "
              f"{statistics.median(times) / statistics.median(bc_times):.1f}x; "
              f"CPU: {statistics.median(cpu) / statistics.median(bc_cpu):.1f}x")
        if cli_cpu:
            print(f"Ratio genoma CLI process / bcftools csq: wall "
                  f"{statistics.median(cli_times) / statistics.median(bc_times):.1f}x, CPU "
                  f"{statistics.median(cli_cpu) / statistics.median(bc_cpu):.1f}x")
    if bc_times:
        sizes = {name: _text_size(path) for name, path in
                 (("genoma", tmp / "cli.vcf.gz" if cli else out), ("bcftools csq", tmp / "bcsq.vcf.gz"))}
        print("\nOutput (what each tool writes for the same input): "
              + "; ".join(f"{k} {v[0] / 1e6:.1f} MB of text, {v[1]:,} consequence entries"
                          for k, v in sizes.items()))
    print(f"\n1-minute load average at the start of each round (2 cores): {', '.join(f'{x:.2f}' for x in loads)}")
    print("\n## Where genoma's CPU time goes (one run, seconds)\n")
    for k, v in stages.items():
        print(f"- {k}: {v:.3f}")


def _text_size(path: Path) -> tuple[int, int]:
    """Uncompressed bytes of a VCF and its consequence entries (``CSQ`` or ``BCSQ``)."""
    import gzip
    import re

    size = entries = 0
    pat = re.compile(r"(?:^|;)B?CSQ=([^;\t]*)")
    with gzip.open(path, "rt") as fh:
        for line in fh:
            size += len(line)
            if line.startswith("#"):
                continue
            m = pat.search(line.split("\t", 8)[7])
            if m:
                entries += m.group(1).count(",") + 1
    return size, entries


def _snpeff(d: Path, inp: Path, tmp: Path, repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU times of ``snpEff ann`` on the same input (Debian ``snpeff``), or
    empty lists when it is absent."""
    exe, conf0 = shutil.which("snpEff") or shutil.which("snpeff"), Path("/etc/snpeff/snpEff.config")
    db = d / "annotation" / "snpeff_db"
    if exe is None or not conf0.exists() or not (db / "GRCh38chr21gff").is_dir():
        return [], []
    conf = tmp / "snpEff.config"
    conf.write_text(conf0.read_text() + f"\ndata.dir = {db}\nGRCh38chr21gff.genome : GRCh38 chr21 (VEP test GFF3)\n")
    times, cpus = [], []
    for _ in range(repeat):
        t0 = time.perf_counter()
        r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(tmp / "snpeff.vcf", "w") as fh:
            subprocess.run([exe, "ann", "-c", str(conf), "-noLog", "-noStats", "GRCh38chr21gff", str(inp)],
                           check=True, stdout=fh, stderr=subprocess.DEVNULL)
        r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        times.append(time.perf_counter() - t0)
        cpus.append(r1.ru_utime + r1.ru_stime - r0.ru_utime - r0.ru_stime)
    return times, cpus


def _stages(inp: Path, fasta: Path, gff: Path) -> dict[str, float]:
    """CPU seconds of each stage of one annotation run (the same work annotate_vcf does)."""
    from genoma.annotate.bgzf import DEFAULT, BgzfWriter
    from genoma.annotate.csq import AnnotationStats, Annotator, _block_text, _text_lines
    from genoma.annotate.sequence import Reference

    T = time.process_time
    out: dict[str, float] = {}
    t = T()
    models = read_transcripts(gff)
    out["GFF3 parse"] = T() - t
    with tempfile.TemporaryDirectory() as cd:
        load_transcripts(gff, cache_dir=Path(cd))
        t = T()
        models = load_transcripts(gff, cache_dir=Path(cd))
        out["transcript models from the cache (what annotate_vcf does after the first run)"] = T() - t
    t = T()
    ann = Annotator(models, Reference(fasta))
    out["interval index + transcript arrays"] = T() - t
    gc.disable()  # as annotate_vcf does
    t = T()
    lines = [ln for ln in _text_lines(inp) if ln and ln[0] != "#"]
    recs = [ln.split("\t", 8) for ln in lines]
    pos, ref, alt = [int(f[1]) for f in recs], [f[3] for f in recs], [f[4] for f in recs]
    out["VCF read + split"] = T() - t
    t = T()
    res = []
    for i in range(0, len(pos), 20000):
        res.append(ann.annotate_flat(recs[0][0], pos[i:i + 20000], ref[i:i + 20000], alt[i:i + 20000]))
    out["annotation (reference window, fast path, per-pair path, pick, CSQ strings)"] = T() - t
    t = T()
    st = AnnotationStats()
    text = "".join(_block_text(recs[i:i + 20000], lines[i:i + 20000], *r, st)
                   for i, r in zip(range(0, len(pos), 20000), res, strict=True))
    out["record assembly"] = T() - t
    gc.enable()
    t = T()
    with BgzfWriter(Path(tempfile.mkdtemp()) / "x.gz", threads=1) as w:
        w.write(text)
    out[f"BGZF compression ({DEFAULT}, one thread)"] = T() - t
    return out

if __name__ == "__main__":
    main()
