"""Star-allele diplotype calling from VCF genotypes, vectorised over samples.

Input is :class:`genoma.io.vcf.SiteGenotypes` (NumPy arrays, multi-allelic records
split, alleles trimmed); knowledge is :class:`genoma.kb.pgx.PgxKnowledge` compiled per
gene by :mod:`genoma.analyses.pgx.definitions`.

Rules
-----
Matching (per haplotype)
    An allele *matches* a haplotype when every one of its non-background core variants
    is on the haplotype. The best match is the most specific one: the most core
    variants matched (PharmCAT's score). Ties are broken by agreement at background
    variants (``*1`` vs ``*38`` of CYP2C19 on GRCh38), then by preferring the build's
    default allele among definitions identical to the reference genome; remaining ties
    are reported as ``ambiguous`` with every candidate diplotype.
Phased input
    Each haplotype is matched on its own, for all samples at once (matrix products).
    Alternate alleles at defining variants not explained by the chosen allele (nor by
    the background) are reported in a note ("novel combination").
Unphased input
    A sample with any unphased heterozygous genotype at a defining variant is solved
    from its dosages: every pair of alleles whose summed cores fit within the observed
    dosages is enumerated, scored by the number of defining variants explained (then
    background agreement), and ties are reported as ``ambiguous``. PharmCAT's
    ``unphasedDiplotypePriorities`` (when the definitions carry them) pick between two
    diplotypes that explain the dosages exactly. With a phasing panel
    (:func:`haplotype_frequencies`), the sample is instead phased by the panel's
    haplotype frequencies (:func:`phase_by_frequencies`): posterior ≥
    :data:`PHASE_POSTERIOR` → called, else ambiguous with the likely candidates.
Missing data
    No-call genotypes at defining positions are listed per sample; the call is made
    twice, with the missing alleles taken as reference and as alternate, and the sample
    is ``ambiguous`` when the two differ.
Absent positions
    A defining position with no record in the VCF is assumed reference (the usual
    variant-only VCF) when ``assume_ref_when_absent`` is true, with a per-sample note;
    otherwise it is treated as a no-call. A VCF with none of a gene's positions gives
    ``not_callable`` with the reason.
SV alleles
    Alleles flagged SV in the knowledge (gene deletions, duplications, hybrids) are
    never called; every call of such a gene carries a note naming them. A homozygous
    CYP2D6 (CYP2A6) call adds that a gene deletion in trans gives the same genotypes.

References
----------
.. [1] Sangkuhl K. et al. (2020) Pharmacogenomics Clinical Annotation Tool (PharmCAT).
   Clin Pharmacol Ther 107:203–210 (allele matching and scoring).
.. [2] Lee S.B. et al. (2022) PyPGx: a Python package for pharmacogenomics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import product

import numpy as np

from genoma.analyses.pgx.definitions import (
    GeneDefinition,
    VariantKey,
    allele_sort_key,
    compile_gene,
)
from genoma.errors import InconsistentInputError, UsageError

__all__ = [
    "GeneCalls",
    "HaplotypeFrequencies",
    "call_gene",
    "call_genes",
    "callable_genes",
    "gene_regions",
    "haplotype_frequencies",
    "knowledge_version",
    "phase_by_frequencies",
]

CALLED, AMBIGUOUS, NOT_CALLABLE = "called", "ambiguous", "not_callable"

#: Whole-gene deletion alleles: a homozygous VCF call cannot exclude them in trans.
_DELETION_ALLELE = {"CYP2D6": "*5", "CYP2A6": "*4"}
#: Posterior a diplotype needs for a confident call when phased with a panel.
PHASE_POSTERIOR = 0.95
#: Pseudo-count of a haplotype never seen in the phasing panel.
UNSEEN_HAPLOTYPE = 0.5

#: Genes whose copy number / structural alleles matter clinically beyond the SV flags.
_CNV_GENES = {"CYP2D6", "CYP2A6", "CYP2B6", "CYP2E1", "GSTM1", "GSTT1", "UGT2B17",
              "UGT2B15", "UGT1A4", "SLC22A2", "SULT1A1", "CYP4F2", "G6PD"}


@dataclass
class GeneCalls:
    """Diplotype calls of one gene for many samples.

    Attributes
    ----------
    gene, build
        Gene symbol and genome build.
    samples
        Sample names (columns of the input genotypes).
    allele1, allele2
        Object arrays of allele names, the lower allele (natural sort) first. For an
        ``ambiguous`` sample the first candidate; ``None`` when ``not_callable``;
        ``allele2`` is ``None`` for a haploid (hemizygous) call.
    status
        ``called`` | ``ambiguous`` | ``not_callable`` per sample.
    candidates
        Per sample, all equally supported diplotypes (``*1/*2``); ``[]`` when called.
    missing_positions
        Per sample, defining positions (``chrom:pos``) with a no-call or absent from
        the VCF.
    n_positions, n_positions_in_vcf
        Defining positions of the gene for this build, and how many the VCF has.
    phased
        Per sample, whether the call used phase (no unphased heterozygous genotype at a
        defining variant).
    notes
        Per sample warnings.
    knowledge_version
        Version of the knowledge the definitions came from.
    """

    gene: str
    build: str
    samples: list[str]
    allele1: np.ndarray
    allele2: np.ndarray
    status: np.ndarray
    candidates: list[list[str]]
    missing_positions: list[list[str]]
    n_positions: int
    n_positions_in_vcf: int
    phased: np.ndarray
    notes: list[list[str]]
    knowledge_version: str
    sv_alleles: list[str] = field(default_factory=list)

    def diplotype(self, i: int) -> str:
        """Diplotype of sample ``i`` as ``*1/*2`` (one allele when haploid; ``""`` when
        not callable)."""
        a, b = self.allele1[i], self.allele2[i]
        if a is None:
            return ""
        return str(a) if b is None else f"{a}/{b}"

    def diplotypes(self) -> list[str]:
        """All samples' diplotypes (see :meth:`diplotype`)."""
        return [self.diplotype(i) for i in range(len(self.samples))]

    def __len__(self) -> int:
        return len(self.samples)


# ---------------------------------------------------------------------------- genes
def callable_genes(knowledge, build: str) -> list[str]:
    """Genes whose alleles are (at least partly) definable by SNVs/indels in ``build``.

    Parameters
    ----------
    knowledge
        :class:`genoma.kb.pgx.PgxKnowledge`.
    build
        ``GRCh37`` or ``GRCh38``.
    """
    if build not in ("GRCh37", "GRCh38"):
        raise UsageError(f"unknown genome build {build!r} (expected GRCh37 or GRCh38)")
    a = knowledge.alleles
    ok = a[~a["SV"].astype(bool) & a[f"{build}Core"].notna()]
    genes = knowledge.genes
    targets = set(genes.loc[genes["Target"].astype(bool), "Gene"])
    return sorted(g for g in set(ok["Gene"]) if g in targets)


def gene_regions(genes: Iterable[str], build: str, knowledge) -> list[str]:
    """Disjoint regions (``chr10:94759680-94858547``) covering the genes' definitions.

    The gene-table region of each gene, widened to include every defining variant;
    overlapping regions are merged (the VCF reader may return a record twice for
    overlapping regions).
    """
    spans: dict[str, list[tuple[int, int]]] = {}
    for g in genes:
        d = compile_gene(knowledge, g, build)
        if not d.region:
            continue
        c, _, s = d.region.partition(":")
        a, _, b = s.partition("-")
        spans.setdefault(c, []).append((int(a), int(b)))
    out: list[str] = []
    for c in sorted(spans, key=_chrom_order):
        merged: list[list[int]] = []
        for a, b in sorted(spans[c]):
            if merged and a <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], b)
            else:
                merged.append([a, b])
        out.extend(f"{c}:{a}-{b}" for a, b in merged)
    return out


def _chrom_order(c: str) -> tuple:
    s = c[3:] if c.startswith("chr") else c
    return (0, int(s), "") if s.isdigit() else (1, 0, s)


# ------------------------------------------------------------------- site matching
def _match_columns(defn: GeneDefinition, g) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Row of ``g`` for every defining variant (-1 if none) and whether its position
    is covered by a record; notes about representation differences."""
    nv = len(defn.variants)
    rows = np.full(nv, -1, dtype=np.int64)
    covered = np.zeros(nv, dtype=bool)
    notes: list[str] = []
    if g.n_sites == 0 or nv == 0:
        return rows, covered, notes
    chrom0 = defn.variants[0][0]
    sel = np.flatnonzero(g.chrom == chrom0)
    index: dict[VariantKey, int] = {}
    pos_rows: dict[int, list[int]] = {}
    for r in sel:
        key = (chrom0, int(g.pos[r]), str(g.ref[r]), str(g.alt[r]))
        index.setdefault(key, int(r))
        pos_rows.setdefault(int(g.pos[r]), []).append(int(r))
    col_of = {v: j for j, v in enumerate(defn.variants)}
    for j, v in enumerate(defn.variants):
        if v in index:
            rows[j] = index[v]
    for syn, j in defn.synonyms.items():
        if rows[j] < 0 and syn in index:
            rows[j] = index[syn]
            notes.append(f"{defn.variants[j][1]} matched through synonym {syn[1]}-{syn[2]}-{syn[3]}")
    # indels written at another place of a repeat (left- vs right-aligned)
    for j, (c, p, ref, alt) in enumerate(defn.variants):
        if rows[j] >= 0 or len(ref) == len(alt):
            continue
        r = _shifted_indel(c, p, ref, alt, pos_rows, g, col_of)
        if r is not None:
            rows[j] = r
            notes.append(f"indel {c}:{p} {ref}>{alt} matched the VCF record at "
                         f"{c}:{int(g.pos[r])} (same indel, other alignment)")
    for j, (_, p, _, _) in enumerate(defn.variants):
        covered[j] = rows[j] >= 0 or p in pos_rows
    return rows, covered, notes


def _shifted_indel(c, p, ref, alt, by_pos, g, col_of, window: int = 100) -> int | None:
    """A VCF record of the same indel written elsewhere in its repeat (rotated)."""
    if len(ref) > 1 and len(alt) == 1:
        kind, seq = "del", ref[1:]
    elif len(alt) > 1 and len(ref) == 1:
        kind, seq = "ins", alt[1:]
    else:
        return None
    n = len(seq)
    for kp in range(p - window, p + window + 1):
        if kp == p or kp not in by_pos:
            continue
        for r in by_pos[kp]:
            kr, ka = str(g.ref[r]), str(g.alt[r])
            if (c, kp, kr, ka) in col_of:
                continue
            if kind == "del" and not (len(ka) == 1 and len(kr) == n + 1):
                continue
            if kind == "ins" and not (len(kr) == 1 and len(ka) == n + 1):
                continue
            other = kr[1:] if kind == "del" else ka[1:]
            k = (kp - p) % n
            if other == seq[k:] + seq[:k]:
                return r
    return None


# ------------------------------------------------------------------------ matching
class _Matcher:
    """Vectorised allele matching for one compiled gene.

    A matching allele whose (non-background) core is a strict subset of another
    matching allele's core is dropped: the larger definition is the more specific call
    (CYP2C19*35 inside *2, CYP2D6*43 inside *46). The remaining candidates are ranked
    (lexicographic) by function severity of alleles with a non-background core (as
    pypgx: its core-variant tables are not complete haplotypes, e.g. a CYP2D6*4
    haplotype also carries the core of *10), then
    specificity (non-background core variants matched, PharmCAT's score), then core
    variants with a protein impact (pypgx), then agreement at background variants,
    then the build's default allele. For unphased dosages the pairs are ranked by
    alternate alleles explained, then the specificity of the more specific allele
    (TPMT ``*1/*3A`` rather than ``*3B/*3C``), then summed severity, impact, background
    agreement and default.
    """

    def __init__(self, d: GeneDefinition):
        self.d = d
        self.nonbg = ~d.background
        self.m_core = d.matrix[:, self.nonbg].astype(np.int32)  # (A, V')
        self.m_all = d.matrix.astype(np.int32)
        self.score = d.score.astype(np.int64)
        self.sev = d.severity.astype(np.int64)
        self.bg = d.background
        self.exp_bg = d.expected_bg[:, d.background].astype(np.int32)  # (A, B)
        self.nb = int(d.background.sum())
        self.smax = int(self.score.max()) if len(self.score) else 0
        self.sevmax = int(self.sev.max()) if len(self.sev) else 0
        self.is_def = d.is_default.astype(np.int64)
        self.imp = d.impact.astype(np.int64)
        self.imax = int(self.imp.max()) if len(self.imp) else 0
        # sub[i, j]: core_i is a strict subset of core_j (non-background)
        inter = self.m_core @ self.m_core.T
        self.sub = ((inter == self.score[:, None]) & (self.score[:, None] < self.score[None, :])
                    ).astype(np.int32)
        order = sorted(range(len(d.alleles)), key=lambda i: d.sort_key(d.alleles[i]))
        self.rank = np.empty(len(order), dtype=np.int64)
        self.rank[order] = np.arange(len(order))

    def candidates(self, h: np.ndarray) -> np.ndarray:
        """bool (n_hap, A): alleles whose non-background core is on the haplotype."""
        hc = h[:, self.nonbg].astype(np.int32)
        return (hc @ self.m_core.T) == self.score[None, :]

    def maximal(self, cand: np.ndarray) -> np.ndarray:
        """Drop candidates whose core is inside another candidate's core."""
        dominated = (cand.astype(np.int32) @ self.sub.T) > 0
        return cand & ~dominated

    def haplotype_keys(self, h: np.ndarray, cand: np.ndarray | None = None) -> np.ndarray:
        """Ranking key per (haplotype, allele); -1 where the allele does not match."""
        if cand is None:
            cand = self.maximal(self.candidates(h))
        # alleles defined only by background variants (or none) rank by background
        # agreement, not by their function: severity counts for real cores only
        sev = np.where(self.score > 0, self.sev + 1, 0)
        key = sev[None, :] * (self.smax + 1) + self.score[None, :]
        key = key * (self.imax + 1) + self.imp[None, :]
        key = key * (self.nb + 1)
        if self.nb:
            hb = h[:, self.bg].astype(np.int32)
            dis = np.abs(hb[:, None, :] - self.exp_bg[None, :, :]).sum(axis=2)
            key = key + (self.nb - dis)
        key = key * 2 + self.is_def[None, :]
        return np.where(cand, key, -1)

    def best(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Best allele per haplotype, a 'tied' flag and the unexplained alt alleles.

        Unexplained: alternate alleles on the haplotype that are neither in a matching
        allele's core nor background variants.
        """
        cand = self.candidates(h)
        key = self.haplotype_keys(h, self.maximal(cand))
        top = key.max(axis=1, keepdims=True)
        ties = (key == top).sum(axis=1)
        best = key.argmax(axis=1)
        explained = (cand.astype(np.int32) @ self.m_all) > 0
        unexp = h.astype(bool) & ~explained & self.nonbg[None, :]
        return best, ties > 1, unexp

    def tied(self, h_row: np.ndarray) -> list[int]:
        key = self.haplotype_keys(h_row[None, :])[0]
        return list(np.flatnonzero(key == key.max()))

    def solve_dosage(self, dose: np.ndarray) -> tuple[list[tuple[int, int]], np.ndarray]:
        """Best diplotypes for one sample's dosages ``(V,)``; returns the tied pairs and
        the alternate dosage left unexplained by the first."""
        dn = dose[self.nonbg].astype(np.int32)
        fit = np.all(self.m_core <= dn[None, :], axis=1)
        c = np.flatnonzero(fit)
        mc = self.m_core[c]
        pair_ok = np.all(mc[:, None, :] + mc[None, :, :] <= dn[None, None, :], axis=2)
        sc, df, im = self.score[c], self.is_def[c], self.imp[c]
        sv = np.where(sc > 0, self.sev[c] + 1, 0)
        # explained alternate alleles, then the most specific single allele (TPMT *1/*3A
        # rather than *3B/*3C, UGT1A1 *1/*80+*28 rather than *28/*80), then severity
        key = (sc[:, None] + sc[None, :]) * (self.smax + 1) + np.maximum(sc[:, None], sc[None, :])
        key = key * (2 * self.sevmax + 3) + (sv[:, None] + sv[None, :])
        key = key * (2 * self.imax + 1) + (im[:, None] + im[None, :])
        key = key * (2 * self.nb + 1)
        if self.nb:
            db = dose[self.bg].astype(np.int32)
            eb = self.exp_bg[c]
            dis = np.abs(db[None, None, :] - eb[:, None, :] - eb[None, :, :]).sum(axis=2)
            key = key + (2 * self.nb - dis)
        key = key * 3 + df[:, None] + df[None, :]
        iu = np.triu(np.ones_like(pair_ok, dtype=bool))
        key = np.where(pair_ok & iu, key, -1)
        top = key.max()
        ii, jj = np.nonzero(key == top)
        pairs = [(int(c[i]), int(c[j])) for i, j in zip(ii, jj, strict=True)]
        i0, j0 = pairs[0]
        rest = dose.astype(np.int32) - self.m_all[i0] - self.m_all[j0]
        rest[~self.nonbg] = 0
        return pairs, np.clip(rest, 0, None)

    def exact_pairs(self, dose: np.ndarray) -> set[str]:
        """Diplotypes whose two cores add up exactly to the (non-background) dosages."""
        dn = dose[self.nonbg].astype(np.int32)
        c = np.flatnonzero(np.all(self.m_core <= dn[None, :], axis=1))
        mc = self.m_core[c]
        ok = np.all(mc[:, None, :] + mc[None, :, :] == dn[None, None, :], axis=2)
        return {self.fmt(int(c[x]), int(c[y])) for x, y in zip(*np.nonzero(ok), strict=True)}

    def name_pair(self, i: int, j: int | None) -> tuple[str, str | None]:
        a = self.d.alleles
        if j is None:
            return a[i], None
        if self.rank[i] > self.rank[j]:
            i, j = j, i
        return a[i], a[j]

    def fmt(self, i: int, j: int | None) -> str:
        x, y = self.name_pair(i, j)
        return x if y is None else f"{x}/{y}"


# ------------------------------------------------------------------------- calling
def call_gene(
    genotypes,
    gene: str,
    build: str,
    knowledge,
    assume_ref_when_absent: bool = True,
    phasing_panel: Mapping[str, HaplotypeFrequencies] | None = None,
) -> GeneCalls:
    """Call star-allele diplotypes of one gene for every sample of ``genotypes``.

    Parameters
    ----------
    genotypes
        :class:`genoma.io.vcf.SiteGenotypes` covering the gene (see
        :func:`gene_regions`).
    gene
        Gene symbol (pypgx gene table).
    build
        Genome build of the genotypes; must agree with ``genotypes.build`` when set.
    knowledge
        :class:`genoma.kb.pgx.PgxKnowledge`.
    assume_ref_when_absent
        Take defining positions absent from the VCF as reference (noted per sample);
        when false they are no-calls.
    phasing_panel
        Gene → :class:`HaplotypeFrequencies` of a phased reference panel (see
        :func:`haplotype_frequencies`). Unphased samples are then phased by the panel's
        haplotype frequencies before matching (see :func:`phase_by_frequencies`);
        without it (or for a sample no panel haplotype fits) the dosage solver is used.

    Returns
    -------
    GeneCalls

    Raises
    ------
    InconsistentInputError
        ``build`` differs from the genotypes' build (exit 5).
    KnowledgeError
        The gene is not in the knowledge.
    """
    if getattr(genotypes, "build", None) and genotypes.build != build:
        raise InconsistentInputError(
            f"genotypes are {genotypes.build} but {build} was requested for {gene}")
    d = compile_gene(knowledge, gene, build)
    kversion = knowledge_version(knowledge, gene)
    hf = (phasing_panel or {}).get(gene)
    if hf is not None and (hf.build != build or hf.variants != d.variants):
        raise InconsistentInputError(
            f"the phasing panel for {gene} was built for other definitions or another "
            f"build ({hf.build}, {len(hf.variants)} variants) than {build} "
            f"({len(d.variants)} variants)")
    priorities = (getattr(knowledge, "unphased_priorities", None) or {}).get(gene, [])
    samples = list(genotypes.samples)
    n = len(samples)
    nv = len(d.variants)
    positions = d.positions
    var_pos = d.variant_position
    sv_note = _sv_note(d)
    allele1 = np.full(n, None, dtype=object)
    allele2 = np.full(n, None, dtype=object)
    status = np.full(n, NOT_CALLABLE, dtype=object)
    candidates: list[list[str]] = [[] for _ in range(n)]
    phased_out = np.zeros(n, dtype=bool)

    rows, covered, match_notes = _match_columns(d, genotypes)
    pos_covered: dict[str, bool] = {}
    for j, p in enumerate(var_pos):
        pos_covered[p] = pos_covered.get(p, False) or bool(covered[j])
    n_in_vcf = sum(pos_covered.values())
    absent = [p for p in positions if not pos_covered[p]]

    in_region = _records_in_region(genotypes, d.region)
    if nv == 0 or (n_in_vcf == 0 and not in_region):
        reason = (f"{gene} has no SNV/indel-defined allele in {build}" if nv == 0 else
                  f"the VCF has no record in the {gene} region {d.region} ({build}): none "
                  f"of its {len(positions)} defining positions can be assessed")
        notes = [[reason] + ([sv_note] if sv_note else []) for _ in range(n)]
        return GeneCalls(gene, build, samples, allele1, allele2, status, candidates,
                         [list(absent) for _ in range(n)], len(positions), n_in_vcf,
                         phased_out, notes, kversion, d.sv_alleles)

    a, ph = _allele_array(d, genotypes, rows, covered, assume_ref_when_absent)
    haploid = np.all(a[rows >= 0, :, 1] == -2, axis=0) if (rows >= 0).any() else np.zeros(n, bool)
    a[:, haploid, 1] = -2
    # a diploid sample with a haploid record (e.g. chrX outside PAR): treat as missing
    a[:, ~haploid, 1] = np.where(a[:, ~haploid, 1] == -2, -1, a[:, ~haploid, 1])
    miss = a == -1  # (V, n, 2)
    present = ~np.isin(np.array(var_pos), absent) if absent else np.ones(nv, bool)
    het = (a[:, :, 0] != a[:, :, 1]) & (a >= 0).all(axis=2)
    unphased_het = (het & ~ph & present[:, None]).any(axis=0) & ~haploid
    phased_out[:] = ~(~ph[present] & (a[present] >= 0).any(axis=2)).any(axis=0) & ~unphased_het
    phased_out[haploid] = True
    if present.any():
        all_missing = miss[present].all(axis=(0, 2))
    else:
        all_missing = np.full(n, not assume_ref_when_absent)
    any_missing = miss.any(axis=(0, 2))

    mt = _Matcher(d)
    h0 = (a == 1).transpose(1, 2, 0).reshape(2 * n, nv)
    best0, tie0, unexp = mt.best(h0)
    unexp = unexp.reshape(n, 2, nv)
    b0 = best0.reshape(n, 2)
    t0 = tie0.reshape(n, 2)
    if any_missing.any():
        h1 = ((a == 1) | (a == -1)).transpose(1, 2, 0).reshape(2 * n, nv)
        best1, _, _ = mt.best(h1)
        b1 = best1.reshape(n, 2)
    else:
        b1 = b0

    # vectorised result for phased samples
    r0, r1 = mt.rank[b0[:, 0]], mt.rank[b0[:, 1]]
    swap = (r0 > r1) & ~haploid
    lo = np.where(swap, b0[:, 1], b0[:, 0])
    hi = np.where(swap, b0[:, 0], b0[:, 1])
    names = np.array(d.alleles, dtype=object)
    allele1[:] = names[lo]
    allele2[:] = np.where(haploid, None, names[hi])
    status[:] = CALLED
    notes: list[list[str]] = [[] for _ in range(n)]

    same_missing = np.all(b0 == b1, axis=1)
    hap_tie = (t0[:, 0] | (t0[:, 1] & ~haploid))
    novel = unexp.any(axis=2)
    novel[haploid, 1] = False
    special = np.flatnonzero(unphased_het | hap_tie | ~same_missing | novel.any(axis=1)
                             | all_missing)
    absent_note = (f"assumed reference at {len(absent)} defining position(s) absent from "
                   "the VCF" if absent and assume_ref_when_absent else None)
    for i in special:
        if all_missing[i]:
            allele1[i] = allele2[i] = None
            status[i] = NOT_CALLABLE
            notes[i].append(f"no call at any of the {n_in_vcf} defining positions of {gene} "
                            "present in the VCF")
            continue
        if unphased_het[i]:
            _solve_unphased(mt, a[:, i, :], i, allele1, allele2, status, candidates,
                            notes, var_pos, hf, priorities)
            continue
        cands: set[str] = set()
        if hap_tie[i] and d.combinable:
            combo = []
            for k in range(1 if haploid[i] else 2):
                tied = sorted((d.alleles[x] for x in mt.tied(h0[2 * i + k])), key=d.sort_key)
                combo.append("+".join(tied))
            combo.sort(key=d.sort_key)
            allele1[i] = combo[0]
            allele2[i] = combo[1] if len(combo) > 1 else None
            notes[i].append("several alleles on one haplotype, reported as a combination A+B")
        elif hap_tie[i]:
            s0 = mt.tied(h0[2 * i])
            s1 = [None] if haploid[i] else mt.tied(h0[2 * i + 1])
            cands |= {mt.fmt(x, y) for x, y in product(s0, s1)}
        if not same_missing[i]:
            # each haplotype is its call with the no-calls as reference or as alternate
            s0 = {int(b0[i, 0]), int(b1[i, 0])}
            s1 = [None] if haploid[i] else {int(b0[i, 1]), int(b1[i, 1])}
            cands |= {mt.fmt(x, y) for x, y in product(s0, s1)}
            notes[i].append("no-call at a defining position could change the call")
        if len(cands) > 1:
            status[i] = AMBIGUOUS
            candidates[i] = sorted(cands, key=lambda s: [d.sort_key(x) for x in s.split("/")])
            first = candidates[i][0].split("/")
            allele1[i] = first[0]
            allele2[i] = first[1] if len(first) > 1 else None
        for k in range(1 if haploid[i] else 2):
            if novel[i, k]:
                where = ", ".join(var_pos[j] for j in np.flatnonzero(unexp[i, k]))
                notes[i].append(f"novel combination: alternate allele(s) at {where} on the "
                                f"haplotype called {names[b0[i, k]]} are not part of its "
                                "definition")

    # per-sample missing positions and common notes
    missing_positions: list[list[str]] = []
    miss_any = miss.any(axis=2)  # (V, n)
    for i in range(n):
        mp = list(absent)
        if any_missing[i]:
            for j in np.flatnonzero(miss_any[:, i]):
                p = var_pos[j]
                if p not in mp:
                    mp.append(p)
        missing_positions.append(mp)
        if any_missing[i] and status[i] != NOT_CALLABLE:
            k = len(mp) - len(absent)
            notes[i].append(f"no call at {k} defining position(s)")
        if absent_note:
            notes[i].append(absent_note)
        if haploid[i]:
            notes[i].append("haploid genotypes: hemizygous call")
        elif (d.gene in _DELETION_ALLELE and allele1[i] is not None
              and allele1[i] == allele2[i]):
            notes[i].append(
                f"homozygous call: a {d.gene} gene deletion ({_DELETION_ALLELE[d.gene]}) on "
                "one haplotype gives the same VCF genotypes; copy number is needed to "
                "exclude it")
        if sv_note:
            notes[i].append(sv_note)
        notes[i].extend(match_notes)
    return GeneCalls(gene, build, samples, allele1, allele2, status, candidates,
                     missing_positions, len(positions), n_in_vcf, phased_out, notes,
                     kversion, d.sv_alleles)


def knowledge_version(knowledge, gene: str) -> str:
    """Data version of one gene's definitions (per gene when the knowledge records it,
    as the PharmCAT source does; else the knowledge's version)."""
    per = getattr(knowledge, "gene_versions", None) or {}
    return str(per.get(gene, knowledge.version))


def _allele_array(d: GeneDefinition, genotypes, rows: np.ndarray, covered: np.ndarray,
                  assume_ref_when_absent: bool) -> tuple[np.ndarray, np.ndarray]:
    """Alleles ``(V, n, 2)`` (1 alt, 0 ref, -1 missing, -2 absent/haploid) and phase
    flags ``(V, n)`` at the definition's variants."""
    nv, n = len(d.variants), len(genotypes.samples)
    a = np.zeros((nv, n, 2), dtype=np.int8)
    ph = np.ones((nv, n), dtype=bool)
    for j in range(nv):
        r = rows[j]
        if r >= 0:
            gt = genotypes.gt[r]
            a[j] = np.where(gt == 2, 0, gt)
            ph[j] = genotypes.phased[r]
        elif covered[j]:
            # position in the VCF, this ALT is not: reference unless the record is a no-call
            r2 = _row_at(genotypes, d.variants[j])
            gt = genotypes.gt[r2]
            a[j] = np.where(gt == -1, -1, np.where(gt == -2, -2, 0))
            ph[j] = True
        elif not assume_ref_when_absent:
            a[j] = -1
    return a, ph


def _records_in_region(g, region: str) -> bool:
    if not region or g.n_sites == 0:
        return False
    c, _, span = region.partition(":")
    a, _, b = span.partition("-")
    return bool(np.any((g.chrom == c) & (g.pos >= int(a)) & (g.pos <= int(b))))


def _row_at(g, v: VariantKey) -> int:
    c, p, _, _ = v
    return int(np.flatnonzero((g.chrom == c) & (g.pos == p))[0])


def _solve_unphased(mt: _Matcher, a_i: np.ndarray, i: int, allele1, allele2, status,
                    candidates, notes, var_pos, hf: HaplotypeFrequencies | None = None,
                    priorities: Sequence[tuple[frozenset[str], str]] = ()) -> None:
    d = mt.d
    dose0 = (a_i == 1).sum(axis=1)
    if hf is not None and not (a_i == -1).any():
        post = phase_by_frequencies(mt, dose0, hf)
        if post:
            best, p = post[0]
            x, _, y = best.partition("/")
            allele1[i], allele2[i] = x, y
            if p >= PHASE_POSTERIOR:
                status[i] = CALLED
            else:
                kept, mass = [], 0.0
                for dip, q in post:
                    if mass >= 0.99:
                        break
                    kept.append(dip)
                    mass += q
                if len(kept) > 1:
                    status[i] = AMBIGUOUS
                    candidates[i] = sorted(kept, key=lambda s: [d.sort_key(z)
                                                                for z in s.split("/")])
                else:
                    status[i] = CALLED
            notes[i].append(
                f"unphased heterozygous genotype(s): phased by haplotype frequencies in "
                f"{hf.source or 'the phasing panel'}; " + ", ".join(
                    f"{dip} {q:.3f}" for dip, q in post[:3]))
            return
        notes[i].append("no haplotype of the phasing panel fits these genotypes: "
                        "diplotype from dosages")
    pairs, rest = mt.solve_dosage(dose0)
    cands = {mt.fmt(x, y) for x, y in pairs}
    if priorities and len(cands) == 1:
        exact = mt.exact_pairs(dose0)
        (chosen,) = cands
        for lst, pick in priorities:
            if chosen in lst and lst <= exact and pick != chosen:
                cands = {pick}
                rest = np.zeros_like(rest)
                notes[i].append(f"{' and '.join(sorted(lst))} explain the genotypes "
                                f"equally: {pick} by the definitions' unphased priority")
                break
    if (a_i == -1).any():
        c1: set[str] = set()
        half = np.where(a_i == -1, np.array([[1, 0]]), a_i == 1).sum(axis=1)
        for dose1 in (((a_i == 1) | (a_i == -1)).sum(axis=1), half):
            pairs1, _ = mt.solve_dosage(dose1)
            c1 |= {mt.fmt(x, y) for x, y in pairs1}
        if c1 - cands:
            notes[i].append("no-call at a defining position could change the call")
            cands |= c1
    ordered = sorted(cands, key=lambda s: [d.sort_key(x) for x in s.split("/")])
    x, y = ordered[0].split("/")
    allele1[i], allele2[i] = x, y
    if len(ordered) > 1:
        status[i] = AMBIGUOUS
        candidates[i] = ordered
    else:
        status[i] = CALLED
    notes[i].append("unphased heterozygous genotype(s): diplotype inferred from dosages")
    if rest.any():
        where = ", ".join(var_pos[j] for j in np.flatnonzero(rest))
        notes[i].append(f"novel combination: alternate allele(s) at {where} are not "
                        f"explained by {ordered[0]}")


@dataclass
class HaplotypeFrequencies:
    """Phased haplotypes of a reference panel over one gene's defining variants.

    Attributes
    ----------
    gene, build
        Gene and genome build.
    variants
        The definition's variants (columns), as :attr:`GeneDefinition.variants`.
    haplotypes
        uint8 ``(K, V)``: the distinct haplotypes seen (1 = alternate allele).
    counts
        int ``(K,)``: how often each was seen.
    source
        Where the panel came from (reported in the notes).
    """

    gene: str
    build: str
    variants: list[VariantKey]
    haplotypes: np.ndarray
    counts: np.ndarray
    source: str = ""
    _index: dict[bytes, int] = field(default_factory=dict, repr=False)

    def count(self, h: np.ndarray) -> int:
        """How often the haplotype ``h`` (uint8 ``(V,)``) was seen."""
        if not self._index:
            self._index = {r.tobytes(): int(c) for r, c in
                           zip(self.haplotypes.astype(np.uint8), self.counts, strict=True)}
        return self._index.get(np.asarray(h, dtype=np.uint8).tobytes(), 0)

    @property
    def total(self) -> int:
        """Haplotypes counted."""
        return int(self.counts.sum())


def haplotype_frequencies(genotypes, gene: str, build: str, knowledge,
                          source: str = "", samples: Sequence[int] | None = None,
                          ) -> HaplotypeFrequencies:
    """Count the phased haplotypes of a reference panel (e.g. 1000 Genomes) at one gene.

    Only diploid samples phased at every defining variant and without no-calls there
    are counted; positions absent from the panel count as reference.

    Parameters
    ----------
    genotypes
        :class:`genoma.io.vcf.SiteGenotypes` of the *phased* panel over the gene.
    gene, build, knowledge
        As for :func:`call_gene`.
    source
        Name of the panel (goes into the notes of calls phased with it).
    samples
        Column indices of the panel samples to count (default all).

    Returns
    -------
    HaplotypeFrequencies
    """
    d = compile_gene(knowledge, gene, build)
    rows, covered, _ = _match_columns(d, genotypes)
    a, ph = _allele_array(d, genotypes, rows, covered, True)
    if samples is not None:
        a, ph = a[:, list(samples)], ph[:, list(samples)]
    ok = ph.all(axis=0) & (a >= 0).all(axis=(0, 2))
    h = (a[:, ok, :] == 1).transpose(1, 2, 0).reshape(-1, len(d.variants)).astype(np.uint8)
    if len(h):
        uniq, counts = np.unique(h, axis=0, return_counts=True)
    else:
        uniq, counts = np.zeros((0, len(d.variants)), np.uint8), np.zeros(0, np.int64)
    return HaplotypeFrequencies(gene, build, list(d.variants), uniq, counts.astype(np.int64),
                                source)


def phase_by_frequencies(mt: _Matcher, dose: np.ndarray, hf: HaplotypeFrequencies
                         ) -> list[tuple[str, float]]:
    """Diplotype posteriors of unphased dosages, phased with a panel's haplotypes.

    Every split of the dosages into two haplotypes of which at least one was seen in
    the panel is weighted by ``(n1 + a)(n2 + a)`` (haplotype counts, ``a`` =
    :data:`UNSEEN_HAPLOTYPE`; Hardy–Weinberg with panel frequencies); each split's two
    haplotypes are matched as phased haplotypes, and the weights are summed per
    diplotype. Splits where neither haplotype is in the panel are not enumerated.

    Returns
    -------
    list of (diplotype, posterior)
        Most probable first; empty when no panel haplotype fits the dosages.
    """
    dose = np.asarray(dose, dtype=np.int16)
    u = hf.haplotypes.astype(np.int16)
    fit = np.all(u <= dose[None, :], axis=1) & np.all(dose[None, :] - u <= 1, axis=1)
    idx = np.flatnonzero(fit)
    if not len(idx):
        return []
    h1 = u[idx].astype(np.uint8)
    h2 = (dose[None, :] - u[idx]).astype(np.uint8)
    seen: set[tuple[bytes, bytes]] = set()
    keep, weights = [], []
    for j, k in enumerate(idx):
        key = tuple(sorted((h1[j].tobytes(), h2[j].tobytes())))
        if key in seen:
            continue
        seen.add(key)  # type: ignore[arg-type]
        keep.append(j)
        weights.append((hf.counts[k] + UNSEEN_HAPLOTYPE) * (hf.count(h2[j]) + UNSEEN_HAPLOTYPE))
    hh = np.vstack([h1[keep], h2[keep]])
    best, tie, _ = mt.best(hh)
    m = len(keep)
    d = mt.d
    post: dict[str, float] = {}
    for j in range(m):
        if d.combinable and (tie[j] or tie[m + j]):
            # as for phased input: equal-ranked single-variant alleles → "A+B"
            names = ["+".join(sorted((d.alleles[x] for x in mt.tied(hh[r])), key=d.sort_key))
                     for r in (j, m + j)]
            dip = "/".join(sorted(names, key=d.sort_key))
        else:
            dip = mt.fmt(int(best[j]), int(best[m + j]))
        post[dip] = post.get(dip, 0.0) + float(weights[j])
    tot = sum(post.values())
    return sorted(((k, v / tot) for k, v in post.items()), key=lambda kv: -kv[1])


def _sv_note(d: GeneDefinition) -> str | None:
    sv = list(d.sv_alleles)
    if d.gene in _CNV_GENES or sv:
        extra = ["xN"] if d.gene in _CNV_GENES and d.gene != "G6PD" else []
        listed = ", ".join(sv + extra) if (sv or extra) else "copy number"
        msg = f"SV-defined alleles ({listed}) not assessable from a VCF"
        if d.gene == "CYP2D6":
            msg += ("; CYP2D6 deletions, duplications and hybrids need an outside call "
                    "(copy number not assessed)")
        return msg
    return None


def call_genes(
    genotypes,
    genes: Sequence[str],
    build: str,
    knowledge,
    **kw,
) -> dict[str, GeneCalls]:
    """:func:`call_gene` for several genes on the same genotypes (one VCF pass).

    Parameters
    ----------
    genotypes
        :class:`genoma.io.vcf.SiteGenotypes` covering all the genes (read once with
        ``gene_regions(genes, build, knowledge)``).
    genes
        Gene symbols.
    build, knowledge, **kw
        As for :func:`call_gene`.
    """
    return {g: call_gene(genotypes, g, build, knowledge, **kw) for g in genes}


def sort_diplotype(a: str, b: str | None, ref_allele: str | None = None) -> str:
    """``a/b`` with the lower allele first (natural sort)."""
    if b is None:
        return a
    x, y = sorted([a, b], key=lambda s: allele_sort_key(s, ref_allele))
    return f"{x}/{y}"
