"""Training table for the pathogenicity model, built from the real data in ``../shared/data``.

Used at development time only (``benchmarks/train_pathogenicity.py`` and the validation
test); the product ships the fitted model, never these data.

Sources (paths relative to the shared ``data`` folder):

- **pathogenic**: causal variants of the phenopacket-store cases
  (``rare/cases-dev.jsonl.gz``; HGVS ``c.`` and ``p.`` on the MANE/RefSeq transcript the
  authors used); ClinVar pathogenic / likely pathogenic labels carried by the VEP
  annotations (``CLIN_SIG``) and the varfish ClinVar excerpt (GRCh37 chr22 ADA2–GAB4).
- **benign**: common variants: 1000 Genomes global or population AF ≥ 1 % of the ALT allele
  (VEP cache ``vepcache84_var.txt.gz`` joined by rsID to the VEP 115 annotation of the
  chr21 dbSNP set; ``MAX_AF`` of the chr21 coding subset) and ExAC adjusted AF ≥ 1 %
  (``GRCh37_*ExAC_r1.sites.vep.vcf.gz``); missense SNVs of 1000 Genomes pharmacogene
  panels with AF ≥ 1 % (``pgx/1kgp_grch38``; protein change from PyPI ``pypgx``'s variant
  table, no ``c.``); ClinVar benign / likely benign labels as above; gnomAD / 1000 Genomes
  AF ≥ 1 % (any population, ``MAX_AF`` included) in the VEP annotation of GRCh37 chr1
  14,464–861,213 (bcftools ``split-vep`` test file).
- **both, annotated by genoma itself**: ClinVar labels (2020 varfish excerpt and 2023-07
  Exomiser test VCF, GRCh37 chr1; dropped where the releases disagree) inside the real
  SAMD11 sequence window of the bcftools csq tests
  (``reference/bcftools_csq/ENST00000341065``: window FASTA + Ensembl GFF3); ``c.``/``p.``
  come from :class:`genoma.annotate.csq.Annotator` on that window (variants already
  labelled through the ExAC join are skipped).

For annotated sets the canonical protein-coding transcript's ``HGVSc``/``HGVSp`` are used.
Rows are keyed by (gene, ``c.`` description without accession); a key labelled both ways
is dropped. SIFT / PolyPhen scores are kept as baseline columns where VEP gave them.
"""

from __future__ import annotations

import gzip
import json
import re
from collections.abc import Iterator
from pathlib import Path

import pandas as pd

__all__ = ["COLUMNS", "holdout_genes", "load_training_table"]

COLUMNS = ("gene", "hgvs_c", "hgvs_p", "label", "source", "sift", "polyphen")

_P_WORDS = ("pathogenic",)
_B_WORDS = ("benign",)


def _clinsig_label(text: str) -> int | None:
    """1 for (likely) pathogenic, 0 for (likely) benign, None for other or conflicting."""
    t = text.lower().replace("_", " ")
    if not t:
        return None
    terms = {x.strip() for x in re.split(r"[&;/,]|\(\d+\)", t) if x.strip()}
    p = any(x in ("pathogenic", "likely pathogenic") for x in terms)
    b = any(x in ("benign", "likely benign") for x in terms)
    if "conflicting" in t or (p and b) or not (p or b):
        return None
    return 1 if p else 0


def _legacy_vep_p(hgvs_p: str) -> str:
    """Older VEP wrote synonymous changes as ``ENST…:c.717C>A(p.%3D)``: keep the ``p.`` part."""
    m = re.match(r"^.*\((p\..*)\)$", hgvs_p or "")
    return m.group(1) if m and ":c." in hgvs_p else (hgvs_p or "")


def _strip_acc(hgvs: str) -> str:
    return hgvs.split(":", 1)[1] if ":" in hgvs else hgvs


def _score(text: str) -> float | None:
    m = re.search(r"\(([\d.]+)\)", text or "")
    return float(m.group(1)) if m else None


def _csq_row(d: dict[str, str], label: int, source: str, *, scores: bool = False) -> dict:
    """A training row from a VEP CSQ entry (with SIFT / PolyPhen when ``scores``)."""
    row: dict = {
        "gene": d["SYMBOL"],
        "hgvs_c": d["HGVSc"],
        "hgvs_p": d.get("HGVSp", ""),
        "label": label,
        "source": source,
    }
    if scores:
        row["sift"] = _score(d.get("SIFT", ""))
        row["polyphen"] = _score(d.get("PolyPhen", ""))
    return row


def _csq_format(header_lines: list[str]) -> list[str]:
    for h in header_lines:
        if h.startswith("##INFO=<ID=CSQ"):
            return h.split("Format: ", 1)[1].split('"', 1)[0].split("|")
    raise ValueError("no CSQ header")


def _vcf_csq(path: Path) -> Iterator[tuple[list[str], dict[str, str], list[dict[str, str]]]]:
    """(fields, INFO dict, canonical protein-coding CSQ entries with HGVSc) per record."""
    header: list[str] = []
    fmt: list[str] | None = None
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                header.append(line)
                continue
            if fmt is None:
                fmt = _csq_format(header)
            f = line.rstrip("\n").split("\t")
            info = dict(kv.split("=", 1) if "=" in kv else (kv, "") for kv in f[7].split(";"))
            entries = []
            for e in info.get("CSQ", "").split(","):
                d = dict(zip(fmt, e.split("|"), strict=False))
                if (
                    d.get("CANONICAL") == "YES"
                    and d.get("BIOTYPE") == "protein_coding"
                    and d.get("HGVSc")
                ):
                    entries.append(d)
            yield f, info, entries


def _phenopackets(path: Path) -> list[dict]:
    rows = []
    with gzip.open(path, "rt") as fh:
        for line in fh:
            for v in json.loads(line)["variants"]:
                if v.get("hgvs_c") and v.get("gene"):
                    rows.append(
                        {
                            "gene": v["gene"],
                            "hgvs_c": v["hgvs_c"],
                            "hgvs_p": v.get("hgvs_p") or "",
                            "label": 1,
                            "source": "phenopacket-store",
                        }
                    )
    return rows


def _vep_var_maf(path: Path) -> dict[str, dict[str, float]]:
    """rsID → {allele (VEP notation): max of global and population 1000 Genomes AFs}.

    The VEP cache text has a variable number of whitespace-separated columns; the
    frequencies are the ``ALLELE FREQ`` pair (global minor allele) and ``ALLELE:FREQ``
    tokens (populations).
    """
    out: dict[str, dict[str, float]] = {}
    num = re.compile(r"^\d*\.?\d+(?:e-?\d+)?$")
    allele = re.compile(r"^[ACGT-]+$")
    with gzip.open(path, "rt") as fh:
        for line in fh:
            f = line.split()
            afs: dict[str, float] = {}
            for k, tok in enumerate(f[1:], start=1):
                a, sep, val = tok.partition(":")
                if sep and allele.match(a) and num.match(val):
                    afs[a] = max(afs.get(a, 0.0), float(val))
                elif (
                    allele.match(tok) and k + 1 < len(f) and num.match(f[k + 1]) and "/" not in tok
                ):
                    afs[tok] = max(afs.get(tok, 0.0), float(f[k + 1]))
            if afs:
                out[f[0]] = afs
    return out


def _vep_allele(ref: str, alt: str) -> str:
    if len(ref) != len(alt) and ref[:1] == alt[:1]:
        return alt[1:] or "-"
    return alt


def _chr21(data: Path) -> list[dict]:
    var = _vep_var_maf(data / "annotation/variants/GRCh38_chr21_25-26Mb.vepcache84_var.txt.gz")
    rows = []
    parts = sorted(
        (data / "annotation/variants").glob(
            "GRCh38_chr21_dbsnp149.VEP115_cache84_ensembl.part*.vcf.gz"
        )
    )
    for part in parts:
        for f, _info, entries in _vcf_csq(part):
            alts = f[4].split(",")
            for d in entries:
                label = _clinsig_label(d.get("CLIN_SIG", ""))
                source = "chr21 ClinVar (VEP CLIN_SIG)"
                if label is None:
                    afs = var.get(f[2], {})
                    if len(alts) == 1 and afs.get(_vep_allele(f[3], alts[0]), 0.0) >= 0.01:
                        label, source = 0, "chr21 1000G AF>=1%"
                if label is None:
                    continue
                rows.append(_csq_row(d, label, source))
    cs = (
        data
        / "annotation/variants/GRCh38_chr21_coding_subset.VEP115_cache84_sift_polyphen_af_clinsig.vcf.gz"
    )
    for _f, _info, entries in _vcf_csq(cs):
        for d in entries:
            label = _clinsig_label(d.get("CLIN_SIG", ""))
            source = "chr21 ClinVar (VEP CLIN_SIG)"
            if label is None and d.get("MAX_AF") and float(d["MAX_AF"]) >= 0.01:
                label, source = 0, "chr21 MAX_AF>=1%"
            rows.append(_csq_row(d, label, source, scores=True))
    return rows


def _varfish_labels(path: Path) -> dict[tuple[str, int, str, str], int]:
    out = {}
    with gzip.open(path, "rt") as fh:
        cols = fh.readline().rstrip("\n").split("\t")
        i = {c: k for k, c in enumerate(cols)}
        for line in fh:
            f = line.rstrip("\n").split("\t")
            col = i.get("summary_clinvar_pathogenicity_label", i.get("pathogenicity"))
            lab = _clinsig_label(f[col]) if col is not None else None
            if lab is not None:
                out[
                    (f[i["chromosome"]], int(f[i["start"]]), f[i["reference"]], f[i["alternative"]])
                ] = lab
    return out


def _clinvar_vcf_labels(path: Path) -> dict[tuple[str, int, str, str], int]:
    """(chrom, pos, ref, alt) → label from a ClinVar VCF's ``CLNSIG`` (P/LP 1, B/LB 0)."""
    out = {}
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.split("\t", 8)
            m = re.search(r"(?:^|;)CLNSIG=([^;\t]*)", f[7])
            lab = _clinsig_label(m.group(1)) if m else None
            if lab is not None and "," not in f[4]:
                out[(f[0], int(f[1]), f[3], f[4])] = lab
    return out


def _allele_index(d: dict[str, str], ref: str, alts: list[str]) -> int | None:
    num = d.get("ALLELE_NUM", "")
    if num.isdigit() and 1 <= int(num) <= len(alts):
        return int(num) - 1
    for k, alt in enumerate(alts):
        if _vep_allele(ref, alt) == d.get("Allele"):
            return k
    return None


def _exac(data: Path) -> list[dict]:
    v = data / "annotation/variants"
    clinvar: dict[tuple[str, int, str, str], int] = {}
    for name in (
        "GRCh37_chr22_ADA2_GAB4.varfish_clinvar.tsv.gz",
        "GRCh37_chr1_861332-981976.varfish_clinvar.tsv.gz",
    ):
        clinvar.update(_varfish_labels(v / name))
    # ClinVar 2023-07 (GRCh37 chr1 Exomiser test VCF) where 2020 has no label; a variant
    # the two releases label differently is dropped.
    for k, lab in _clinvar_vcf_labels(v / "GRCh37_chr1.exomiser_clinvar-test.vcf.gz").items():
        if clinvar.setdefault(k, lab) != lab:
            clinvar[k] = -1
    rows = []
    for name in (
        "GRCh37_chr22_ADA2_GAB4.ExAC_r1.sites.vep.vcf.gz",
        "GRCh37_chr1_1-877769.ExAC_r1.sites.vep.vcf.gz",
    ):
        for f, info, entries in _vcf_csq(v / name):
            alts = f[4].split(",")
            ac = [int(x) for x in info.get("AC_Adj", "0").split(",")]
            an = int(info.get("AN_Adj", "0") or 0)
            for d in entries:
                k = _allele_index(d, f[3], alts)
                if k is None:
                    continue
                alt = alts[k]
                label = clinvar.get((f[0], int(f[1]), f[3], alt))
                source = "ClinVar 2020/2023 (varfish, Exomiser test VCF)"
                if label == -1:
                    continue
                if label is None:
                    label = _clinsig_label(d.get("CLIN_SIG", ""))
                    source = "ExAC VEP CLIN_SIG"
                if label is None and an and ac[k] / an >= 0.01:
                    label, source = 0, "ExAC AF>=1%"
                if label is None:
                    continue
                rows.append(_csq_row(d, label, source, scores=True))
    return rows


_AA1_TO_3 = {
    "A": "Ala", "R": "Arg", "N": "Asn", "D": "Asp", "C": "Cys", "Q": "Gln", "E": "Glu", "G": "Gly",
    "H": "His", "I": "Ile", "L": "Leu", "K": "Lys", "M": "Met", "F": "Phe", "P": "Pro", "S": "Ser",
    "T": "Thr", "W": "Trp", "Y": "Tyr", "V": "Val", "*": "Ter",
}  # fmt: skip


def _vcf_af(
    path: Path, wanted: dict[int, list[tuple[str, str, str]]]
) -> dict[tuple[int, str, str], float]:
    """Max of global and continental AFs (INFO ``AF``, ``AF_*``) of the wanted SNVs."""
    out: dict[tuple[int, str, str], float] = {}
    with gzip.open(path, "rt") as fh:
        for line in fh:
            if line.startswith("#"):
                continue
            f = line.split("\t", 8)
            pos = int(f[1])
            if pos not in wanted:
                continue
            alts = f[4].split(",")
            afs: dict[str, list[float]] = {}
            for kv in f[7].split(";"):
                key, _, val = kv.partition("=")
                if key == "AF" or key.startswith("AF_"):
                    for a, v in zip(alts, val.split(","), strict=False):
                        if v not in (".", ""):
                            afs.setdefault(a, []).append(float(v))
            for ref, alt, _p in wanted[pos]:
                if f[3] == ref and alt in afs:
                    out[(pos, ref, alt)] = max(afs[alt])
    return out


def _pgx_common_missense(data: Path) -> list[dict]:
    """Missense and synonymous SNVs of the pharmacogenes in PyPI ``pypgx``'s variant table
    (protein change from its ``Impact`` column) with AF ≥ 1 % in the 1000 Genomes 30x
    panels (``pgx/1kgp_grch38/GENE.vcf.gz``)."""
    from importlib.resources import files

    table = pd.read_csv(files("pypgx.api.data").joinpath("variant-table.csv"))
    rows = []
    for gene, sub in table.groupby("Gene"):
        vcf = data / "pgx/1kgp_grch38" / f"{gene}.vcf.gz"
        if not vcf.exists():
            continue
        wanted: dict[int, list[tuple[str, str, str]]] = {}
        for r in sub.itertuples():
            m = re.fullmatch(
                r"([ACDEFGHIKLMNPQRSTVWY])(\d+)([ACDEFGHIKLMNPQRSTVWY*])", str(r.Impact)
            )
            ref, alt = str(r.GRCh38Allele), str(r.Variant)
            if not m or len(ref) != 1 or len(alt) != 1 or pd.isna(r.GRCh38Position):
                continue
            p = f"p.{_AA1_TO_3[m.group(1)]}{m.group(2)}{_AA1_TO_3[m.group(3)]}"
            wanted.setdefault(int(r.GRCh38Position), []).append((ref, alt, p))
        afs = _vcf_af(vcf, wanted)
        for pos, lst in wanted.items():
            for ref, alt, p in lst:
                if afs.get((pos, ref, alt), 0.0) >= 0.01:
                    rows.append(
                        {
                            "gene": gene,
                            "hgvs_c": "",
                            "hgvs_p": p,
                            "label": 0,
                            "source": "pharmacogene 1000G AF>=1% (pypgx)",
                        }
                    )
    return rows


def _split_vep(data: Path) -> list[dict]:
    """GRCh37 chr1 14,464–861,213 VEP annotations: ClinVar ``CLIN_SIG``, else benign when
    any 1000 Genomes / ESP / gnomAD population AF (or ``MAX_AF``) of the allele is ≥ 1 %."""
    path = data / "annotation/variants/GRCh37_chr1_14464-861213.bcftools_split-vep.VEP.vcf.gz"
    rows = []
    for _f, _info, entries in _vcf_csq(path):
        for d in entries:
            label = _clinsig_label(d.get("CLIN_SIG", ""))
            source = "chr1 VEP CLIN_SIG (split-vep)"
            if label is None:
                afs = [
                    float(x)
                    for k, v in d.items()
                    if k == "AF" or k.endswith("_AF")  # 1000G, ESP, gnomAD populations, MAX_AF
                    for x in v.split("&")
                    if x not in ("", ".")
                ]
                if afs and max(afs) >= 0.01:
                    label, source = 0, "chr1 gnomAD/1000G AF>=1% (split-vep)"
            if label is None:
                continue
            rows.append(_csq_row(d, label, source, scores=True))
    return rows


def _window_offset(fasta: Path) -> tuple[str, int]:
    """Chromosome and 0-based offset of a bcftools csq window (header ``>1 1:860260-879955``)."""
    with fasta.open() as fh:
        head = fh.readline()
    m = re.search(r"(\w+):(\d+)-\d+", head)
    if not m:
        raise ValueError(f"{fasta}: no genomic coordinates in the FASTA header")
    return m.group(1), int(m.group(2)) - 1


def _samd11_clinvar(data: Path) -> list[dict]:
    """ClinVar 2020 (varfish) and 2023-07 (Exomiser test VCF) GRCh37 variants inside the real
    SAMD11 window, annotated by genoma on the window's sequence and Ensembl transcript
    (ENST00000341065, a 5'-incomplete model: protein positions are that model's)."""
    from genoma.annotate.csq import CSQ_FIELDS, Annotator
    from genoma.annotate.sequence import Reference
    from genoma.annotate.transcripts import read_transcripts

    win = data / "reference/bcftools_csq/ENST00000341065"
    fasta, gff = win / "ENST00000341065.fa", win / "ENST00000341065.gff"
    chrom, off = _window_offset(fasta)
    length = int(Path(f"{fasta}.fai").read_text().split("\t")[1])
    v = data / "annotation/variants"
    labels = _varfish_labels(v / "GRCh37_chr1_861332-981976.varfish_clinvar.tsv.gz")
    # ClinVar 2023-07 (Exomiser test VCF, GRCh37 chr1): added where 2020 has no label;
    # a variant the two releases label differently is dropped.
    newer = _clinvar_vcf_labels(v / "GRCh37_chr1.exomiser_clinvar-test.vcf.gz")
    for k, lab in newer.items():
        if labels.setdefault(k, lab) != lab:
            labels[k] = -1
    labels = {k: lab for k, lab in labels.items() if lab >= 0}
    seen = set()  # already labelled through the ExAC join (other transcript, same variant)
    with gzip.open(v / "GRCh37_chr1_1-877769.ExAC_r1.sites.vep.vcf.gz", "rt") as fh:
        for line in fh:
            if not line.startswith("#"):
                f = line.split("\t", 5)
                seen |= {(f[0], int(f[1]), f[3], a) for a in f[4].split(",")}
    keys = [
        k for k in sorted(labels) if k[0] == chrom and off < k[1] <= off + length and k not in seen
    ]
    ann = Annotator(read_transcripts(gff), Reference(fasta))
    res = ann.annotate_batch(
        chrom, [k[1] - off for k in keys], [k[2] for k in keys], [[k[3]] for k in keys]
    )
    rows = []
    for k, (ref_ok, entries) in zip(keys, res, strict=True):
        if not ref_ok:
            continue
        for e in entries:
            d = dict(zip(CSQ_FIELDS, e.split("|"), strict=False))
            if d.get("HGVSc") and d.get("BIOTYPE") == "protein_coding":
                rows.append(
                    {
                        "gene": d["SYMBOL"],
                        "hgvs_c": d["HGVSc"],
                        "hgvs_p": d.get("HGVSp", ""),
                        "label": labels[k],
                        "source": "ClinVar 2020/2023 SAMD11 window (genoma annotate)",
                    }
                )
    return rows


def load_training_table(data: str | Path) -> pd.DataFrame:
    """Labelled variants from the shared data folder.

    Parameters
    ----------
    data
        The shared ``data`` folder (``../shared/data``).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`COLUMNS`: gene symbol, ``c.``/``p.`` descriptions, label
        (1 pathogenic, 0 benign), source, SIFT and PolyPhen scores (NaN if none).
        One row per (gene, ``c.`` without accession); keys labelled both ways are dropped
        (their number is in ``attrs["conflicting_keys_dropped"]``).
    """
    data = Path(data)
    rows = (
        _phenopackets(data / "rare/cases-dev.jsonl.gz")
        + _chr21(data)
        + _exac(data)
        + _pgx_common_missense(data)
        + _split_vep(data)
        + _samd11_clinvar(data)
    )
    df = pd.DataFrame(rows)
    df = df[df["label"].notna()].copy()
    df["label"] = df["label"].astype(int)
    for col in ("sift", "polyphen"):
        if col not in df:
            df[col] = float("nan")
    df["hgvs_p"] = df["hgvs_p"].map(_legacy_vep_p)
    df["key"] = (
        df["gene"] + "|" + df["hgvs_c"].map(_strip_acc).where(df["hgvs_c"] != "", df["hgvs_p"])
    )
    nlab = df.groupby("key")["label"].nunique()
    conflicting = int((nlab > 1).sum())
    df = df[df["key"].map(nlab) == 1]
    # Prefer rows with baseline scores, then the first source.
    df = df.sort_values(["key", "sift"], na_position="last").drop_duplicates("key", keep="first")
    out = df.loc[:, list(COLUMNS)].reset_index(drop=True)
    out.attrs["conflicting_keys_dropped"] = conflicting
    return out


def holdout_genes(genes_with_benign: set[str], all_genes: set[str], every: int = 5) -> set[str]:
    """The genes kept out of training for the shipped model's held-out check.

    Deterministic (CRC32 of the symbol): among genes with benign rows, every ``every``-th
    in CRC32 order; among the others, those with CRC32 ≡ 0 (mod ``every``).
    """
    import zlib

    ranked = sorted(genes_with_benign, key=lambda g: (zlib.crc32(g.encode()), g))
    out = {g for k, g in enumerate(ranked) if k % every == 0}
    out |= {g for g in all_genes - genes_with_benign if zlib.crc32(g.encode()) % every == 0}
    return out
