"""PharmCAT / ClinPGx allele definitions as an installable knowledge source (``pharmcat``).

``genoma kb install pharmcat`` downloads the official PharmCAT release asset that
carries the allele definitions (the ``pharmcat-<version>-all.jar``: a zip holding
``org/pharmgkb/pharmcat/definition/alleles/<GENE>_translation.json`` and
``org/pharmgkb/pharmcat/phenotype/<GENE>.json``). A directory or zip laid out as
``definitions/<GENE>_translation.json`` + ``phenotype/<GENE>.json`` (the layout of
``../shared/data/pgx/pharmcat``) is read the same way.

The definitions are turned into the *same* tables as the embedded pypgx source
(:class:`genoma.kb.pgx.PgxKnowledge`, pypgx column names), so the caller, phenotyper and
recommender run on them unchanged:

NamedAllele → core variants
    PharmCAT lists, per named allele, one allele per defining position; ``null`` means
    "the same as the reference named allele" (the allele flagged ``reference``; PharmCAT's
    *Named Allele Matcher 201*). Each allele's core is the set of positions where that
    filled-in haplotype differs from the GRCh38 reference genome (the variant's VCF
    ``ref``). IUPAC ambiguity codes (``R``, ``Y``, ``S`` …) accept any of their bases and
    are therefore not required (left out of the core). When the reference named allele
    itself differs from the genome (CYP2D6 ``*1`` vs GRCh38 at two positions) those
    variants become the gene's background (see :mod:`genoma.analyses.pgx.definitions`).
Exemptions
    ``exemptions.json``: ``ignoredAlleles`` are dropped, ``ignoredPositions`` removed;
    ``unphasedDiplotypePriorities`` (PharmCAT's picks between unphased candidates, NAT2)
    are kept in :attr:`PharmcatKnowledge.unphased_priorities`.
Phenotypes
    ``phenotype/<GENE>.json``: allele function (``haplotypes``), activity values and the
    diplotype → phenotype list (``generesult``). Genes with activity values and CPIC
    activity-score bins in the pypgx equation table (CYP2C9, DPYD) use the ``Score``
    method, the others the diplotype list. Genes PharmCAT ships no phenotype file for
    (CYP2D6, G6PD, RYR1 in 3.1.1) take function, activity values and diplotype table
    from the embedded pypgx tables by allele name (recorded in the gene's version).
Recommendations
    PharmCAT's guideline annotations are not part of this source: CPIC gene–drug pairs,
    recommendations and phenotype priorities come from the embedded pypgx tables.

PharmCAT definitions are GRCh38 only (:attr:`PharmcatKnowledge.builds`): a GRCh37
input with this source is an :class:`~genoma.errors.InconsistentInputError` (exit 5).

References
----------
.. [1] Sangkuhl K. et al. (2020) Pharmacogenomics Clinical Annotation Tool (PharmCAT).
   Clin Pharmacol Ther 107:203–210.
.. [2] PharmCAT documentation, "Named Allele Matcher 201" (scoring, reference filling,
   exemptions), https://pharmcat.clinpgx.org/methods/NamedAlleleMatcher-201/
"""

from __future__ import annotations

import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from genoma.errors import KnowledgeError
from genoma.kb.base import Release, register
from genoma.kb.install import InstalledSource
from genoma.kb.pgx import PgxKnowledge

__all__ = [
    "DATA_VERSION",
    "PHARMCAT_VERSION",
    "PharmcatDefinitions",
    "PharmcatKnowledge",
    "read_pharmcat",
]

PHARMCAT_VERSION = "3.1.1"
"""The PharmCAT release whose definitions ``genoma kb install pharmcat`` fetches."""
DATA_VERSION = "2025-11-05"
"""ClinPGx data version of PharmCAT 3.1.1's definitions."""
_RELEASE_URL = ("https://github.com/PharmGKB/PharmCAT/releases/download/"
                f"v{PHARMCAT_VERSION}/pharmcat-{PHARMCAT_VERSION}-all.jar")

#: IUPAC nucleotide codes → bases.
IUPAC = {"R": "AG", "Y": "CT", "S": "CG", "W": "AT", "K": "GT", "M": "AC",
         "B": "CGT", "D": "AGT", "H": "ACT", "V": "ACG", "N": "ACGT"}
_DEF = re.compile(r"(?:^|/)(?:definitions|definition/alleles)/([A-Za-z0-9_]+)_translation\.json$")
_PHEN = re.compile(r"(?:^|/)phenotype/([A-Za-z0-9_]+)\.json$")
_EXEMPT = re.compile(r"(?:^|/)(?:definitions|definition/alleles)/exemptions\.json$")


@dataclass(frozen=True)
class PharmcatKnowledge(PgxKnowledge):
    """:class:`~genoma.kb.pgx.PgxKnowledge` built from PharmCAT definitions.

    Attributes
    ----------
    builds
        Genome builds the definitions have coordinates for (``("GRCh38",)``).
    gene_versions
        Per gene, the data version recorded in findings
        (``pharmcat-3.1.1 ClinPGx 2025-11-05-00-25``, plus where the phenotype rules
        come from when not from PharmCAT).
    unphased_priorities
        Per gene, PharmCAT's ``unphasedDiplotypePriorities``: ``(frozenset of
        diplotypes, pick)``.
    """

    builds: tuple[str, ...] = ("GRCh38",)
    gene_versions: dict[str, str] = field(default_factory=dict, compare=False)
    unphased_priorities: dict[str, list[tuple[frozenset[str], str]]] = field(
        default_factory=dict, compare=False)


# ----------------------------------------------------------------------- reading
def _members(src: Path) -> dict[str, dict[str, Any]]:
    """Parsed JSON of the definition, phenotype and exemption files of ``src``.

    Keys: ``def:<GENE>``, ``phen:<GENE>``, ``exemptions``.
    """
    out: dict[str, dict[str, Any]] = {}

    def take(name: str, read) -> None:
        key = None
        if m := _DEF.search(name):
            key = f"def:{m.group(1)}"
        elif _EXEMPT.search(name):
            key = "exemptions"
        elif (m := _PHEN.search(name)) and "/cpic/" not in name and "/dpwg/" not in name:
            key = f"phen:{m.group(1)}"
        if key is None:
            return
        try:
            out[key] = json.loads(read())
        except ValueError as exc:
            raise KnowledgeError(f"PharmCAT file {name} is not valid JSON: {exc}",
                                 path=src) from exc

    if src.is_dir():
        for p in sorted(src.rglob("*.json")):
            take(p.relative_to(src).as_posix(), p.read_bytes)
    elif zipfile.is_zipfile(src):
        with zipfile.ZipFile(src) as z:
            for name in sorted(z.namelist()):
                if name.endswith(".json"):
                    take(name, lambda n=name: z.read(n))
    else:
        raise KnowledgeError("not a PharmCAT release (expected a jar/zip or a directory "
                             "with definitions/*_translation.json)", path=src)
    if not any(k.startswith("def:") for k in out):
        raise KnowledgeError("no PharmCAT allele definitions (*_translation.json) found",
                             path=src)
    return out


def _title(function: str | None) -> str | None:
    if not isinstance(function, str) or not function.strip():
        return None
    return " ".join(w[:1].upper() + w[1:] for w in function.split())


def _float(x: Any) -> float:
    try:
        return float(x)
    except (TypeError, ValueError):
        return float("nan")


def _gene_tables(d: dict[str, Any], exempt: dict[str, Any], src: Path
                 ) -> tuple[list[dict], list[dict], dict, list[str]]:
    """One ``*_translation.json`` → allele rows, variant rows, gene row, notes."""
    gene = d.get("gene")
    variants = d.get("variants")
    named = d.get("namedAlleles")
    if not isinstance(gene, str) or not isinstance(variants, list) or not isinstance(named, list):
        raise KnowledgeError("PharmCAT definition without gene/variants/namedAlleles", path=src)
    build = str(d.get("genomeBuild", "GRCh38"))
    if not build.startswith("GRCh38"):
        raise KnowledgeError(f"{gene}: PharmCAT definitions on {build}, expected GRCh38",
                             path=src)
    ignored_pos = {int(v["position"]) for v in exempt.get("ignoredPositions", []) or []}
    ignored_alleles = set(exempt.get("ignoredAlleles", []) or [])
    keep = [j for j, v in enumerate(variants) if int(v["position"]) not in ignored_pos]
    refs = [a for a in named if a.get("reference")]
    if len(refs) != 1:
        raise KnowledgeError(f"{gene}: expected one reference named allele, found {len(refs)}",
                             path=src)
    ref_named = refs[0]
    n = len(variants)
    for a in named:
        if len(a.get("alleles") or []) != n:
            raise KnowledgeError(f"{gene} {a.get('name')}: {len(a.get('alleles') or [])} "
                                 f"alleles for {n} positions", path=src)
    chrom = str(d.get("chromosome") or variants[0]["chromosome"])
    allele_rows: list[dict] = []
    notes: list[str] = []
    for a in named:
        name = str(a["name"])
        if name in ignored_alleles:
            continue
        core: list[str] = []
        for j in keep:
            v = variants[j]
            x = a["alleles"][j]
            if x is None:
                x = ref_named["alleles"][j]
            if x is None:
                continue
            ref = str(v["ref"]).upper()
            x = str(x).upper()
            if x in IUPAC and x not in {ref, *map(str.upper, v.get("alts") or [])}:
                continue  # ambiguity code: any of its bases, not a requirement
            if x == ref:
                continue
            core.append(f"{v.get('chromosome', chrom)}-{int(v['position'])}-{ref}-{x}")
        allele_rows.append({
            "Gene": gene, "StarAllele": name, "ActivityScore": float("nan"),
            "Function": None, "GRCh37Core": None, "GRCh37Tag": None,
            "GRCh38Core": ",".join(core) if core else None, "GRCh38Tag": None,
            "SV": bool(a.get("structuralVariant", False)),
        })
    variant_rows = [{
        "Gene": gene, "GRCh37Name": None, "GRCh38Name":
            f"{v.get('chromosome', chrom)}-{int(v['position'])}-{v['ref']}-{alt}",
        "rsID": v.get("rsid"), "Chromosome": v.get("chromosome", chrom),
        "GRCh37Position": None, "GRCh38Position": int(v["position"]),
        "GRCh37Allele": None, "GRCh38Allele": alt, "Variant": v.get("chromosomeHgvsName"),
        "Impact": None, "GRCh37Synonym": None, "GRCh38Synonym": None,
    } for j in keep for v in [variants[j]] for alt in (v.get("alts") or [])]
    empty = [r["StarAllele"] for r in allele_rows if r["GRCh38Core"] is None]
    default = ref_named["name"] if ref_named["name"] in empty else (empty[0] if empty else None)
    positions = [int(variants[j]["position"]) for j in keep]
    region = (f"{chrom}:{min(positions)}-{max(positions)}" if positions else None)
    gene_row = {
        "Gene": gene, "Target": True, "Control": False, "Paralog": None, "Variants": True,
        "SV": False, "PhenotypeMethod": None, "RefAllele": str(ref_named["name"]),
        "GRCh37Default": None, "GRCh38Default": default, "Strand": None,
        "GRCh37Region": None, "GRCh38Region": region,
    }
    if ignored_pos or ignored_alleles:
        notes.append(f"{gene}: PharmCAT exemptions applied ({len(ignored_pos)} position(s), "
                     f"{len(ignored_alleles)} allele(s) ignored)")
    return allele_rows, variant_rows, gene_row, notes


def read_pharmcat(src: Path, base: PgxKnowledge, release: str = PHARMCAT_VERSION
                  ) -> PharmcatKnowledge:
    """Read PharmCAT definitions (jar/zip or directory) into pypgx-shaped tables.

    Parameters
    ----------
    src
        The release jar (or any zip) or a directory with ``definitions/`` and
        ``phenotype/``.
    base
        The embedded pypgx knowledge: CPIC drug tables, phenotype priorities, activity
        bins, and phenotype rules of genes PharmCAT has no phenotype file for.
    release
        PharmCAT release the files come from (goes into the version).

    Returns
    -------
    PharmcatKnowledge

    Raises
    ------
    KnowledgeError
        Unreadable or malformed files (the message names the file).
    """
    src = Path(src)
    files = _members(src)
    exemptions = files.get("exemptions", {})
    alleles: list[dict] = []
    variants: list[dict] = []
    genes: list[dict] = []
    diplotypes: list[dict] = []
    phen_rows: list[dict] = []
    gene_versions: dict[str, str] = {}
    unphased: dict[str, list[tuple[frozenset[str], str]]] = {}
    data_versions: set[str] = set()
    score_genes = set(base.equations["Gene"].astype(str))
    for key in sorted(k for k in files if k.startswith("def:")):
        d = files[key]
        g = str(d.get("gene"))
        ex = exemptions.get(g, {}) if isinstance(exemptions, dict) else {}
        a_rows, v_rows, g_row, _notes = _gene_tables(d, ex, src)
        dv = str(d.get("version", "unknown"))
        data_versions.add(dv[:10])
        version = f"pharmcat-{release} ClinPGx {dv}"
        ph = files.get(f"phen:{g}")
        if ph is not None:
            funcs = ph.get("haplotypes") or {}
            acts = ph.get("activityValues") or {}
            for r in a_rows:
                r["Function"] = _title(funcs.get(r["StarAllele"]))
                r["ActivityScore"] = _float(acts.get(r["StarAllele"]))
            numeric = any(_float(v) == _float(v) for v in acts.values())
            g_row["PhenotypeMethod"] = ("Score" if numeric and g in score_genes
                                        else "Diplotype")
            for dip in ph.get("diplotypes") or []:
                if dip.get("diplotype") and dip.get("generesult"):
                    diplotypes.append({"Gene": g, "Diplotype": dip["diplotype"],
                                       "Phenotype": dip["generesult"]})
                    phen_rows.append({"Gene": g, "Phenotype": dip["generesult"]})
        else:
            # phenotype rules from the embedded tables, by allele name
            ba = base.alleles[base.alleles["Gene"] == g].set_index("StarAllele")
            for r in a_rows:
                if r["StarAllele"] in ba.index:
                    r["Function"] = ba.at[r["StarAllele"], "Function"]
                    r["ActivityScore"] = _float(ba.at[r["StarAllele"], "ActivityScore"])
            bg = base.genes[base.genes["Gene"] == g]
            if len(bg):
                m = bg["PhenotypeMethod"].iloc[0]
                g_row["PhenotypeMethod"] = m if m in ("Score", "Diplotype") else None
            bd = base.diplotypes[base.diplotypes["Gene"] == g]
            diplotypes.extend({"Gene": g, "Diplotype": x, "Phenotype": p} for x, p in
                              zip(bd["Diplotype"], bd["Phenotype"], strict=True))
            version += f"; phenotype rules {base.version}"
        pr = ex.get("unphasedDiplotypePriorities") or []
        if pr:
            unphased[g] = [(frozenset(p["list"]), str(p["pick"])) for p in pr]
        gene_versions[g] = version
        alleles.extend(a_rows)
        variants.extend(v_rows)
        genes.append(g_row)
    names = set(gene_versions)
    pt = base.phenotypes[base.phenotypes["Gene"].isin(names)]
    known = set(zip(pt["Gene"], pt["Phenotype"], strict=True))
    extra = pd.DataFrame([dict(r, Priority=None) for r in
                          {(r["Gene"], r["Phenotype"]): r for r in phen_rows}.values()
                          if (r["Gene"], r["Phenotype"]) not in known],
                         columns=["Gene", "Phenotype", "Priority"])
    version = (f"pharmcat-{release} (ClinPGx {', '.join(sorted(data_versions))}; "
               f"CPIC recommendations {base.version})")
    return PharmcatKnowledge(
        alleles=pd.DataFrame(alleles),
        variants=pd.DataFrame(variants),
        genes=pd.DataFrame(genes),
        cpic=base.cpic,
        recommendations=base.recommendations,
        phenotypes=pd.concat([pt, extra], ignore_index=True),
        diplotypes=pd.DataFrame(diplotypes, columns=["Gene", "Diplotype", "Phenotype"]),
        cnvs=base.cnvs[base.cnvs["Gene"].isin(names)] if "Gene" in base.cnvs else base.cnvs,
        equations=base.equations[base.equations["Gene"].isin(
            [r["Gene"] for r in genes if r["PhenotypeMethod"] == "Score"])],
        version=version,
        gene_versions=gene_versions,
        unphased_priorities=unphased,
    )


# ------------------------------------------------------------------------ source
@register
class PharmcatDefinitions(InstalledSource):
    """PharmCAT 3.1.1 allele definitions (ClinPGx data 2025-11-05), installable."""

    name = "pharmcat"
    title = "PharmCAT / ClinPGx star-allele definitions and phenotype maps (GRCh38)"
    license = ("MPL-2.0 (PharmCAT); data CPIC CC0, ClinPGx/PharmGKB CC BY-SA 4.0, "
               "PharmVar allele definitions")
    source = "PharmCAT GitHub release (https://github.com/PharmGKB/PharmCAT/releases)"
    builds = ("GRCh38",)
    embedded = False

    def releases(self) -> list[Release]:
        return [Release(version=PHARMCAT_VERSION, url=_RELEASE_URL,
                        filename=f"pharmcat-{PHARMCAT_VERSION}-all.jar",
                        extra={"data_version": DATA_VERSION})]

    def _load(self) -> PharmcatKnowledge:
        from genoma.kb.base import get_source

        rec = self.record
        release = rec.version if rec is not None else PHARMCAT_VERSION
        return read_pharmcat(self.files()[0], get_source("pgx").load(), release)
