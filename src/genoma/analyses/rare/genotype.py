"""Genotype evidence: the patient's variants in each gene, and a genotype likelihood ratio.

Variants are assigned to genes by coordinates (:class:`genoma.kb.genes.GeneTable`) or,
when consequences were computed (:func:`consequences_from_csq` on the output of
:class:`genoma.annotate.csq.Annotator`), by the annotated gene, and weighted by
predicted impact. Without consequences every variant inside a gene counts with the
same weight and the result carries the limitation ``RARE_NO_CONSEQUENCES``.

Genotype LR of a gene under a mode of inheritance (LIRICAL-like, simplified): with
``k`` the qualifying alleles the mode needs (1 or 2, :func:`.inheritance.alleles_needed`)
and ``λ = rate · length_kb`` the expected number of such alleles in the gene by chance,

* alleles on ≥ ``k`` haplotypes: ``LR = w / P(Poisson(λ) ≥ k)`` (``w`` the product of
  the best ``k`` variant weights), capped at ``lr_cap``;
* some but too few (one heterozygous variant for a recessive disease):
  ``LR = lr_one_hit``;
* none: ``LR = lr_no_variant`` (a causal variant missed by calling / annotation).

Never counted as carriers: reference-homozygous and no-call genotypes, filtered calls.
Two heterozygous variants are a compound heterozygote unless they are known to be in
*cis*: phased in the same phase set on the same haplotype, or both inherited from the
same parent (when parents' genotypes are given). A variant inherited from an
unaffected parent who is homozygous for it does not count for a recessive mode; a
variant absent from both called parents is *de novo* (weight × ``de_novo_boost``).
"""

from __future__ import annotations

import contextlib
import math
import weakref
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from genoma.analyses.rare.inheritance import alleles_needed
from genoma.analyses.rare.variant_class import class_from_consequence
from genoma.model.genotype import Call
from genoma.model.variant import Variant, canonical_chrom

__all__ = [
    "CLASS_LR_BY_MODE",
    "IMPACT_WEIGHTS",
    "MODE_GROUPS",
    "GeneGenotype",
    "GenotypeParams",
    "VariantEvidence",
    "annotate_calls",
    "collect_gene_variants",
    "consequences_from_csq",
    "gene_chromosomes",
    "genotype_lr",
    "variant_key",
]

#: Default class weights ``P(class | causal) / P(class | background)`` (see
#: :class:`GenotypeParams`): causal shares from the HGVS of 4,250 ``fit`` cases,
#: background shares from NA12878 chr21 genic variants annotated by genoma.
CLASS_LR: dict[str, float] = {
    "lof": 423.0, "splice": 78.1, "missense": 63.3, "inframe": 49.2, "splice_region": 4.33,
    "synonymous": 0.581, "utr": 0.0839, "non_coding": 0.0134, "unknown": 1.0,
}

#: Class weights per mode group (``P(class | causal, mode) / P(class | background)``, same
#: sources as :data:`CLASS_LR`, causal classes split by the mode of the fit case's
#: disease; ``benchmarks/rare_spiked.py``: 1,949 AD, 1,246 AR, 143 X-linked causal
#: variants of known diseases).
CLASS_LR_BY_MODE: dict[str, dict[str, float]] = {
    "AD": {"lof": 399.2, "splice": 62.65, "missense": 68.04, "inframe": 69.44,
          "splice_region": 2.184, "synonymous": 0.2931, "utr": 0.0476,
          "non_coding": 0.0037, "unknown": 1.0},
    "AR": {"lof": 479.2, "splice": 104.8, "missense": 57.79, "inframe": 20.02,
          "splice_region": 6.571, "synonymous": 1.143, "utr": 0.1857, "non_coding": 0.0258,
          "unknown": 1.0},
    "X": {"lof": 482.9, "splice": 58.34, "missense": 57.39, "inframe": 48.62,
          "splice_region": 12.06, "synonymous": 0.9438, "utr": 0.6133,
          "non_coding": 0.0069, "unknown": 1.0},
}

#: Mode of inheritance → group of :attr:`GenotypeParams.class_lr_by_mode`.
MODE_GROUPS: dict[str, str] = {"AD": "AD", "AR": "AR", "XL": "X", "XLR": "X", "XLD": "X"}

#: Weight of a variant by VEP IMPACT.
IMPACT_WEIGHTS: dict[str, float] = {"HIGH": 1.0, "MODERATE": 0.8, "LOW": 0.1, "MODIFIER": 0.02}


def variant_key(v: Variant) -> str:
    """``chrom:pos:ref:alt`` (the TSV spelling)."""
    return f"{v.chrom}:{v.pos}:{v.ref}:{v.alt}"


@dataclass(frozen=True)
class GenotypeParams:
    """Parameters of the genotype LR.

    ``rate_per_kb`` was chosen on the ``fit`` half of the spiked phenopacket-store cases
    in the fair setting (``benchmarks/rare_spiked.py``, first round); ``class_lr``,
    ``rate_per_kb_annotated`` and ``rate_per_kb_filtered`` are measured (causal classes
    of the fit cases' HGVS; NA12878 chr21 annotated by genoma; the share of NA12878's
    alleles rare in 1000 Genomes); a grid over ``lr_no_variant`` × ``lr_one_hit`` had no
    effect on the fit cases (``docs/bench/rare.md``), so those stay priors; ``lr_cap``
    (300) and the use of ``class_lr_by_mode`` were chosen by a grid on 1,074 spiked fit
    cases (third round, ``docs/bench/rare.md``).

    Attributes
    ----------
    rate_per_kb
        Expected qualifying background alleles per kb of gene without consequences
        (every variant in the gene qualifies).
    rate_per_kb_annotated
        The same when consequences are known (only weighted coding/splice variants).
    rate_per_kb_filtered
        The same when common alleles were removed by frequency (``max_af``).
    weight_unannotated
        Weight of a variant whose consequence is unknown.
    lr_no_variant, lr_one_hit, lr_cap
        See the module docstring.
    de_novo_boost
        Weight multiplier of a *de novo* variant.
    class_lr
        Variant class (:data:`~.variant_class.VARIANT_CLASSES`) → weight
        ``P(class | causal) / P(class | background allele)``; used for variants whose
        class is known (``classes`` of :func:`collect_gene_variants`, or derived from the
        annotator's consequences). Empty: impact weights (:data:`IMPACT_WEIGHTS`).
        Defaults estimated by ``benchmarks/rare_spiked.py`` (causal classes of the
        ``fit`` cases' HGVS; background classes of NA12878 chr21 annotated by genoma).
    max_af
        Alleles with a population frequency at or above this never qualify (when
        frequencies are given to :func:`collect_gene_variants`).
    class_lr_by_mode
        Mode group (:data:`MODE_GROUPS`: ``AD``, ``AR``, ``X``) → class → weight, used
        instead of ``class_lr`` when the genotype is scored under a mode of that group
        (causal classes differ by inheritance: e.g. non-coding and splice variants are
        more often causal in recessive diseases). Empty: ``class_lr`` for every mode.
    """

    rate_per_kb: float = 1.0
    rate_per_kb_annotated: float = 1.72
    rate_per_kb_filtered: float = 0.0341
    weight_unannotated: float = 1.0
    lr_no_variant: float = 0.02
    lr_one_hit: float = 0.2
    lr_cap: float = 300.0
    de_novo_boost: float = 2.0
    class_lr: Mapping[str, float] = field(default_factory=lambda: dict(CLASS_LR))
    max_af: float = 0.01
    class_lr_by_mode: Mapping[str, Mapping[str, float]] = field(
        default_factory=lambda: {k: dict(v) for k, v in CLASS_LR_BY_MODE.items()})


@dataclass
class VariantEvidence:
    """One variant allele of the patient in a gene."""

    variant: Variant
    gene: str
    copies: int
    """Copies of the ALT allele (1 heterozygous, 2 homozygous or hemizygous)."""
    weight: float
    phased: bool = False
    phase_set: int | None = None
    haplotype: int | None = None
    """For a phased heterozygote, the index (0/1) of the haplotype carrying ALT."""
    consequence: str | None = None
    impact: str | None = None
    origin: str = "unknown"
    """``de_novo``, ``paternal``, ``maternal``, ``biparental``, ``unknown``."""
    excluded_for_recessive: bool = False
    variant_class: str | None = None
    """:data:`~.variant_class.VARIANT_CLASSES` member when known."""

    @property
    def zygosity(self) -> str:
        """``heterozygous`` or ``homozygous``."""
        return "homozygous" if self.copies >= 2 else "heterozygous"


@dataclass
class GeneGenotype:
    """The patient's qualifying variants in one gene."""

    gene: str
    chrom: str
    length: int
    variants: list[VariantEvidence] = field(default_factory=list)
    frequency_filtered: bool = False
    """Whether common alleles were removed (``frequencies`` given): selects the
    background rate ``rate_per_kb_filtered``."""


def consequences_from_csq(entries: Iterable[str], fields: list[str]
                          ) -> list[tuple[str, str, str]]:
    """``(symbol, consequence, impact)`` of CSQ entries (one per transcript).

    Parameters
    ----------
    entries
        CSQ strings as :meth:`genoma.annotate.csq.Annotator.annotate_batch` yields them.
    fields
        The CSQ field names (``Allele|Consequence|IMPACT|SYMBOL|…``).
    """
    ci, ii, si = fields.index("Consequence"), fields.index("IMPACT"), fields.index("SYMBOL")
    out = []
    for e in entries:
        parts = e.split("|")
        if len(parts) > max(ci, ii, si) and parts[si]:
            out.append((parts[si], parts[ci], parts[ii]))
    return out


def _qualifies(call: Call) -> int:
    g = call.genotype
    if g.filter not in ("PASS", ".", ""):
        return 0
    if not g.alleles or any(a is None for a in g.alleles):
        # a half-call still carries the ALT it names
        n = sum(1 for a in g.alleles if a == 1)
        return n
    return sum(1 for a in g.alleles if a == 1)


_LENGTHS: weakref.WeakKeyDictionary[Any, dict[str, int]] = weakref.WeakKeyDictionary()


def _gene_lengths(genes: Any) -> dict[str, int]:
    """Upper-case symbol → longest locus (bp) of a gene table, from its columns (cached
    per table); empty when the table has no ``start`` / ``end`` columns."""
    try:
        got = _LENGTHS.get(genes)
    except TypeError:  # not weak-referenceable
        got = None
    if got is not None:
        return got
    cols = getattr(genes, "cols", {})
    out: dict[str, int] = {}
    if "start" in cols and "end" in cols:
        size = (np.asarray(cols["end"], dtype=np.int64)
                - np.asarray(cols["start"], dtype=np.int64) + 1)
        for sym, n in zip(np.asarray(cols["symbol"]).tolist(), size.tolist(), strict=True):
            k = str(sym).upper()
            if n > out.get(k, 0):
                out[k] = n
    with contextlib.suppress(TypeError):
        _LENGTHS[genes] = out
    return out


def gene_chromosomes(genes: Any, symbols: Iterable[str]) -> dict[str, str]:
    """Gene symbol → chromosome of its first locus (``genes.loci`` order), for the
    X-linked allele counts of genes without variants (``gene_chroms`` of
    :func:`~genoma.analyses.rare.diagnose`). Read from the table's columns when it has
    them (one pass, not one :meth:`~genoma.kb.genes.GeneTable.loci` call per gene).
    """
    cols = getattr(genes, "cols", {})
    want = {str(s).upper(): str(s) for s in symbols}
    out: dict[str, str] = {}
    if "chrom" in cols:
        for sym, ch in zip(np.asarray(cols["symbol"]).tolist(),
                           np.asarray(cols["chrom"]).tolist(), strict=True):
            k = str(sym).upper()
            if k in want and want[k] not in out:
                out[want[k]] = str(ch)
        return out
    for sym in want.values():
        loci = genes.loci(sym) if hasattr(genes, "loci") else []
        if loci:
            out[sym] = loci[0].chrom
    return out


def collect_gene_variants(
    calls: Iterable[Call],
    genes: Any,
    *,
    sex: str = "UNKNOWN_SEX",
    consequences: Mapping[str, list[tuple[str, str, str]]] | None = None,
    parents: Mapping[str, Mapping[str, int]] | None = None,
    affected_parents: frozenset[str] = frozenset(),
    params: GenotypeParams | None = None,
    classes: Mapping[str, str] | None = None,
    frequencies: Mapping[str, float] | None = None,
) -> dict[str, GeneGenotype]:
    """The patient's ALT alleles grouped by gene.

    Parameters
    ----------
    calls
        The proband's calls (:meth:`genoma.io.vcf.VcfFile.calls`).
    genes
        A :class:`genoma.kb.genes.GeneTable` of the calls' build.
    sex
        Phenopacket sex (chrX hemizygosity in males).
    consequences
        ``variant_key`` → ``[(symbol, consequence, impact), …]``; when given, variants
        are assigned to the annotated genes and weighted by impact.
    parents
        ``"father"`` / ``"mother"`` → {``variant_key``: ALT copies} of the parents.
    affected_parents
        Which of ``father`` / ``mother`` are affected.
    params
        Genotype parameters.
    classes
        ``variant_key`` → variant class (e.g. :func:`~.variant_class.class_from_hgvs` of a
        literature variant); overrides the class derived from ``consequences``.
    frequencies
        ``variant_key`` → population allele frequency; alleles at or above
        ``params.max_af`` are not collected (absent keys count as rare).

    Returns
    -------
    dict
        Gene symbol → :class:`GeneGenotype` (genes without a qualifying variant absent).
    """
    prm = params or GenotypeParams()
    kept: list[tuple[Call, int]] = []
    for c in calls:
        n = _qualifies(c)
        if n > 0 and frequencies is not None:
            af = frequencies.get(variant_key(c.variant))
            if af is not None and af >= prm.max_af:
                n = 0
        if n > 0:
            kept.append((c, n))
    out: dict[str, GeneGenotype] = {}
    if not kept:
        return out
    chroms = np.array([c.variant.chrom for c, _ in kept])
    starts = np.array([c.variant.pos for c, _ in kept], dtype=np.int64)
    ends = starts + np.array([max(len(c.variant.ref), 1) - 1 for c, _ in kept], dtype=np.int64)
    qi, gi = genes.overlaps(chroms, starts, ends)
    by_q: dict[int, list[int]] = {}
    for q, g in zip(qi.tolist(), gi.tolist(), strict=True):
        by_q.setdefault(q, []).append(g)
    cols = genes.cols
    lengths = _gene_lengths(genes)
    for q, (call, n) in enumerate(kept):
        v = call.variant
        key = variant_key(v)
        chrom = canonical_chrom(v.chrom)
        hemi = (chrom in ("chrX", "chrY") and sex == "MALE") or chrom == "chrM"
        copies = 2 if (n >= 2 or hemi or len(call.genotype.alleles) == 1) else 1
        hits: list[tuple[str, str | None, str | None, float, str | None]] = []
        given = classes.get(key) if classes is not None else None
        if consequences is not None and key in consequences:
            best: dict[str, tuple[str, str, float]] = {}
            terms: dict[str, list[str]] = {}
            for sym, csq, imp in consequences.get(key, []):
                w = IMPACT_WEIGHTS.get(imp, 0.0)
                terms.setdefault(sym, []).append(csq)
                if sym not in best or w > best[sym][2]:
                    best[sym] = (csq, imp, w)
            for s_, (c_, i_, w) in best.items():
                vc = given or class_from_consequence(terms[s_])
                if prm.class_lr:
                    w = prm.class_lr.get(vc, prm.weight_unannotated)
                hits.append((s_, c_, i_, w, vc))
        else:
            syms = dict.fromkeys(str(cols["symbol"][g]) for g in by_q.get(q, []))
            w = prm.weight_unannotated
            if given is not None and prm.class_lr:
                w = prm.class_lr.get(given, prm.weight_unannotated)
            hits = [(s_, None, None, w, given) for s_ in syms]
        origin = "unknown"
        excluded_rec = False
        if parents:
            fa = parents.get("father", {}).get(key) if "father" in parents else None
            mo = parents.get("mother", {}).get(key) if "mother" in parents else None
            if fa == 0 and mo == 0:
                origin = "de_novo"
            elif fa and mo:
                origin = "biparental"
            elif fa:
                origin = "paternal"
            elif mo:
                origin = "maternal"
            for who, d in (("father", fa), ("mother", mo)):
                if d is not None and d >= 2 and who not in affected_parents:
                    excluded_rec = True
        g = call.genotype
        hap = None
        if g.phased and copies == 1 and len(g.alleles) == 2:
            hap = 0 if g.alleles[0] == 1 else 1
        for sym, csq, imp, w, vc in hits:
            if w <= 0:
                continue
            if origin == "de_novo":
                w = w * prm.de_novo_boost if prm.class_lr and vc else min(
                    1.0, w * prm.de_novo_boost)
            gg = out.get(sym)
            if gg is None:
                length = lengths.get(sym.upper(), 0)
                if not length:
                    loci = genes.loci(sym) if hasattr(genes, "loci") else []
                    length = max((x.end - x.start + 1 for x in loci), default=10_000)
                gg = out[sym] = GeneGenotype(sym, chrom, length,
                                             frequency_filtered=frequencies is not None)
            gg.variants.append(VariantEvidence(
                variant=v, gene=sym, copies=copies, weight=w, phased=g.phased,
                phase_set=g.phase_set, haplotype=hap, consequence=csq, impact=imp,
                origin=origin, excluded_for_recessive=excluded_rec, variant_class=vc))
    for gg in out.values():
        gg.variants.sort(key=lambda e: -e.weight)
    return out


def _trans(a: VariantEvidence, b: VariantEvidence) -> bool | None:
    """True if known in trans, False if known in cis, None if unknown."""
    if a.phased and b.phased and a.haplotype is not None and b.haplotype is not None and (
            a.phase_set == b.phase_set):
        return a.haplotype != b.haplotype
    pa = {"paternal": "p", "maternal": "m"}.get(a.origin)
    pb = {"paternal": "p", "maternal": "m"}.get(b.origin)
    if pa and pb:
        return pa != pb
    return None


def _best_pair(vs: list[VariantEvidence]) -> tuple[float, list[VariantEvidence], str]:
    """Best two-haplotype combination: (weight, variants, description).

    ``vs`` is sorted by decreasing weight, so the search stops as soon as no remaining
    pair can beat the best one found.
    """
    best: tuple[float, list[VariantEvidence], str] = (0.0, [], "")
    ok = [v for v in vs if not v.excluded_for_recessive]
    for i, a in enumerate(ok):
        if a.weight * a.weight <= best[0]:
            break
        if a.copies >= 2:
            best = (a.weight * a.weight, [a], "homozygous" if a.variant.chrom not in (
                "chrX", "chrY") else "hemizygous/homozygous")
            continue
        for b in ok[i + 1:]:
            w = a.weight * b.weight
            if w <= best[0]:
                break
            if b.variant == a.variant:
                continue
            t = _trans(a, b)
            if t is False:
                continue
            best = (w, [a, b], "compound heterozygous" + ("" if t else " (phase unknown)"))
    return best


def _mode_weighted(vs: list[VariantEvidence], mode: str, prm: GenotypeParams
                   ) -> list[VariantEvidence]:
    """``vs`` re-weighted with the class weights of ``mode``'s group (sorted, best
    first); unchanged when no per-mode weights apply."""
    by = prm.class_lr_by_mode.get(MODE_GROUPS.get(mode, ""), {}) if prm.class_lr_by_mode else {}
    if not by or not prm.class_lr:
        return vs
    out = []
    changed = False
    for v in vs:
        vc = v.variant_class
        base = prm.class_lr.get(vc, 0.0) if vc else 0.0
        if vc in by and base > 0:
            out.append(replace(v, weight=v.weight * by[vc] / base))
            changed = True
        else:
            out.append(v)
    if not changed:
        return vs
    out.sort(key=lambda e: -e.weight)
    return out


def genotype_lr(gg: GeneGenotype | None, mode: str, sex: str, *, annotated: bool,
                params: GenotypeParams | None = None, chrom: str = ""
                ) -> tuple[float, list[VariantEvidence], str]:
    """Genotype likelihood ratio of a gene under one mode of inheritance.

    Parameters
    ----------
    gg
        The gene's variants (``None`` when it has none).
    mode
        Mode code (``AD``, ``AR``, ``XLR`` …).
    sex
        Phenopacket sex.
    annotated
        Whether consequences were computed (selects the background rate).
    params
        Genotype parameters.
    chrom
        The gene's chromosome when ``gg`` is ``None``.

    Returns
    -------
    tuple
        ``(LR, variants used, explanation)``.
    """
    prm = params or GenotypeParams()
    if gg is None or not gg.variants:
        return prm.lr_no_variant, [], "no qualifying variant in the gene"
    k = alleles_needed(mode, sex, gg.chrom or chrom)
    vs = _mode_weighted(gg.variants, mode, prm)
    if gg.frequency_filtered:
        rate = prm.rate_per_kb_filtered
    else:
        rate = prm.rate_per_kb_annotated if annotated else prm.rate_per_kb
    lam = max(rate * gg.length / 1000.0, 1e-6)
    if k == 1:
        top = vs[0]
        p_bg = -math.expm1(-lam)
        lr = top.weight / p_bg
        desc = f"{top.zygosity} {variant_key(top.variant)}"
        if top.variant_class:
            desc += f" [{top.variant_class}]"
        if top.origin != "unknown":
            desc += f" ({top.origin.replace('_', ' ')})"
        return min(lr, prm.lr_cap), [top], desc
    w, used, desc = _best_pair(vs)
    if not used:
        return prm.lr_one_hit, vs[:1], "one heterozygous variant only (recessive " \
            "mode needs two hits)"
    p_bg = -math.expm1(-lam) - lam * math.exp(-lam)
    lr = w / max(p_bg, 1e-12)
    return min(lr, prm.lr_cap), used, desc


def annotate_calls(calls: list[Call], annotator: Any) -> dict[str, list[tuple[str, str, str]]]:
    """Consequences of the calls' ALT alleles with a :class:`genoma.annotate.csq.Annotator`.

    Parameters
    ----------
    calls
        The proband's calls.
    annotator
        An ``Annotator`` (transcripts + reference of the calls' build).

    Returns
    -------
    dict
        ``variant_key`` → ``[(symbol, consequence, impact), …]`` (one per transcript).
    """
    from genoma.annotate.csq import CSQ_FIELDS

    by_chrom: dict[str, list[Variant]] = {}
    for c in calls:
        by_chrom.setdefault(c.variant.chrom, []).append(c.variant)
    out: dict[str, list[tuple[str, str, str]]] = {}
    for chrom, vs in by_chrom.items():
        vs = sorted(set(vs), key=lambda v: v.pos)
        res = annotator.annotate_batch(chrom, [v.pos for v in vs], [v.ref for v in vs],
                                       [[v.alt] for v in vs])
        for v, (_ok, entries) in zip(vs, res, strict=True):
            out[variant_key(v)] = consequences_from_csq(entries, CSQ_FIELDS)
    return out
