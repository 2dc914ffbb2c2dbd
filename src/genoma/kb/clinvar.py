"""ClinVar: clinical significance, review status (stars) and conflicts of variants.

Reads the ClinVar VCF NCBI publishes (``clinvar.vcf.gz`` + ``.tbi``, one per build):
``CLNSIG`` (significance), ``CLNREVSTAT`` (review status → gold stars as on the ClinVar
site), ``CLNSIGCONF`` (the classifications of a conflicting record), ``CLNHGVS``,
``GENEINFO`` and ``MC`` (molecular consequences). Lookups are by allele
(:meth:`ClinVar.lookup`) or by region (:meth:`ClinVar.in_region`).

ClinVar's VCF carries no protein change, so PS1 / PM5 ("same amino-acid change" /
"another change at the same residue") need the ClinVar alleles at a codon translated
on the transcript in use: :class:`ProteinIndex` holds such translated records
(built by :mod:`genoma.annotate.evidence` with genoma's own annotator) and answers both
questions.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from genoma.kb.base import Release, register
from genoma.kb.frequencies import SitesVcf
from genoma.kb.install import InstalledSource

__all__ = [
    "ClinVar",
    "ClinVarRecord",
    "ClinVarSource",
    "ProteinChange",
    "ProteinIndex",
    "review_stars",
    "significance_class",
]

_STARS = {
    "practice_guideline": 4,
    "reviewed_by_expert_panel": 3,
    "criteria_provided,_multiple_submitters,_no_conflicts": 2,
    "criteria_provided,_multiple_submitters": 2,
    "criteria_provided,_conflicting_interpretations": 1,
    "criteria_provided,_conflicting_classifications": 1,
    "criteria_provided,_single_submitter": 1,
}


def review_stars(status: str) -> int:
    """ClinVar gold stars of a ``CLNREVSTAT`` value (0 for no criteria / no assertion).

    Examples
    --------
    >>> review_stars("criteria_provided,_multiple_submitters,_no_conflicts")
    2
    """
    return _STARS.get(status.strip().lower().replace(" ", "_"), 0)


def significance_class(clnsig: str) -> str:
    """One of ``P``, ``LP``, ``VUS``, ``LB``, ``B``, ``conflicting``, ``other``.

    ``Pathogenic/Likely_pathogenic`` → ``LP`` (the weaker of the two), likewise
    ``Benign/Likely_benign`` → ``LB``; secondary terms after ``|`` or ``,`` (``risk_factor``,
    ``drug_response`` …) are ignored when a primary term is present.
    """
    s = clnsig.lower().replace(" ", "_")
    if "conflicting" in s:
        return "conflicting"
    first = [t for t in s.replace(",", "|").split("|") if t and not t.startswith("_")]
    terms = set()
    for t in first:
        terms.update(t.strip("_").split("/"))
    has_p = "pathogenic" in terms or "pathogenic,_low_penetrance" in terms
    has_lp = "likely_pathogenic" in terms
    has_b, has_lb = "benign" in terms, "likely_benign" in terms
    if (has_p or has_lp) and (has_b or has_lb):
        return "conflicting"
    if has_lp:
        return "LP"
    if has_p:
        return "P"
    if has_lb:
        return "LB"
    if has_b:
        return "B"
    if "uncertain_significance" in terms:
        return "VUS"
    return "other"


@dataclass(frozen=True)
class ClinVarRecord:
    """One ClinVar allele (a VCF record reduced to one ALT).

    Attributes
    ----------
    chrom, pos, ref, alt
        The allele as in the ClinVar VCF (chromosome canonical ``chr1``).
    variation_id
        ClinVar Variation ID (the VCF ID column).
    significance
        ``CLNSIG`` as written (``Pathogenic/Likely_pathogenic``).
    klass
        :func:`significance_class` of it.
    review_status, stars
        ``CLNREVSTAT`` and its stars.
    conflicts
        ``CLNSIGCONF`` when the record is conflicting.
    hgvs, genes, consequences
        ``CLNHGVS``, gene symbols from ``GENEINFO``, SO terms from ``MC``.
    """

    chrom: str
    pos: int
    ref: str
    alt: str
    variation_id: str
    significance: str
    klass: str
    review_status: str
    stars: int
    conflicts: str = ""
    hgvs: str = ""
    genes: tuple[str, ...] = ()
    consequences: tuple[str, ...] = ()

    @property
    def is_pathogenic(self) -> bool:
        """Pathogenic or likely pathogenic (not conflicting)."""
        return self.klass in ("P", "LP")

    @property
    def url(self) -> str:
        """The record's page on the ClinVar site."""
        return f"https://www.ncbi.nlm.nih.gov/clinvar/variation/{self.variation_id}/"


def _record(cols: list[str], alt: str, info: dict[str, str]) -> ClinVarRecord:
    from genoma.model.variant import canonical_chrom

    sig = info.get("CLNSIG", "")
    rev = info.get("CLNREVSTAT", "")
    genes = tuple(g.split(":")[0] for g in info.get("GENEINFO", "").split("|") if g)
    mc = tuple(m.split("|")[1] for m in info.get("MC", "").split(",") if "|" in m)
    return ClinVarRecord(
        chrom=canonical_chrom(cols[0]), pos=int(cols[1]), ref=cols[3], alt=alt,
        variation_id=cols[2], significance=sig, klass=significance_class(sig),
        review_status=rev, stars=review_stars(rev), conflicts=info.get("CLNSIGCONF", ""),
        hgvs=info.get("CLNHGVS", ""), genes=genes, consequences=mc)


class ClinVar:
    """Lookups in a ClinVar VCF (tabix-indexed, or a small unindexed excerpt).

    Parameters
    ----------
    path
        ``clinvar.vcf.gz`` (with ``.tbi`` for the full file).
    version
        Release shown in evidence (default: the header's ``fileDate``).
    """

    def __init__(self, path: str | Path, version: str | None = None):
        self.sites = SitesVcf(path)
        self.version = version or self.sites.meta.get("fileDate", "unknown")
        self.build = self.sites.meta.get("reference")

    def lookup(self, chrom: str, pos: int, ref: str, alt: str) -> ClinVarRecord | None:
        """The ClinVar record of this allele, or ``None``."""
        hits = self.sites.allele_info(chrom, pos, ref, alt)
        if not hits:
            return None
        cols, info = hits[0]
        return _record(cols, alt, info)

    def in_region(self, chrom: str, start: int, end: int) -> list[ClinVarRecord]:
        """Every ClinVar allele whose POS lies in ``[start, end]`` (1-based)."""
        out = []
        for cols in self.sites.fetch(chrom, start, end):
            if len(cols) < 8:
                continue
            alts = cols[4].split(",")
            for i, a in enumerate(alts):
                if a in (".", "*") or a.startswith("<"):
                    continue
                out.append(_record(cols, a, self.sites.split_info(cols[7], i, len(alts))))
        return out


@dataclass(frozen=True)
class ProteinChange:
    """A missense change on one transcript: residue number, reference and new amino acid."""

    transcript: str
    position: int
    ref_aa: str
    alt_aa: str


class ProteinIndex:
    """ClinVar alleles translated on transcripts, for PS1 / PM5.

    Parameters
    ----------
    items
        ``(ProteinChange, ClinVarRecord)`` pairs.
    """

    def __init__(self, items: Iterable[tuple[ProteinChange, ClinVarRecord]] = ()):
        self._by_res: dict[tuple[str, int], list[tuple[ProteinChange, ClinVarRecord]]] = {}
        for pc, rec in items:
            self.add(pc, rec)

    def add(self, pc: ProteinChange, rec: ClinVarRecord) -> None:
        """Add one translated record."""
        self._by_res.setdefault((pc.transcript, pc.position), []).append((pc, rec))

    def same_change(self, pc: ProteinChange) -> list[ClinVarRecord]:
        """Records with the same amino-acid change (any nucleotide change)."""
        return [r for q, r in self._by_res.get((pc.transcript, pc.position), ())
                if q.ref_aa == pc.ref_aa and q.alt_aa == pc.alt_aa]

    def same_residue(self, pc: ProteinChange) -> list[tuple[ProteinChange, ClinVarRecord]]:
        """Records changing the same residue to another amino acid."""
        return [(q, r) for q, r in self._by_res.get((pc.transcript, pc.position), ())
                if q.ref_aa == pc.ref_aa and q.alt_aa != pc.alt_aa]


_FTP = "https://ftp.ncbi.nlm.nih.gov/pub/clinvar"


@register
class ClinVarSource(InstalledSource):
    """The ClinVar VCF of NCBI (weekly release; GRCh38 by default, GRCh37 as a release).

    NCBI publishes MD5 files only, so the SHA-256 of the first download is recorded
    (trust on first use) and :func:`genoma.kb.install.verify` checks it afterwards.
    """

    name: ClassVar[str] = "clinvar"
    title: ClassVar[str] = "ClinVar VCF (clinical significance, review status)"
    license: ClassVar[str] = "public domain (NCBI ClinVar)"
    source: ClassVar[str] = f"NCBI ClinVar, {_FTP}/"
    builds: ClassVar[tuple[str, ...]] = ("GRCh38", "GRCh37")

    RELEASE: ClassVar[str] = "20251109"

    def releases(self) -> list[Release]:
        out = []
        for build in ("GRCh38", "GRCh37"):
            base = f"{_FTP}/vcf_{build}/weekly/clinvar_{self.RELEASE}.vcf.gz"
            version = f"{self.RELEASE}-{build}"
            tbi = Release(version, base + ".tbi", "clinvar.vcf.gz.tbi")
            out.append(Release(version, base, "clinvar.vcf.gz", extra={"files": [tbi]}))
        return out

    @property
    def installed_build(self) -> str | None:
        """The genome build of the installed release."""
        rec = self.record
        return rec.version.rsplit("-", 1)[-1] if rec is not None else None

    def _load(self) -> ClinVar:
        return ClinVar(self.files()[0], version=self.version)
