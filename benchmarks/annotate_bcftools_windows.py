"""genoma annotate on the bcftools csq test windows (55 real gene windows, expected output).

The windows' expected consequences are bcftools csq's. Compared here, per record and
transcript, after mapping bcftools terms to SO terms. In scope: sequence alleles (no
symbolic ``<INS>``/``<DEL>``), bcftools entries that are not haplotype-aware compound
calls (``@`` references, ``A>B+C>D`` changes). VEP's finer splice terms (donor 5th base,
donor region) count as ``splice_region``; terms bcftools never writes with others
(``intron`` next to a splice term, polypyrimidine tract, NMD, non-coding transcript) are
dropped before the comparison.

Usage: ``.venv/bin/python benchmarks/annotate_bcftools_windows.py [--shared DIR]``
"""

from __future__ import annotations

import argparse
from collections import Counter, defaultdict
from pathlib import Path

from cyvcf2 import VCF

from genoma.annotate.csq import Annotator
from genoma.annotate.sequence import Reference
from genoma.annotate.transcripts import read_transcripts

BCF2SO = {
    "missense": "missense_variant", "synonymous": "synonymous_variant", "stop_gained": "stop_gained",
    "stop_lost": "stop_lost", "start_lost": "start_lost", "start_retained": "start_retained_variant",
    "stop_retained": "stop_retained_variant", "frameshift": "frameshift_variant",
    "inframe_deletion": "inframe_deletion", "inframe_insertion": "inframe_insertion",
    "inframe_altering": "protein_altering_variant",
    "splice_donor": "splice_donor_variant", "splice_acceptor": "splice_acceptor_variant",
    "splice_region": "splice_region_variant", "5_prime_utr": "5_prime_UTR_variant",
    "3_prime_utr": "3_prime_UTR_variant", "intron": "intron_variant",
    "non_coding": "non_coding_transcript_exon_variant", "coding_sequence": "coding_sequence_variant",
}
OURS = {"splice_donor_5th_base_variant": "splice_region_variant",
        "splice_donor_region_variant": "splice_region_variant"}
DROP = {"NMD_transcript_variant", "non_coding_transcript_variant", "splice_polypyrimidine_tract_variant"}


def run(shared: Path) -> tuple[Counter, list]:
    res: Counter = Counter()
    diffs: list = []
    for d in sorted((shared / "reference" / "bcftools_csq").iterdir()):
        fa, gff = sorted(d.glob("*.fa")), sorted(d.glob("*.gff"))
        if not d.is_dir() or not fa or not gff:
            continue
        try:
            ann = Annotator(read_transcripts(gff[0]), Reference(fa[0]))
        except Exception as exc:  # report, do not hide
            res["window not loadable"] += 1
            diffs.append((d.name, "load", str(exc)[:120]))
            continue
        for v in sorted(d.glob("*.vcf")):
            for rec in VCF(str(v)):
                exp = rec.INFO.get("EXP")
                if exp is None:
                    continue
                if any(a.startswith("<") for a in rec.ALT):
                    res["out of scope: symbolic allele"] += 1
                    continue
                _, entries = next(ann.annotate_batch(rec.CHROM, [rec.POS], [rec.REF], [rec.ALT]))
                want: dict[str, set[str]] = defaultdict(set)
                skip = False
                for e in exp.split(","):
                    f = e.split("|")
                    if f[0].startswith("@") or (len(f) > 6 and "+" in f[6]):
                        skip = True
                        continue
                    if f[0] == ".":
                        want["."] = set()
                        continue
                    want[f[2] if len(f) > 2 else ""] |= {BCF2SO.get(t, t) for t in f[0].split("&")
                                                          if t not in ("feature_elongation", "feature_truncation")}
                if skip:
                    res["out of scope: haplotype-aware compound"] += 1
                    continue
                for tid, terms in want.items():
                    got: set[str] = set()
                    for x in entries:
                        g = x.split("|")
                        if tid == "." or g[6] == tid or (not tid and g[3]):
                            got |= set(g[1].split("&"))
                    got = {OURS.get(t, t) for t in got} - DROP
                    if tid == ".":
                        got -= {"intergenic_variant", "upstream_gene_variant", "downstream_gene_variant"}
                    elif "intron_variant" not in terms:
                        got.discard("intron_variant")
                    ok = got == terms
                    res["agree" if ok else "differ"] += 1
                    if not ok:
                        diffs.append((f"{d.name}/{v.name}", rec.POS, rec.REF, ",".join(rec.ALT),
                                      "bcftools=" + "&".join(sorted(terms)), "genoma=" + "&".join(sorted(got))))
    return res, diffs


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--shared", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    args = ap.parse_args()
    res, diffs = run(Path(args.shared))
    print("| outcome | count |\n|---|---:|")
    for k, n in res.most_common():
        print(f"| {k} | {n} |")
    print()
    for dline in diffs:
        print("-", " ".join(str(x) for x in dline))


if __name__ == "__main__":
    main()
