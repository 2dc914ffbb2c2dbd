"""Diplotype → phenotype and activity score, the CPIC way.

Two methods, chosen per gene by the knowledge's gene table (``PhenotypeMethod``):

* **Activity score** (``Score``: CYP2C9, CYP2D6, DPYD in the pypgx 0.27 tables). The
  activity value of each allele (``ActivityScore`` in the allele table) is summed over
  the two alleles; the sum is mapped to a metabolizer class by the gene's CPIC bins
  (the knowledge's equation table, parsed here without ``eval``):

  ======  ========================  =====================================
  gene    CPIC bins (score)         classes
  ======  ========================  =====================================
  CYP2C9  0–0.5 · 1–1.5 · 2         Poor · Intermediate · Normal
  CYP2D6  0 · 0.25–1 · 1.25–2.25 ·  Poor · Intermediate · Normal ·
          ≥ 2.5                     Ultrarapid
  DPYD    0–0.5 · 1–1.5 · 2         Poor · Intermediate · Normal
  ======  ========================  =====================================

  An allele of uncertain or unknown function (no activity value) or an allele absent
  from the knowledge makes the score undefined and the phenotype ``Indeterminate``.
  Copy-number notation from outside calls is understood as pypgx does: ``*1x2``
  counts the allele twice, ``*36+*10`` sums a tandem arrangement, ``*1x≥3`` counts
  three copies (the smallest count the notation allows).

* **Diplotype table** (``Diplotype``: CYP2C19, TPMT, NUDT15, SLCO1B1, …). The
  phenotype is looked up in the knowledge's diplotype table, whatever the order of the
  two alleles. A PharmVar sub-allele (``*1.001``) is looked up as its core allele
  (``*1``) when the sub-allele itself is not listed. An allele the table does not
  know gives ``Indeterminate``.

Genes without a phenotype method in the knowledge (CYP2C8, CYP3A4, CYP4F2, NAT2,
VKORC1, …) get the phenotype ``n/a``.

Ambiguous calls (unphased input with several consistent diplotypes) are resolved by
:meth:`Phenotyper.resolve`: the phenotype of every candidate is computed; when all
agree the phenotype is certain, otherwise it is ``Indeterminate`` and the candidate
phenotypes are reported.

References
----------
.. [1] Caudle KE et al. Standardizing CYP2D6 genotype to phenotype translation:
   consensus recommendations from CPIC and DPWG. Clin Transl Sci 2020;13:116–124.
.. [2] Lee S-B et al. PyPGx: a Python package for pharmacogenomic analysis
   (``pypgx.predict_phenotype`` / ``predict_score``), version 0.27.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from genoma.errors import KnowledgeError

if TYPE_CHECKING:
    from genoma.kb.pgx import PgxKnowledge

__all__ = [
    "INDETERMINATE",
    "NOT_APPLICABLE",
    "GenePhenotyper",
    "PhenotypeCall",
    "Phenotyper",
    "split_diplotype",
]

INDETERMINATE = "Indeterminate"
"""Phenotype when the diplotype cannot be translated (unknown or uncertain alleles)."""
NOT_APPLICABLE = "n/a"
"""Phenotype of genes the knowledge defines no phenotype for."""

_STAR = re.compile(r"^\*(\d+)(.*)$")
_COPIES = re.compile(r"^(?P<base>.+?)x(?P<ge>≥|>=)?(?P<n>\d+)$")
_NUM = r"(\d+(?:\.\d+)?)"
_RANGE = re.compile(
    rf"^\s*(?:{_NUM}\s*(<=|<)\s*)?score\s*(?:(<=|<)\s*{_NUM})?\s*$"
)
_EXACT = re.compile(rf"^\s*(?:{_NUM}\s*==\s*score|score\s*==\s*{_NUM})\s*$")


def split_diplotype(diplotype: str) -> tuple[str, str | None]:
    """Split ``*1/*2`` into its alleles; a single-allele call gives ``(allele, None)``."""
    a, sep, b = diplotype.strip().partition("/")
    return (a.strip(), b.strip() if sep else None)


@dataclass(frozen=True)
class PhenotypeCall:
    """Phenotype of one diplotype (or of a set of candidate diplotypes).

    Attributes
    ----------
    phenotype
        CPIC phenotype string as the knowledge writes it, ``Indeterminate`` or ``n/a``.
    activity_score
        Sum of allele activity values (activity-score genes), else ``None``.
    candidate_phenotypes
        For an ambiguous call: ``{diplotype: phenotype}`` of every candidate.
    notes
        Why the phenotype is what it is, when that is not obvious.
    """

    phenotype: str
    activity_score: float | None = None
    candidate_phenotypes: dict[str, str] = field(default_factory=dict)
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class _Bin:
    phenotype: str
    lo: float
    lo_closed: bool
    hi: float
    hi_closed: bool

    def contains(self, x: np.ndarray) -> np.ndarray:
        lo = (x >= self.lo) if self.lo_closed else (x > self.lo)
        hi = (x <= self.hi) if self.hi_closed else (x < self.hi)
        return lo & hi


def _parse_equation(gene: str, phenotype: str, equation: str) -> _Bin:
    m = _EXACT.match(equation)
    if m:
        v = float(m.group(1) or m.group(2))
        return _Bin(phenotype, v, True, v, True)
    m = _RANGE.match(equation)
    if not m or (m.group(1) is None and m.group(4) is None):
        raise KnowledgeError(
            f"cannot parse the activity-score rule {equation!r} for {gene} {phenotype}"
        )
    lo = float(m.group(1)) if m.group(1) is not None else -math.inf
    hi = float(m.group(4)) if m.group(4) is not None else math.inf
    return _Bin(phenotype, lo, m.group(2) != "<", hi, m.group(3) == "<=")


class GenePhenotyper:
    """Phenotype rules of one gene, compiled from the knowledge.

    Parameters
    ----------
    gene
        HGNC symbol.
    knowledge
        The PGx knowledge (:class:`genoma.kb.pgx.PgxKnowledge`).
    """

    def __init__(self, gene: str, knowledge: PgxKnowledge):
        self.gene = gene
        genes = knowledge.genes
        row = genes[genes["Gene"] == gene]
        method = row["PhenotypeMethod"].iloc[0] if len(row) else None
        self.method: str | None = method if method in ("Score", "Diplotype") else None
        ref = str(row["RefAllele"].iloc[0]) if len(row) else ""
        #: Star-allele genes (CYP2D6) combine ``+`` parts as copies (sum of activity);
        #: variant-named genes (DPYD) write ``A+B`` for variants in cis on one haplotype,
        #: whose activity is that of the lowest-function variant (CPIC DPYD guideline).
        self.parts_in_cis = not ref.startswith("*")
        alleles = knowledge.alleles[knowledge.alleles["Gene"] == gene]
        self.alleles: frozenset[str] = frozenset(alleles["StarAllele"].astype(str))
        scores = pd.to_numeric(alleles["ActivityScore"], errors="coerce")
        self.allele_scores: dict[str, float] = dict(
            zip(alleles["StarAllele"].astype(str), scores.astype(float), strict=True)
        )
        dip = knowledge.diplotypes[knowledge.diplotypes["Gene"] == gene]
        self.diplotypes: dict[tuple[str, str], str] = {}
        for d, p in zip(dip["Diplotype"].astype(str), dip["Phenotype"].astype(str), strict=True):
            a, b = split_diplotype(d)
            if b is None:
                continue
            self.diplotypes[tuple(sorted((a, b)))] = p  # type: ignore[index]
        self.table_alleles: frozenset[str] = frozenset(
            x for k in self.diplotypes for x in k
        )
        self.bins: list[_Bin] = []
        if self.method == "Score":
            eq = knowledge.equations[knowledge.equations["Gene"] == gene]
            self.bins = [
                _parse_equation(gene, p, e)
                for p, e in zip(eq["Phenotype"], eq["Equation"], strict=True)
            ]
            if not self.bins:
                raise KnowledgeError(f"no activity-score bins for {gene} in the knowledge")
        ph = knowledge.phenotypes[knowledge.phenotypes["Gene"] == gene]
        self.phenotypes: frozenset[str] = frozenset(ph["Phenotype"].astype(str)) | frozenset(
            b.phenotype for b in self.bins
        ) | frozenset(self.diplotypes.values())

    # -- alleles ---------------------------------------------------------------------
    def core_allele(self, allele: str) -> str:
        """The allele name the tables use: ``*1.001`` → ``*1`` when only ``*1`` is known."""
        if allele in self.alleles or allele in self.table_alleles:
            return allele
        m = _STAR.match(allele)
        if m and m.group(2).startswith("."):
            core = f"*{m.group(1)}"
            if core in self.alleles or core in self.table_alleles:
                return core
        return allele

    def _known(self, allele: str) -> bool:
        c = self.core_allele(allele)
        return c in self.alleles or c in self.table_alleles

    def _copies(self, allele: str) -> list[tuple[str, int]]:
        """``(allele, copies)`` parts of a CNV / tandem name (``*1x2+*4`` …).

        A name the knowledge knows as a whole (DPYD ``c.1905+1G>A (*2A)``) is one part.
        """
        if self._known(allele):
            return [(self.core_allele(allele), 1)]
        out = []
        for part in self._split_plus(allele):
            m = _COPIES.match(part)
            if m and self._known(m.group("base")):
                out.append((self.core_allele(m.group("base")), int(m.group("n"))))
            else:
                out.append((self.core_allele(part), 1))
        return out

    def _split_plus(self, allele: str) -> list[str]:
        """Split ``A+B`` into parts, keeping names that contain ``+`` themselves whole
        (DPYD ``c.1905+1G>A (*2A)``): at each step the longest run of ``+``-separated
        pieces that forms a known allele name is taken (else a single piece)."""
        pieces = allele.split("+")
        out: list[str] = []
        i = 0
        while i < len(pieces):
            for j in range(len(pieces), i, -1):
                cand = "+".join(pieces[i:j]).strip()
                if j == i + 1 or self._known(cand):
                    out.append(cand)
                    i = j
                    break
        return out

    def is_known_allele(self, allele: str) -> bool:
        """True when the allele (or its core, or every part of a CNV/tandem) is known."""
        return all(self._known(p) for p, _ in self._copies(allele))

    def allele_score(self, allele: str) -> float:
        """Activity value of one allele (NaN when uncertain, unknown, or not a score gene)."""
        if self.method != "Score":
            return math.nan
        parts = self._copies(allele)
        if self.parts_in_cis and len(parts) > 1:
            return float(min(self.allele_scores.get(p, math.nan) for p, _ in parts))
        return float(sum(self.allele_scores.get(p, math.nan) * n for p, n in parts))

    # -- phenotypes ------------------------------------------------------------------
    def phenotype_of_scores(self, scores: np.ndarray) -> np.ndarray:
        """Map activity scores to CPIC classes (vectorised; NaN → ``Indeterminate``)."""
        s = np.asarray(scores, dtype=float)
        out = np.full(s.shape, INDETERMINATE, dtype=object)
        done = np.isnan(s)
        for b in self.bins:
            hit = ~done & b.contains(s)
            out[hit] = b.phenotype
            done |= hit
        return out

    def phenotype(self, a: str, b: str | None) -> PhenotypeCall:
        """Phenotype (and activity score) of the diplotype ``a/b``.

        ``b`` is ``None`` for a single-allele call (hemizygous G6PD, homoplasmic
        MT-RNR1): the table's ``a/MALE`` entry, else ``a/a``, is used.
        """
        if self.method is None:
            return PhenotypeCall(NOT_APPLICABLE, None,
                                 notes=(f"the knowledge defines no phenotype for {self.gene}",))
        if self.method == "Score":
            parts = [a] if b is None else [a, b]
            vals = [self.allele_score(x) for x in parts]
            score = float(sum(vals))
            if math.isnan(score):
                unknown = [x for x, v in zip(parts, vals, strict=True) if math.isnan(v)]
                return PhenotypeCall(INDETERMINATE, None, notes=(
                    "no activity value for " + ", ".join(unknown)
                    + " (unknown allele or uncertain function)",))
            return PhenotypeCall(str(self.phenotype_of_scores(np.array([score]))[0]), score)
        ca = self.core_allele(a)
        keys = [(ca, "MALE"), (ca, ca)] if b is None else [(ca, self.core_allele(b))]
        for k in keys:
            p = self.diplotypes.get(tuple(sorted(k)))  # type: ignore[arg-type]
            if p is not None:
                return PhenotypeCall(p, None)
        unknown = [x for x in ([a] if b is None else [a, b])
                   if self.core_allele(x) not in self.table_alleles]
        why = ("allele(s) not in the diplotype table: " + ", ".join(unknown)) if unknown \
            else "diplotype not in the diplotype table"
        return PhenotypeCall(INDETERMINATE, None, notes=(why,))

    def phenotype_arrays(
        self, allele1: Sequence[str | None], allele2: Sequence[str | None]
    ) -> tuple[np.ndarray, np.ndarray]:
        """Phenotypes and activity scores of many diplotypes at once.

        Each distinct diplotype is translated once. ``allele1`` ``None`` (no call)
        gives ``Indeterminate``; ``allele2`` ``None`` with ``allele1`` set is a
        single-allele (hemizygous) call.

        Returns
        -------
        phenotypes : numpy.ndarray
            Object array of phenotype strings.
        scores : numpy.ndarray
            Float array (NaN where undefined or not an activity-score gene).
        """
        pairs = [(a, b) for a, b in zip(allele1, allele2, strict=True)]
        codes, uniq = pd.factorize(pd.Series([f"{a}\t{b}" for a, b in pairs], dtype=object))
        first: dict[int, tuple[str | None, str | None]] = {}
        for i, c in enumerate(codes):
            first.setdefault(int(c), pairs[i])
        phen = np.empty(len(uniq), dtype=object)
        score = np.full(len(uniq), np.nan)
        for c, (x, y) in first.items():
            if x is None:
                phen[c] = INDETERMINATE
                continue
            pc = self.phenotype(str(x), None if y is None else str(y))
            phen[c] = pc.phenotype
            if pc.activity_score is not None:
                score[c] = pc.activity_score
        return phen[codes], score[codes]

    def resolve(self, diplotypes: Sequence[str]) -> PhenotypeCall:
        """Phenotype of an ambiguous call given its candidate diplotypes.

        When every candidate has the same phenotype that phenotype is returned (with
        the common activity score, or ``None`` when the scores differ); otherwise
        ``Indeterminate`` with the phenotype of each candidate.
        """
        cands = list(dict.fromkeys(d for d in diplotypes if d))
        if not cands:
            return PhenotypeCall(INDETERMINATE, None, notes=("no candidate diplotype",))
        calls = {d: self.phenotype(*split_diplotype(d)) for d in cands}
        phens = {c.phenotype for c in calls.values()}
        per = {d: c.phenotype for d, c in calls.items()}
        scores = {c.activity_score for c in calls.values()}
        if len(phens) == 1:
            (p,) = phens
            score = next(iter(scores)) if len(scores) == 1 else None
            notes: tuple[str, ...] = ()
            if len(cands) > 1:
                notes = (f"{len(cands)} candidate diplotypes, all {p}",)
                if len(scores) > 1:
                    notes += ("activity score differs between candidates: " + ", ".join(
                        f"{d}={c.activity_score}" for d, c in calls.items()),)
            return PhenotypeCall(p, score, per, notes)
        return PhenotypeCall(INDETERMINATE, None, per, (
            "candidate diplotypes differ in phenotype: "
            + "; ".join(f"{d}: {p}" for d, p in per.items()),))


class Phenotyper:
    """Phenotype rules of every gene of a knowledge release (compiled lazily, cached).

    Parameters
    ----------
    knowledge
        The PGx knowledge.

    Examples
    --------
    >>> from genoma.kb import get_source
    >>> ph = Phenotyper(get_source("pgx").load())
    >>> ph.phenotype("CYP2C9", "*1", "*3").phenotype
    'Intermediate Metabolizer'
    """

    def __init__(self, knowledge: PgxKnowledge):
        self.knowledge = knowledge
        self._genes: dict[str, GenePhenotyper] = {}

    def gene(self, gene: str) -> GenePhenotyper:
        """The compiled rules of ``gene``."""
        g = self._genes.get(gene)
        if g is None:
            g = self._genes[gene] = GenePhenotyper(gene, self.knowledge)
        return g

    def phenotype(self, gene: str, a: str, b: str | None) -> PhenotypeCall:
        """Phenotype of ``a/b`` for ``gene`` (see :meth:`GenePhenotyper.phenotype`)."""
        return self.gene(gene).phenotype(a, b)

    def phenotype_of_diplotype(self, gene: str, diplotype: str) -> PhenotypeCall:
        """Phenotype of a diplotype string (``*1/*2``)."""
        return self.gene(gene).phenotype(*split_diplotype(diplotype))

    def resolve(self, gene: str, diplotypes: Sequence[str]) -> PhenotypeCall:
        """Phenotype of an ambiguous call (see :meth:`GenePhenotyper.resolve`)."""
        return self.gene(gene).resolve(diplotypes)
