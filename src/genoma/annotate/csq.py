"""Annotate a VCF: one VEP-style ``CSQ`` entry per ALT allele × transcript.

The ``CSQ`` INFO field is declared as Ensembl VEP declares it (``Consequence annotations
from genoma. Format: Allele|Consequence|…``) so that tools reading VEP output
(``bcftools +split-vep``, slivar, …) read genoma's. Records whose REF disagrees with the
reference FASTA get the FILTER ``REF_MISMATCH`` (declared in the header) and are still
annotated from the VCF alleles.
"""

from __future__ import annotations

import gc
import itertools
import operator
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from genoma.annotate.bgzf import BgzfWriter
from genoma.annotate.consequence import (
    IMPACT,
    SO_RANK,
    Allele,
    TranscriptConsequence,
    TranscriptContext,
    _hgvs,
    _trim,
    annotate_allele,
    vep_alleles,
)
from genoma.annotate.fastpath import (
    PAIR_DEEP_INTRON,
    PAIR_DOWN,
    PAIR_EXON_INNER,
    PAIR_NONE,
    PAIR_OTHER,
    PAIR_UP,
    TranscriptArrays,
)
from genoma.annotate.hgvs import AA3, CODON_TABLE, shift_deletion, shift_insertion
from genoma.annotate.model_cache import load_transcripts
from genoma.annotate.sequence import Reference, revcomp
from genoma.annotate.transcripts import Transcript, TranscriptIndex
from genoma.chrom import canonical_chrom
from genoma.errors import InputMissingError, MalformedInputError, UsageError

__all__ = ["CSQ_FIELDS", "AnnotationStats", "Annotator", "CsqExtender", "annotate_vcf", "csq_header"]

CSQ_FIELDS = [
    "Allele", "Consequence", "IMPACT", "SYMBOL", "Gene", "Feature_type", "Feature", "BIOTYPE",
    "EXON", "INTRON", "HGVSc", "HGVSp", "cDNA_position", "CDS_position", "Protein_position",
    "Amino_acids", "Codons", "STRAND", "DISTANCE", "FLAGS", "HGVS_OFFSET", "CANONICAL",
    "MANE_SELECT", "ENSP", "PICK",
]


def csq_header(extra_fields: list[str] | None = None) -> dict[str, str]:
    """The ``##INFO=<ID=CSQ…>`` declaration (cyvcf2 ``add_info_to_header`` form).

    ``extra_fields`` (an extender's, e.g. ClinVar / ACMG fields) are appended after
    :data:`CSQ_FIELDS`, never reordering them.
    """
    return {
        "ID": "CSQ", "Number": ".", "Type": "String",
        "Description": "Consequence annotations from genoma. Format: "
        + "|".join(CSQ_FIELDS + list(extra_fields or ())),
    }


class CsqExtender(Protocol):
    """Appends fields to CSQ entries (e.g. :class:`genoma.annotate.evidence.EvidenceAnnotator`).

    ``fields`` are declared after :data:`CSQ_FIELDS`; ``bind`` receives the
    :class:`Annotator`; ``extend`` returns, per record of a batch, the entries with
    ``"|" + …`` appended (one per entry, same order).
    """

    fields: list[str]

    def bind(self, annotator: Annotator) -> None: ...  # pragma: no cover - protocol

    def extend(self, chrom: str, positions: list[int], refs: list[str], alts: list[list[str]],
               entries: list[list[str]]) -> list[list[str]]: ...  # pragma: no cover - protocol


@dataclass
class AnnotationStats:
    """Counts of one annotation run."""

    records: int = 0
    alleles: int = 0
    entries: int = 0
    ref_mismatch: int = 0
    chrom_missing: set[str] = field(default_factory=set)


def _unique(x: np.ndarray) -> np.ndarray:
    """Sorted distinct values of an integer array (``np.unique`` without its lazy import
    of ``numpy.ma``, ≈ 10 ms of a short run)."""
    if not len(x):
        return x.copy()
    s = np.sort(x)
    keep = np.empty(len(s), bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


_PICK_TAIL = 128  # > any SO rank (99 for none): integer pick keys stay lexicographic


class _TxInfo:
    """Per-transcript strings and keys shared by all its CSQ entries (built once)."""

    __slots__ = (
        "_flags",
        "_introns",
        "ctx",
        "hgvs_prefix",
        "intron_cons",
        "mid",
        "static1",
        "static2",
        "strand",
        "tail",
    )

    def __init__(self, ctx: TranscriptContext):
        tx = ctx.tx
        self.ctx = ctx
        self.mid = f"{tx.gene_name}|{tx.gene_id}|Transcript|{tx.id}|{tx.biotype}"
        canonical, mane = tx.is_canonical, tx.is_mane_select
        self.tail = f"{'YES' if canonical else ''}|{'YES' if mane else ''}|{tx.versioned_protein_id}|"
        self.strand = str(tx.strand)
        coding = ctx.ccs is not None and ctx.cce is not None
        terms = ["intron_variant"]
        if tx.biotype == "nonsense_mediated_decay":
            terms.append("NMD_transcript_variant")
        if not coding:
            terms.append("non_coding_transcript_variant")
        self.intron_cons = "&".join(sorted(terms, key=SO_RANK.__getitem__))
        self._flags: str | None = None
        # pick order: MANE Select, canonical, protein coding | SO rank | longest CDS, cDNA, id
        self.static1 = ((0 if mane else 1) * 4 + (0 if canonical else 1) * 2
                        + (0 if tx.biotype == "protein_coding" else 1))
        cds_len = ctx.pad + ctx.cce - ctx.ccs + 1 if coding else 0  # type: ignore[operator]
        self.static2 = (-cds_len, -ctx.length, tx.id)
        self.hgvs_prefix = f"{tx.versioned_id}:{'c' if ctx.ccs is not None else 'n'}."
        self._introns: dict[int, tuple[str, str]] = {}

    @property
    def intron_flags(self) -> str:
        """The FLAGS field (``cds_start_NF`` / ``cds_end_NF``), on first use: up- and
        downstream entries carry none, so their transcripts never look at the sequence."""
        if self._flags is None:
            ctx = self.ctx
            flags = []
            if ctx.start_nf:
                flags.append("cds_start_NF")
            if ctx.ccs is not None and ctx.cce is not None and ctx.end_nf:
                flags.append("cds_end_NF")
            self._flags = "&".join(flags)
        return self._flags

    def intron_anchors(self, k: int) -> tuple[str, str]:
        """HGVS prefixes for positions in intron ``k`` (genomic order) counted from the
        exon on the left (``…+``/``…-``) and from the exon on the right."""
        got = self._introns.get(k)
        if got is None:
            ctx, pre = self.ctx, self.hgvs_prefix
            if ctx.tx.strand == 1:
                cl = ctx.cstart[k] + ctx.ge[k] - ctx.gs[k]
                cr = ctx.cstart[k + 1]
                got = (f"{pre}{ctx.cpos(cl, False)}+", f"{pre}{ctx.cpos(cr, False)}-")
            else:
                cl = ctx.cstart[k]
                cr = ctx.cstart[k + 1] + ctx.ge[k + 1] - ctx.gs[k + 1]
                got = (f"{pre}{ctx.cpos(cl, False)}-", f"{pre}{ctx.cpos(cr, False)}+")
            self._introns[k] = got
        return got


def _entry(al_label: str, info: _TxInfo, res: TranscriptConsequence, pick: bool) -> str:
    return "|".join((
        al_label, res.consequence, res.impact, info.mid, res.exon, res.intron, res.hgvsc,
        res.hgvsp, res.cdna_position, res.cds_position, res.protein_position,
        res.amino_acids, res.codons, info.strand, res.distance, "&".join(res.flags),
        res.hgvs_offset, info.tail + ("1" if pick else ""),
    ))


_INTERGENIC_TAIL = "|intergenic_variant|MODIFIER" + "|" * (len(CSQ_FIELDS) - 3)


class Annotator:
    """Annotate alleles against transcript models and a reference.

    Pairs that need no sequence work (up/downstream, deep intronic) are classified and
    formatted for a whole batch at once (:mod:`genoma.annotate.fastpath`); the others go
    through :func:`~genoma.annotate.consequence.annotate_allele`. ``per_pair=True``
    sends every pair through the per-pair path (the reference the fast path is tested
    against).

    Parameters
    ----------
    transcripts
        The models (e.g. from :func:`read_transcripts`).
    reference
        The reference sequence.
    per_pair
        Disable the vectorised fast path.
    """

    #: Records of a batch more than this many bases apart (transcripts they touch
    #: included) are annotated in separate groups, each reading only its own reference
    #: window (:meth:`annotate_flat`). Reading 1 Mb of bgzip FASTA costs 1.4–4.4 ms, a
    #: group ≈ 0.1–0.3 ms of fixed work: on chr21's genes the run time is flat from
    #: 64 kb to 1 Mb (docs/bench/annotate.md, "Reference windows").
    max_gap: int = 1 << 18

    def __init__(self, transcripts: list[Transcript], reference: Reference, *, per_pair: bool = False):
        self.transcripts = transcripts
        self.index = TranscriptIndex(transcripts)
        self.arrays = TranscriptArrays(transcripts)
        self.reference = reference
        self.per_pair = per_pair
        self._info: dict[int, _TxInfo] = {}
        self._chrom: str | None = None

    def _tx(self, i: int, chrom_seq: str, offset: int) -> _TxInfo:
        """The transcript's shared strings and context, its sequence set to the window."""
        info = self._info.get(i)
        if info is None:
            info = self._info[i] = _TxInfo(TranscriptContext(self.transcripts[i], chrom_seq, offset))
        else:
            info.ctx.seq, info.ctx.off = chrom_seq, offset
        return info

    def annotate_batch(self, chrom: str, positions: list[int], refs: list[str],
                       alts: list[list[str]]) -> Iterator[tuple[bool, list[str]]]:
        """Annotate records of one chromosome.

        Yields, per record, ``(ref_matches_fasta, csq_entries)``.
        """
        oks, entries, bounds = self.annotate_flat(chrom, positions, refs, alts)
        for j, ok in enumerate(oks):
            yield ok, entries[bounds[j]:bounds[j + 1]]

    def _alleles(self, positions: list[int], refs: list[str], alts: list[list[str]] | list[str]) -> tuple[
            list[int], np.ndarray, np.ndarray, list[str], list[str], list[str], np.ndarray]:
        """Alleles of a batch in VEP's convention, flat, in record order.

        Biallelic SNV records (most of a VCF) are handled in bulk; the others through
        :func:`~genoma.annotate.consequence.vep_alleles`.

        Returns
        -------
        tuple
            ``(a_first, vs, ve, ref, alt, label, snv)``: first allele of each record
            (length ``len(positions) + 1``), starts, ends, genomic-strand alleles, CSQ
            labels and "one base replaced by another" per allele.
        """
        n = len(positions)
        rl = np.fromiter(map(len, refs), np.int64, n)
        text = bool(n) and isinstance(alts[0], str)  # the VCF ALT column
        alt1 = alts if text else [a[0] if len(a) == 1 else "" for a in alts]
        simple = (rl == 1) & (np.fromiter(map(len, alt1), np.int64, n) == 1)  # biallelic SNVs
        if text:
            simple &= np.fromiter(map(".".__ne__, alt1), bool, n)
        count = np.ones(n, np.int64)
        rest = np.flatnonzero(~simple).tolist()
        r_vs: list[int] = []
        r_ve: list[int] = []
        r_ref: list[str] = []
        r_alt: list[str] = []
        r_lab: list[str] = []
        r_snv: list[bool] = []
        for j in rest:
            p, r, als = positions[j], refs[j].upper(), alts[j]
            if text:
                als = [] if als == "." else als.split(",")  # type: ignore[union-attr]
            k0 = len(r_vs)
            if len(r) == 1 and all(len(a) == 1 for a in als):  # SNVs: nothing to strip
                for a in als:
                    a = a.upper()
                    r_vs.append(p)
                    r_ve.append(p)
                    r_ref.append(r)
                    r_alt.append(a)
                    r_lab.append(a)
                    r_snv.append(r != a)
            elif len(als) == 1:  # biallelic indel / MNV: vep_alleles for one ALT, inline
                a = als[0].upper()
                if r and a and a[0] == r[0] and len(a) != len(r):  # the shared anchor base goes
                    r, a, p = r[1:], a[1:], p + 1
                r_vs.append(p)
                r_ve.append(p + len(r) - 1)
                r_ref.append(r)
                r_alt.append(a)
                r_lab.append(a or "-")
                r_snv.append(len(r) == 1 and len(a) == 1 and r != a)
            else:
                for al in vep_alleles(p, r, als):
                    r_vs.append(al.start)
                    r_ve.append(al.end)
                    r_ref.append(al.ref)
                    r_alt.append(al.alt)
                    r_lab.append(al.label)
                    r_snv.append(len(al.ref) == 1 and len(al.alt) == 1 and al.ref != al.alt)
            count[j] = len(r_vs) - k0
        first = np.zeros(n + 1, np.int64)
        np.cumsum(count, out=first[1:])
        n_al = int(first[-1])
        sj = np.flatnonzero(simple)
        s_idx, r_idx = first[sj], np.flatnonzero(np.repeat(~simple, count))
        pos = np.fromiter(positions, np.int64, n)
        vs = np.empty(n_al, np.int64)
        ve = np.empty(n_al, np.int64)
        vs[s_idx] = ve[s_idx] = pos[sj]
        vs[r_idx] = r_vs
        ve[r_idx] = r_ve
        sjl = sj.tolist()
        s_ref = list("".join([refs[j] for j in sjl]).upper())
        s_alt = list("".join([alt1[j] for j in sjl]).upper())
        if len(s_ref) != len(sjl) or len(s_alt) != len(sjl):  # a character whose upper case is longer
            s_ref = [refs[j].upper() for j in sjl]
            s_alt = [alt1[j].upper() for j in sjl]
        a_ref = np.empty(n_al, object)
        a_alt = np.empty(n_al, object)
        a_lab = np.empty(n_al, object)
        a_ref[s_idx] = s_ref
        a_alt[s_idx] = a_lab[s_idx] = s_alt
        a_ref[r_idx] = r_ref
        a_alt[r_idx] = r_alt
        a_lab[r_idx] = r_lab
        snv = np.empty(n_al, bool)
        snv[s_idx] = np.asarray(s_ref, object) != np.asarray(s_alt, object) if sjl else []
        snv[r_idx] = r_snv
        return first.tolist(), vs, ve, a_ref.tolist(), a_alt.tolist(), a_lab.tolist(), snv

    def annotate_flat(self, chrom: str, positions: list[int], refs: list[str],
                      alts: list[list[str]] | list[str]) -> tuple[list[bool], list[str], list[int]]:
        """Annotate records of one chromosome; entries of all records in one list.

        Parameters
        ----------
        chrom
            Chromosome of every record.
        positions, refs, alts
            POS, REF and ALT alleles per record (a list of alleles per record, or the
            VCF ALT column as text: ``"A,T"``, ``"."``).

        Returns
        -------
        tuple
            ``(oks, entries, bounds)``: per record whether REF matches the FASTA; the
            CSQ entries of every record in record order; record ``j``'s entries are
            ``entries[bounds[j]:bounds[j + 1]]``.

        Notes
        -----
        The reference is read for the span of the records and of every transcript they
        touch (plus 100 bases). A batch whose records fall apart into groups more than
        :attr:`max_gap` bases apart (the span of the touched transcripts included, so no
        transcript spans a gap) is annotated group by group, each reading only its own
        window: an exome-like batch reads the windows around its genes, not the
        chromosome between them. The entries do not depend on the grouping.
        """
        c = canonical_chrom(chrom)
        if c != self._chrom:
            self._info.clear()
            self._chrom = c
        return self._flat(c, positions, refs, alts, True)

    def _flat(self, c: str, positions: list[int], refs: list[str], alts: list[list[str]] | list[str],
              split: bool) -> tuple[list[bool], list[str], list[int]]:
        """:meth:`annotate_flat` on canonical chromosome ``c``; ``split``: annotate groups
        of records separated by more than :attr:`max_gap` one by one."""
        # -- alleles (VEP convention), flat ------------------------------------------
        a_first, vs, ve, a_ref, a_alt, a_lab, a_snv_arr = self._alleles(positions, refs, alts)
        a_vs = vs.tolist()
        a_ve = ve.tolist()
        n_al = len(a_vs)
        qi, ti = self.index.query(c, vs - 1, ve + 1)
        pc = self.arrays.classify(vs[qi], ve[qi], ti)
        keep = pc.cls != PAIR_NONE
        if self.per_pair:
            pc.cls[keep] = PAIR_OTHER
        qi, ti = qi[keep], ti[keep]
        cls, dist = pc.cls[keep], pc.distance[keep]
        n_pairs = len(qi)
        touched = _unique(ti)
        # -- reference: only the span the batch needs ------------------------------------
        p0 = np.fromiter(positions, np.int64, len(positions)) - 1
        e0 = p0 + np.fromiter(map(len, refs), np.int64, len(refs))
        lo = min(int(p0.min()) + 1 if len(p0) else 1,
                 int(self.arrays.start[touched].min()) if len(touched) else 1 << 62)
        hi = max(int(e0.max()) + 1 if len(e0) else 0, int(self.arrays.end[touched].max()) if len(touched) else 0)
        if split and hi - lo > self.max_gap and len(positions) > 1:
            cuts = self._cuts(p0 + 1, e0, a_first, qi, ti)
            if cuts:
                return self._groups(c, positions, refs, alts, cuts)
        off, seq = self.reference.window(c, lo - 100, hi + 100) if positions else (0, "")
        if seq:
            joined = "".join(refs)
            up = refs if joined == joined.upper() else [r.upper() for r in refs]
            oks = list(map(operator.eq, map(seq.__getitem__, map(slice, (p0 - off).tolist(),
                                                                 (e0 - off).tolist())), up))
        else:
            oks = [True] * len(positions)
        infos = {t: self._tx(t, seq, off) for t in touched.tolist()}
        # -- per-pair path for the pairs that need sequence work ---------------------
        so = np.empty(n_pairs, np.int64)
        so[cls == PAIR_UP] = SO_RANK["upstream_gene_variant"]
        so[cls == PAIR_DOWN] = SO_RANK["downstream_gene_variant"]
        so[cls == PAIR_DEEP_INTRON] = SO_RANK["intron_variant"]
        slow: dict[int, TranscriptConsequence] = {}
        exon_fast = self._exon_snvs(np.flatnonzero(cls == PAIR_EXON_INNER), qi, ti, infos, a_vs, a_ref, a_alt)
        for k, (rank, _) in exon_fast.items():
            so[k] = rank
        other = np.flatnonzero((cls == PAIR_OTHER) | (cls == PAIR_EXON_INNER))
        other = other[[k not in exon_fast for k in other.tolist()]] if exon_fast else other
        for k, a, t in zip(other.tolist(), qi[other].tolist(), ti[other].tolist(), strict=True):
            al = Allele(a_vs[a], a_ve[a], a_ref[a], a_alt[a], a_lab[a])
            res = annotate_allele(al, infos[t].ctx)
            assert res is not None  # the transcript overlaps the allele
            slow[k] = res
            so[k] = SO_RANK.get(res.terms[0], 99) if res.terms else 99
        # -- pick one transcript per gene and allele (vectorised) ----------------------
        tlist = sorted(infos)
        order2 = sorted(range(len(tlist)), key=lambda i: infos[tlist[i]].static2)
        rank2 = np.empty(len(tlist), np.int64)
        rank2[np.asarray(order2, np.int64)] = np.arange(len(tlist), dtype=np.int64)
        genes: dict[str, int] = {}
        gene_of = np.asarray([genes.setdefault(infos[t].ctx.tx.gene_id, len(genes)) for t in tlist], np.int64)
        st1 = np.asarray([infos[t].static1 for t in tlist], np.int64)
        tpos = np.searchsorted(np.asarray(tlist, np.int64), ti)
        key = ((st1[tpos] * _PICK_TAIL + so) * max(len(tlist), 1) + rank2[tpos])
        pick = np.zeros(n_pairs, bool)
        if n_pairs:
            order = np.lexsort((key, gene_of[tpos], qi))
            g_sorted, q_sorted = gene_of[tpos][order], qi[order]
            head = np.ones(n_pairs, bool)
            head[1:] = (g_sorted[1:] != g_sorted[:-1]) | (q_sorted[1:] != q_sorted[:-1])
            pick[order[head]] = True
        # -- CSQ strings -----------------------------------------------------------------
        out = np.empty(n_pairs, object)
        qil, til, pickl = qi.tolist(), ti.tolist(), pick.tolist()
        for k, res in slow.items():
            out[k] = _entry(a_lab[qil[k]], infos[til[k]], res, pickl[k])
        for k, (_, text) in exon_fast.items():
            out[k] = f"{a_lab[qil[k]]}{text}{'1' if pickl[k] else ''}"
        lab = np.asarray(a_lab, object)
        pick_s = np.where(pick, "1", "").astype(object)
        for cval, term in ((PAIR_UP, "upstream_gene_variant"), (PAIR_DOWN, "downstream_gene_variant")):
            idx = np.flatnonzero(cls == cval)
            if not len(idx):
                continue
            tu, inv = np.unique(ti[idx], return_inverse=True)
            pre = np.asarray([f"|{term}|MODIFIER|{infos[t].mid}||||||||||{infos[t].strand}|" for t in tu.tolist()],
                             object)
            tail = np.asarray([f"|||{infos[t].tail}" for t in tu.tolist()], object)
            out[idx] = [f"{la}{p}{d}{ta}{pk}" for la, p, d, ta, pk in zip(
                lab[qi[idx]].tolist(), pre[inv].tolist(), dist[idx].tolist(), tail[inv].tolist(),
                pick_s[idx].tolist(), strict=True)]
        self._deep_intron(np.flatnonzero(cls == PAIR_DEEP_INTRON), qi, ti, pc.exon[keep], infos, pickl,
                          vs, a_ve, a_ref, a_alt, a_lab, out, lab, pick_s, a_snv_arr)
        # -- per record: an allele without transcripts gets intergenic_variant -----------
        bounds_a = np.searchsorted(qi, np.arange(n_al + 1))
        cnt = bounds_a[1:] - bounds_a[:-1]
        lone = np.flatnonzero(cnt == 0)
        if len(lone):
            e_first = np.zeros(n_al + 1, np.int64)
            np.cumsum(np.maximum(cnt, 1), out=e_first[1:])
            flat = np.empty(int(e_first[-1]), object)
            flat[e_first[qi] + np.arange(n_pairs) - bounds_a[qi]] = out
            flat[e_first[lone]] = [a_lab[a] + _INTERGENIC_TAIL for a in lone.tolist()]
            entries = flat.tolist()
        else:
            e_first = bounds_a
            entries = out.tolist()
        return oks, entries, e_first[np.asarray(a_first, np.int64)].tolist()

    def _cuts(self, lo: np.ndarray, hi: np.ndarray, a_first: list[int], qi: np.ndarray,
              ti: np.ndarray) -> list[int]:
        """Record indices ``j`` before which a batch splits: every record before ``j`` and
        the transcripts it touches end more than :attr:`max_gap` bases before every
        record from ``j`` on and its transcripts start (records in any order).

        ``lo``, ``hi``: per record its first and last base; ``qi``, ``ti``: the kept
        (allele, transcript) pairs, ``qi`` sorted.
        """
        lo, hi = lo.copy(), hi.copy()
        if len(qi):
            rec = np.searchsorted(np.asarray(a_first, np.int64), qi, side="right") - 1
            heads = np.flatnonzero(np.concatenate(([True], rec[1:] != rec[:-1])))
            r = rec[heads]
            lo[r] = np.minimum(lo[r], np.minimum.reduceat(self.arrays.start[ti], heads))
            hi[r] = np.maximum(hi[r], np.maximum.reduceat(self.arrays.end[ti], heads))
        left = np.maximum.accumulate(hi)[:-1]  # last base needed by records 0..j-1
        right = np.minimum.accumulate(lo[::-1])[::-1][1:]  # first base needed by records j..
        return (np.flatnonzero(right - left > self.max_gap) + 1).tolist()

    def _groups(self, c: str, positions: list[int], refs: list[str], alts: list[list[str]] | list[str],
                cuts: list[int]) -> tuple[list[bool], list[str], list[int]]:
        """Annotate the groups of records between ``cuts`` one by one (own windows)."""
        oks: list[bool] = []
        entries: list[str] = []
        bounds: list[int] = []
        for a, b in itertools.pairwise([0, *cuts, len(positions)]):
            o, e, bd = self._flat(c, positions[a:b], refs[a:b], alts[a:b], False)
            n = len(entries)
            oks += o
            entries += e
            bounds += [x + n for x in bd[:-1]]
        bounds.append(len(entries))
        return oks, entries, bounds

    def _exon_snvs(self, idx: np.ndarray, qi: np.ndarray, ti: np.ndarray, infos: dict[int, _TxInfo],
                   a_vs: list[int], a_ref: list[str], a_alt: list[str]) -> dict[int, tuple[int, str]]:
        """CSQ entries (without Allele and PICK) and SO rank of SNVs inside one exon, at
        least 3 bases from its edges, of a non-coding transcript or in a UTR: no splice
        term, no codon, HGVSc ``n.N`` / ``c.-N`` / ``c.*N``; or inside the CDS and changing
        one codon of a complete CDS (:func:`_coding_snv`). Other pairs are left out."""
        done: dict[int, tuple[int, str]] = {}
        for k, a, t in zip(idx.tolist(), qi[idx].tolist(), ti[idx].tolist(), strict=True):
            ref, alt = a_ref[a], a_alt[a]
            if len(ref) != 1 or len(alt) != 1 or ref == alt:
                continue
            info = infos[t]
            ctx = info.ctx
            tx = ctx.tx
            g = a_vs[a]
            terms = []
            if ctx.ccs is not None and ctx.cce is not None:
                cs, ce = tx.cds_start, tx.cds_end
                assert cs is not None and ce is not None
                if cs <= g <= ce:  # coding: the common codon changes here, the rest per pair
                    got = _coding_snv(info, g, ref, alt)
                    if got is not None:
                        done[k] = got
                    continue
                five = g < cs if tx.strand == 1 else g > ce
                terms.append("5_prime_UTR_variant" if five else "3_prime_UTR_variant")
            else:
                terms.append("non_coding_transcript_exon_variant")
            if tx.biotype == "nonsense_mediated_decay":
                terms.append("NMD_transcript_variant")
            ex = ctx.exon_at(g)
            c = ctx.g2c(g)
            assert ex >= 0 and c is not None
            if tx.strand != 1:
                ref, alt = _COMP1.get(ref) or revcomp(ref), _COMP1.get(alt) or revcomp(alt)
            done[k] = (SO_RANK[terms[0]], (
                f"|{'&'.join(terms)}|MODIFIER|{info.mid}|{ctx.rank(ex)}/{ctx.n}||{info.hgvs_prefix}"
                f"{ctx.cpos(c)}{ref}>{alt}||{c}|||||{info.strand}||{info.intron_flags}||{info.tail}"))
        return done

    def _deep_intron(self, idx: np.ndarray, qi: np.ndarray, ti: np.ndarray, exon: np.ndarray,
                     infos: dict[int, _TxInfo], pickl: list[bool], vs: np.ndarray, a_ve: list[int],
                     a_ref: list[str], a_alt: list[str], a_lab: list[str], out: np.ndarray,
                     lab: np.ndarray, pick_s: np.ndarray, a_snv: np.ndarray) -> None:
        """CSQ entries of deep intronic pairs: ``intron_variant`` (+ NMD / non-coding),
        intron number and an intronic HGVSc (SNVs formatted here from the distances to
        both exons, for all pairs at once; other alleles through the HGVS code with its 3'
        shifting)."""
        if not len(idx):
            return
        ex = self.arrays
        a_idx, t_idx, gi = qi[idx], ti[idx], exon[idx]
        pos = vs[a_idx]
        dl = pos - ex.exon_ends[gi]
        dr = ex.exon_starts[gi + 1] - pos
        plus = ex.strand[t_idx] == 1
        use_left = np.where(plus, dl <= dr, dl < dr)
        dist = np.where(use_left, dl, dr)
        # per intron: the text before the HGVS position ([right, left] anchor) and after it
        gu, first, inv = np.unique(gi, return_index=True, return_inverse=True)
        pres: list[str] = []
        heads: list[str] = []
        anchs: list[str] = []  # the same anchors without the text before them
        tails: list[str] = []
        tails2: list[str] = []
        for g, t in zip(gu.tolist(), t_idx[first].tolist(), strict=True):
            info = infos[t]
            ctx = info.ctx
            kl = g - int(ex.offset[t])
            n = ctx.n
            intron = kl + 1 if ctx.tx.strand == 1 else n - 1 - kl
            near_l, near_r = info.intron_anchors(kl)
            pre = f"|{info.intron_cons}|MODIFIER|{info.mid}||{intron}/{n - 1}|"
            pres.append(pre)
            heads += [pre + near_r, pre + near_l]
            anchs += [near_r[len(info.hgvs_prefix):], near_l[len(info.hgvs_prefix):]]
            tails.append(f"|||||||{info.strand}||{info.intron_flags}|")
            tails2.append(f"|||||||{info.strand}||{info.intron_flags}||{info.tail}")
        head = np.asarray(heads, object)
        tail2 = np.asarray(tails2, object)  # the whole end of an SNV's entry (no HGVS_OFFSET)
        snv = a_snv[a_idx]
        tx_tail = {t: "|" + infos[t].tail for t in _unique(t_idx).tolist()}
        for strand_sel, comp in ((plus, False), (~plus, True)):
            f = np.flatnonzero(snv & strand_sel)
            if not len(f):
                continue
            af = a_idx[f].tolist()
            refs, alts = list(map(a_ref.__getitem__, af)), list(map(a_alt.__getitem__, af))
            if comp:
                refs = list("".join(refs).translate(_COMP_T))
                alts = list("".join(alts).translate(_COMP_T))
            out[idx[f]] = [f"{la}{h}{d}{r}>{x}{ta}{pk}" for la, h, d, r, x, ta, pk in zip(
                lab[a_idx[f]].tolist(), head[2 * inv[f] + use_left[f]].tolist(), dist[f].tolist(), refs, alts,
                tail2[inv[f]].tolist(), pick_s[idx[f]].tolist(), strict=True)]
        rest = np.flatnonzero(~snv)
        if not len(rest):
            return
        # indels (and MNVs): the 3' shift per allele and strand, then every pair whose
        # shifted allele stays inside its intron is formatted from the distances as above
        ctx0 = infos[int(t_idx[0])].ctx  # every context of the batch holds the same window
        seq, off = ctx0.seq, ctx0.off
        anchors = np.asarray(anchs, object)
        r_fwd = plus[rest]
        u_key, u_inv = np.unique(a_idx[rest] * 2 + r_fwd, return_inverse=True)
        sh = [_shift_indel(seq, off, int(vs[k >> 1]), a_ve[k >> 1], a_ref[k >> 1], a_alt[k >> 1], bool(k & 1))
              for k in u_key.tolist()]
        none = (0, 0, 0, 0, "", 0)
        u_a, u_b, u_steps, u_room0, u_suffix, u_ok = (list(x) for x in zip(*(h or none for h in sh), strict=True))
        ga, gb = np.asarray(u_a, np.int64)[u_inv], np.asarray(u_b, np.int64)[u_inv]
        steps = np.asarray(u_steps, np.int64)[u_inv]
        room0 = np.asarray(u_room0, np.int64)[u_inv]  # end0 / after0 (plus), start0 / after0 (minus)
        t_r, g_r = t_idx[rest], gi[rest]
        room = np.where(r_fwd, ex.end[t_r] - room0, room0 - (ex.start[t_r] - 1))
        i_s, i_e = ex.exon_ends[g_r] + 1, ex.exon_starts[g_r + 1] - 1
        good = (np.asarray(u_ok, bool)[u_inv] & (steps <= room) & (np.minimum(ga, gb) >= i_s)
                & (np.maximum(ga, gb) <= i_e))

        def where(g: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            dl, dr = g - ex.exon_ends[g_r], ex.exon_starts[g_r + 1] - g
            left = np.where(r_fwd, dl <= dr, dl < dr)
            return 2 * inv[rest] + left, np.where(left, dl, dr)

        (ha, da), (hb, db) = where(ga), where(gb)
        f = np.flatnonzero(good)
        if len(f):
            kk, aa, tt = idx[rest[f]], a_idx[rest[f]], t_idx[rest[f]]
            two = (ga != gb)[f].tolist()
            offs = np.where(r_fwd[f], steps[f], -steps[f]).tolist()
            out[kk] = [
                f"{la}{h}{d}{'_' + hb_ + str(db_) if w else ''}{u_suffix[u]}{tails[g]}"
                f"{o if o else ''}|{tt_}{pk}"
                for la, g, h, d, w, hb_, db_, u, o, tt_, pk in zip(
                    lab[aa].tolist(), inv[rest[f]].tolist(), head[ha[f]].tolist(), da[f].tolist(), two,
                    anchors[hb[f]].tolist(), db[f].tolist(), u_inv[f].tolist(), offs,
                    [tx_tail[t][1:] for t in tt.tolist()], pick_s[kk].tolist(), strict=True)]
        for j in rest[~good].tolist():
            k, a, t = int(idx[j]), int(a_idx[j]), int(t_idx[j])
            res = TranscriptConsequence([])
            _hgvs(Allele(int(vs[a]), a_ve[a], a_ref[a], a_alt[a], a_lab[a]), infos[t].ctx, res)
            g = int(inv[j])
            out[k] = (f"{a_lab[a]}{pres[g]}{res.hgvsc}{tails[g]}"
                      f"{res.hgvs_offset}|{infos[t].tail}{'1' if pickl[k] else ''}")


def _shift_indel(seq: str, off: int, start: int, end: int, ref: str, alt: str,
                 fwd: bool) -> tuple[int, int, int, int, str, bool] | None:
    """The 3'-shifted HGVS description of a deletion or insertion, independent of the
    transcript (as :func:`~genoma.annotate.consequence._hgvs` computes it with the
    whole sequence as bounds).

    ``seq`` is a window of the chromosome starting at 0-based ``off``. When the shift
    or the duplication test reaches an end of the window, the description depends on
    bases outside it: ``None`` then (the caller's per-pair path decides; the window
    covers every transcript of the batch with a margin, so that is rare).

    Returns
    -------
    tuple or None
        ``(A, B, steps, room0, suffix, True)``: the genomic positions written first and
        second (``A == B``: one position), the bases shifted, the 0-based coordinate the
        transcript bound limits (shift valid for a transcript when ``steps`` does not
        exceed its room) and the text after the positions (``del``, ``dup``,
        ``ins…``); ``None`` for alleles that are not a pure deletion / insertion.
    """
    start, ref, alt = _trim(start, ref, alt)
    size = len(seq)
    if ref and not alt:
        s0 = start - 1 - off  # in the window
        e0 = s0 + len(ref)
        if s0 < 0 or e0 > size:
            return None
        n0, n1 = shift_deletion(seq, s0, e0, fwd, 0, size)
        if (n1 >= size) if fwd else (n0 <= 0):
            return None
        g_s, g_e = n0 + 1 + off, n1 + off
        a, b = (g_s, g_e) if fwd else (g_e, g_s)
        return a, b, abs(n0 - s0), (e0 if fwd else s0) + off, "del", True
    if alt and not ref:
        after0 = start - 1 - off
        if after0 < 0 or after0 > size:
            return None
        p0, ins = shift_insertion(seq, after0, alt, fwd, 0, size)
        n = len(ins)
        if (p0 >= size or p0 - n < 0) if fwd else (p0 <= 0 or p0 + n > size):
            return None
        steps = p0 - after0 if fwd else after0 - p0
        after0 += off
        if fwd:
            if seq[p0 - n:p0] == ins:
                return p0 - n + 1 + off, p0 + off, steps, after0, "dup", True
            return p0 + off, p0 + 1 + off, steps, after0, "ins" + ins, True
        if seq[p0:p0 + n] == ins:
            return p0 + n + off, p0 + 1 + off, steps, after0, "dup", True
        return p0 + 1 + off, p0 + off, steps, after0, "ins" + revcomp(ins), True
    return None


def _coding_snv(info: _TxInfo, g: int, ref: str, alt: str) -> tuple[int, str] | None:
    """SO rank and CSQ entry (without Allele and PICK) of an SNV at genomic ``g`` inside
    the CDS, at least 3 bases from its exon's edges: missense, synonymous or stop gained.

    Only the plain case is handled: a complete CDS (ATG start, stop at the end, no
    ``cds_start_NF`` / ``cds_end_NF``), nuclear code, a codon after the first and before
    the stop, unambiguous bases, REF equal to the reference. Then the fields equal
    :func:`~genoma.annotate.consequence.annotate_allele`'s (HGVSp of the single residue
    change, ``p.(=)`` as ``%3D``); every other case returns ``None`` (per-pair path).
    """
    ctx = info.ctx
    tx = ctx.tx
    if (ctx.start_nf or ctx.end_nf or tx.chrom == "chrM" or ref not in _ACGT or alt not in _ACGT
            or ctx.ccs is None):
        return None
    c = ctx.g2c(g)
    if c is None:
        return None
    cds_pos = c - ctx.ccs + 1 + ctx.pad
    tstart = (cds_pos - 1) // 3 + 1
    protein = ctx.protein
    if tstart < 2 or tstart >= len(protein):
        return None
    cod0 = 3 * (tstart - 1)
    codon = ctx.cds[cod0:cod0 + 3]
    rel = cds_pos - 1 - cod0
    fwd = tx.strand == 1
    ref_tx, alt_tx = (ref, alt) if fwd else (_COMP1[ref], _COMP1[alt])
    if len(codon) != 3 or codon[rel] != ref_tx:
        return None
    alt_codon = codon[:rel] + alt_tx + codon[rel + 1:]
    ref_pep, alt_pep = CODON_TABLE.get(codon, "X"), CODON_TABLE.get(alt_codon, "X")
    if ref_pep in "X*" or alt_pep == "X" or protein[tstart - 1] != ref_pep:
        return None
    if alt_pep == "*":
        term, p, aa = "stop_gained", f"{AA3[ref_pep]}{tstart}Ter", f"{ref_pep}/*"
    elif alt_pep == ref_pep:
        term, p, aa = "synonymous_variant", f"{AA3[ref_pep]}{tstart}%3D", ref_pep
    else:
        term, p, aa = "missense_variant", f"{AA3[ref_pep]}{tstart}{AA3[alt_pep]}", f"{ref_pep}/{alt_pep}"
    terms = [term, "NMD_transcript_variant"] if tx.biotype == "nonsense_mediated_decay" else [term]
    hgvsp = f"{tx.versioned_protein_id}:p.{p}" if tx.protein_id is not None else ""
    rc, ac = codon.lower(), alt_codon.lower()
    codons = f"{rc[:rel]}{ref_tx}{rc[rel + 1:]}/{ac[:rel]}{alt_tx}{ac[rel + 1:]}"
    return SO_RANK[term], (
        f"|{'&'.join(terms)}|{IMPACT[term]}|{info.mid}|{ctx.rank(ctx.exon_at(g))}/{ctx.n}||"
        f"{info.hgvs_prefix}{cds_pos}{ref if fwd else ref_tx}>{alt if fwd else alt_tx}|{hgvsp}|{c}|{cds_pos}|"
        f"{tstart}|{aa}|{codons}|{info.strand}||||{info.tail}")


_ACGT = frozenset("ACGT")
_COMP1 = {"A": "T", "C": "G", "G": "C", "T": "A", "N": "N"}
_COMP_T = str.maketrans("ACGTNacgtnRYKMSWBDHVrykmswbdhv", "TGCANtgcanYRMKSWVHDByrmkswvhdb")


def _is_bcf(path: Path) -> bool:
    import pysam

    with pysam.BGZFile(str(path), "rb") as fh:
        return fh.read(3) == b"BCF"


def _header_line(d: dict[str, str], kind: str) -> str:
    inner = ",".join(f'{k}="{v}"' if k == "Description" else f"{k}={v}" for k, v in d.items())
    return f"##{kind}=<{inner}>"


_REF_MISMATCH = {"ID": "REF_MISMATCH", "Description": "REF allele disagrees with the reference FASTA"}


def annotate_vcf(vcf_in: str | Path, fasta: str | Path, transcripts: str | Path,
                 out: str | Path, *, batch: int = 20000, force: bool = False,
                 threads: int = 2, compress_level: int | None = None, workers: int = 1,
                 extender: CsqExtender | None = None) -> AnnotationStats:
    """Annotate ``vcf_in`` and write ``out`` (bgzip VCF when it ends in ``.gz``).

    Text VCFs (plain, gzip, bgzip) are streamed as text: columns other than FILTER and
    INFO pass through unchanged, and the output is compressed in BGZF blocks on
    ``threads`` threads. BCF input is read with cyvcf2.

    Parameters
    ----------
    vcf_in
        Input VCF / BCF (sorted by chromosome for efficiency, not required).
    fasta
        Indexed reference FASTA of the same build.
    transcripts
        GFF3 / GTF transcript models.
    out
        Output path; written to a temporary file and renamed.
    batch
        Records per annotation batch.
    force
        Overwrite an existing output.
    threads
        Compression threads for a ``.gz`` output.
    compress_level
        zlib level (0-9) of a ``.gz`` output; ``None``: ISA-L level 2 when ``isal`` is
        installed (fast, ≈ 25 % larger than zlib 6), else zlib 6 (htslib's default).
    workers
        Annotation processes for text VCFs (``fork`` start method, POSIX): batches are
        annotated in parallel and written in input order. ``1``: in this process.
    extender
        Appends fields to every CSQ entry (declared after :data:`CSQ_FIELDS`), run in
        this process on each annotated batch (e.g. ClinVar / frequencies / ACMG).

    Returns
    -------
    AnnotationStats

    Raises
    ------
    InputMissingError, MalformedInputError, UsageError
    """
    vcf_in, out = Path(vcf_in), Path(out)
    if not vcf_in.exists():
        raise InputMissingError("input VCF not found", path=vcf_in)
    if out.exists() and not force:
        raise UsageError(f"output {out} exists (use --force to overwrite)")
    try:
        bcf = _is_bcf(vcf_in)
    except (OSError, ValueError) as exc:
        raise MalformedInputError(f"cannot read VCF: {exc}", path=vcf_in) from None
    with _gc_paused():
        models = load_transcripts(transcripts)
        ref = Reference(fasta)
        ann = Annotator(models, ref)
        if extender is not None:
            extender.bind(ann)
        tmp = out.with_name(out.name + ".tmp" + (".gz" if out.suffix == ".gz" else ""))
        try:
            if bcf:
                stats = _annotate_cyvcf2(vcf_in, tmp, out.suffix == ".gz", ann, ref, batch, extender)
            else:
                stats = _annotate_text(vcf_in, tmp, out.suffix == ".gz", ann, ref, batch, threads,
                                       compress_level, workers, extender)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise
    os.replace(tmp, out)
    return stats


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Automatic cyclic garbage collection off while annotating (restored afterwards).

    A batch keeps ≈ 10⁵ lists and strings alive (records, CSQ entries): the collector's
    full passes over them cost ≈ 10 % of the run and find nothing, since the annotation
    creates no reference cycles. With an extender (ClinVar, ACMG: other code), young
    objects are still collected after each batch (:func:`_collect_young`), so cycles it
    makes cannot pile up.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def _collect_young() -> None:
    """Collect the youngest generation when automatic collection is off."""
    if not gc.isenabled():
        gc.collect(0)


def _text_lines(path: Path, chunk: int = 1 << 22) -> Iterator[str]:
    """Lines of a plain / gzip / bgzip text file, read in large chunks."""
    for lines in _text_chunks(path, chunk):
        yield from lines


_FIRST, _SECOND, _REF, _ALT, _INFO = (operator.itemgetter(i) for i in (0, 1, 3, 4, 7))


def _text_chunks(path: Path, chunk: int = 1 << 22) -> Iterator[list[str]]:
    """Lines of a plain / gzip / bgzip text file, a list per chunk of ``chunk`` bytes read."""
    import pysam

    with pysam.BGZFile(str(path), "rb") as fh:
        rest = b""
        while True:
            data = fh.read(chunk)
            if not data:
                break
            data = rest + data
            cut = data.rfind(b"\n")
            if cut < 0:
                rest = data
                continue
            rest = data[cut + 1:]
            yield data[:cut].decode("utf-8", errors="replace").split("\n")
        if rest:
            yield rest.decode("utf-8", errors="replace").split("\n")


_WORKER: Annotator | None = None  # the annotator a forked worker inherits


def _worker_init(fasta: str) -> None:
    assert _WORKER is not None
    _WORKER.reference = Reference(fasta)  # own file handle: offsets are not shared after fork


def _worker_batch(job: tuple[str, list[int], list[str], list[list[str]]]) -> list[tuple[bool, int, str]]:
    assert _WORKER is not None
    return [(ok, len(e), ",".join(e)) for ok, e in _WORKER.annotate_batch(*job)]


def _annotate_text(vcf_in: Path, tmp: Path, gz: bool, ann: Annotator, ref: Reference, batch: int,
                   threads: int, level: int | None, workers: int = 1,
                   extender: CsqExtender | None = None) -> AnnotationStats:
    from collections import deque

    global _WORKER
    stats = AnnotationStats()
    pool = None
    if workers > 1:
        import multiprocessing as mp

        if "fork" in mp.get_all_start_methods():
            _WORKER = ann  # forked before any thread starts
            pool = mp.get_context("fork").Pool(workers, initializer=_worker_init, initargs=(str(ref.path),))
    writer = BgzfWriter(tmp, level=level, threads=threads) if gz else open(tmp, "w")
    has_ref: dict[str, bool] = {}
    buf: list[list[str]] = []
    lines: list[str] = []
    pending: deque = deque()

    def job(fields: list[list[str]]) -> tuple[str, list[int], list[str], list[list[str]]]:
        return (fields[0][0], list(map(int, map(_SECOND, fields))), [f[3] for f in fields],
                [[] if f[4] == "." else f[4].split(",") for f in fields])

    def emit(fields: list[list[str]], res) -> None:
        if extender is not None:
            res = list(res)
            j = job(fields)
            ext = extender.extend(j[0], j[1], j[2], j[3], [csq.split(",") if n else [] for _, n, csq in res])
            res = [(ok, len(e), ",".join(e)) for (ok, _, _), e in zip(res, ext, strict=True)]
        out: list[str] = []
        for f, (ok, n, csq) in zip(fields, res, strict=True):
            stats.alleles += 0 if f[4] == "." else f[4].count(",") + 1
            stats.ref_mismatch += not ok
            stats.entries += n
            out.append(_record_parts(f, ok, n, csq))
        writer.write("".join(out))

    def flush(final: bool = False) -> None:
        if buf:
            fields = buf.copy()
            buf.clear()
            text = lines.copy()
            lines.clear()
            if pool is None and extender is None:
                alt_col = list(map(_ALT, fields))
                stats.alleles += sum(map(str.count, alt_col, itertools.repeat(","))) + len(alt_col) \
                    - alt_col.count(".")
                flat = ann.annotate_flat(fields[0][0], list(map(int, map(_SECOND, fields))),
                                         list(map(_REF, fields)), alt_col)
                writer.write(_block_text(fields, text, *flat, stats))
            elif pool is None:
                emit(fields, ((ok, len(e), ",".join(e)) for ok, e in ann.annotate_batch(*job(fields))))
            else:
                pending.append((fields, pool.apply_async(_worker_batch, (job(fields),))))
            if extender is not None:
                _collect_young()
        while pending and (final or len(pending) > 2 * workers):
            fields, fut = pending.popleft()
            emit(fields, fut.get())

    header_done = False

    def add(fs: list[list[str]], ls: list[str]) -> None:
        """Queue records of one chromosome (batches end at ``batch`` records or a new chromosome)."""
        c, i = fs[0][0], 0
        while i < len(fs):
            if buf and (c != buf[0][0] or len(buf) >= batch):
                flush()
            take = min(len(fs) - i, batch - len(buf))
            buf.extend(fs[i:i + take])
            lines.extend(ls[i:i + take])
            i += take

    def one(n: int, line: str) -> None:
        """Handle line ``n`` (1-based) on its own: header lines, checks, records."""
        nonlocal header_done
        if not line:
            return
        if line[0] == "#":
            if header_done:
                raise MalformedInputError("header line after records", path=vcf_in, line=n)
            if line.startswith("##INFO=<ID=CSQ,") or line.startswith("##FILTER=<ID=REF_MISMATCH,"):
                return
            if line.startswith("#CHROM"):
                line = "\n".join((_header_line(csq_header(extender.fields if extender else None), "INFO"),
                                  _header_line(_REF_MISMATCH, "FILTER"), line))
                header_done = True
            writer.write(line + "\n")
            return
        if not header_done:
            raise MalformedInputError("VCF record before the #CHROM header line", path=vcf_in, line=n)
        f = line.split("\t", 8)
        if len(f) < 8 or not f[1].isdigit():
            raise MalformedInputError("VCF record needs 8 tab-separated columns and an integer POS",
                                      path=vcf_in, line=n)
        count([f])
        add([f], [line])

    def count(fs: list[list[str]]) -> None:
        stats.records += len(fs)
        for chrom in set(map(_FIRST, fs)):
            known = has_ref.get(chrom)
            if known is None:
                known = has_ref[chrom] = ref.has(chrom)
            if not known:
                stats.chrom_missing.add(chrom)

    try:
        n0 = 0  # lines before the chunk
        for chunk in _text_chunks(vcf_in):
            i0 = 0
            if not header_done:
                for i0, line in enumerate(chunk, 1):
                    one(n0 + i0, line)
                    if header_done:
                        break
                else:
                    i0 = len(chunk)
            recs = chunk[i0:] if i0 else chunk
            # records in bulk; a chunk with anything unusual (empty or '#' lines, short
            # records, non-numeric POS) goes line by line, so errors name the first bad line
            fs = [ln.split("\t", 8) for ln in recs] if recs and "" not in recs else None
            if (fs is None or "#" in set(map(_FIRST, recs)) or min(map(len, fs)) < 8
                    or not all(map(str.isdigit, map(_SECOND, fs)))):
                for i, line in enumerate(recs, n0 + i0 + 1):
                    one(i, line)
            else:
                count(fs)
                chroms = list(map(_FIRST, fs))
                cuts = [0, *(i for i in range(1, len(chroms)) if chroms[i] != chroms[i - 1]), len(fs)] \
                    if len(set(chroms)) > 1 else [0, len(fs)]
                for a, b in itertools.pairwise(cuts):
                    add(fs[a:b], recs[a:b])
            n0 += len(chunk)
        if not header_done:
            raise MalformedInputError("no #CHROM header line", path=vcf_in)
        flush(final=True)
    finally:
        writer.close()
        if pool is not None:
            pool.terminate()
            pool.join()
            _WORKER = None
    return stats


def _record_parts(f: list[str], ok: bool, n: int, csq: str) -> str:
    """The output line of one record (``csq``: its entries joined; ``n``: how many)."""
    if not ok:
        f[6] = "REF_MISMATCH" if f[6] in (".", "PASS", "") else f[6] + ";REF_MISMATCH"
    if n:
        csq = "CSQ=" + csq
        info = f[7]
        if info in (".", ""):
            f[7] = csq
        elif info.startswith("CSQ=") or ";CSQ=" in info:
            f[7] = ";".join(csq if kv.startswith("CSQ=") else kv for kv in info.split(";"))
        else:
            f[7] = info + ";" + csq
    return "\t".join(f) + "\n"


def _block_text(fields: list[list[str]], lines: list[str], oks: list[bool], entries: list[str],
                bounds: list[int], stats: AnnotationStats) -> str:
    """Output text of a batch of records (one string, built with one ``join``).

    The common record (REF matches, INFO ``.`` or without CSQ, no FORMAT / samples) is
    its input line with ``CSQ=`` and its entries appended; every other record is built
    by :func:`_record_parts`. The pieces (line heads, entries, separators) are placed in
    one object array by index, so that no per-entry Python loop runs.
    """
    n = len(fields)
    b = np.asarray(bounds, np.int64)
    cnt = b[1:] - b[:-1]
    n_ent = int(b[-1]) if n else 0
    stats.entries += n_ent
    parts = np.full(n + 2 * n_ent, ",", object)
    rec = np.repeat(np.arange(n, dtype=np.int64), cnt)
    parts[rec + 1 + 2 * np.arange(n_ent, dtype=np.int64)] = entries
    has = cnt > 0
    info = list(map(_INFO, fields)) if n and max(map(len, fields)) == 8 else None
    if info is not None and info.count(".") == n and False not in oks and bool(has.all()):
        heads: list[str | None] = [ln[:-1] + "CSQ=" for ln in lines]  # sites-only VCF, INFO '.'
    else:
        heads = [(ln[:-1] + "CSQ=" if f[7] == "." else ln + ";CSQ=")
                 if ok and len(f) == 8 and k and (f[7] == "." or (f[7] and "CSQ=" not in f[7])) else None
                 for f, ln, ok, k in zip(fields, lines, oks, has.tolist(), strict=True)]
    start = np.arange(n, dtype=np.int64) + 2 * b[:-1]
    parts[start] = heads
    parts[(np.arange(n, dtype=np.int64) + 2 * b[1:])[has]] = "\n"
    for j in [j for j, h in enumerate(heads) if h is None] if None in heads else ():
        # the general case: the whole line in the record's first slot
        if not oks[j]:
            stats.ref_mismatch += 1
        parts[start[j]:start[j] + 1 + 2 * cnt[j]] = ""
        parts[start[j]] = _record_parts(fields[j], oks[j], int(cnt[j]), ",".join(entries[b[j]:b[j + 1]]))
    return "".join(parts.tolist())


def _annotate_cyvcf2(vcf_in: Path, tmp: Path, gz: bool, ann: Annotator, ref: Reference,
                     batch: int, extender: CsqExtender | None = None) -> AnnotationStats:
    from cyvcf2 import VCF, Writer

    try:
        reader = VCF(str(vcf_in))
    except (OSError, ValueError) as exc:
        raise MalformedInputError(f"cannot read VCF: {exc}", path=vcf_in) from None
    # an input already annotated (e.g. by VEP) declares its own CSQ Format: replace it,
    # otherwise the header would describe the old fields
    if "##INFO=<ID=CSQ," in reader.raw_header:
        reader.remove_header("CSQ")
    reader.add_info_to_header(csq_header(extender.fields if extender else None))
    reader.add_filter_to_header(_REF_MISMATCH)
    writer = Writer(str(tmp), reader, mode="wz" if gz else "w")
    stats = AnnotationStats()
    buf: list = []

    def flush() -> None:
        if not buf:
            return
        chrom = buf[0].CHROM
        res = ann.annotate_batch(chrom, [v.POS for v in buf], [v.REF for v in buf], [v.ALT for v in buf])
        if extender is not None:
            res = list(res)
            ext = extender.extend(chrom, [v.POS for v in buf], [v.REF for v in buf], [v.ALT for v in buf],
                                  [e for _, e in res])
            res = [(ok, e) for (ok, _), e in zip(res, ext, strict=True)]
        for v, (ok, entries) in zip(buf, res, strict=True):
            stats.alleles += len(v.ALT)
            if not ok:
                stats.ref_mismatch += 1
                filt = v.FILTER
                v.FILTER = ([*filt.split(";")] if filt else []) + ["REF_MISMATCH"]
            if entries:
                v.INFO["CSQ"] = ",".join(entries)
                stats.entries += len(entries)
            writer.write_record(v)
        buf.clear()
        if extender is not None:
            _collect_young()

    try:
        for v in reader:
            stats.records += 1
            if not ref.has(v.CHROM):
                stats.chrom_missing.add(v.CHROM)
            if buf and (v.CHROM != buf[0].CHROM or len(buf) >= batch):
                flush()
            buf.append(v)
        flush()
    finally:
        writer.close()
        reader.close()
    return stats
