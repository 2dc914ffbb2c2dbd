"""ACMG/AMP evidence criteria, computed where data allow, and their combination.

Pure functions: each takes what it needs about one variant on one (picked) transcript
and returns a :class:`Criterion` (code, strength, reason) or ``None`` when not met. The
criteria genoma can compute:

* **PVS1** (null variant), the ClinGen SVI decision tree (Abou Tayoun et al. 2018):
  nonsense / frameshift with NMD predicted by the 50-nt rule (PTC more than 50 nt
  upstream of the last exon–exon junction, not in the last exon) → PVS1; NMD escape →
  PVS1_Strong when > 10 % of the protein is removed, else PVS1_Moderate; canonical
  splice (±1, 2): the exon's skipping out of frame with NMD → PVS1, in frame or NMD
  escape → Strong / Moderate by the 10 % rule; start lost → PVS1_Moderate. Regions
  "critical to function" and the LoF mechanism of the gene are not known to genoma:
  ``lof_mechanism=False`` disables PVS1 for a gene.
* **PM2_Supporting** (absent or below a threshold in population data, SVI 2020),
  **BA1** (filtering AF > 5 % in a population of ≥ 2,000 alleles, SVI 2018), **BS1**
  (above a configurable disease threshold, default 1 %), **BS2** (homozygotes /
  heterozygotes / hemizygotes observed, only when the mode of inheritance is given).
* **PS1 / PM5** from ClinVar: the same amino-acid change by another nucleotide change /
  another missense change at the same residue, pathogenic or likely pathogenic with
  ≥ 1 review star. The variant's own ClinVar record is never used.
* **PP3 / BP4** from one calibrated predictor (Pejaver et al. 2022 thresholds: REVEL
  first, then BayesDel, CADD, VEST4, MutPred2, PolyPhen-2, SIFT), missense only,
  capped at Strong.
* **PM4 / BP3** (in-frame length change or stop loss, outside / inside a repeat),
  **BP7** (synonymous, no splice-region term), **PM1** (hotspot hook, empty by default).

Manual criteria (``PS3``, ``PP1_Moderate`` …) replace computed ones of the same code.
:func:`combine_richards` applies the Richards 2015 rules (with the SVI 2019 rule that
PVS1 + one supporting is likely pathogenic); :func:`tavtigian_points` the Bayesian
point system (Tavtigian et al. 2020). Both are reported.

References
----------
Richards S. et al. (2015) Genet Med 17:405-424. Abou Tayoun A.N. et al. (2018) Hum
Mutat 39:1517-1524. Tavtigian S.V. et al. (2020) Hum Mutat 41:1734-1737. Pejaver V. et
al. (2022) Am J Hum Genet 109:2163-2177. ClinGen SVI recommendations for PM2 (2020) and
BA1 (Ghosh et al. 2018).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from genoma.errors import MalformedInputError

__all__ = [
    "CLASSES",
    "PREDICTOR_THRESHOLDS",
    "AcmgConfig",
    "AcmgResult",
    "Criterion",
    "Strength",
    "TranscriptFacts",
    "VariantContext",
    "apply_manual",
    "ba1_bs1_bs2_pm2",
    "bp7",
    "classify_points",
    "combine_richards",
    "evaluate",
    "parse_criterion",
    "pm1",
    "pm4_bp3",
    "pp3_bp4",
    "ps1_pm5",
    "pvs1",
    "tavtigian_points",
]

#: Classes from most pathogenic to most benign.
CLASSES = ("Pathogenic", "Likely_pathogenic", "Uncertain_significance", "Likely_benign", "Benign")


class Strength(StrEnum):
    """Evidence strength levels."""

    VERY_STRONG = "VeryStrong"
    STRONG = "Strong"
    MODERATE = "Moderate"
    SUPPORTING = "Supporting"
    STAND_ALONE = "StandAlone"


_POINTS = {Strength.VERY_STRONG: 8, Strength.STRONG: 4, Strength.MODERATE: 2, Strength.SUPPORTING: 1,
           Strength.STAND_ALONE: 8}
_DEFAULT = {"PVS": Strength.VERY_STRONG, "PS": Strength.STRONG, "PM": Strength.MODERATE,
            "PP": Strength.SUPPORTING, "BA": Strength.STAND_ALONE, "BS": Strength.STRONG,
            "BP": Strength.SUPPORTING}
_CODE = re.compile(r"^(PVS|PS|PM|PP|BA|BS|BP)(\d+)$")


@dataclass(frozen=True)
class Criterion:
    """One met criterion.

    Attributes
    ----------
    code
        Base code (``PVS1``, ``PM2``, ``BP4``).
    strength
        Applied strength (may differ from the code's default).
    reason
        Why it applies (human-readable, one line).
    manual
        Given by the user rather than computed.
    """

    code: str
    strength: Strength
    reason: str
    manual: bool = False

    def __post_init__(self) -> None:
        m = _CODE.match(self.code)
        if not m:
            raise ValueError(f"not an ACMG/AMP criterion code: {self.code!r}")
        if (self.strength == Strength.STAND_ALONE) != (m.group(1) == "BA"):
            raise ValueError(f"{self.code}: stand-alone strength is for BA1 only")

    @property
    def pathogenic(self) -> bool:
        """True for pathogenic evidence (P…), false for benign (B…)."""
        return self.code.startswith("P")

    @property
    def label(self) -> str:
        """``PM2`` at its default strength, else ``PM2_Supporting``."""
        prefix = _CODE.match(self.code).group(1)  # type: ignore[union-attr]
        return self.code if _DEFAULT[prefix] == self.strength else f"{self.code}_{self.strength}"

    @property
    def points(self) -> int:
        """Tavtigian points (negative for benign evidence)."""
        p = _POINTS[self.strength]
        return p if self.pathogenic else -p


def parse_criterion(label: str, reason: str = "given manually", *, manual: bool = True) -> Criterion:
    """A criterion from a label such as ``PS3``, ``PP1_Moderate``, ``PVS1_Strong``.

    Raises
    ------
    ValueError
        For an unknown code or strength.
    """
    code, _, strength = label.strip().partition("_")
    m = _CODE.match(code.upper())
    if not m:
        raise ValueError(f"not an ACMG/AMP criterion: {label!r}")
    if strength:
        names = {s.value.lower(): s for s in Strength} | {"very_strong": Strength.VERY_STRONG,
                                                           "verystrong": Strength.VERY_STRONG,
                                                           "stand_alone": Strength.STAND_ALONE}
        st = names.get(strength.lower().replace("-", "_"))
        if st is None:
            raise ValueError(f"unknown strength in {label!r}")
    else:
        st = _DEFAULT[m.group(1)]
    return Criterion(code.upper(), st, reason, manual)


@dataclass(frozen=True)
class TranscriptFacts:
    """What PVS1 needs about a transcript (transcript order, cDNA coordinates).

    Attributes
    ----------
    exons
        ``(cdna_start, cdna_end)`` of each exon, 1-based, in transcript order.
    cds_start, cds_end
        cDNA positions of the first CDS base and the last base of the stop codon.
    """

    id: str
    exons: tuple[tuple[int, int], ...]
    cds_start: int
    cds_end: int

    @property
    def protein_length(self) -> int:
        """Residues, without the stop."""
        return max((self.cds_end - self.cds_start + 1) // 3 - 1, 1)

    @property
    def last_junction(self) -> int | None:
        """cDNA position of the last base before the last exon–exon junction."""
        return self.exons[-2][1] if len(self.exons) > 1 else None

    def nmd_predicted(self, ptc_cdna: int) -> bool:
        """50-nt rule: a PTC (first base, cDNA) more than 50 nt 5' of the last junction."""
        j = self.last_junction
        return j is not None and ptc_cdna < j - 50

    def coding_length_of_exon(self, rank: int) -> int:
        """CDS bases in exon ``rank`` (1-based, transcript order)."""
        s, e = self.exons[rank - 1]
        return max(0, min(e, self.cds_end) - max(s, self.cds_start) + 1)


@dataclass(frozen=True)
class VariantContext:
    """One allele on its picked transcript, as read from its CSQ entry.

    Attributes
    ----------
    consequences
        SO terms.
    protein_position
        First residue changed (``None`` when not coding).
    ref_aa, alt_aa
        Amino acids (``R`` / ``W``) for substitutions.
    intron
        Intron rank (transcript order) for intronic positions.
    hgvsc, hgvsp
        HGVS strings (HGVSp with ``Ter``, ``fsTer25``).
    """

    chrom: str
    pos: int
    ref: str
    alt: str
    gene: str = ""
    transcript: str = ""
    consequences: tuple[str, ...] = ()
    hgvsc: str = ""
    hgvsp: str = ""
    protein_position: int | None = None
    ref_aa: str = ""
    alt_aa: str = ""
    exon: int | None = None
    intron: int | None = None


@dataclass(frozen=True)
class AcmgConfig:
    """Thresholds and hooks.

    Attributes
    ----------
    ba1
        BA1 threshold on the filtering AF (ClinGen SVI: 0.05).
    ba1_min_an
        Minimum allele number of the population that reaches BA1.
    bs1
        BS1 threshold ("greater than expected for the disorder"; disease-specific,
        default 0.01).
    pm2_max
        PM2_Supporting when the AF is at most this (0: absent only, SVI default for
        dominant disorders).
    inheritance
        Gene → ``AD`` / ``AR`` / ``XL`` (enables BS2).
    bs2_hom, bs2_het, bs2_hemi
        Individuals needed for BS2 under AR / AD / XL.
    ps1_min_stars
        ClinVar stars needed for PS1 / PM5.
    hotspots
        Gene → residue ranges ``(first, last)`` of mutational hotspots / critical
        domains without benign variation (PM1).
    repeats
        Chromosome → ``(start, end)`` repeat regions (1-based) for PM4 / BP3.
    lof_genes
        Genes where loss of function is a known mechanism; ``None``: assume it (PVS1
        reasons say so).
    predictors
        Predictor order for PP3 / BP4 (first one with a score is used).
    """

    ba1: float = 0.05
    ba1_min_an: int = 2000
    bs1: float = 0.01
    pm2_max: float = 0.0
    inheritance: dict[str, str] = field(default_factory=dict)
    bs2_hom: int = 2
    bs2_het: int = 5
    bs2_hemi: int = 2
    ps1_min_stars: int = 1
    hotspots: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    repeats: dict[str, list[tuple[int, int]]] = field(default_factory=dict)
    lof_genes: frozenset[str] | None = None
    predictors: tuple[str, ...] = ("REVEL", "BayesDel", "CADD", "VEST4", "MutPred2", "PolyPhen2", "SIFT",
                                   "GENOMA_ML")


# -- PVS1 ------------------------------------------------------------------------------
_NULL = ("stop_gained", "frameshift_variant")
_SPLICE = ("splice_donor_variant", "splice_acceptor_variant")
_FS = re.compile(r"fsTer(\d+|\?)")


def _ptc_residue(ctx: VariantContext) -> int | None:
    """Residue number of the premature stop (``None``: no stop before the transcript end)."""
    if ctx.protein_position is None:
        return None
    if "frameshift_variant" in ctx.consequences:
        m = _FS.search(ctx.hgvsp)
        if m is None or m.group(1) == "?":
            return None
        first = re.search(r"p\.\(?[A-Z][a-z]{2}(\d+)", ctx.hgvsp)
        start = int(first.group(1)) if first else ctx.protein_position
        return start + int(m.group(1)) - 1
    m = re.search(r"p\.\(?[A-Z][a-z]{2}(\d+)Ter", ctx.hgvsp)
    return int(m.group(1)) if m else ctx.protein_position


def pvs1(ctx: VariantContext, tx: TranscriptFacts | None, *, lof_mechanism: bool | None = None) -> Criterion | None:
    """PVS1 by the ClinGen SVI decision tree (sequence variants; no CNVs).

    Parameters
    ----------
    ctx
        The allele on its transcript.
    tx
        The transcript's exon layout (``None``: only the start-lost branch applies).
    lof_mechanism
        Whether loss of function is a known disease mechanism of the gene (``False``
        disables PVS1; ``None`` assumes it and says so in the reason).

    Returns
    -------
    Criterion or None
    """
    if lof_mechanism is False:
        return None
    cons = set(ctx.consequences)
    note = "" if lof_mechanism else "; LoF mechanism of the gene assumed"
    where = " ".join(x for x in (ctx.hgvsc or ctx.transcript, ctx.hgvsp) if x)
    if cons & set(_NULL) and tx is not None:
        ptc = _ptc_residue(ctx)
        kind = "frameshift" if "frameshift_variant" in cons else "nonsense"
        plen = tx.protein_length
        if ptc is not None:
            ptc_cdna = tx.cds_start + 3 * (ptc - 1)
            if tx.nmd_predicted(ptc_cdna):
                return Criterion("PVS1", Strength.VERY_STRONG,
                                 f"{kind} {where}: premature stop at residue {ptc}, > 50 nt 5' of the "
                                 f"last exon-exon junction: NMD predicted{note}")
            removed = (plen - ptc + 1) / plen
            why = "in the last exon" if tx.last_junction is None or ptc_cdna > tx.last_junction else \
                "within 50 nt of the last exon-exon junction"
        else:
            start = ctx.protein_position or plen
            removed = (plen - start + 1) / plen
            why = "with no new stop before the transcript end"
        strength = Strength.STRONG if removed > 0.10 else Strength.MODERATE
        return Criterion("PVS1", strength,
                         f"{kind} {where}: NMD escape ({why}); {removed:.0%} of the protein removed "
                         f"({'>' if removed > 0.10 else '<='} 10%){note}")
    if cons & set(_SPLICE) and tx is not None and ctx.intron is not None:
        donor = "splice_donor_variant" in cons
        rank = ctx.intron if donor else ctx.intron + 1  # the exon next to the splice site
        if not 1 <= rank <= len(tx.exons):
            return None
        coding = tx.coding_length_of_exon(rank)
        if coding == 0:
            return None
        plen = tx.protein_length
        removed = coding / 3 / plen
        site = "donor" if donor else "acceptor"
        n = len(tx.exons)
        if coding % 3:
            if rank < n - 1:
                return Criterion("PVS1", Strength.VERY_STRONG,
                                 f"canonical splice {site} {where}: skipping exon {rank}/{n} "
                                 f"({coding} coding nt) shifts the frame upstream of the penultimate "
                                 f"exon: NMD predicted{note}")
            why = f"skipping exon {rank}/{n} shifts the frame near the 3' end (NMD escape)"
        else:
            why = f"skipping exon {rank}/{n} keeps the frame ({coding} coding nt)"
        strength = Strength.STRONG if removed > 0.10 else Strength.MODERATE
        return Criterion("PVS1", strength,
                         f"canonical splice {site} {where}: {why}; {removed:.0%} of the protein "
                         f"removed{note}")
    if "start_lost" in cons:
        return Criterion("PVS1", Strength.MODERATE,
                         f"start lost {where}: initiation codon variant (no downstream-Met "
                         f"evidence evaluated){note}")
    return None


# -- population frequency ---------------------------------------------------------------
def ba1_bs1_bs2_pm2(freq: object | None, *, checked: bool, gene: str = "", label: str = "population data",
                    config: AcmgConfig | None = None) -> list[Criterion]:
    """BA1, BS1, BS2 and PM2_Supporting from population frequencies.

    Parameters
    ----------
    freq
        An :class:`~genoma.kb.frequencies.AlleleFrequency` (``None``: not in the data).
    checked
        True when a frequency source was consulted (absence only counts then).
    gene
        Gene symbol (for the mode of inheritance in ``config.inheritance``).
    label
        Name of the data set in the reasons.
    config
        Thresholds.

    Returns
    -------
    list of Criterion
    """
    cfg = config or AcmgConfig()
    if not checked:
        return []
    if freq is None or not (getattr(freq, "ac", None) or getattr(freq, "af", None)
                            or getattr(freq, "popmax_af", None)):
        return [Criterion("PM2", Strength.SUPPORTING, f"absent from {label}")]
    faf = freq.faf95  # type: ignore[attr-defined]
    pm_af = freq.popmax_af  # type: ignore[attr-defined]
    pm_an = freq.popmax_an  # type: ignore[attr-defined]
    pop = freq.popmax_pop or "all"  # type: ignore[attr-defined]
    af = freq.af  # type: ignore[attr-defined]
    ref_val, what = (faf, "filtering AF (95%)") if faf is not None else \
        (pm_af, "popmax AF") if pm_af is not None else (af, "AF")
    out: list[Criterion] = []
    if ref_val is None:
        return out
    an_ok = pm_an is None or pm_an >= cfg.ba1_min_an
    if ref_val > cfg.ba1 and an_ok:
        out.append(Criterion("BA1", Strength.STAND_ALONE,
                             f"{what} {ref_val:.4g} > {cfg.ba1} in {label} (popmax {pop})"))
    elif ref_val > cfg.bs1:
        out.append(Criterion("BS1", Strength.STRONG,
                             f"{what} {ref_val:.4g} > {cfg.bs1} (expected maximum for the disorder) in {label}"))
    elif (af or 0) <= cfg.pm2_max and (pm_af or 0) <= cfg.pm2_max and cfg.pm2_max > 0:
        out.append(Criterion("PM2", Strength.SUPPORTING,
                             f"AF {af or 0:.3g} (popmax {pm_af or 0:.3g}) <= {cfg.pm2_max} in {label}"))
    moi = cfg.inheritance.get(gene, "").upper()
    hom, hemi, ac = freq.hom, freq.hemi, freq.ac  # type: ignore[attr-defined]
    if moi == "AR" and hom is not None and hom >= cfg.bs2_hom:
        out.append(Criterion("BS2", Strength.STRONG, f"{hom} homozygotes in {label}; {gene} is recessive"))
    elif moi == "AD" and ac is not None and ac - 2 * (hom or 0) >= cfg.bs2_het:
        out.append(Criterion("BS2", Strength.STRONG,
                             f"{ac - 2 * (hom or 0)} heterozygotes in {label}; {gene} is dominant"))
    elif moi == "XL" and hemi is not None and hemi >= cfg.bs2_hemi:
        out.append(Criterion("BS2", Strength.STRONG, f"{hemi} hemizygotes in {label}; {gene} is X-linked"))
    return out


# -- ClinVar at the same residue ---------------------------------------------------------
def ps1_pm5(ctx: VariantContext, same_change: Iterable[object], same_residue: Iterable[tuple[object, object]],
            *, min_stars: int = 1) -> list[Criterion]:
    """PS1 (same amino-acid change, pathogenic) or PM5 (other change, same residue).

    Parameters
    ----------
    ctx
        A missense allele (other consequences give nothing).
    same_change
        :class:`~genoma.kb.clinvar.ClinVarRecord` s with the same amino-acid change.
    same_residue
        ``(ProteinChange, ClinVarRecord)`` with another change at the residue.
    min_stars
        Minimum review stars.

    Returns
    -------
    list of Criterion
        The variant's own record (same position and alleles) is never used.
    """
    if "missense_variant" not in ctx.consequences:
        return []
    from genoma.kb.frequencies import normalise_alleles

    own = (ctx.chrom, *normalise_alleles(ctx.pos, ctx.ref, ctx.alt))

    def other(r: object) -> bool:
        key = (r.chrom, *normalise_alleles(r.pos, r.ref, r.alt))  # type: ignore[attr-defined]
        return key != own and r.is_pathogenic and r.stars >= min_stars  # type: ignore[attr-defined]

    same = [r for r in same_change if other(r)]
    if same:
        r = max(same, key=lambda r: r.stars)  # type: ignore[attr-defined]
        return [Criterion("PS1", Strength.STRONG,
                          f"same amino-acid change {ctx.ref_aa}{ctx.protein_position}{ctx.alt_aa} as ClinVar "
                          f"{r.variation_id} ({r.significance}, {r.stars} star(s); {r.chrom}:{r.pos} "  # type: ignore[attr-defined]
                          f"{r.ref}>{r.alt})")]  # type: ignore[attr-defined]
    res = [(pc, r) for pc, r in same_residue if other(r)]
    if res:
        pc, r = max(res, key=lambda x: x[1].stars)  # type: ignore[attr-defined]
        return [Criterion("PM5", Strength.MODERATE,
                          f"other missense change {pc.ref_aa}{pc.position}{pc.alt_aa} at this residue is "  # type: ignore[attr-defined]
                          f"{r.significance} in ClinVar {r.variation_id} ({r.stars} star(s))")]  # type: ignore[attr-defined]
    return []


# -- predictors -----------------------------------------------------------------------
@dataclass(frozen=True)
class _Thresholds:
    higher_is_worse: bool
    pp3: tuple[tuple[float, Strength], ...]  # (threshold, strength), strongest first
    bp4: tuple[tuple[float, Strength], ...]


_VS, _S, _M, _P = Strength.VERY_STRONG, Strength.STRONG, Strength.MODERATE, Strength.SUPPORTING
#: Pejaver et al. 2022, Table 2 (PP3: score >= threshold; BP4: score <= threshold; SIFT reversed).
PREDICTOR_THRESHOLDS: dict[str, _Thresholds] = {
    "REVEL": _Thresholds(True, ((0.932, _S), (0.773, _M), (0.644, _P)),
                         ((0.003, _VS), (0.016, _S), (0.183, _M), (0.290, _P))),
    "BayesDel": _Thresholds(True, ((0.50, _S), (0.27, _M), (0.13, _P)), ((-0.36, _M), (-0.18, _P))),
    "CADD": _Thresholds(True, ((28.1, _M), (25.3, _P)), ((0.15, _S), (17.3, _M), (22.7, _P))),
    "VEST4": _Thresholds(True, ((0.965, _S), (0.861, _M), (0.764, _P)), ((0.302, _M), (0.449, _P))),
    "MutPred2": _Thresholds(True, ((0.932, _S), (0.829, _M), (0.737, _P)),
                            ((0.010, _S), (0.197, _M), (0.391, _P))),
    "PolyPhen2": _Thresholds(True, ((0.999, _M), (0.978, _P)), ((0.009, _M), (0.113, _P))),
    "SIFT": _Thresholds(False, ((0.0, _M), (0.001, _P)), ((0.327, _M), (0.080, _P))),
    # genoma's own model (genoma.ml.pathogenicity), as a prior-free odds of pathogenicity:
    # supporting strength only (Tavtigian 2018: OddsPath 2.08 = supporting); its gene-held-out
    # missense auROC (0.68) does not justify more. Last in the default order: a peer predictor
    # with calibrated thresholds wins when present.
    "GENOMA_ML": _Thresholds(True, ((2.08, _P),), ((0.4808, _P),)),
}


def pp3_bp4(ctx: VariantContext, scores: dict[str, float], *,
            predictors: Sequence[str] = AcmgConfig.predictors) -> Criterion | None:
    """PP3 / BP4 from the first predictor in ``predictors`` with a score (missense only).

    Thresholds are Pejaver et al. 2022 (Table 2); strength capped at Strong.
    Predictor names match case-insensitively (``revel`` = ``REVEL``).
    """
    if "missense_variant" not in ctx.consequences:
        return None
    low = {k.lower(): v for k, v in scores.items() if v is not None}
    for name in predictors:
        s = low.get(name.lower())
        th = PREDICTOR_THRESHOLDS.get(name)
        if s is None or th is None:
            continue
        worse = (lambda a, b: a >= b) if th.higher_is_worse else (lambda a, b: a <= b)
        better = (lambda a, b: a <= b) if th.higher_is_worse else (lambda a, b: a >= b)
        if name == "SIFT":  # PP3 Moderate only at exactly 0, Supporting in (0, 0.001]
            worse = lambda a, b: (a == 0.0) if b == 0.0 else (a <= b)  # noqa: E731
        src = "Tavtigian 2018 OddsPath, supporting only" if name == "GENOMA_ML" else "Pejaver 2022"
        for t, st in th.pp3:
            if worse(s, t):
                return Criterion("PP3", st, f"{name} {s:g} {'>=' if th.higher_is_worse else '<='} {t:g} "
                                 f"({src}: {st})")
        for t, st in th.bp4:
            if better(s, t):
                capped = Strength.STRONG if st == Strength.VERY_STRONG else st
                return Criterion("BP4", capped, f"{name} {s:g} {'<=' if th.higher_is_worse else '>='} {t:g} "
                                 f"({src}: {st}{', capped at Strong' if capped != st else ''})")
        return None  # the chosen predictor is indeterminate: no other tool is consulted
    return None


# -- protein length, synonymous, hotspots -------------------------------------------------
def _in_regions(pos: int, end: int, regions: Iterable[tuple[int, int]]) -> tuple[int, int] | None:
    for s, e in regions:
        if pos <= e and end >= s:
            return (s, e)
    return None


def pm4_bp3(ctx: VariantContext, *, repeats: dict[str, list[tuple[int, int]]] | None = None) -> Criterion | None:
    """PM4 (in-frame indel outside a repeat, or stop lost) / BP3 (in-frame indel in a repeat)."""
    cons = set(ctx.consequences)
    inframe = cons & {"inframe_insertion", "inframe_deletion"}
    if not inframe and "stop_lost" not in cons:
        return None
    if "frameshift_variant" in cons:
        return None
    reg = None
    if repeats:
        reg = _in_regions(ctx.pos, ctx.pos + max(len(ctx.ref), 1) - 1, repeats.get(ctx.chrom, ()))
    if inframe and reg is not None:
        return Criterion("BP3", Strength.SUPPORTING,
                         f"in-frame {'/'.join(sorted(inframe))} {ctx.hgvsp} in repeat region "
                         f"{ctx.chrom}:{reg[0]}-{reg[1]}")
    what = "stop lost" if "stop_lost" in cons else "/".join(sorted(inframe))
    note = "" if repeats else " (no repeat annotation given)"
    return Criterion("PM4", Strength.MODERATE,
                     f"protein length change: {what} {ctx.hgvsp}{'' if reg else ' outside known repeats'}{note}")


_SPLICE_TERMS = {"splice_region_variant", "splice_donor_variant", "splice_acceptor_variant",
                 "splice_donor_5th_base_variant", "splice_donor_region_variant",
                 "splice_polypyrimidine_tract_variant"}


def bp7(ctx: VariantContext, *, splice_score: float | None = None, splice_max: float = 0.1) -> Criterion | None:
    """BP7: synonymous, outside splice regions (and a splice score ≤ ``splice_max`` if given)."""
    cons = set(ctx.consequences)
    if "synonymous_variant" not in cons or cons & _SPLICE_TERMS:
        return None
    if splice_score is not None and splice_score > splice_max:
        return None
    extra = f", splice score {splice_score:g} <= {splice_max:g}" if splice_score is not None else \
        " (no splice predictor given)"
    return Criterion("BP7", Strength.SUPPORTING, f"synonymous {ctx.hgvsp}, not in a splice region{extra}")


def pm1(ctx: VariantContext, *, hotspots: dict[str, list[tuple[int, int]]] | None = None) -> Criterion | None:
    """PM1: missense in a hotspot / critical domain listed for the gene (hook; empty default)."""
    if not hotspots or "missense_variant" not in ctx.consequences or ctx.protein_position is None:
        return None
    reg = _in_regions(ctx.protein_position, ctx.protein_position, hotspots.get(ctx.gene, ()))
    if reg is None:
        return None
    return Criterion("PM1", Strength.MODERATE,
                     f"missense at residue {ctx.protein_position} in {ctx.gene} hotspot {reg[0]}-{reg[1]}")


# -- combination ------------------------------------------------------------------------
def _counts(criteria: Iterable[Criterion]) -> dict[str, int]:
    c = {"pvs": 0, "ps": 0, "pm": 0, "pp": 0, "ba": 0, "bs": 0, "bp": 0}
    for x in criteria:
        if x.strength == Strength.STAND_ALONE:
            c["ba"] += 1
        elif x.pathogenic:
            c[{_VS: "pvs", _S: "ps", _M: "pm", _P: "pp"}[x.strength]] += 1
        else:  # benign very strong is treated as strong
            c[{_VS: "bs", _S: "bs", _M: "bp", _P: "bp"}[x.strength]] += 1
    return c


def combine_richards(criteria: Iterable[Criterion]) -> tuple[str, str]:
    """Class by the Richards et al. 2015 combining rules (Table 5).

    Criteria count at their applied strength (PM2_Supporting counts as supporting);
    benign moderate counts as supporting. PVS1 + ≥ 1 supporting is likely pathogenic
    (ClinGen SVI 2019). Pathogenic and benign evidence both reaching a class: VUS.

    Returns
    -------
    tuple
        ``(class, rule)`` with the rule that applied.
    """
    c = _counts(criteria)
    pvs, ps, pm, pp, ba, bs, bp = (c[k] for k in ("pvs", "ps", "pm", "pp", "ba", "bs", "bp"))
    path = None
    if pvs >= 1 and (ps >= 1 or pm >= 2 or (pm >= 1 and pp >= 1) or pp >= 2 or pvs >= 2):
        path = ("Pathogenic", "PVS + (PS | 2 PM | PM + PP | 2 PP)")
    elif ps >= 2:
        path = ("Pathogenic", ">= 2 PS")
    elif ps >= 1 and (pm >= 3 or (pm >= 2 and pp >= 2) or (pm >= 1 and pp >= 4)):
        path = ("Pathogenic", "PS + (3 PM | 2 PM + 2 PP | PM + 4 PP)")
    elif pvs >= 1 and pm >= 1:
        path = ("Likely_pathogenic", "PVS + PM")
    elif pvs >= 1 and pp >= 1:
        path = ("Likely_pathogenic", "PVS + PP (ClinGen SVI 2019)")
    elif ps >= 1 and (pm >= 1 or pp >= 2):
        path = ("Likely_pathogenic", "PS + (1-2 PM | >= 2 PP)")
    elif pm >= 3 or (pm >= 2 and pp >= 2) or (pm >= 1 and pp >= 4):
        path = ("Likely_pathogenic", "3 PM | 2 PM + 2 PP | PM + 4 PP")
    ben = None
    if ba >= 1:
        ben = ("Benign", "BA1")
    elif bs >= 2:
        ben = ("Benign", ">= 2 BS")
    elif bs >= 1 and bp >= 1:
        ben = ("Likely_benign", "BS + BP")
    elif bp >= 2:
        ben = ("Likely_benign", ">= 2 BP")
    if path and ben:
        return "Uncertain_significance", f"conflicting: {path[1]} vs {ben[1]}"
    if path:
        return path
    if ben:
        return ben
    return "Uncertain_significance", "criteria for another class not met"


def tavtigian_points(criteria: Iterable[Criterion]) -> int:
    """Sum of points: very strong 8, strong 4, moderate 2, supporting 1; benign negative."""
    return sum(c.points for c in criteria if c.strength != Strength.STAND_ALONE)


def classify_points(points: int, *, ba1: bool = False) -> str:
    """Class from Tavtigian 2020 points: ≥ 10 P, 6–9 LP, 0–5 VUS, −1…−6 LB, ≤ −7 B; BA1 → B."""
    if ba1:
        return "Benign"
    if points >= 10:
        return "Pathogenic"
    if points >= 6:
        return "Likely_pathogenic"
    if points >= 0:
        return "Uncertain_significance"
    if points >= -6:
        return "Likely_benign"
    return "Benign"


def apply_manual(computed: Iterable[Criterion], manual: Iterable[Criterion]) -> list[Criterion]:
    """Computed criteria with manual ones added; a manual code replaces a computed one."""
    manual = list(manual)
    codes = {m.code for m in manual}
    return [c for c in computed if c.code not in codes] + manual


@dataclass(frozen=True)
class AcmgResult:
    """Criteria and classes of one allele on one transcript."""

    criteria: tuple[Criterion, ...]
    richards: str
    rule: str
    points: int
    points_class: str

    @property
    def labels(self) -> str:
        """``PVS1&PM2_Supporting`` (CSQ-safe)."""
        return "&".join(c.label for c in self.criteria)


def evaluate(ctx: VariantContext, *, tx: TranscriptFacts | None = None, freq: object | None = None,
             freq_checked: bool = False, freq_label: str = "population data",
             clinvar_same: Iterable[object] = (), clinvar_residue: Iterable[tuple[object, object]] = (),
             scores: dict[str, float] | None = None, manual: Iterable[Criterion] = (),
             config: AcmgConfig | None = None) -> AcmgResult:
    """Every computable criterion for one allele, manual criteria, and both classes.

    Returns
    -------
    AcmgResult
    """
    cfg = config or AcmgConfig()
    lof = None if cfg.lof_genes is None else ctx.gene in cfg.lof_genes
    out: list[Criterion] = []
    v = pvs1(ctx, tx, lof_mechanism=lof)
    if v is not None:
        out.append(v)
    out += ba1_bs1_bs2_pm2(freq, checked=freq_checked, gene=ctx.gene, label=freq_label, config=cfg)
    out += ps1_pm5(ctx, clinvar_same, clinvar_residue, min_stars=cfg.ps1_min_stars)
    scores = scores or {}
    for c in (pp3_bp4(ctx, scores, predictors=cfg.predictors), pm4_bp3(ctx, repeats=cfg.repeats),
              bp7(ctx, splice_score=scores.get("SpliceAI")), pm1(ctx, hotspots=cfg.hotspots)):
        if c is not None:
            out.append(c)
    crit = apply_manual(out, manual)
    order = {k: i for i, k in enumerate(("PVS", "PS", "PM", "PP", "BA", "BS", "BP"))}
    crit.sort(key=lambda c: (order[_CODE.match(c.code).group(1)], int(_CODE.match(c.code).group(2))))  # type: ignore[union-attr]
    klass, rule = combine_richards(crit)
    pts = tavtigian_points(crit)
    return AcmgResult(tuple(crit), klass, rule, pts,
                      classify_points(pts, ba1=any(c.code == "BA1" for c in crit)))


def parse_manual_line(line: str, *, path: str | None = None, line_no: int | None = None) -> tuple[tuple[str, int, str, str], list[Criterion]]:
    """One line of a ``--criteria`` TSV: ``CHROM POS REF ALT CRITERIA [REASON]``.

    ``CRITERIA`` is a comma-separated list of labels (``PS3,PP1_Moderate``).

    Raises
    ------
    MalformedInputError
        Naming the file and line.
    """
    from genoma.model.variant import canonical_chrom

    f = line.rstrip("\n").split("\t")
    if len(f) < 5 or not f[1].isdigit():
        raise MalformedInputError("criteria line needs CHROM POS REF ALT CRITERIA [REASON] (tab-separated)",
                                  path=path, line=line_no)
    reason = f[5] if len(f) > 5 and f[5] else "given manually"
    try:
        crit = [parse_criterion(x, reason) for x in f[4].split(",") if x.strip()]
    except ValueError as exc:
        raise MalformedInputError(str(exc), path=path, line=line_no) from None
    return (canonical_chrom(f[0]), int(f[1]), f[2].upper(), f[3].upper()), crit
