"""Spiked cases: causal variants of phenopacket-store cases in a real NA12878 chr21 background.

For every case whose causal variants all have GRCh38 coordinates and one gene, the
variants (with the case's zygosity; two heterozygous variants = compound heterozygote)
are added to the calls of NA12878 on chr21 (Platinum Genomes, 65,370 records) and genoma
ranks every (disease, gene) candidate. Reported: top-1/3/10 and MRR for the gene and the
disease, separately for diseases present in the annotation release ("known") and absent
("novel"), on the ``test`` half of the fixed split; parameters are fitted on ``fit``.

**Settings** (the flaw of a chr21-only background, measured three ways)

* ``naive``: as is. Genes off chr21 carry no background variant, so a causal gene off
  chr21 stands out through the genotype alone.
* ``fair``: every annotated gene off chr21 gets a synthetic background, fixed once for
  all cases (as one genome would be): seeded Poisson numbers of heterozygous /
  homozygous alleles per class at the rates (per kb of gene) measured on chr21.
  Parameters are fitted in this setting.
* ``chr21``: naive, restricted to cases whose causal gene lies on chr21 (real
  background only, few cases).

**Models**

* ``v1``: phenotype LR only, no variant classes (every variant in a gene counts alike;
  the model of the first release).
* ``v2``: learned phenotype combination + variant classes: the causal variants' class
  comes from a strict parse of their HGVS ``c.``/``p.`` (the phenopacket); the NA12878
  chr21 variants are annotated by genoma's annotator (chr21 GFF3 + the GRCh38 chr21
  sequence; where that sequence is N, a coding SNV's amino-acid effect is unknown and
  is drawn missense / synonymous 1:1, seeded); the synthetic background draws its
  classes from the chr21 class rates. Weight of a class = P(class | causal, fit cases) /
  P(class | NA12878 genic allele).
* ``v2f``: ``v2`` + a population-frequency filter (alleles with AF ≥ 1 % do not
  qualify). The shared data has no frequencies for these positions, so the filter is
  *simulated*: every background allele (real or synthetic) is rare with probability
  ``p_rare`` = the share of NA12878's alleles that are rare (AF < 1 %) in 1000 Genomes
  (measured on the 58 pharmacogene regions of the 3,202-sample NYGC 30x calls); causal
  variants count as rare (absent from the frequency table).

Usage: ``python benchmarks/rare_spiked.py [--limit N] [--fit-limit N] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import gzip
import itertools
import json
import sys
import time
from collections import Counter
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from rare_common import (
    BACKGROUND,
    SHARED,
    Ranks,
    case_genes,
    fmt,
    iter_split,
    load_cases,
    load_knowledge,
    split_of,
)

from genoma.analyses.rare.genotype import (
    GeneGenotype,
    GenotypeParams,
    VariantEvidence,
    collect_gene_variants,
    genotype_lr,
    variant_key,
)
from genoma.analyses.rare.inheritance import modes_for
from genoma.analyses.rare.phenotype import PhenotypeParams, score_phenotypes
from genoma.analyses.rare.ranking import _pairs
from genoma.analyses.rare.variant_class import VARIANT_CLASSES, class_from_hgvs
from genoma.model.genotype import Call, Genotype
from genoma.model.variant import Variant, canonical_chrom

_ZYG = {"heterozygous": (0, 1), "homozygous": (1, 1), "hemizygous": (1,)}
GFF21 = SHARED / "data" / "annotation" / "transcripts" / "ensembl_vep_test.chr21_full.gff3.gz"
REF21 = SHARED / "data" / "reference" / "GRCh38" / "chr21.fa.gz"
KGP = SHARED / "data" / "pgx" / "1kgp_grch38"
SEXES = ("MALE", "FEMALE", "UNKNOWN_SEX")


def spiked_calls(case: dict[str, Any]) -> tuple[list[Call], dict[str, str]] | None:
    """The case's causal variants as calls + their HGVS classes (``None`` if unusable)."""
    out, classes = [], {}
    for v in case["variants"]:
        if not v.get("chrom") or not v.get("pos") or not v.get("ref") or not v.get("alt"):
            return None
        gt = _ZYG.get(v.get("zygosity") or "heterozygous", (0, 1))
        try:
            var = Variant(chrom=canonical_chrom(str(v["chrom"])), pos=int(v["pos"]),
                          ref=v["ref"].upper(), alt=v["alt"].upper(), build="GRCh38")
        except ValueError:
            return None
        out.append(Call(variant=var, genotype=Genotype(alleles=gt), sample="case"))
        classes[variant_key(var)] = class_from_hgvs(v.get("hgvs_c"), v.get("hgvs_p"))
    return (out, classes) if out else None


def rare_fraction() -> dict[str, float]:
    """Share of NA12878's ALT alleles with AF < 1 % in 1000 Genomes (pharmacogene regions)."""
    tot = rare = 0
    for f in sorted(KGP.glob("*.vcf.gz")):
        idx = None
        with gzip.open(f, "rt") as fh:
            for line in fh:
                if line.startswith("##"):
                    continue
                t = line.rstrip("\n").split("\t")
                if line[0] == "#":
                    idx = t.index("NA12878") if "NA12878" in t else None
                    if idx is None:
                        break
                    continue
                if "," in t[4] or "1" not in t[idx].split(":")[0]:
                    continue
                gts = t[9:]
                ac = sum(x.split(":")[0].count("1") for x in gts)
                tot += 1
                rare += ac / (2 * len(gts)) < 0.01
    return {"p_rare": rare / max(tot, 1), "alleles": tot, "rare": rare}


def annotate_background(calls: list[Call], seed: int = 11
                        ) -> tuple[dict[str, list[tuple[str, str, str]]], dict[str, str]]:
    """genoma's consequences of the background calls, and class overrides for coding
    SNVs whose codon is unknown (N reference): missense / synonymous 1:1, seeded."""
    from genoma.analyses.rare.genotype import annotate_calls
    from genoma.annotate.csq import Annotator
    from genoma.annotate.sequence import Reference
    from genoma.annotate.transcripts import read_transcripts

    csq = annotate_calls(calls, Annotator(read_transcripts(GFF21), Reference(REF21)))
    rng = np.random.default_rng(seed)
    over: dict[str, str] = {}
    for key in sorted(csq):
        terms = {t for _s, c, _i in csq[key] for t in c.split("&")}
        if "coding_sequence_variant" in terms and not terms & {
                "missense_variant", "synonymous_variant", "stop_gained", "frameshift_variant",
                "inframe_insertion", "inframe_deletion", "splice_donor_variant",
                "splice_acceptor_variant", "start_lost", "stop_lost"}:
            _c, _p, ref, alt = key.split(":")
            if len(ref) == len(alt) == 1:
                over[key] = "missense" if rng.random() < 0.5 else "synonymous"
            else:
                over[key] = "inframe" if (len(alt) - len(ref)) % 3 == 0 else "lof"
    return csq, over


def chr21_rates(kn, table, real: dict[str, GeneGenotype]) -> tuple[dict, float]:
    """Alleles per kb of annotated chr21 gene, by zygosity and class; and the kb."""
    kb = 0.0
    counts: dict[str, Counter] = {"het": Counter(), "hom": Counter()}
    for g in kn.gene_rows:
        loci = table.loci(g)
        if not loci or loci[0].chrom != "chr21":
            continue
        kb += (loci[0].end - loci[0].start + 1) / 1000.0
        for v in real.get(g, GeneGenotype(g, "chr21", 0)).variants:
            counts["hom" if v.copies >= 2 else "het"][v.variant_class or "unknown"] += 1
    rates = {z: {c: n / kb for c, n in cnt.items()} for z, cnt in counts.items()}
    return rates, kb


def class_lr(fit_cases, rates) -> tuple[dict[str, float], dict[str, float], dict[str, float]]:
    """``P(class | causal)`` (fit cases' HGVS) / ``P(class | background allele)`` (chr21),
    both with add-one smoothing."""
    causal = Counter()
    for c in fit_cases:
        for v in c["variants"]:
            if v.get("pos"):
                causal[class_from_hgvs(v.get("hgvs_c"), v.get("hgvs_p"))] += 1
    bg = Counter()
    for z in rates:
        for c, r in rates[z].items():
            bg[c] += r
    n_c, n_b = sum(causal.values()), sum(bg.values())
    k = len(VARIANT_CLASSES)
    pi = {c: (causal[c] + 1) / (n_c + k) for c in VARIANT_CLASSES}
    rho = {c: (bg[c] + 1e-3) / (n_b + k * 1e-3) for c in VARIANT_CLASSES}
    lr = {c: pi[c] / rho[c] for c in VARIANT_CLASSES}
    lr["unknown"] = 1.0
    return lr, pi, rho


def class_lr_by_mode(kn, fit_cases, rates) -> dict[str, dict[str, float]]:
    """Class weights per mode group (AD, AR, X): :func:`class_lr` with the causal
    classes of the fit cases whose (known) disease has one mode of that group."""
    from genoma.analyses.rare.genotype import MODE_GROUPS

    out = {}
    for group in ("AD", "AR", "X"):
        sel = []
        for c in fit_cases:
            d = c["diseases"][0] if c.get("diseases") else None
            if d not in kn.row_of:
                continue
            groups = {MODE_GROUPS.get(m) for m in kn.moi[kn.row_of[d]]} - {None}
            if groups == {group}:
                sel.append(c)
        out[group] = {k: round(v, 4) for k, v in class_lr(sel, rates)[0].items()}
    return out


def synthetic_background(kn, table, rates: dict, *, classes: bool, p_keep: float = 1.0,
                         seed: int = 7, cap: int = 2) -> dict[str, GeneGenotype]:
    """Seeded Poisson background alleles for every annotated gene off chr21.

    ``classes``: alleles carry a class (drawn at the chr21 class rates); else one
    unclassified kind (the v1 model). ``p_keep`` thins the rates (frequency filter).
    At most ``cap`` alleles per (zygosity, class) are materialised: the genotype LR
    only looks at the best two.
    """
    rng = np.random.default_rng(seed)
    kinds = []
    for z in ("het", "hom"):
        if classes:
            kinds += [(z, c, r) for c, r in sorted(rates[z].items())]
        else:
            kinds.append((z, None, sum(rates[z].values())))
    out: dict[str, GeneGenotype] = {}
    for g in sorted(kn.gene_rows):
        loci = table.loci(g)
        if not loci or loci[0].chrom == "chr21":
            continue
        loc = loci[0]
        length = loc.end - loc.start + 1
        vs = []
        for z, c, r in kinds:
            n = min(cap, int(rng.poisson(r * p_keep * length / 1000.0)))
            for _ in range(n):
                pos = loc.start + (len(vs) * 97) % max(length, 1)
                var = Variant(chrom=loc.chrom, pos=pos, ref="A", alt="G", build="GRCh38")
                vs.append(VariantEvidence(variant=var, gene=g, copies=2 if z == "hom" else 1,
                                          weight=1.0, variant_class=c))
        if vs:
            out[g] = GeneGenotype(g, loc.chrom, length, vs, frequency_filtered=p_keep < 1.0)
    return out


def reweight(genes: dict[str, GeneGenotype], prm: GenotypeParams) -> dict[str, GeneGenotype]:
    """Weights from the classes under ``prm`` (a copy; weight 1 without a class)."""
    out = {}
    for g, gg in genes.items():
        vs = [replace(v, weight=prm.class_lr.get(v.variant_class, prm.weight_unannotated)
                      if (prm.class_lr and v.variant_class) else v.weight)
              for v in gg.variants]
        vs.sort(key=lambda e: -e.weight)
        out[g] = replace(gg, variants=vs)
    return out


def merge(bg: dict[str, GeneGenotype], extra: dict[str, GeneGenotype]
          ) -> dict[str, GeneGenotype]:
    """Background genes plus the spiked ones (variants concatenated)."""
    out = dict(bg)
    for g, gg in extra.items():
        if g in bg:
            vs = sorted(bg[g].variants + gg.variants, key=lambda e: -e.weight)
            out[g] = replace(bg[g], variants=vs)
        else:
            out[g] = gg
    return out


class GenoTable:
    """Genotype log10 LR of every (disease, gene) pair for one background, per sex; the
    spiked genes are recomputed per case."""

    def __init__(self, kn, bg: dict[str, GeneGenotype], prm: GenotypeParams, annotated: bool,
                 gene_chroms: dict[str, str]):
        self.kn, self.bg, self.prm, self.annotated = kn, bg, prm, annotated
        self.chroms = gene_chroms
        self.prow, self.pgene, self.genes = _pairs(kn)
        self.gi = {g: i for i, g in enumerate(self.genes)}
        self._by_sex: dict[str, np.ndarray] = {}
        self.pairs_of: dict[int, np.ndarray] = {}
        order = np.argsort(self.pgene, kind="stable")
        bounds = np.searchsorted(self.pgene[order], np.arange(len(self.genes) + 1))
        for i in range(len(self.genes)):
            self.pairs_of[i] = order[bounds[i]:bounds[i + 1]]

    def _gene(self, gl: np.ndarray, g: str, gg: GeneGenotype | None, sex: str) -> None:
        i = self.gi.get(g)
        if i is None:
            return
        cache: dict[tuple, float] = {}
        for k in self.pairs_of[i].tolist():
            modes = modes_for(self.kn.moi[int(self.prow[k])])
            if modes not in cache:
                cache[modes] = max(float(np.log10(genotype_lr(
                    gg, m, sex, annotated=self.annotated, params=self.prm,
                    chrom=self.chroms.get(g, ""))[0])) for m in modes)
            gl[k] = cache[modes]

    def base(self, sex: str) -> np.ndarray:
        if sex not in self._by_sex:
            gl = np.full(len(self.prow), float(np.log10(self.prm.lr_no_variant)))
            gl[self.pgene < 0] = float(np.log10(self.prm.lr_no_variant))
            for g, gg in self.bg.items():
                self._gene(gl, g, gg, sex)
            self._by_sex[sex] = gl
        return self._by_sex[sex]

    def case(self, spiked: dict[str, GeneGenotype], sex: str) -> np.ndarray:
        gl = self.base(sex).copy()
        for g, gg in merge({g: self.bg[g] for g in spiked if g in self.bg}, spiked).items():
            self._gene(gl, g, gg, sex)
        return gl


def prepare_cases(kn, table, cases, pparams: dict[str, PhenotypeParams]) -> list[dict]:
    """Spiked variants and phenotype scores (per phenotype model) of usable cases."""
    out = []
    for c in cases:
        sc = spiked_calls(c)
        genes = case_genes(c)
        if sc is None or len(genes) != 1:
            continue
        calls, classes = sc
        sex = c.get("sex") or "UNKNOWN_SEX"
        sex = sex if sex in SEXES else "UNKNOWN_SEX"
        ph = {}
        for name, p in pparams.items():
            ph[name] = score_phenotypes(kn, c["hpo_present"], c["hpo_excluded"], p).log10_lr
        out.append({
            "id": c["id"], "gene": genes[0], "disease": c["diseases"][0], "sex": sex,
            "ph": ph,
            "plain": collect_gene_variants(calls, table, sex=sex),
            "classed": collect_gene_variants(calls, table, sex=sex, classes=classes),
            "classed_f": collect_gene_variants(calls, table, sex=sex, classes=classes,
                                               frequencies={}),
            "classes": list(classes.values()),
        })
    return out


def evaluate(kn, prepared, tables: dict[str, GenoTable], model: dict[str, str],
             chr21_genes: set[str], settings=("naive", "fair", "chr21")) -> dict[str, Any]:
    """Ranks for one model (``{"pheno": name, "spiked": key, "tables": prefix}``)."""
    res: dict[str, list] = {}
    times = []
    for c in prepared:
        t0 = time.perf_counter()
        known = "known" if c["disease"] in kn.row_of else "novel"
        on21 = c["gene"] in chr21_genes
        for s in settings:
            if s == "chr21" and not on21:
                continue
            gt = tables[f"{model['tables']}/{'fair' if s == 'fair' else 'naive'}"]
            pl = c["ph"][model["pheno"]][gt.prow]
            spiked = reweight(c[model["spiked"]], gt.prm)
            tot = pl + gt.case(spiked, c["sex"])
            gbest = np.full(len(gt.genes), -np.inf)
            ok = gt.pgene >= 0
            np.maximum.at(gbest, gt.pgene[ok], tot[ok])
            rbest = np.full(kn.n_rows, -np.inf)
            np.maximum.at(rbest, gt.prow, tot)
            gi = gt.gi.get(c["gene"])
            g_rank = int((gbest >= gbest[gi]).sum()) if gi is not None else None
            for k in (f"{s}/gene/{known}", f"{s}/gene/all"):
                res.setdefault(k, []).append(g_rank)
            if known == "known":
                r = kn.row_of[c["disease"]]
                res.setdefault(f"{s}/disease/known", []).append(int((rbest >= rbest[r]).sum()))
        times.append(time.perf_counter() - t0)
    out: dict[str, Any] = {k: Ranks(v).summary() for k, v in sorted(res.items())}
    out["seconds_per_case_ranking"] = float(np.mean(times)) if times else None
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--limit", type=int, default=0, help="test cases (0 = all)")
    ap.add_argument("--fit-limit", type=int, default=300, help="fit cases for the grid")
    ap.add_argument("--no-fit", action="store_true")
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    t0 = time.time()
    kn = load_knowledge(cached=True)
    from genoma.io.vcf import open_vcf
    from genoma.kb.genes import gene_table

    table = gene_table("GRCh38")
    with open_vcf(BACKGROUND) as v:
        sample = v.samples[0]
        bg_calls = [c for c in v.calls(sample) if any(x == 1 for x in c.genotype.alleles)]
    csq, over = annotate_background(bg_calls)
    rf = rare_fraction()
    p_rare = rf["p_rare"]
    rng = np.random.default_rng(13)
    freqs = {variant_key(c.variant): (0.0 if rng.random() < p_rare else 0.5)
             for c in bg_calls}
    plain_real = collect_gene_variants(bg_calls, table, sex="FEMALE")
    classed_real = collect_gene_variants(bg_calls, table, sex="FEMALE", consequences=csq,
                                         classes=over)
    classed_real_f = collect_gene_variants(bg_calls, table, sex="FEMALE", consequences=csq,
                                           classes=over, frequencies=freqs)
    rates, kb21 = chr21_rates(kn, table, classed_real)
    cases = load_cases()
    fit = list(iter_split(cases, "fit"))
    test = list(iter_split(cases, "test"))
    clr, pi, rho = class_lr(fit, rates)
    r_all = sum(sum(r.values()) for r in rates.values())
    gene_chroms = {g: lo[0].chrom for g in kn.gene_rows if (lo := table.loci(g))}
    chr21_genes = {g for g, ch in gene_chroms.items() if ch == "chr21"}
    syn_plain = synthetic_background(kn, table, rates, classes=False)
    syn_cls = synthetic_background(kn, table, rates, classes=True)
    syn_cls_f = synthetic_background(kn, table, rates, classes=True, p_keep=p_rare)
    info = {"background_alleles": len(bg_calls), "chr21_annotated_gene_kb": kb21,
            "rates_per_kb": rates, "alleles_per_kb": r_all, "rare_fraction": rf,
            "class_lr": clr, "p_class_causal": pi, "p_class_background": rho,
            "synthetic_genes": {"v1": len(syn_plain), "v2": len(syn_cls),
                                "v2f": len(syn_cls_f)}}
    print(json.dumps(info, indent=1), f"({time.time() - t0:.1f} s)", file=sys.stderr)
    pheno_lr = PhenotypeParams(model="lr")
    pheno_comb = PhenotypeParams(model="combined")
    pp = {"lr": pheno_lr, "combined": pheno_comb}

    bym = class_lr_by_mode(kn, fit, rates)
    info["class_lr_by_mode"] = bym

    def params_for(model: str, cap: float, by_mode: bool) -> GenotypeParams:
        if model == "v1":
            return GenotypeParams(rate_per_kb=1.0, lr_cap=cap, class_lr={},
                                  class_lr_by_mode={})
        return GenotypeParams(rate_per_kb=1.0, rate_per_kb_annotated=r_all,
                              rate_per_kb_filtered=r_all * p_rare, lr_cap=cap,
                              class_lr=clr, class_lr_by_mode=bym if by_mode else {})

    def build_tables(model: str, prm: GenotypeParams) -> dict[str, GenoTable]:
        real, syn, ann = {"v1": (plain_real, syn_plain, False),
                          "v2": (classed_real, syn_cls, True),
                          "v2f": (classed_real_f, syn_cls_f, True)}[model]
        real, syn = reweight(real, prm), reweight(syn, prm)
        return {f"{model}/naive": GenoTable(kn, real, prm, ann, gene_chroms),
                f"{model}/fair": GenoTable(kn, merge(real, syn), prm, ann, gene_chroms)}

    models = {"v1": {"pheno": "lr", "spiked": "plain", "tables": "v1"},
              "v2": {"pheno": "combined", "spiked": "classed", "tables": "v2"},
              "v2f": {"pheno": "combined", "spiked": "classed_f", "tables": "v2f"}}
    # the genotype grid (third round): LR cap × per-mode class weights; lr_no_variant and
    # lr_one_hit stay at their defaults (a grid over them had no effect, second round)
    default = GenotypeParams()
    chosen = {m: (default.lr_cap, True) for m in models}
    fit_log = {}
    if not a.no_fit:
        sub = prepare_cases(kn, table, fit[: a.fit_limit * 2], pp)[: a.fit_limit]
        for m in models:
            scored = []
            for cap, by_mode in itertools.product([100.0, 300.0, 1000.0, 10000.0],
                                                  [False, True]):
                prm = params_for(m, cap, by_mode)
                r = evaluate(kn, sub, build_tables(m, prm), models[m], chr21_genes,
                             settings=("fair",))
                g = r.get("fair/gene/known", {"top1": 0, "mrr": 0})
                scored.append((g["top1"], g["mrr"], (cap, by_mode)))
                print(f"fit {m} cap={cap} by_mode={by_mode}: fair known gene top1 {g['top1']:.3f} "
                      f"mrr {g['mrr']:.3f}", file=sys.stderr)
            scored.sort(key=lambda x: (x[0], x[1]), reverse=True)
            chosen[m] = scored[0][2]
            fit_log[m] = [(s[2], s[0], s[1]) for s in scored]
    run = test[: a.limit] if a.limit else test
    t1 = time.time()
    prepared = prepare_cases(kn, table, run, pp)
    prep_s = (time.time() - t1) / max(len(prepared), 1)
    res: dict[str, Any] = {"info": info, "fit": fit_log, "chosen": chosen}
    for m, spec in models.items():
        prm = params_for(m, *chosen[m])
        res[m] = evaluate(kn, prepared, build_tables(m, prm), spec, chr21_genes)
    res["seconds_per_case_phenotype_and_spiking"] = prep_s
    res["knowledge"] = {"annotations": kn.annotation_version, "hpo": kn.hpo_version}
    res["split"] = {"test_cases_read": len(run), "scored": len(prepared),
                    "skipped_no_coordinates_or_multi_gene": len(run) - len(prepared),
                    "fit_cases_for_grid": a.fit_limit,
                    "fit": sum(1 for c in cases if split_of(c["id"]) == "fit")}
    res["phenotype_params"] = {k: v.__dict__ for k, v in pp.items()}
    print(json.dumps(res, indent=1, default=str))
    for m in models:
        for k, v in res[m].items():
            if isinstance(v, dict) and "n" in v:
                print(f"| {m} | {k} | {fmt(v)} |")
    if a.json:
        a.json.write_text(json.dumps(res, indent=1, default=str))


if __name__ == "__main__":
    main()
