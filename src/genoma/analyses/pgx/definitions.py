"""Star-allele definitions compiled into binary matrices (alleles × defining variants).

The pypgx tables list, per allele and genome build, its *core* variants as
``chrom-pos-ref-alt`` relative to that build's reference sequence. This module turns them
into a :class:`GeneDefinition`: one column per defining variant (normalised as the VCF
reader normalises records), one row per allele, plus what the matcher needs to break
ties:

* **default allele** – the allele with no core variant in the build (the allele the
  reference genome carries: ``*1`` for most genes, ``*38`` for CYP2C19 on GRCh38,
  ``*2`` for CYP2D6 on GRCh37). When several alleles have an empty core, the gene
  table's ``GRCh3xDefault`` wins.
* **background variants** – when the reference genome does not carry the gene's
  reference allele (``RefAllele``, e.g. CYP2C19 ``*1`` on GRCh38), the core of that
  allele lists where the reference genome differs from it. pypgx does not repeat these
  variants in the cores of the other alleles (``*2`` on GRCh38 is listed without
  ``94842866 A>G``), so they are *soft*: they never make or break a match, they only
  break ties (``*1`` vs ``*38``) and they are not reported as unexplained.
* **SV alleles** (``SV`` flag: deletions, duplications, hybrids) are left out of the
  matrix and reported by name: a VCF of SNVs/indels cannot define them.

Natural sort of allele names (``*1 < *2 < *10 < *17``) is :func:`allele_sort_key`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache

import numpy as np

from genoma.errors import InconsistentInputError, KnowledgeError, UsageError
from genoma.model.variant import canonical_chrom, normalize_alleles

__all__ = [
    "FUNCTION_ORDER",
    "GeneDefinition",
    "VariantKey",
    "allele_sort_key",
    "compile_gene",
    "parse_core",
]

BUILDS = ("GRCh37", "GRCh38")

#: Allele function from most to least severe, as pypgx ranks candidate alleles
#: (``pypgx.api.core.FUNCTION_ORDER``); functions not listed rank with Normal.
FUNCTION_ORDER = (
    "No Function",
    "Severely Decreased Function",
    "Decreased Function",
    "Possible Decreased Function",
    "Increased Function",
    "Possible Increased Function",
    "Class I (Deficient with CNSHA)",
    "Class II (Deficient)",
    "Class III (Deficient)",
    "Unfavorable Response",
    "Malignant Hyperthermia Associated",
    "Uncertain Function",
    "Unknown Function",
    "Normal Function",
)

#: A defining variant after normalisation: ``(chrom, pos, ref, alt)``.
VariantKey = tuple[str, int, str, str]

_NUM = re.compile(r"(\d+)")


def allele_sort_key(name: str, ref_allele: str | None = None) -> tuple:
    """PharmVar-style natural sort key of an allele name.

    Star alleles sort numerically (``*1 < *2 < *10 < *17 < *1A``-style suffixes after
    the number); a gene's named reference allele (``Reference``, ``B (reference)``)
    sorts before every other name; other names sort naturally (case-insensitive).

    Examples
    --------
    >>> sorted(["*17", "*2", "*10", "*1"], key=allele_sort_key)
    ['*1', '*2', '*10', '*17']
    """
    if name is None:
        return (9,)
    s = str(name)
    if ref_allele is not None and s == ref_allele and not s.startswith("*"):
        return (0,)
    if s.lower().startswith("reference") or s.lower().endswith("(reference)"):
        return (0,)
    parts: list[tuple[int, int | str]] = []
    for tok in _NUM.split(s.lower()):
        if not tok:
            continue
        parts.append((0, int(tok)) if tok.isdigit() else (1, tok))
    return (1 if s.startswith("*") else 2, *parts)


def parse_core(text: str) -> list[VariantKey]:
    """Parse a pypgx core string (``10-94781859-G-A,...``) into normalised keys.

    Raises
    ------
    KnowledgeError
        A malformed entry in the knowledge table.
    """
    out: list[VariantKey] = []
    if not isinstance(text, str) or not text.strip():
        return out
    for item in text.split(","):
        item = item.strip()
        bits = item.split("-")
        if len(bits) != 4 or not bits[1].isdigit():
            raise KnowledgeError(f"malformed pypgx variant name {item!r}")
        chrom, pos, ref, alt = bits
        p, r, a = normalize_alleles(int(pos), ref.upper(), alt.upper())
        out.append((canonical_chrom(chrom), p, r, a))
    return out


@dataclass
class GeneDefinition:
    """One gene's allele definitions for one build, compiled for vectorised matching.

    Attributes
    ----------
    gene, build
        Gene symbol and genome build.
    alleles
        Allele names (rows of ``matrix``), non-SV alleles only.
    variants
        Defining variants (columns), normalised ``(chrom, pos, ref, alt)``.
    matrix
        uint8 ``(n_alleles, n_variants)``: 1 where the allele's core has the variant.
    background
        bool ``(n_variants,)``: soft background variants (see module docstring).
    score
        int ``(n_alleles,)``: number of non-background core variants (specificity).
    expected_bg
        uint8 ``(n_alleles, n_variants)``: the state each allele is expected to have at
        background variants (0 elsewhere); used only to break ties.
    is_default
        bool ``(n_alleles,)``: the build's default (reference-genome) allele.
    impact
        int ``(n_alleles,)``: non-background core variants with a protein impact in
        the variant table (pypgx's third ranking criterion).
    combinable
        True for genes named by single variants (``Reference``, ``rs…``, ``c.…``):
        several of them on one haplotype are reported as a combination ``A+B``.
    severity
        int ``(n_alleles,)``: function severity, higher = more severe (position in
        :data:`FUNCTION_ORDER` reversed; 0 for normal or unlisted functions).
    ref_allele
        The gene's reference allele name (``*1``, ``Reference``, ``*4`` for NAT2).
    default_allele
        Name of the build's default allele.
    sv_alleles
        Names of alleles flagged SV (never called from SNVs/indels).
    synonyms
        Alternative representations of a defining variant (from the variant table)
        mapped to its column index.
    region
        ``chrom:start-end`` covering the gene-table region and every defining variant.
    """

    gene: str
    build: str
    alleles: list[str]
    variants: list[VariantKey]
    matrix: np.ndarray
    background: np.ndarray
    score: np.ndarray
    expected_bg: np.ndarray
    is_default: np.ndarray
    severity: np.ndarray
    impact: np.ndarray
    ref_allele: str
    default_allele: str
    sv_alleles: list[str] = field(default_factory=list)
    synonyms: dict[VariantKey, int] = field(default_factory=dict)
    region: str = ""
    combinable: bool = False

    @property
    def positions(self) -> list[str]:
        """Unique defining positions ``chrom:pos`` in order."""
        seen: dict[str, None] = {}
        for c, p, _, _ in self.variants:
            seen.setdefault(f"{c}:{p}", None)
        return list(seen)

    @property
    def variant_position(self) -> list[str]:
        """``chrom:pos`` of every column."""
        return [f"{c}:{p}" for c, p, _, _ in self.variants]

    def sort_key(self, name: str) -> tuple:
        return allele_sort_key(name, self.ref_allele)


def _check_build(build: str) -> None:
    if build not in BUILDS:
        raise UsageError(f"unknown genome build {build!r} (expected GRCh37 or GRCh38)")


def compile_gene(knowledge, gene: str, build: str) -> GeneDefinition:
    """Compile one gene's definitions for ``build`` (cached per knowledge object).

    Parameters
    ----------
    knowledge
        :class:`genoma.kb.pgx.PgxKnowledge`.
    gene
        Gene symbol as in the pypgx gene table.
    build
        ``GRCh37`` or ``GRCh38``.

    Raises
    ------
    UsageError
        Unknown build.
    InconsistentInputError
        The knowledge has no coordinates for ``build`` (PharmCAT definitions are GRCh38
        only; exit 5).
    KnowledgeError
        The gene is not in the knowledge tables, or its definitions are malformed.
    """
    _check_build(build)
    builds = getattr(knowledge, "builds", None)
    if builds and build not in builds:
        raise InconsistentInputError(
            f"the PGx knowledge {knowledge.version} has coordinates for "
            f"{', '.join(builds)} only, but {build} was requested for {gene}")
    return _compile_cached(id(knowledge), gene, build, _Holder(knowledge))


class _Holder:
    """Hashable wrapper so the cache keys on the knowledge object's identity."""

    def __init__(self, k) -> None:
        self.k = k

    def __hash__(self) -> int:
        return id(self.k)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Holder) and other.k is self.k


@lru_cache(maxsize=512)
def _compile_cached(_kid: int, gene: str, build: str, holder: _Holder) -> GeneDefinition:
    k = holder.k
    genes = k.genes.set_index("Gene")
    if gene not in genes.index:
        raise KnowledgeError(f"gene {gene!r} is not in the PGx knowledge ({k.version})")
    grow = genes.loc[gene]
    ref_allele = str(grow["RefAllele"]) if isinstance(grow["RefAllele"], str) else "*1"
    build_default = grow.get(f"{build}Default")
    sub = k.alleles[k.alleles["Gene"] == gene]
    if sub.empty:
        raise KnowledgeError(f"gene {gene!r} has no allele definitions ({k.version})")
    sv_mask = sub["SV"].astype(bool).to_numpy()
    sv_alleles = sorted((str(a) for a in sub.loc[sv_mask, "StarAllele"]),
                        key=lambda n: allele_sort_key(n, ref_allele))
    names: list[str] = []
    cores: list[list[VariantKey]] = []
    sev: list[int] = []
    nf = len(FUNCTION_ORDER)
    for name, core, fn in zip(sub.loc[~sv_mask, "StarAllele"], sub.loc[~sv_mask, f"{build}Core"],
                              sub.loc[~sv_mask, "Function"], strict=True):
        names.append(str(name))
        cores.append(parse_core(core))
        sev.append(nf - 1 - FUNCTION_ORDER.index(fn) if fn in FUNCTION_ORDER else 0)
    # columns: every variant of every core, in genomic order
    vset = sorted({v for c in cores for v in c}, key=lambda v: (v[0], v[1], v[2], v[3]))
    col = {v: j for j, v in enumerate(vset)}
    m = np.zeros((len(names), len(vset)), dtype=np.uint8)
    for i, c in enumerate(cores):
        for v in c:
            m[i, col[v]] = 1
    empty = m.sum(axis=1) == 0
    if isinstance(build_default, str) and build_default in names and empty[names.index(build_default)]:
        default = build_default
    elif ref_allele in names and empty[names.index(ref_allele)]:
        default = ref_allele
    elif empty.any():
        default = sorted((n for n, e in zip(names, empty, strict=True) if e),
                         key=lambda n: allele_sort_key(n, ref_allele))[0]
    else:
        # no allele equals the reference genome: an implicit reference haplotype
        default = ref_allele if ref_allele not in names else "Reference"
        names.append(default)
        m = np.vstack([m, np.zeros((1, len(vset)), dtype=np.uint8)])
        empty = np.append(empty, True)
        sev.append(0)
    is_default = np.array([n == default for n in names])
    background = np.zeros(len(vset), dtype=bool)
    if ref_allele in names and ref_allele != default:
        background = m[names.index(ref_allele)].astype(bool)
    score = (m[:, ~background]).sum(axis=1).astype(np.int64)
    expected = np.zeros_like(m)
    others = np.array([n != ref_allele for n in names])
    explicit = bool((m[others][:, background] > 0).any()) if background.any() else False
    if background.any() and explicit:
        # the table lists background variants in the cores that carry them
        expected[:, background] = m[:, background]
    elif background.any():
        # alleles other than the default sit on the reference allele's background
        expected[:, background] = 1
        expected[is_default, :] = 0
        expected[:, background] = np.maximum(expected[:, background], m[:, background])
        expected[empty & ~is_default] = 0  # alleles identical to the reference genome
    # synonyms from the variant table
    synonyms: dict[VariantKey, int] = {}
    vt = k.variants[k.variants["Gene"] == gene]
    for nm, syn in zip(vt[f"{build}Name"], vt[f"{build}Synonym"], strict=True):
        if not isinstance(syn, str) or not isinstance(nm, str):
            continue
        key = parse_core(nm)
        if not key or key[0] not in col:
            continue
        for s in parse_core(syn):
            synonyms[s] = col[key[0]]
    region = _region(grow.get(f"{build}Region"), vset)
    impacted: set[VariantKey] = set()
    for nm, imp in zip(vt[f"{build}Name"], vt["Impact"], strict=True):
        if isinstance(nm, str) and isinstance(imp, str) and imp.strip():
            impacted.update(parse_core(nm))
    bg_keys = {v for v, b in zip(vset, background, strict=True) if b}
    impact = np.array([sum(v in impacted and v not in bg_keys for v in c) for c in cores]
                      + [0] * (len(names) - len(cores)), dtype=np.int64)
    combinable = not str(ref_allele).startswith("*")
    return GeneDefinition(
        gene=gene, build=build, alleles=names, variants=vset, matrix=m,
        background=background, score=score, expected_bg=expected, is_default=is_default,
        severity=np.array(sev, dtype=np.int64), impact=impact, combinable=combinable,
        ref_allele=ref_allele, default_allele=default, sv_alleles=sv_alleles,
        synonyms=synonyms, region=region,
    )


def _region(text, variants: list[VariantKey]) -> str:
    chrom, start, end = None, None, None
    if isinstance(text, str) and ":" in text:
        c, _, span = text.partition(":")
        a, _, b = span.partition("-")
        chrom, start, end = canonical_chrom(c), int(a), int(b)
    for c, p, r, _ in variants:
        if chrom is None:
            chrom, start, end = c, p, p + len(r) - 1
        if c != chrom:
            continue
        start = min(start, p)
        end = max(end, p + len(r) - 1)
    if chrom is None:
        return ""
    return f"{chrom}:{start}-{end}"
