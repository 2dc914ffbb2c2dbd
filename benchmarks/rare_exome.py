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

Usage: ``python benchmarks/rare_exome.py [--limit N] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
import tempfile
import time
from pathlib import Path

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


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=1000, help="test cases (0 = all)")
    ap.add_argument("--nov", type=float, default=0.02, help="lr_no_variant (v1)")
    ap.add_argument("--one", type=float, default=0.2, help="lr_one_hit (v1)")
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
