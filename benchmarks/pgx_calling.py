"""Benchmark: star-allele calling on the 1000 Genomes phased panels, optionally vs pypgx.

Usage (from the repository root)::

    .venv/bin/python benchmarks/pgx_calling.py                    # all genes, genoma only
    .venv/bin/python benchmarks/pgx_calling.py --pypgx CYP2C19,CYP2C9,CYP3A5
    .venv/bin/python benchmarks/pgx_calling.py --getrm            # GeT-RM concordance

For each callable gene with a panel file (``<GENE>.vcf.gz``, 3,202 samples, GRCh38;
DPYD from the GRCh37 panel, 2,504 samples) the gene region is read once with
:func:`genoma.io.vcf.open_vcf` and called with :func:`genoma.analyses.pgx.caller.call_gene`;
read and call times are reported separately. With ``--pypgx`` the same files go through
pypgx 0.27 (``import_variants`` → ``predict_alleles`` → ``call_genotypes``; the panels are
fully phased so pypgx needs no Beagle step) and the diplotypes are compared.

Prints a Markdown report on stdout; ``--calls DIR`` also writes each gene's calls as TSV.
"""

from __future__ import annotations

import argparse
import collections
import importlib.util
import os
import platform
import subprocess
import sys
import tempfile
import time
import warnings
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get("GENOMA_SHARED", REPO.parent / "shared")) / "data" / "pgx"


def genoma_run(genes: list[str], build: str, panel: Path, knowledge) -> list[dict]:
    from genoma.analyses.pgx.caller import call_gene, gene_regions
    from genoma.io.vcf import open_vcf

    rows = []
    for gene in genes:
        vcf = panel / f"{gene}.vcf.gz"
        if not vcf.exists():
            continue
        t0 = time.perf_counter()
        with open_vcf(vcf, build=build) as f:
            g = f.genotypes(gene_regions([gene], build, knowledge))
        t1 = time.perf_counter()
        c = call_gene(g, gene, build, knowledge)
        t2 = time.perf_counter()
        st = collections.Counter(c.status)
        rows.append({
            "gene": gene, "build": build, "samples": len(c.samples), "sites": g.n_sites,
            "positions": c.n_positions, "in_vcf": c.n_positions_in_vcf,
            "read_s": t1 - t0, "call_s": t2 - t1, "called": st.get("called", 0),
            "ambiguous": st.get("ambiguous", 0), "not_callable": st.get("not_callable", 0),
            "calls": c,
        })
    return rows


def subset_vcf(vcf: Path, samples: list[str], tmp: Path) -> Path:
    """The first samples of a panel file (bcftools), so pypgx reads only those."""
    tmp.mkdir(parents=True, exist_ok=True)
    lst = tmp / "samples.txt"
    lst.write_text("\n".join(samples) + "\n")
    out = tmp / vcf.name
    subprocess.run(["bcftools", "view", "-S", str(lst), "-Oz", "-o", str(out), str(vcf)],
                   check=True)
    subprocess.run(["bcftools", "index", "-t", "-f", str(out)], check=True)
    return out


def pypgx_run(gene: str, vcf: Path, build: str) -> tuple[dict[str, str], float]:
    import pypgx

    warnings.filterwarnings("ignore")
    t0 = time.perf_counter()
    imp = pypgx.import_variants(gene, str(vcf), assembly=build)
    if imp.metadata["SemanticType"] != "VcfFrame[Consolidated]":
        raise RuntimeError(f"{gene}: input not fully phased; pypgx would need Beagle")
    al = pypgx.predict_alleles(imp)
    gt = pypgx.call_genotypes(alleles=al)
    dt = time.perf_counter() - t0
    return {str(s): str(r["Genotype"]) for s, r in gt.data.iterrows()}, dt


def pypgx_cached(gene: str, panel: Path, samples: list[str], build: str, tmp: Path,
                 cache: Path | None) -> tuple[dict[str, str], float]:
    """pypgx diplotypes of ``samples`` (read from ``cache/<gene>.json`` when present)."""
    import json

    f = cache / f"{gene}.{build}.{len(samples)}.json" if cache else None
    if f is not None and f.exists():
        d = json.loads(f.read_text())
        return d["calls"], d["seconds"]
    sub = subset_vcf(panel / f"{gene}.vcf.gz", samples, tmp / gene)
    peer, dt = pypgx_run(gene, sub, build)
    if f is not None:
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(json.dumps({"calls": peer, "seconds": dt}))
    return peer, dt


def genoma_phenotypes(calls, ph) -> list[str]:
    """genoma's phenotype per sample (ambiguous calls resolved over their candidates)."""
    gp = ph.gene(calls.gene)
    out = []
    for i in range(len(calls.samples)):
        if calls.status[i] == "not_callable":
            out.append("Indeterminate")
        elif calls.status[i] == "ambiguous":
            out.append(gp.resolve(calls.candidates[i] or [calls.diplotype(i)]).phenotype)
        else:
            out.append(gp.phenotype(calls.allele1[i], calls.allele2[i]).phenotype)
    return out


def pypgx_phenotype(gene: str, diplotype: str, cache: dict) -> str:
    import pypgx

    key = (gene, diplotype)
    if key not in cache:
        a, _, b = diplotype.partition("/")
        try:
            cache[key] = str(pypgx.predict_phenotype(gene, a, b or a))
        except Exception as exc:  # report, do not hide
            cache[key] = f"error: {type(exc).__name__}"
    return cache[key]


def load_validation():
    path = REPO / "tests" / "analyses" / "pgx" / "test_getrm_validation.py"
    sys.path.insert(0, str(REPO / "tests"))
    spec = importlib.util.spec_from_file_location("getrm_validation", path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--genes", help="comma-separated genes (default: all callable with a panel)")
    ap.add_argument("--pypgx", default="", help="genes to run through pypgx as a peer ('all')")
    ap.add_argument("--pypgx-samples", type=int, default=100,
                    help="pypgx runs on the first N panel samples (about 0.5 s per sample-gene)")
    ap.add_argument("--unphased", action="store_true",
                    help="also call with phase removed and compare with the phased calls")
    ap.add_argument("--getrm", action="store_true", help="GeT-RM concordance")
    ap.add_argument("--calls", type=Path, help="write each gene's calls as TSV here")
    ap.add_argument("--definitions", choices=("pypgx", "pharmcat"), default="pypgx",
                    help="allele definitions: embedded pypgx tables, or PharmCAT 3.1.1 "
                    "read from ../shared/data/pgx/pharmcat (GRCh38 genes only)")
    ap.add_argument("--pypgx-cache", type=Path,
                    help="keep pypgx's diplotypes here (JSON per gene) and reuse them")
    args = ap.parse_args()

    import genoma.kb as kb
    from genoma.analyses.pgx.caller import callable_genes

    k = kb.get_source("pgx").load()
    if args.definitions == "pharmcat":
        from genoma.kb.pharmcat import read_pharmcat

        k = read_pharmcat(DATA / "pharmcat", k)
    print(f"# star-allele calling benchmark — {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}")
    print(f"\nhost: {platform.platform()}, {os.cpu_count()} CPUs, Python {platform.python_version()}; "
          f"knowledge {k.version}")
    print(f"command: `{' '.join(['.venv/bin/python', *sys.argv])}`\n")

    genes38 = callable_genes(k, "GRCh38")
    if args.genes:
        genes38 = [g for g in args.genes.split(",") if g in genes38]
    rows = genoma_run([g for g in genes38 if g != "DPYD"], "GRCh38", DATA / "1kgp_grch38", k)
    if (not args.genes or "DPYD" in args.genes.split(",")) and args.definitions == "pypgx":
        rows += genoma_run(["DPYD"], "GRCh37", DATA / "1kgp_grch37", k)

    print("| gene | build | samples | records read | defining pos. (in VCF) | read s | call s "
          "| called | ambiguous | not callable |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['gene']} | {r['build']} | {r['samples']} | {r['sites']} | {r['positions']} "
              f"({r['in_vcf']}) | {r['read_s']:.2f} | {r['call_s']:.3f} | {r['called']} | "
              f"{r['ambiguous']} | {r['not_callable']} |")
    tot_read = sum(r["read_s"] for r in rows)
    tot_call = sum(r["call_s"] for r in rows)
    n_sg = sum(r["samples"] for r in rows)
    print(f"\n**{len(rows)} genes, {n_sg:,} sample-genes: read {tot_read:.1f} s, call "
          f"{tot_call:.2f} s, total {tot_read + tot_call:.1f} s = "
          f"{1e6 * (tot_read + tot_call) / n_sg:.0f} µs per sample-gene "
          f"({1e6 * tot_call / n_sg:.1f} µs calling only).**\n")

    if args.unphased:
        import numpy as np

        from genoma.analyses.pgx.caller import call_gene, gene_regions, haplotype_frequencies
        from genoma.io.vcf import open_vcf

        print("## The same genotypes with phase removed\n")
        print("`dosages`: the dosage solver alone; `panel`: phased by haplotype frequencies "
              "of the other half of the panel (2-fold: even samples' haplotypes phase the "
              "odd samples and vice versa; a sample's own haplotypes are never used).\n")
        print("| gene | mode | samples | unphased call s | same diplotype as phased | "
              "ambiguous (phased call among candidates) | confidently different | most "
              "frequent changes (phased → unphased) |")
        print("|---|---|---|---|---|---|---|---|")
        for r in rows:
            c = r["calls"]
            panel = DATA / ("1kgp_grch37" if r["build"] == "GRCh37" else "1kgp_grch38")
            with open_vcf(panel / f"{r['gene']}.vcf.gz", build=r["build"]) as f:
                g = f.genotypes(gene_regions([r["gene"]], r["build"], k))
            n = len(c.samples)
            folds = [np.arange(0, n, 2), np.arange(1, n, 2)]
            hfs = [haplotype_frequencies(g, r["gene"], r["build"], k, samples=f)
                   for f in folds]
            g.phased[:] = False
            for mode in ("dosages", "panel"):
                t0 = time.perf_counter()
                if mode == "dosages":
                    u = call_gene(g, r["gene"], r["build"], k)
                    dip, st, cand = u.diplotypes(), list(u.status), u.candidates
                else:
                    dip, st, cand = [""] * n, [""] * n, [[]] * n
                    for f in (0, 1):
                        u = call_gene(g, r["gene"], r["build"], k,
                                      phasing_panel={r["gene"]: hfs[f]})
                        for i in folds[1 - f]:
                            dip[i], st[i], cand[i] = u.diplotype(i), u.status[i], u.candidates[i]
                dt = time.perf_counter() - t0
                same = sum(c.diplotype(i) == dip[i] for i in range(n))
                amb = [i for i in range(n) if st[i] == "ambiguous"]
                inc = sum(c.diplotype(i) in cand[i] for i in amb)
                wrong = [i for i in range(n) if c.diplotype(i) != dip[i] and st[i] != "ambiguous"]
                ch = collections.Counter((c.diplotype(i), dip[i]) for i in wrong)
                top = "; ".join(f"{a} → {b} ({m})" for (a, b), m in ch.most_common(3))
                print(f"| {r['gene']} | {mode} | {n} | {dt:.2f} | {same} ({100 * same / n:.1f}%)"
                      f" | {len(amb)} ({inc}) | {len(wrong)} ({100 * len(wrong) / n:.1f}%) "
                      f"| {top} |")
        print()

    if args.calls:
        args.calls.mkdir(parents=True, exist_ok=True)
        for r in rows:
            c = r["calls"]
            with (args.calls / f"{r['gene']}.tsv").open("w") as fh:
                fh.write("sample\tgene\tdiplotype\tstatus\tcandidates\tphased\n")
                for i, s in enumerate(c.samples):
                    fh.write(f"{s}\t{c.gene}\t{c.diplotype(i)}\t{c.status[i]}\t"
                             f"{';'.join(c.candidates[i])}\t{bool(c.phased[i])}\n")

    if args.pypgx:
        want = [r["gene"] for r in rows] if args.pypgx == "all" else args.pypgx.split(",")
        n = args.pypgx_samples
        print(f"## pypgx 0.27 on the same phased input (first {n} panel samples)\n")
        print("| gene | samples | pypgx s | pypgx ms/sample | genoma ms/sample (read+call, "
              "all samples) | speed-up per sample-gene | diplotype agreement | differing "
              "(genoma vs pypgx, count) |")
        print("|---|---|---|---|---|---|---|---|")
        from genoma.analyses.pgx.phenotype import Phenotyper

        tmp = Path(tempfile.mkdtemp(prefix="pgx-bench-"))
        tot_peer = tot_ours = 0.0
        ph = Phenotyper(k)
        ph_cache: dict = {}
        phen_rows: list = []
        for r in rows:
            if r["gene"] not in want:
                continue
            c = r["calls"]
            panel = DATA / ("1kgp_grch37" if r["build"] == "GRCh37" else "1kgp_grch38")
            try:
                peer, dt = pypgx_cached(r["gene"], panel, c.samples[:n], r["build"], tmp,
                                        args.pypgx_cache)
            except Exception as exc:  # report, do not hide
                print(f"| {r['gene']} | {n} | failed: {type(exc).__name__}: {exc} | | | | | |")
                continue
            same, diff = 0, collections.Counter()
            def unordered(d: str) -> tuple:
                return tuple(sorted(d.split("/")))

            for i, s in enumerate(c.samples[:n]):
                ours = c.diplotype(i)
                theirs = peer.get(s, "")
                # the same two alleles (pypgx orders DPYD names differently), or pypgx's
                # choice among genoma's equally ranked candidates
                ok = unordered(ours) == unordered(theirs) or unordered(theirs) in {
                    unordered(x) for x in c.candidates[i]}
                same += ok
                if not ok:
                    diff[(ours, theirs)] += 1
            ours_ms = 1e3 * (r["read_s"] + r["call_s"]) / len(c.samples)
            peer_ms = 1e3 * dt / n
            tot_peer += peer_ms
            tot_ours += ours_ms
            top = "; ".join(f"{a} vs {b} ({k})" for (a, b), k in diff.most_common(4))
            print(f"| {r['gene']} | {n} | {dt:.1f} | {peer_ms:.1f} | {ours_ms:.3f} | "
                  f"{peer_ms / ours_ms:,.0f}× | {same}/{n} ({100 * same / n:.1f}%) | {top} |")
            sys.stdout.flush()
            # phenotypes: pypgx.predict_phenotype on pypgx's diplotypes vs genoma's
            ours_ph = genoma_phenotypes(c, ph)
            method = ph.gene(r["gene"]).method
            agree, dis = 0, collections.Counter()
            for i, s_ in enumerate(c.samples[:n]):
                theirs = peer.get(s_, "")
                tp = pypgx_phenotype(r["gene"], theirs, ph_cache) if theirs else "missing"
                op = ours_ph[i]
                # no phenotype defined for the gene: genoma says n/a, pypgx Indeterminate
                ok = op == tp or (method is None and op == "n/a" and tp == "Indeterminate")
                agree += ok
                if not ok:
                    dis[(r["gene"], c.diplotype(i), str(c.status[i]), op, theirs, tp)] += 1
            phen_rows.append((r["gene"], n, agree, method, dis))
        if phen_rows:
            print("\n### Phenotype agreement with pypgx (same phased input)\n")
            print("pypgx: `pypgx.predict_phenotype(gene, a, b)` on pypgx's own diplotype; "
                  "genoma: its phenotype of its own call (ambiguous calls: the common "
                  "phenotype of the candidates, else Indeterminate). Genes without a "
                  "phenotype method count as agreeing when genoma says `n/a` and pypgx "
                  "`Indeterminate`.\n")
            print("| gene | samples | phenotype method | agreement | disagreements |")
            print("|---|---|---|---|---|")
            tot_a = tot_n = 0
            for gene, n_, agree, method, dis in phen_rows:
                tot_a += agree
                tot_n += n_
                print(f"| {gene} | {n_} | {method or 'none'} | {agree}/{n_} "
                      f"({100 * agree / n_:.1f}%) | {sum(dis.values())} |")
            print(f"\n**{tot_a}/{tot_n} sample-genes agree ({100 * tot_a / tot_n:.2f}%).**\n")
            print("Every disagreement (gene, genoma diplotype [status] → phenotype, pypgx "
                  "diplotype → phenotype, samples):\n")
            for _gene, _n, _a, _m, dis in phen_rows:
                for (g, od, st, op, td, tp), m in sorted(dis.items()):
                    print(f"- {g}: genoma `{od}` [{st}] → {op}; pypgx `{td}` → {tp} ({m})")
            # the phenotype rules alone, on every sample: pypgx.predict_phenotype on
            # genoma's own called diplotypes (no pypgx calling needed, so all samples)
            print("\n### Phenotype rules on every panel sample (genoma's diplotypes)\n")
            print("| gene | samples (called) | distinct diplotypes | same phenotype "
                  "(samples) | differing diplotypes |")
            print("|---|---|---|---|---|")
            for r in rows:
                if r["gene"] not in want:
                    continue
                c = r["calls"]
                gp = ph.gene(r["gene"])
                idx = [i for i in range(len(c.samples)) if c.status[i] == "called"]
                dips = collections.Counter(c.diplotype(i) for i in idx)
                bad = {}
                for dip_ in dips:
                    x, _, y = dip_.partition("/")
                    op = gp.phenotype(x, y or None).phenotype
                    tp = pypgx_phenotype(r["gene"], dip_ if y else f"{x}/{x}", ph_cache)
                    if not (op == tp or (gp.method is None and op == "n/a"
                                         and tp == "Indeterminate")):
                        bad[dip_] = (op, tp)
                n_bad = sum(dips[x] for x in bad)
                print(f"| {r['gene']} | {len(idx)} | {len(dips)} | {len(idx) - n_bad} | "
                      + "; ".join(f"`{x}` {o} vs {t} ({dips[x]})" for x, (o, t) in bad.items())
                      + " |")
        if tot_ours:
            print(f"\n**pypgx {tot_peer:.0f} ms vs genoma {tot_ours:.2f} ms per sample over these "
                  f"genes: {tot_peer / tot_ours:,.0f}× faster per sample-gene.**\n")

    if args.getrm:
        v = load_validation()
        print("\n## GeT-RM concordance (1000 Genomes phased panel, GRCh38)\n")
        for gene in ("CYP2C19", "CYP2C9", "CYP2C8"):
            if gene not in set(k.genes["Gene"]):
                print(f"- {gene}: no definition in {k.version}")
                continue
            res = v.compare_2022(gene, knowledge=k)
            print(f"- {gene}: {res['match']}/{res['n']} exact after normalisation "
                  f"({100 * res['fraction']:.1f}%); {len(res['absent'])} GeT-RM samples not "
                  f"in the panel; ungradable {res['ungradable']}; discordant {res['discordant']}")
        res = v.compare_2022("CYP2C19", with38=True, knowledge=k)
        print(f"- CYP2C19 vs the column with *38, no normalisation: {res['match']}/{res['n']}")
        res = v.compare_2d6(knowledge=k)
        print(f"- CYP2D6 without SV/CNV: {res['nosv_match']}/{res['nosv_n']}; discordant "
              f"{res['nosv_discordant']}")
        print(f"- CYP2D6 with SV/CNV: {res['sv_n']} samples, {res['sv_wrong_without_outside']} "
              f"would be wrong from the VCF alone; every call carries the SV note: "
              f"{res['all_flagged']}")


if __name__ == "__main__":
    main()
