"""Variant consequences on transcripts (Sequence Ontology terms, VEP conventions) and HGVS.

For one ALT allele and one transcript, :func:`annotate_allele` returns a
:class:`TranscriptConsequence`: SO terms, impact, exon / intron numbers, cDNA / CDS /
protein positions, amino acids, codons and HGVS ``c.``/``n.`` and ``p.``.

The rules are those of Ensembl VEP (release 115) so that outputs compare field by field:

* upstream / downstream within 5 kb of the transcript;
* splice donor / acceptor: the first / last two intron bases; splice region: 3 exon or
  3-8 intron bases from an exon boundary; splice donor 5th base, donor region (intron
  bases 3-6 after the donor) and polypyrimidine tract (intron bases 3-17 before the
  acceptor), the donor terms replacing splice region;
* coding terms from the reference and variant codons and peptides (frameshift,
  stop gained / lost / retained, start lost, inframe insertion / deletion, missense,
  synonymous, protein altering, coding sequence variant);
* HGVS on the allele shifted to its most 3' position in the transcript (VEP's default),
  while positions, codons and amino acids describe the unshifted allele (as VEP does).

Variant coordinates follow VEP: the base shared by REF and ALT of an indel is removed, so
an insertion has ``start = end + 1``.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from dataclasses import dataclass, field

import numpy as np

from genoma.annotate.hgvs import (
    CODON_TABLE,
    protein_change,
    shift_deletion,
    shift_insertion,
    translate,
)
from genoma.annotate.sequence import revcomp
from genoma.annotate.transcripts import Transcript

__all__ = [
    "IMPACT",
    "SO_RANK",
    "Allele",
    "TranscriptConsequence",
    "TranscriptContext",
    "annotate_allele",
    "vep_alleles",
]

#: SO terms in VEP's order of severity (used to order the terms of one entry).
SO_RANK: dict[str, int] = {t: i for i, t in enumerate([
    "transcript_ablation", "splice_acceptor_variant", "splice_donor_variant", "stop_gained",
    "frameshift_variant", "stop_lost", "start_lost", "transcript_amplification",
    "feature_elongation", "feature_truncation", "inframe_insertion", "inframe_deletion",
    "missense_variant", "protein_altering_variant", "splice_donor_5th_base_variant",
    "splice_region_variant", "splice_donor_region_variant", "splice_polypyrimidine_tract_variant",
    "incomplete_terminal_codon_variant", "start_retained_variant", "stop_retained_variant",
    "synonymous_variant", "coding_sequence_variant", "mature_miRNA_variant",
    "5_prime_UTR_variant", "3_prime_UTR_variant", "non_coding_transcript_exon_variant",
    "intron_variant", "NMD_transcript_variant", "non_coding_transcript_variant",
    "upstream_gene_variant", "downstream_gene_variant", "intergenic_variant",
])}

_HIGH = {"transcript_ablation", "splice_acceptor_variant", "splice_donor_variant", "stop_gained",
         "frameshift_variant", "stop_lost", "start_lost", "transcript_amplification"}
_MODERATE = {"inframe_insertion", "inframe_deletion", "missense_variant", "protein_altering_variant"}
_LOW = {"splice_donor_5th_base_variant", "splice_region_variant", "splice_donor_region_variant",
        "splice_polypyrimidine_tract_variant", "incomplete_terminal_codon_variant",
        "start_retained_variant", "stop_retained_variant", "synonymous_variant"}
#: Impact class of each SO term.
IMPACT: dict[str, str] = {t: ("HIGH" if t in _HIGH else "MODERATE" if t in _MODERATE else
                              "LOW" if t in _LOW else "MODIFIER") for t in SO_RANK}

#: Stop codons of the standard and the vertebrate mitochondrial code.
_STOPS = {c: True for c in CODON_TABLE if translate(c) == "*"}
_MITO_STOPS = {c: True for c in CODON_TABLE if translate(c, mito=True) == "*"}

UPSTREAM = 5000
DOWNSTREAM = 5000


@dataclass(frozen=True)
class Allele:
    """One ALT allele in VEP coordinates.

    Attributes
    ----------
    start, end
        1-based genomic span of ``ref`` (insertion: ``start = end + 1``).
    ref, alt
        Genomic-strand alleles with the shared anchor base removed ('' when empty).
    label
        The allele as VEP prints it in CSQ (``-`` for a deletion).
    """

    start: int
    end: int
    ref: str
    alt: str
    label: str


def vep_alleles(pos: int, ref: str, alts: list[str]) -> list[Allele]:
    """VEP's allele convention for one VCF record.

    When REF and every ALT share their first base and the alleles differ in length, that
    base is removed from all of them (as VEP's VCF parser does); otherwise alleles are kept.
    """
    ref = ref.upper()
    alts = [a.upper() for a in alts]
    strip = (
        len(ref) > 0 and all(a and a[0] == ref[0] for a in alts)
        and any(len(a) != len(ref) for a in alts)
    )
    out = []
    for a in alts:
        if strip:
            r, x, s = ref[1:], a[1:], pos + 1
        else:
            r, x, s = ref, a, pos
        out.append(Allele(s, s + len(r) - 1, r, x, x or "-"))
    return out


@dataclass
class TranscriptConsequence:
    """The consequence of one allele on one transcript (CSQ fields)."""

    terms: list[str]
    exon: str = ""
    intron: str = ""
    hgvsc: str = ""
    hgvsp: str = ""
    cdna_position: str = ""
    cds_position: str = ""
    protein_position: str = ""
    amino_acids: str = ""
    codons: str = ""
    distance: str = ""
    hgvs_offset: str = ""
    flags: list[str] = field(default_factory=list)

    @property
    def consequence(self) -> str:
        """SO terms joined by ``&`` in VEP's order."""
        return "&".join(self.terms)

    @property
    def impact(self) -> str:
        """Impact of the most severe term."""
        return IMPACT.get(self.terms[0], "MODIFIER") if self.terms else "MODIFIER"


def _ov(s1: int, e1: int, s2: int, e2: int) -> bool:
    return s1 <= e2 and e1 >= s2


def _int_list(x: object) -> list[int]:
    """Python ints of an integer array (one ``tolist``) or of any iterable."""
    if isinstance(x, np.ndarray) and x.dtype.kind in "iu":
        return x.tolist()
    return [int(v) for v in x]  # type: ignore[attr-defined]


class TranscriptContext:
    """Per-transcript derived data (exon layout, cDNA, CDS, protein), built lazily.

    Construction only lays out the exons (cDNA coordinates, CDS bounds). The cDNA, CDS and
    protein are built on first use; :attr:`start_nf` / :attr:`end_nf` read the first and
    last codon straight from the genomic sequence and translate the CDS only when it does
    not end in a stop codon, so a transcript whose pairs need no sequence work costs no
    sequence work.

    Parameters
    ----------
    tx
        The transcript.
    chrom_seq
        Sequence of the transcript's chromosome, or of a window of it covering the
        transcript (upper case).
    offset
        0-based genomic position of ``chrom_seq[0]`` (0: the whole chromosome): genomic
        0-based ``x`` is ``seq[x - off]``. :attr:`seq` and :attr:`off` may be replaced
        together by another window covering the transcript.
    """

    def __init__(self, tx: Transcript, chrom_seq: str, offset: int = 0):
        self.tx = tx
        self.seq = chrom_seq
        self.off = offset
        self.gs = _int_list(tx.exon_starts)
        self.ge = _int_list(tx.exon_ends)
        n = len(self.gs)
        self.n = n
        lens = [e - s + 1 for s, e in zip(self.gs, self.ge, strict=True)]
        # cDNA start of each exon, indexed by genomic order
        self.cstart = [0] * n
        acc = 1
        order = range(n) if tx.strand == 1 else range(n - 1, -1, -1)
        for k in order:
            self.cstart[k] = acc
            acc += lens[k]
        self.length = acc - 1
        self._cdna: str | None = None
        self.ccs = self.cce = None  # cDNA coding start / end
        self.pad = 0
        if tx.cds_start is not None and tx.cds_end is not None:
            a = self.g2c(tx.cds_start)
            b = self.g2c(tx.cds_end)
            if a is not None and b is not None:
                self.ccs, self.cce = (a, b) if tx.strand == 1 else (b, a)
                self.pad = (3 - tx.start_phase) % 3 if tx.start_phase else 0
        self._cds: str | None = None
        self._prot: str | None = None
        self._prot_utr: str | None = None
        self._start_nf: bool | None = None
        self._end_nf: bool | None = None

    # -- coordinates -------------------------------------------------------------------
    def exon_at(self, g: int) -> int:
        """Genomic-order index of the exon containing ``g``, or -1."""
        k = bisect_right(self.gs, g) - 1
        if k >= 0 and g <= self.ge[k]:
            return k
        return -1

    def g2c(self, g: int) -> int | None:
        """cDNA position of genomic ``g`` (None when not exonic)."""
        k = self.exon_at(g)
        if k < 0:
            return None
        if self.tx.strand == 1:
            return self.cstart[k] + g - self.gs[k]
        return self.cstart[k] + self.ge[k] - g

    def rank(self, k: int) -> int:
        """1-based transcript-order rank of genomic-order exon ``k``."""
        return k + 1 if self.tx.strand == 1 else self.n - k

    @property
    def cdna(self) -> str:
        """Spliced transcript sequence (transcript orientation)."""
        if self._cdna is None:
            off = self.off
            parts = [self.seq[s - 1 - off:e - off] for s, e in zip(self.gs, self.ge, strict=True)]
            s = "".join(parts)
            self._cdna = s if self.tx.strand == 1 else revcomp(s)
        return self._cdna

    def _covered(self) -> bool:
        """True when :attr:`seq` holds every exon (then the cDNA is :attr:`length` long)."""
        return bool(self.n) and min(self.gs) - 1 - self.off >= 0 and max(self.ge) - self.off <= len(self.seq)

    def _cdna_slice(self, a: int, b: int) -> str:
        """``cdna[a - 1:b]`` (cDNA positions ``a..b``; ``1 <= a``) read from the genomic
        sequence without building the whole cDNA (which is built instead when the window
        does not hold every exon, or for ``b < 0``)."""
        if self._cdna is not None or b < 0 or not self._covered():
            return self.cdna[a - 1:b]
        if b < a:
            return ""
        seq, off, gs, ge, cstart, n = self.seq, self.off, self.gs, self.ge, self.cstart, self.n
        fwd = self.tx.strand == 1
        # exon holding cDNA position a (cstart rises with k on the plus strand, falls on the minus)
        k = bisect_right(cstart, a) - 1 if fwd else n - bisect_right(cstart[::-1], a)
        if 0 <= k < n and cstart[k] <= a and b <= cstart[k] + ge[k] - gs[k]:  # one exon
            c0 = cstart[k]
            if fwd:
                return seq[gs[k] + a - c0 - 1 - off:gs[k] + b - c0 - off]
            return revcomp(seq[ge[k] - (b - c0) - 1 - off:ge[k] - (a - c0) - off])
        parts = []
        for k in (range(n) if fwd else range(n - 1, -1, -1)):
            c0 = cstart[k]
            lo, hi = max(a, c0), min(b, c0 + ge[k] - gs[k])
            if lo <= hi:
                if fwd:
                    parts.append(seq[gs[k] + lo - c0 - 1 - off:gs[k] + hi - c0 - off])
                else:
                    parts.append(revcomp(seq[ge[k] - (hi - c0) - 1 - off:ge[k] - (lo - c0) - off]))
        return "".join(parts)

    @property
    def cds(self) -> str:
        """Translateable sequence (with VEP's N padding of an incomplete first codon)."""
        if self._cds is None:
            assert self.ccs is not None and self.cce is not None
            self._cds = "N" * self.pad + self.cdna[self.ccs - 1:self.cce]
        return self._cds

    @property
    def protein(self) -> str:
        """Reference protein (one-letter, to the first stop inclusive)."""
        if self._prot is None:
            self._prot = translate(self.cds, to_stop=True, partial=False,
                                   mito=self.tx.chrom == "chrM")
        return self._prot

    @property
    def protein_utr(self) -> str:
        """Translation of the reference cDNA from the CDS start (N padded) to the first
        stop, through the 3' UTR when the CDS has none (what HGVSp compares against)."""
        if self._prot_utr is None:
            assert self.ccs is not None
            # The CDS is a prefix of that sequence: with a stop its translation is the
            # answer, without one it is (all its whole codons, no stop) the answer's start.
            prot = self.protein
            if prot.endswith("*"):
                self._prot_utr = prot
                return prot
            rest = ("N" * self.pad + self.cdna[self.ccs - 1:])[3 * len(prot):]
            self._prot_utr = prot + translate(rest, to_stop=True, partial=False,
                                              mito=self.tx.chrom == "chrM")
        return self._prot_utr

    def alt_protein(self, c_lo: int, alt_tx: str, same_length: bool, alt_coding: str) -> str:
        """Translation of ``alt_coding`` (the variant cDNA from the CDS start, N padded, as
        :meth:`protein_utr`), reusing the reference translation around the change.

        ``c_lo`` is the first changed cDNA position, ``alt_tx`` the new bases and
        ``same_length`` true for substitutions (the sequence after them is unchanged).
        The result equals ``translate(alt_coding, to_stop=True, partial=False)``.
        """
        assert self.ccs is not None
        mito = self.tx.chrom == "chrM"
        p0 = c_lo - self.ccs + self.pad  # first changed index in alt_coding
        ref_full = self.protein_utr
        s = len(ref_full)
        if p0 < 0:
            return translate(alt_coding, to_stop=True, partial=False, mito=mito)
        i0 = p0 // 3
        if i0 >= s:
            if ref_full.endswith("*"):  # the change lies after the first stop
                return ref_full
            return translate(alt_coding, to_stop=True, partial=False, mito=mito)
        head = ref_full[:i0]  # codons before the change: unchanged, no stop
        if same_length and alt_tx:
            i1 = (p0 + len(alt_tx) - 1) // 3
            if i1 + 1 < s:
                mid = translate(alt_coding[3 * i0:3 * (i1 + 1)], to_stop=True, partial=False, mito=mito)
                if mid.endswith("*"):
                    return head + mid
                return head + mid + ref_full[i1 + 1:]
        return head + translate(alt_coding[3 * i0:], to_stop=True, partial=False, mito=mito)

    @property
    def start_nf(self) -> bool:
        """True when the CDS is 5'-incomplete (``cds_start_NF``): a non-zero start phase,
        or a first codon that is not ATG (GFF3 carries no such attribute)."""
        if self._start_nf is None:
            ccs, cce = self.ccs, self.cce
            if ccs is None or cce is None:
                self._start_nf = False
            elif self.pad:
                self._start_nf = True
            else:  # cds[:3] without building the cDNA
                self._start_nf = self._cdna_slice(ccs, min(cce, ccs + 2)) != "ATG"
        return self._start_nf

    @property
    def end_nf(self) -> bool:
        """True when the CDS does not end in a stop codon (``cds_end_NF``)."""
        if self._end_nf is None:
            assert self.ccs is not None and self.cce is not None
            # len(cds) without the N padding (cce <= length when every exon is in seq)
            core = max(self.cce - self.ccs + 1, 0) if self._covered() else len(self.cds) - self.pad
            if (self.pad + core) % 3:
                self._end_nf = True
            elif self._prot is None and core >= 3 and (_MITO_STOPS if self.tx.chrom == "chrM" else _STOPS).get(
                    self._cdna_slice(self.cce - 2, self.cce)):
                self._end_nf = False  # ends in a stop codon: no translation, no cDNA needed
            else:
                self._end_nf = not self.protein.endswith("*")
        return self._end_nf

    def cpos(self, c: int, pad: bool = True) -> str:
        """HGVS position string of cDNA position ``c`` (c. or n. numbering).

        ``pad=False`` leaves out the N padding of a 5'-incomplete CDS: VEP numbers
        intronic positions from the unpadded exon boundary.
        """
        if self.ccs is None or self.cce is None:
            return str(c)
        if c < self.ccs:
            return f"-{self.ccs - c}"
        if c > self.cce:
            return f"*{c - self.cce}"
        return str(c - self.ccs + 1 + (self.pad if pad else 0))

    def hgvs_pos(self, g: int, pad: bool = True) -> str:
        """HGVS position of genomic ``g`` in this transcript (exonic or intronic).

        ``pad=False``: number exonic positions without the N padding of a 5'-incomplete
        CDS (VEP does so for indels; substitutions use the padded numbering).
        """
        c = self.g2c(g)
        if c is not None:
            return self.cpos(c, pad)
        tx = self.tx
        if g < self.gs[0] or g > self.ge[-1]:
            if tx.strand == 1:
                c = 1 - (self.gs[0] - g) if g < self.gs[0] else self.length + g - self.ge[-1]
            else:
                c = 1 - (g - self.ge[-1]) if g > self.ge[-1] else self.length + self.gs[0] - g
            return self.cpos(c)
        k = bisect_right(self.gs, g) - 1  # exon k left of g, k+1 right
        left, right = self.ge[k], self.gs[k + 1]
        dl, dr = g - left, right - g
        if tx.strand == 1:
            cl = self.cstart[k] + left - self.gs[k]
            cr = self.cstart[k + 1]
            if dl <= dr:
                return f"{self.cpos(cl, False)}+{dl}"
            return f"{self.cpos(cr, False)}-{dr}"
        cl = self.cstart[k] + self.ge[k] - left  # last cDNA base of left exon... (3' in tx)
        cr = self.cstart[k + 1] + self.ge[k + 1] - right
        # minus strand: the exon on the right comes first in the transcript
        if dr <= dl:
            return f"{self.cpos(cr, False)}+{dr}"
        return f"{self.cpos(cl, False)}-{dl}"


def _fmt_range(a: int | None, b: int | None) -> str:
    if a is None and b is None:
        return ""
    if a is None or b is None:
        return f"{a if a is not None else '?'}-{b if b is not None else '?'}"
    lo, hi = min(a, b), max(a, b)
    return str(lo) if lo == hi else f"{lo}-{hi}"


def _intron_effects(ctx: TranscriptContext, vs: int, ve: int) -> dict[str, bool]:
    """VEP's intron effects of [vs, ve] (insertion: vs = ve + 1)."""
    ins = vs == ve + 1
    strand = ctx.tx.strand
    res = {"donor": False, "acceptor": False, "region": False, "intronic": False,
           "d5": False, "dregion": False, "ppt": False, "introns": []}
    gs, ge = ctx.gs, ctx.ge
    lo = max(bisect_left(ge, min(vs, ve) - 20) - 1, 0)
    hi = min(bisect_right(gs, max(vs, ve) + 20), ctx.n - 1)
    for k in range(lo, hi):
        i_s, i_e = ge[k] + 1, gs[k + 1] - 1
        if i_e < i_s:
            continue
        ss = _ov(vs, ve, i_s, i_s + 1)
        es = _ov(vs, ve, i_e - 1, i_e)
        if ss or es:
            if strand == 1:
                res["donor"] |= ss
                res["acceptor"] |= es
            else:
                res["donor"] |= es
                res["acceptor"] |= ss
        if _ov(vs, ve, i_s + 2, i_e - 2) or (ins and (vs == i_s + 2 or ve == i_e - 2)):
            res["intronic"] = True
        if _ov(vs, ve, i_s, i_e):
            res["introns"].append(k)
        if (_ov(vs, ve, i_s - 3, i_s - 1) or _ov(vs, ve, i_s + 2, i_s + 7)
                or _ov(vs, ve, i_e - 7, i_e - 2) or _ov(vs, ve, i_e + 1, i_e + 3)
                or (ins and (vs == i_s or ve == i_e or vs == i_s + 2 or ve == i_e - 2))):
            res["region"] = True
        if strand == 1:
            d5 = _ov(vs, ve, i_s + 4, i_s + 4)
            dreg = _ov(vs, ve, i_s + 2, i_s + 5)
            ppt = _ov(vs, ve, i_e - 16, i_e - 2)
        else:
            d5 = _ov(vs, ve, i_e - 4, i_e - 4)
            dreg = _ov(vs, ve, i_e - 5, i_e - 2)
            ppt = _ov(vs, ve, i_s + 2, i_s + 16)
        res["d5"] |= d5
        res["dregion"] |= dreg and not d5
        res["ppt"] |= ppt
    return res


_NO_INTRON_EFFECTS: dict = {"donor": False, "acceptor": False, "region": False, "intronic": False,
                             "d5": False, "dregion": False, "ppt": False, "introns": ()}


def annotate_allele(al: Allele, ctx: TranscriptContext) -> TranscriptConsequence | None:
    """Consequence of one allele on one transcript, or ``None`` when beyond 5 kb.

    Parameters
    ----------
    al
        The allele (VEP coordinates).
    ctx
        The transcript context (sequence access).

    Returns
    -------
    TranscriptConsequence or None
    """
    tx = ctx.tx
    vs, ve = al.start, al.end
    ins = vs == ve + 1
    if not _ov(vs, ve, tx.start, tx.end):
        if ve < tx.start and ve >= tx.start - UPSTREAM:
            term = "upstream_gene_variant" if tx.strand == 1 else "downstream_gene_variant"
            return TranscriptConsequence([term], distance=str(tx.start - ve))
        if vs > tx.end and vs <= tx.end + DOWNSTREAM:
            term = "downstream_gene_variant" if tx.strand == 1 else "upstream_gene_variant"
            return TranscriptConsequence([term], distance=str(vs - tx.end))
        return None

    terms: set[str] = set()
    out = TranscriptConsequence([])
    # exons overlapped
    if ins:
        ex_hit = [k for k in range(max(bisect_right(ctx.gs, ve) - 1, 0), min(bisect_right(ctx.gs, vs) + 1, ctx.n))
                  if ctx.gs[k] <= ve and vs <= ctx.ge[k]]
    else:
        k0 = max(bisect_right(ctx.gs, vs) - 1, 0)
        ex_hit = []
        for k in range(k0, ctx.n):
            if ctx.gs[k] > ve:
                break
            if _ov(vs, ve, ctx.gs[k], ctx.ge[k]):
                ex_hit.append(k)
    k = ex_hit[0] if len(ex_hit) == 1 else -1
    if k >= 0 and min(vs, ve) >= ctx.gs[k] + 3 and max(vs, ve) <= ctx.ge[k] - 3:
        ie = _NO_INTRON_EFFECTS  # >= 3 bases inside one exon: no splice / intron feature reaches
    else:
        ie = _intron_effects(ctx, vs, ve)
    if ex_hit:
        if tx.strand == 1:
            r0, r1 = ex_hit[0] + 1, ex_hit[-1] + 1
        else:
            r0, r1 = ctx.n - ex_hit[-1], ctx.n - ex_hit[0]
        out.exon = (f"{r0}" if r0 == r1 else f"{r0}-{r1}") + f"/{ctx.n}"
    if ie["introns"] and not (ins and ex_hit):
        ranks = sorted((k + 1 if tx.strand == 1 else ctx.n - 1 - k) for k in ie["introns"])
        out.intron = (f"{ranks[0]}" if len(ranks) == 1 else f"{ranks[0]}-{ranks[-1]}") + f"/{ctx.n - 1}"
    if ie["donor"]:
        terms.add("splice_donor_variant")
    if ie["acceptor"]:
        terms.add("splice_acceptor_variant")
    if ie["d5"]:
        terms.add("splice_donor_5th_base_variant")
    elif ie["dregion"]:
        terms.add("splice_donor_region_variant")
    if ie["ppt"]:
        terms.add("splice_polypyrimidine_tract_variant")
    if ie["region"] and not (ie["donor"] or ie["acceptor"] or ie["d5"] or ie["dregion"]):
        terms.add("splice_region_variant")
    if ie["intronic"]:
        terms.add("intron_variant")

    # cDNA positions (unshifted)
    if ins:
        c_a, c_b = ctx.g2c(ve), ctx.g2c(vs)
    else:
        c_a, c_b = ctx.g2c(vs), ctx.g2c(ve)
    if ex_hit:
        out.cdna_position = _fmt_range(c_a, c_b)

    coding = ctx.ccs is not None and ctx.cce is not None
    if not coding:
        if ex_hit:
            terms.add("non_coding_transcript_exon_variant")
        else:
            terms.add("non_coding_transcript_variant")
    else:
        cs, ce = tx.cds_start, tx.cds_end
        assert cs is not None and ce is not None
        before = (ins and vs == cs) or _ov(vs, ve, tx.start, cs - 1)
        after = (ins and ve == ce) or _ov(vs, ve, ce + 1, tx.end)
        if ex_hit:
            five, three = (before, after) if tx.strand == 1 else (after, before)
            if five:
                terms.add("5_prime_UTR_variant")
            if three:
                terms.add("3_prime_UTR_variant")
        in_cds_span = _ov(vs, ve, cs, ce) and not (ins and (vs == cs or ve == ce))
        if ex_hit and in_cds_span:
            _coding_effects(al, ctx, c_a, c_b, terms, out)
    if tx.biotype == "nonsense_mediated_decay":
        terms.add("NMD_transcript_variant")

    out.terms = sorted(terms, key=SO_RANK.__getitem__)
    _hgvs(al, ctx, out)
    if ctx.start_nf:
        out.flags.append("cds_start_NF")
    if coding and ctx.end_nf:
        out.flags.append("cds_end_NF")
    return out


def _coding_effects(al: Allele, ctx: TranscriptContext, c_a: int | None, c_b: int | None,
                    terms: set[str], out: TranscriptConsequence) -> None:
    tx = ctx.tx
    ins = al.start == al.end + 1
    ccs, cce, pad = ctx.ccs, ctx.cce, ctx.pad
    assert ccs is not None and cce is not None
    # cDNA span in transcript orientation
    if c_a is None or c_b is None:
        terms.add("coding_sequence_variant")
        d_a = None if c_a is None else c_a - ccs + 1 + pad
        d_b = None if c_b is None else c_b - ccs + 1 + pad
        out.cds_position = _fmt_range(d_a, d_b)
        return
    lo, hi = min(c_a, c_b), max(c_a, c_b)
    if ins:
        if hi - lo != 1:
            terms.add("coding_sequence_variant")
            return
        q = lo - ccs + 1 + pad  # insertion after CDS position q
        cds_s, cds_e = q + 1, q
    else:
        if hi - lo + 1 != len(al.ref):  # spans an intron
            terms.add("coding_sequence_variant")
            return
        cds_s, cds_e = lo - ccs + 1 + pad, hi - ccs + 1 + pad
    cds = ctx.cds
    L = len(cds)
    a_in = 1 <= cds_s <= L + (1 if ins else 0)
    b_in = 1 <= cds_e <= L or (ins and cds_e == 0)
    out.cds_position = _fmt_range(cds_s if a_in else None, cds_e if b_in else None) if not ins else \
        _fmt_range(cds_e, cds_s)
    if not (1 <= min(cds_s, cds_e + (1 if ins else 0)) and max(cds_e, cds_s - (1 if ins else 0)) <= L):
        terms.add("coding_sequence_variant")
        tps = (cds_s - 1) // 3 + 1 if a_in else None
        out.protein_position = _fmt_range(tps, None) if tps else ""
        return
    tstart = (cds_s - 1) // 3 + 1
    tend = (cds_e - 1) // 3 + 1
    out.protein_position = _fmt_range(tstart, tend)
    alt_tx = al.alt if tx.strand == 1 else revcomp(al.alt)
    ref_tx = al.ref if tx.strand == 1 else revcomp(al.ref)
    cod_s = (tstart - 1) * 3 + 1
    cod_e = tend * 3
    cod_len = max(cod_e - cod_s + 1, 0)
    vf_len = cds_e - cds_s + 1
    ref_codon = cds[cod_s - 1:cod_s - 1 + cod_len]
    mod = cds[:cds_s - 1] + alt_tx + cds[cds_e:]
    alt_codon = mod[cod_s - 1:cod_s - 1 + cod_len + len(alt_tx) - vf_len]
    rel = cds_s - cod_s
    rc = ref_codon.lower()
    if not ins:
        rc = rc[:rel] + rc[rel:rel + vf_len].upper() + rc[rel + vf_len:]
    ac = alt_codon.lower()
    ac = ac[:rel] + ac[rel:rel + len(alt_tx)].upper() + ac[rel + len(alt_tx):]
    out.codons = f"{rc or '-'}/{ac or '-'}"
    mito = tx.chrom == "chrM"
    ref_pep = translate(ref_codon, mito=mito) if ref_codon else ""
    alt_pep = translate(alt_codon, mito=mito) if alt_codon else ""
    del ref_tx
    frameshift = (len(alt_tx) - vf_len) % 3 != 0
    out.amino_acids = ref_pep if (ref_pep == alt_pep and ref_pep) else f"{ref_pep or '-'}/{alt_pep or '-'}"
    # VEP predicates
    overlaps_start = not ctx.start_nf and _ov(cds_s, cds_e, 1, 3) if not ins else (
        not ctx.start_nf and _ov(cds_e + 1, cds_s - 1 + 1, 1, 3) and cds_e < 3)
    start_lost = False
    if overlaps_start:
        if len(alt_tx) != vf_len:
            utr_cds = ctx.cdna[:ccs - 1] + cds[pad:]
            c1 = ccs - 1 + (cds_s - 1 - pad)
            c2 = ccs - 1 + (cds_e - pad)
            modified = utr_cds[:c1] + alt_tx + utr_cds[c2:]
            trans = cds[pad:]
            altered = len(modified) < len(trans) or modified[-len(trans):] != trans
            start_lost = altered and not (not frameshift and (alt_pep.endswith(ref_pep) or alt_pep.startswith(ref_pep)) and ref_pep)
            if altered and not frameshift and len(alt_tx) < vf_len:
                start_lost = True
        elif ref_pep:
            start_lost = tstart == 1 and not alt_pep.endswith(ref_pep) and not alt_pep.startswith(ref_pep)
    stop_retained = bool(ref_pep) and "*" in ref_pep and alt_pep.startswith(ref_pep[: ref_pep.index("*") + 1]) \
        if ref_pep and "*" in ref_pep else (not ref_pep and alt_pep.startswith("*") and cds_s > L - 3)
    stop_gained = not stop_retained and "*" in alt_pep and "*" not in ref_pep
    stop_lost = "*" in ref_pep and "*" not in alt_pep
    if frameshift:
        terms.add("frameshift_variant")
    if stop_gained:
        terms.add("stop_gained")
    if stop_lost:
        terms.add("stop_lost")
    if stop_retained:
        terms.add("stop_retained_variant")
    if start_lost:
        terms.add("start_lost")
    if not frameshift:
        if len(alt_codon) > len(ref_codon) and not start_lost:
            ap = alt_pep.split("*", 1)[0] + "*" if "*" in alt_pep else alt_pep
            if ap.startswith(ref_pep) or ap.endswith(ref_pep):
                terms.add("inframe_insertion")
        elif len(alt_codon) < len(ref_codon):
            r, a = ref_codon, alt_codon
            if r.startswith(a) or r.endswith(a):
                terms.add("inframe_deletion")
            else:
                while r and a and r[0] == a[0]:
                    r, a = r[1:], a[1:]
                while r and a and r[-1] == a[-1]:
                    r, a = r[:-1], a[:-1]
                if not a and len(r) % 3 == 0:
                    terms.add("inframe_deletion")
        if ref_pep and alt_pep == ref_pep and not stop_retained and "X" not in ref_pep:
            terms.add("synonymous_variant")
        if (ref_pep and not (start_lost or stop_lost or stop_gained) and ref_pep != alt_pep
                and len(ref_pep) == len(alt_pep)):
            terms.add("missense_variant")
        if (ref_pep or alt_pep) and len(ref_pep) != len(alt_pep) and not (
                ref_pep.startswith("*") or alt_pep.startswith("*")
                or alt_pep.startswith(ref_pep) or alt_pep.endswith(ref_pep)
                or "inframe_deletion" in terms or start_lost):
            terms.add("protein_altering_variant")
    coding_terms = {"frameshift_variant", "stop_gained", "stop_lost", "stop_retained_variant",
                    "start_lost", "inframe_insertion", "inframe_deletion", "synonymous_variant",
                    "missense_variant", "protein_altering_variant"}
    if not (terms & coding_terms):
        terms.add("coding_sequence_variant")
    out._fs = frameshift  # type: ignore[attr-defined]
    out._syn_pos = tstart  # type: ignore[attr-defined]


def _trim(start: int, ref: str, alt: str) -> tuple[int, str, str]:
    while ref and alt and ref[0] == alt[0]:
        ref, alt, start = ref[1:], alt[1:], start + 1
    while ref and alt and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    return start, ref, alt


def _hgvs(al: Allele, ctx: TranscriptContext, out: TranscriptConsequence) -> None:
    """Fill HGVSc / HGVSp (3'-shifted as VEP does)."""
    tx = ctx.tx
    seq, off = ctx.seq, ctx.off
    if al.start < tx.start or al.end > tx.end:  # VEP: no HGVSc for alleles leaving the transcript
        return
    start, ref, alt = _trim(al.start, al.ref, al.alt)
    fwd = tx.strand == 1
    prefix = f"{tx.versioned_id}:{'c' if ctx.ccs is not None else 'n'}."
    lo, hi = tx.start - 1 - off, tx.end - off  # shifting bounds: 0-based half-open, in seq
    shift = 0
    if ref and alt:
        end = start + len(ref) - 1
        if len(ref) == 1 and len(alt) == 1:
            b_ref = ref if fwd else revcomp(ref)
            b_alt = alt if fwd else revcomp(alt)
            desc = f"{ctx.hgvs_pos(start)}{b_ref}>{b_alt}"
        else:
            a, b = (start, end) if fwd else (end, start)
            rng = ctx.hgvs_pos(a) if a == b else f"{ctx.hgvs_pos(a)}_{ctx.hgvs_pos(b)}"
            desc = f"{rng}delins{alt if fwd else revcomp(alt)}"
        g_s, g_e, g_alt = start, end, alt
    elif ref:  # deletion
        s0, e0 = shift_deletion(seq, start - 1 - off, start - 1 - off + len(ref), fwd, lo, hi)
        s0, e0 = s0 + off, e0 + off
        shift = abs(s0 - (start - 1))
        g_s, g_e, g_alt = s0 + 1, e0, ""
        a, b = (g_s, g_e) if fwd else (g_e, g_s)
        desc = f"{ctx.hgvs_pos(a, False)}del" if g_s == g_e else f"{ctx.hgvs_pos(a, False)}_{ctx.hgvs_pos(b, False)}del"
    elif alt:  # insertion before genomic position `start`
        p0, ins_seq = shift_insertion(seq, start - 1 - off, alt, fwd, lo, hi)
        p0 += off
        shift = abs(p0 - (start - 1))
        n = len(ins_seq)
        if fwd:
            if seq[p0 - n - off:p0 - off] == ins_seq and p0 - n + 1 >= tx.start:
                d_s, d_e = p0 - n + 1, p0
                desc = f"{ctx.hgvs_pos(d_s, False)}dup" if n == 1 else f"{ctx.hgvs_pos(d_s, False)}_{ctx.hgvs_pos(d_e, False)}dup"
            else:
                desc = f"{ctx.hgvs_pos(p0, False)}_{ctx.hgvs_pos(p0 + 1, False)}ins{ins_seq}"
        else:
            if seq[p0 - off:p0 + n - off] == ins_seq and p0 + n <= tx.end:
                d_s, d_e = p0 + 1, p0 + n
                desc = f"{ctx.hgvs_pos(d_e, False)}dup" if n == 1 else f"{ctx.hgvs_pos(d_e, False)}_{ctx.hgvs_pos(d_s, False)}dup"
            else:
                desc = f"{ctx.hgvs_pos(p0 + 1, False)}_{ctx.hgvs_pos(p0, False)}ins{revcomp(ins_seq)}"
        g_s, g_e, g_alt = p0 + 1, p0, ins_seq
    else:
        return
    if not _ov(min(g_s, g_e), max(g_s, g_e), tx.start, tx.end) and not (g_s == g_e + 1 and tx.start <= g_e < tx.end):
        return
    out.hgvsc = prefix + desc
    if shift:
        out.hgvs_offset = str(shift if fwd else -shift)
    if not hasattr(out, "_fs") or tx.protein_id is None:
        return
    # HGVSp on the shifted allele
    ca = ctx.g2c(g_s if fwd else g_e) if g_s <= g_e else ctx.g2c(g_e if fwd else g_s)
    if g_s <= g_e:
        c1, c2 = ctx.g2c(g_s), ctx.g2c(g_e)
        if c1 is None or c2 is None:
            return
        c_lo, c_hi = min(c1, c2), max(c1, c2)
        if c_hi - c_lo + 1 != g_e - g_s + 1:
            return
    else:
        c1, c2 = ctx.g2c(g_e), ctx.g2c(g_s)
        if c1 is None or c2 is None or abs(c1 - c2) != 1:
            return
        c_lo, c_hi = max(c1, c2), min(c1, c2)  # insertion: after c_hi, before c_lo
    del ca
    alt_tx = g_alt if fwd else revcomp(g_alt)
    cdna = ctx.cdna
    assert ctx.ccs is not None
    alt_cdna = cdna[:c_lo - 1] + alt_tx + cdna[c_hi:]
    alt_coding = "N" * ctx.pad + alt_cdna[ctx.ccs - 1:]
    alt_prot = ctx.alt_protein(c_lo if g_s <= g_e else c_hi + 1, alt_tx,
                               g_s <= g_e and len(alt_tx) == c_hi - c_lo + 1, alt_coding)
    start_lost = "start_lost" in out.terms
    fs = bool(out._fs)  # type: ignore[attr-defined]
    syn = out._syn_pos  # type: ignore[attr-defined]
    if "stop_retained_variant" in out.terms and not fs:
        ref_prot = ctx.protein
        if alt_prot == ref_prot:
            p = f"Ter{len(ref_prot)}="
            out.hgvsp = f"{tx.versioned_protein_id}:p.{p.replace('=', '%3D')}"
            return
    p = protein_change(ctx.protein, alt_prot, frameshift=fs, syn_pos=syn, start_lost=start_lost)
    if p:
        out.hgvsp = f"{tx.versioned_protein_id}:p.{p.replace('=', '%3D')}"
