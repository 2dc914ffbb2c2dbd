"""Spiked cases in a real exome: the GRCh37 Pfeiffer exome lifted to GRCh38.

The background is a real whole-exome single sample (``Pfeiffer_hg19_exome_unspiked``,
37,708 records, GRCh37), lifted to GRCh38 with the staged UCSC chain. The staged chain is
``hg38ToHg19`` (GRCh38 → GRCh37), so it is **inverted** here (target and query
swapped) and read with ``pyliftover``; chains whose GRCh37 side is on the minus strand
or off the primary chromosomes are left out (their records are counted as unlifted).
Every annotated gene then carries its real exome background: no synthetic part.

No consequences: the shared data has no genome-wide GRCh38 transcripts / reference, so
variants are grouped by gene coordinates (model ``v1`` genotype: every variant in a gene
counts), which is the hard, consequence-blind setting. Phenotype: the plain LR
(``lr``) and the learned combination (``combined``). Genotype parameters: the ``v1``
values chosen by ``rare_spiked.py`` in the fair setting (``--nov``, ``--one``).

Timing: reading + lifting + grouping the exome (once per patient in a real run) and
the per-case ranking are reported separately; their sum is the time per case of a
single-patient run (without annotation).

**Single-patient timing** (``--timing N``): for N test cases the lifted exome plus the
case's causal variants is written as a GRCh38 VCF (outside the clock: the user's input),
then genoma's own path is timed step by step, as ``genoma rare`` runs it
(:func:`genoma.steps.rare_diagnosis`): reading the VCF (``open_vcf``), grouping by gene
(``collect_gene_variants``), phenotype scoring + ranking of every candidate
(``diagnose``), the TSV rows. Annotation: the shared data has transcripts and sequence
for chr21 only, so genoma's annotator is timed on the exome's chr21 calls (exome
capture: the same mix of coding / splice / UTR calls) and its per-call cost is
multiplied by the exome's calls; transcript loading (a cached, per-process cost) is
reported apart. The liftover is not timed (a user's exome is already on its build).

Usage: ``python benchmarks/rare_exome.py [--limit N] [--timing N] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rare_common import RARE, fmt, iter_split, load_cases, load_knowledge
from rare_spiked import GenoTable, evaluate, prepare_cases

from genoma.analyses.rare.genotype import GenotypeParams, collect_gene_variants
from genoma.analyses.rare.phenotype import PhenotypeParams
from genoma.model.genotype import Call, Genotype
from genoma.model.variant import Variant

EXOME = RARE / "backgrounds" / "Pfeiffer_hg19_exome_unspiked.vcf.gz"
CHAIN = RARE / "knowledge" / "hg38ToHg19.over.chain.gz"
PRIMARY = {f"chr{c}" for c in [*range(1, 23), "X", "Y"]}


def invert_chain(src: Path, dst: Path) -> dict[str, int]:
    """Write the inverse of a UCSC chain file (``+``/``+`` primary chains only)."""
    kept = dropped = 0
    with gzip.open(src, "rt") as fh, open(dst, "w") as out:
        keep = False
        for line in fh:
            f = line.split()
            if not f:
                if keep:
                    out.write("\n")
                continue
            if f[0] == "chain":
                (_c, score, tn, ts, tst, tb, te, qn, qs, qst, qb, qe, cid) = f[:13]
                keep = tst == "+" and qst == "+" and tn in PRIMARY and qn in PRIMARY
                kept += keep
                dropped += not keep
                if keep:
                    out.write(" ".join(["chain", score, qn, qs, "+", qb, qe, tn, ts, "+", tb,
                                        te, cid]) + "\n")
                continue
            if keep:
                out.write(f"{f[0]}\t{f[2]}\t{f[1]}\n" if len(f) == 3 else f"{f[0]}\n")
    return {"chains_kept": kept, "chains_dropped": dropped}


def lifted_exome_calls(lo) -> tuple[list[Call], dict[str, int]]:
    """The exome's ALT calls at GRCh38 positions (records that do not lift are dropped)."""
    calls, n, unlifted = [], 0, 0
    with gzip.open(EXOME, "rt") as fh:
        for line in fh:
            if line[0] == "#":
                continue
            t = line.rstrip("\n").split("\t")
            n += 1
            if t[6] not in ("PASS", "."):
                continue
            gt = t[9].split(":")[0].replace("|", "/").split("/")
            alts = t[4].split(",")
            chrom = t[0] if t[0].startswith("chr") else f"chr{t[0]}"
            hit = lo.convert_coordinate(chrom, int(t[1]) - 1)
            if not hit:
                unlifted += 1
                continue
            c38, p0 = hit[0][0], hit[0][1]
            for ai, alt in enumerate(alts, start=1):
                al = tuple(1 if a == str(ai) else (None if a == "." else 0) for a in gt)
                if 1 not in al:
                    continue
                try:
                    var = Variant(chrom=c38, pos=int(p0) + 1, ref=t[3].upper(), alt=alt.upper(),
                                  build="GRCh38")
                except ValueError:
                    continue
                calls.append(Call(variant=var, genotype=Genotype(alleles=al), sample="bg"))
    return calls, {"records": n, "unlifted": unlifted, "alt_calls": len(calls)}


def write_vcf(calls: list[Call], path: Path) -> None:
    """A single-sample GRCh38 VCF of ``calls`` (sorted; one ALT per record)."""
    order = {f"chr{c}": i for i, c in enumerate([*range(1, 23), "X", "Y", "M"])}
    calls = sorted(calls, key=lambda c: (order.get(c.variant.chrom, 99), c.variant.pos,
                                         c.variant.ref, c.variant.alt))
    with gzip.open(path, "wt") as out:
        out.write("##fileformat=VCFv4.2\n##reference=GRCh38\n")
        for ch in order:
            out.write(f"##contig=<ID={ch}>\n")
        out.write('##FORMAT=<ID=GT,Number=1,Type=String,Description="Genotype">\n')
        out.write("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\tFORMAT\tcase\n")
        for c in calls:
            v, al = c.variant, c.genotype.alleles
            gt = "/".join("." if a is None else str(a) for a in al)
            out.write(f"{v.chrom}\t{v.pos}\t.\t{v.ref}\t{v.alt}\t.\tPASS\t.\tGT\t{gt}\n")


def time_single_patient(calls: list[Call], cases: list[dict], n: int) -> dict[str, float]:
    """Per-step wall and CPU seconds of genoma's single-patient path (see the module
    docstring), averaged over ``n`` spiked cases."""
    from rare_spiked import spiked_calls

    from genoma.analyses.rare import collect_gene_variants as collect
    from genoma.analyses.rare import diagnose
    from genoma.analyses.rare.genotype import gene_chromosomes
    from genoma.io.vcf import open_vcf
    from genoma.kb.genes import gene_table
    from genoma.model.subject import Patient, PhenotypicFeature

    kn = load_knowledge(cached=True)
    steps: dict[str, list[float]] = {}

    def clock(name: str, t0: float, c0: float) -> None:
        steps.setdefault(f"{name}_wall", []).append(time.perf_counter() - t0)
        steps.setdefault(f"{name}_cpu", []).append(time.process_time() - c0)

    done = 0
    with tempfile.TemporaryDirectory() as td:
        for case in cases:
            sc = spiked_calls(case)
            if sc is None or done >= n:
                continue
            path = Path(td) / "case.vcf.gz"
            write_vcf(calls + sc[0], path)
            feats = [PhenotypicFeature(id=t) for t in case["hpo_present"]]
            feats += [PhenotypicFeature(id=t, excluded=True) for t in case["hpo_excluded"]]
            sex = case.get("sex") if case.get("sex") in ("MALE", "FEMALE") else "UNKNOWN_SEX"
            patient = Patient(id=case["id"], sex=sex, features=tuple(feats))
            t0, c0 = time.perf_counter(), time.process_time()
            with open_vcf(path, build="GRCh38") as v:
                got = [c for c in v.calls(v.samples[0])
                       if any(a == 1 for a in c.genotype.alleles)]
            clock("read_vcf", t0, c0)
            t0, c0 = time.perf_counter(), time.process_time()
            table = gene_table("GRCh38")
            gv = collect(got, table, sex=patient.sex)
            chroms = gene_chromosomes(table, kn.gene_rows)
            clock("group_by_gene", t0, c0)
            t0, c0 = time.perf_counter(), time.process_time()
            res = diagnose(patient, kn, gene_variants=gv, build="GRCh38", gene_chroms=chroms)
            clock("phenotype_and_ranking", t0, c0)
            t0, c0 = time.perf_counter(), time.process_time()
            res.rows()
            clock("tsv_rows", t0, c0)
            done += 1
    out = {k: float(sum(v) / len(v)) for k, v in steps.items()}
    out["cases"] = done
    return out


def time_annotation(calls: list[Call]) -> dict[str, float]:
    """genoma's annotator on the exome's chr21 calls (chr21 transcripts + sequence), and
    an estimate for the whole exome: per-call cost (first pass, reference reads excluded:
    every transcript is seen for the first time in a single pass) × calls + reading
    the reference windows the annotator would read for the exome × the measured cost per
    Mb of *real* (non-N) bgzip sequence. The annotator reads, per group of calls split at
    gaps > ``Annotator.max_gap``, the span of the calls and of every transcript they touch;
    the estimate uses the gene spans (``genoma.kb.genes``) of the genes with calls,
    merged the same way (gene spans understate what long isoforms touch)."""
    from rare_spiked import GFF21, REF21

    from genoma.analyses.rare.genotype import annotate_calls
    from genoma.annotate.csq import Annotator
    from genoma.annotate.model_cache import load_transcripts
    from genoma.annotate.sequence import Reference
    from genoma.kb.genes import gene_table

    c21 = [c for c in calls if c.variant.chrom == "chr21"]
    t0, c0 = time.perf_counter(), time.process_time()
    ann = Annotator(load_transcripts(GFF21), Reference(REF21))
    load_wall, load_cpu = time.perf_counter() - t0, time.process_time() - c0
    # time the reference reads apart: the sequence part is estimated separately below
    window_cpu = [0.0]
    read = ann.reference.window

    def timed_window(*args: object, **kw: object) -> tuple[int, str]:
        w0 = time.process_time()
        try:
            return read(*args, **kw)  # type: ignore[arg-type]
        finally:
            window_cpu[0] += time.process_time() - w0

    ann.reference.window = timed_window  # type: ignore[method-assign]
    t0, c0 = time.perf_counter(), time.process_time()
    csq = annotate_calls(c21, ann)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    cold_window_cpu = window_cpu[0]
    window_cpu[0] = 0.0
    c0 = time.process_time()
    annotate_calls(c21, ann)
    warm_cpu = time.process_time() - c0
    warm_window_cpu = window_cpu[0]
    # cost per Mb of real sequence: the sequenced chr21 window (24.99-26.02 Mb)
    ref = Reference(REF21)
    c0 = time.process_time()
    for _ in range(5):
        ref._w = None  # a fresh read each time
        ref.window("chr21", 24_990_001, 26_020_000)
    per_mb = (time.process_time() - c0) / 5 / 1.03
    # the windows an exome's calls make the annotator read (gene spans, merged at max_gap)
    table = gene_table("GRCh38")
    chroms = np.array([c.variant.chrom for c in calls])
    pos = np.array([c.variant.pos for c in calls], dtype=np.int64)
    qi, gi = table.overlaps(chroms, pos)
    spans: dict[str, list[tuple[int, int]]] = {}
    for q, g in zip(qi.tolist(), gi.tolist(), strict=True):
        spans.setdefault(str(chroms[q]), []).append(
            (int(table.cols["start"][g]), int(table.cols["end"][g])))
    window_mb = 0.0
    n_windows = 0
    for ivs in spans.values():
        ivs = sorted(set(ivs))
        lo, hi = ivs[0]
        for s, e in ivs[1:]:
            if s - hi > Annotator.max_gap:
                window_mb += (hi - lo + 1) / 1e6
                n_windows += 1
                lo, hi = s, e
            else:
                hi = max(hi, e)
        window_mb += (hi - lo + 1) / 1e6
        n_windows += 1
    n = max(len(c21), 1)
    # a single pass sees every transcript for the first time: the cold pass's cost
    # without its reference reads (those are the sequence part of the estimate)
    per_call = (cpu - cold_window_cpu) / n
    return {"chr21_calls": len(c21),
            "chr21_annotated_with_gene": sum(1 for v in csq.values() if v),
            "transcripts_load_wall": load_wall, "transcripts_load_cpu": load_cpu,
            "chr21_cold_wall": wall, "chr21_cold_cpu": cpu, "chr21_warm_cpu": warm_cpu,
            "chr21_cold_window_cpu": cold_window_cpu, "chr21_warm_window_cpu": warm_window_cpu,
            "per_call_cpu_cold_without_reads": per_call,
            "sequence_cpu_per_mb_real_bgzip": per_mb, "exome_calls": len(calls),
            "exome_windows": n_windows, "exome_window_mb": window_mb,
            "exome_estimate_cpu_calls": per_call * len(calls),
            "exome_estimate_cpu_sequence": per_mb * window_mb,
            "exome_estimate_cpu": per_call * len(calls) + per_mb * window_mb}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=1000, help="test cases (0 = all)")
    ap.add_argument("--nov", type=float, default=0.02, help="lr_no_variant (v1)")
    ap.add_argument("--one", type=float, default=0.2, help="lr_one_hit (v1)")
    ap.add_argument("--timing", type=int, default=0,
                    help="time genoma's single-patient path on this many cases")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    from pyliftover import LiftOver

    from genoma.kb.genes import gene_table

    kn = load_knowledge(cached=True)
    table = gene_table("GRCh38")
    with tempfile.TemporaryDirectory() as td:
        inv = Path(td) / "hg19ToHg38.from_hg38ToHg19.chain"
        cinfo = invert_chain(CHAIN, inv)
        lo = LiftOver(str(inv))
    t0 = time.perf_counter()
    calls, linfo = lifted_exome_calls(lo)
    real = collect_gene_variants(calls, table, sex="UNKNOWN_SEX")
    t_bg = time.perf_counter() - t0
    gene_chroms = {g: loc[0].chrom for g in kn.gene_rows if (loc := table.loci(g))}
    # the rate of the v1 model is per kb of gene, measured here on the exome itself
    kb = sum((loc[0].end - loc[0].start + 1) / 1000 for g in kn.gene_rows
             if (loc := table.loci(g)))
    n_alleles = sum(len(gg.variants) for g, gg in real.items() if g in kn.gene_rows)
    rate = n_alleles / kb
    prm = GenotypeParams(rate_per_kb=rate, lr_no_variant=a.nov, lr_one_hit=a.one, class_lr={})
    tables = {"exome/naive": GenoTable(kn, real, prm, False, gene_chroms)}
    cases = load_cases()
    test = list(iter_split(cases, "test"))
    run = test[: a.limit] if a.limit else test
    t1 = time.perf_counter()
    prepared = prepare_cases(kn, table, run, {"lr": PhenotypeParams(model="lr"),
                                              "combined": PhenotypeParams(model="combined")})
    t_prep = (time.perf_counter() - t1) / max(len(prepared), 1)
    res = {"chain": cinfo, "lift": linfo, "background_genes": len(real),
           "alleles_per_kb_annotated_genes": rate, "genotype_params": prm.__dict__,
           "seconds_background_read_lift_group": t_bg,
           "seconds_per_case_phenotype_and_spiking": t_prep,
           "knowledge": {"annotations": kn.annotation_version, "hpo": kn.hpo_version},
           "cases": {"test_read": len(run), "scored": len(prepared)}}
    if a.timing:
        res["timing_single_patient"] = time_single_patient(calls, run, a.timing)
        res["timing_annotation"] = time_annotation(calls)
    for name, pheno in (("lr", "lr"), ("combined", "combined")):
        res[name] = evaluate(kn, prepared, tables,
                             {"pheno": pheno, "spiked": "plain", "tables": "exome"},
                             set(), settings=("naive",))
    print(json.dumps(res, indent=1, default=str))
    for name in ("lr", "combined"):
        for k, v in res[name].items():
            if isinstance(v, dict) and "n" in v:
                print(f"| exome v1 {name} | {k.replace('naive', 'exome')} | {fmt(v)} |")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
