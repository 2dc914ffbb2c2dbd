"""Cross-check genoma's ACMG classes against ClinVar labels on the chr21 coding subset.

Input: ``annotation/variants/GRCh38_chr21_coding_subset.VEP115_cache84_sift_polyphen_af_clinsig``
(1,051 coding / splice variants annotated by VEP 115 with cache 84: 1000 Genomes
continental AFs, SIFT / PolyPhen-2 and ClinVar 2017-04 CLIN_SIG of the co-located
variant). From it this script derives, in a temporary folder:

* a sites VCF of the 1000 Genomes phase 3 AFs (AN per population from the phase 3 sample
  sizes, AC = round(AF × AN)), read with a custom :class:`FrequencySchema`;
* a ClinVar-style VCF of the CLIN_SIG labels (review status unknown → 0 stars, so PS1 /
  PM5 run with ``ps1_min_stars=0`` here);
* a score table of the canonical transcript's PolyPhen-2 and SIFT scores (PP3 / BP4 with
  the Pejaver 2022 thresholds; PolyPhen-2 first).

genoma annotates the variants (Ensembl 84 GFF3 + chr21 FASTA) and evaluates ACMG on the
picked protein-coding transcript. **Circularity**: the ClinVar file is the truth and the
PS1 / PM5 evidence source; a variant's own record is never used as evidence (PS1 needs a
different nucleotide change, PM5 a different amino acid), and CLIN_SIG only fills the
CLIN_SIG field. Frequencies and predictors are independent of ClinVar.

Run: ``.venv/bin/python benchmarks/acmg_clinvar_crosscheck.py`` (prints Markdown tables).
"""

from __future__ import annotations

import sys
import tempfile
from collections import Counter
from pathlib import Path

import pysam

from genoma.annotate.acmg import CLASSES, AcmgConfig
from genoma.annotate.csq import annotate_vcf
from genoma.annotate.evidence import EvidenceAnnotator
from genoma.kb.clinvar import ClinVar
from genoma.kb.frequencies import FrequencySchema, FrequencyTable
from genoma.kb.scores import ScoreTable

REPO = Path(__file__).resolve().parents[1]
DATA = REPO.parent / "shared" / "data"
VCF = DATA / "annotation/variants/GRCh38_chr21_coding_subset.VEP115_cache84_sift_polyphen_af_clinsig.vcf.gz"
FASTA = DATA / "reference/GRCh38/chr21.fa.gz"
GFF = DATA / "annotation/transcripts/ensembl_vep_test.chr21_full.gff3.gz"
# 1000 Genomes phase 3 alleles per super-population (2 × samples)
AN_1KG = {"AFR": 1322, "AMR": 694, "EAS": 1008, "EUR": 1006, "SAS": 978}


def truth_class(clin_sig: str) -> str | None:
    terms = set(clin_sig.lower().split("&"))
    p = bool(terms & {"pathogenic", "likely_pathogenic"})
    b = bool(terms & {"benign", "likely_benign"})
    if ((p or b) and "uncertain_significance" in terms) or (p and b):
        return None  # conflicting labels
    if p:
        return "P/LP"
    if b:
        return "B/LB"
    if "uncertain_significance" in terms:
        return "VUS"
    return None


def _score(s: str) -> str:
    return s.split("(")[1].rstrip(")") if "(" in s else ""


def derive(tmp: Path) -> tuple[Path, Path, Path]:
    vf = pysam.VariantFile(str(VCF))
    fmt = vf.header.info["CSQ"].description.split("Format: ")[1].split("|")
    ix = {k: i for i, k in enumerate(fmt)}
    sites, clin, scores = [], [], []
    for rec in vf:
        for alt in rec.alts or ():
            ents = [e.split("|") for e in rec.info.get("CSQ", ())]
            mine = [e for e in ents if e[0] in (alt, alt[1:] or "-")] or ents
            if not mine:
                continue
            e0 = mine[0]
            cs = next((e[ix["CLIN_SIG"]] for e in mine if e[ix["CLIN_SIG"]]), "")
            if cs:
                clin.append(f"{rec.chrom}\t{rec.pos}\t{len(clin) + 1}\t{rec.ref}\t{alt}\t.\t.\t"
                            f"CLNSIG={cs.replace('&', '|')};CLNREVSTAT=no_assertion_criteria_provided")
            afs = {p: e0[ix[f"{p}_AF"]] for p in AN_1KG}
            if any(afs.values()):
                info = []
                for p, an in AN_1KG.items():
                    try:
                        af = float(afs[p].split(":")[-1]) if afs[p] else 0.0
                    except ValueError:
                        af = 0.0
                    info += [f"AC_{p}={round(af * an)}", f"AN_{p}={an}", f"AF_{p}={af:g}"]
                sites.append(f"{rec.chrom}\t{rec.pos}\t.\t{rec.ref}\t{alt}\t.\tPASS\t{';'.join(info)}")
            can = next((e for e in mine if e[ix["CANONICAL"]] == "YES" and e[ix["PolyPhen"]]), None)
            if can is not None:
                scores.append(f"{rec.chrom}\t{rec.pos}\t{rec.ref}\t{alt}\t{_score(can[ix['PolyPhen']])}\t"
                              f"{_score(can[ix['SIFT']])}")
    hdr = "##fileformat=VCFv4.2\n"
    fr = tmp / "sites.vcf"
    fr.write_text(hdr + "".join(f'##INFO=<ID={k}_{p},Number={n},Type=String,Description="x">\n'
                                for p in AN_1KG for k, n in (("AC", "A"), ("AN", "1"), ("AF", "A")))
                  + "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "\n".join(sites) + "\n")
    cv = tmp / "clinvar.vcf"
    cv.write_text(hdr + "##fileDate=2017-04\n##reference=GRCh38\n"
                  '##INFO=<ID=CLNSIG,Number=.,Type=String,Description="x">\n'
                  '##INFO=<ID=CLNREVSTAT,Number=.,Type=String,Description="x">\n'
                  "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n" + "\n".join(clin) + "\n")
    sc = tmp / "scores.tsv"
    sc.write_text("#chr\tpos\tref\talt\tPolyPhen2\tSIFT\n" + "\n".join(scores) + "\n")
    out = []
    for p, preset in ((fr, "vcf"), (cv, "vcf")):
        pysam.tabix_compress(str(p), str(p) + ".gz", force=True)
        pysam.tabix_index(str(p) + ".gz", preset=preset, force=True)
        out.append(Path(str(p) + ".gz"))
    pysam.tabix_compress(str(sc), str(sc) + ".gz", force=True)
    pysam.tabix_index(str(sc) + ".gz", seq_col=0, start_col=1, end_col=1, meta_char="#", force=True)
    out.append(Path(str(sc) + ".gz"))
    return out[0], out[1], out[2]


def main() -> int:
    with tempfile.TemporaryDirectory() as t:
        tmp = Path(t)
        fr, cv, sc = derive(tmp)
        schema = FrequencySchema("1kg", tuple(AN_1KG), (), af=None, ac=None, an=None,
                                 pop_af="AF_{pop}", pop_ac="AC_{pop}", pop_an="AN_{pop}")
        clinvar = ClinVar(cv)
        ext = EvidenceAnnotator(
            clinvar=clinvar, frequencies=[FrequencyTable(fr, schema, "1000 Genomes phase 3")],
            scores=[ScoreTable(sc, "PolyPhen2"), ScoreTable(sc, "SIFT", higher_is_worse=False)],
            config=AcmgConfig(ps1_min_stars=0, ba1_min_an=600))
        annotate_vcf(VCF, FASTA, GFF, tmp / "out.vcf.gz", extender=ext, force=True)
        seen: set[tuple[int, str, str]] = set()
        rich: Counter[tuple[str, str]] = Counter()
        pts: Counter[tuple[str, str]] = Counter()
        crit: Counter[tuple[str, str]] = Counter()
        excluded = 0
        for row in ext.rows:
            key = (row.ctx.pos, row.ctx.ref, row.ctx.alt)
            if key in seen:
                continue
            seen.add(key)
            own = clinvar.lookup(row.ctx.chrom, row.ctx.pos, row.ctx.ref, row.ctx.alt)
            truth = truth_class(own.significance.replace("|", "&")) if own else None
            if truth is None:
                excluded += 1
                continue
            rich[(truth, row.result.richards)] += 1
            pts[(truth, row.result.points_class)] += 1
            for c in row.result.criteria:
                crit[(truth, c.label)] += 1
    short = {"Pathogenic": "P", "Likely_pathogenic": "LP", "Uncertain_significance": "VUS",
             "Likely_benign": "LB", "Benign": "B"}
    for title, tab in (("Richards 2015 rules", rich), ("Tavtigian 2020 points", pts)):
        print(f"\n{title} (rows: ClinVar label; columns: genoma class)\n")
        print("| ClinVar | " + " | ".join(short[c] for c in CLASSES) + " | n |")
        print("|---|" + "---:|" * (len(CLASSES) + 1))
        for t in ("P/LP", "VUS", "B/LB"):
            n = sum(tab[(t, c)] for c in CLASSES)
            print(f"| {t} | " + " | ".join(str(tab[(t, c)]) for c in CLASSES) + f" | {n} |")
    print(f"\nalleles evaluated with a ClinVar label: {len(seen) - excluded}; "
          f"without a label or conflicting: {excluded}")
    print("\ncriteria by ClinVar label:")
    for t in ("P/LP", "VUS", "B/LB"):
        items = sorted(((lab, n) for (tt, lab), n in crit.items() if tt == t), key=lambda x: -x[1])
        print(f"- {t}: " + ", ".join(f"{lab} {n}" for lab, n in items))
    return 0


if __name__ == "__main__":
    sys.exit(main())
