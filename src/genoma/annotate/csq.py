"""Annotate a VCF: one VEP-style ``CSQ`` entry per ALT allele × transcript.

The ``CSQ`` INFO field is declared as Ensembl VEP declares it (``Consequence annotations
from genoma. Format: Allele|Consequence|…``) so that tools reading VEP output
(``bcftools +split-vep``, slivar, …) read genoma's. Records whose REF disagrees with the
reference FASTA get the FILTER ``REF_MISMATCH`` (declared in the header) and are still
annotated from the VCF alleles.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np

from genoma.annotate.bgzf import BgzfWriter
from genoma.annotate.consequence import (
    SO_RANK,
    Allele,
    TranscriptConsequence,
    TranscriptContext,
    _hgvs,
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
from genoma.annotate.model_cache import load_transcripts
from genoma.annotate.sequence import Reference, revcomp
from genoma.annotate.transcripts import Transcript, TranscriptIndex
from genoma.errors import InputMissingError, MalformedInputError, UsageError
from genoma.model.variant import canonical_chrom

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


_PICK_TAIL = 128  # > any SO rank (99 for none): integer pick keys stay lexicographic


class _TxInfo:
    """Per-transcript strings and keys shared by all its CSQ entries (built once)."""

    __slots__ = (
        "_introns",
        "ctx",
        "hgvs_prefix",
        "intron_cons",
        "intron_flags",
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
        self.tail = (f"{'YES' if tx.is_canonical else ''}|{'YES' if tx.is_mane_select else ''}|"
                     f"{tx.versioned_protein_id}|")
        self.strand = str(tx.strand)
        coding = ctx.ccs is not None and ctx.cce is not None
        terms = ["intron_variant"]
        if tx.biotype == "nonsense_mediated_decay":
            terms.append("NMD_transcript_variant")
        if not coding:
            terms.append("non_coding_transcript_variant")
        self.intron_cons = "&".join(sorted(terms, key=SO_RANK.__getitem__))
        flags = []
        if ctx.start_nf:
            flags.append("cds_start_NF")
        if coding and ctx.end_nf:
            flags.append("cds_end_NF")
        self.intron_flags = "&".join(flags)
        # pick order: MANE Select, canonical, protein coding | SO rank | longest CDS, cDNA, id
        self.static1 = ((0 if tx.is_mane_select else 1) * 4 + (0 if tx.is_canonical else 1) * 2
                        + (0 if tx.biotype == "protein_coding" else 1))
        cds_len = ctx.pad + ctx.cce - ctx.ccs + 1 if coding else 0  # type: ignore[operator]
        self.static2 = (-cds_len, -ctx.length, tx.id)
        self.hgvs_prefix = f"{tx.versioned_id}:{'c' if ctx.ccs is not None else 'n'}."
        self._introns: dict[int, tuple[str, str]] = {}

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

    def __init__(self, transcripts: list[Transcript], reference: Reference, *, per_pair: bool = False):
        self.transcripts = transcripts
        self.index = TranscriptIndex(transcripts)
        self.arrays = TranscriptArrays(transcripts)
        self.reference = reference
        self.per_pair = per_pair
        self._info: dict[int, _TxInfo] = {}
        self._chrom: str | None = None

    def _tx(self, i: int, chrom_seq: str) -> _TxInfo:
        info = self._info.get(i)
        if info is None:
            info = self._info[i] = _TxInfo(TranscriptContext(self.transcripts[i], chrom_seq))
        return info

    def annotate_batch(self, chrom: str, positions: list[int], refs: list[str],
                       alts: list[list[str]]) -> Iterator[tuple[bool, list[str]]]:
        """Annotate records of one chromosome.

        Yields, per record, ``(ref_matches_fasta, csq_entries)``.
        """
        c = canonical_chrom(chrom)
        if c != self._chrom:
            self._info.clear()
            self._chrom = c
        # -- alleles (VEP convention), flat ------------------------------------------
        a_first = [0] * (len(positions) + 1)
        a_vs: list[int] = []
        a_ve: list[int] = []
        a_ref: list[str] = []
        a_alt: list[str] = []
        a_lab: list[str] = []
        a_snv: list[bool] = []  # one base replaced by another
        for j, (p, r, als) in enumerate(zip(positions, refs, alts, strict=True)):
            r = r.upper()
            if len(r) == 1 and len(als) == 1 and len(als[0]) == 1:  # biallelic SNV
                a = als[0].upper()
                a_vs.append(p)
                a_ve.append(p)
                a_ref.append(r)
                a_alt.append(a)
                a_lab.append(a)
                a_snv.append(r != a)
            elif len(r) == 1 and all(len(a) == 1 for a in als):  # SNVs: nothing to strip
                for a in als:
                    a = a.upper()
                    a_vs.append(p)
                    a_ve.append(p)
                    a_ref.append(r)
                    a_alt.append(a)
                    a_lab.append(a)
                    a_snv.append(r != a)
            else:
                for al in vep_alleles(p, r, als):
                    a_vs.append(al.start)
                    a_ve.append(al.end)
                    a_ref.append(al.ref)
                    a_alt.append(al.alt)
                    a_lab.append(al.label)
                    a_snv.append(len(al.ref) == 1 and len(al.alt) == 1 and al.ref != al.alt)
            a_first[j + 1] = len(a_vs)
        n_al = len(a_vs)
        vs = np.asarray(a_vs, np.int64)
        ve = np.asarray(a_ve, np.int64)
        qi, ti = self.index.query(c, vs - 1, ve + 1)
        pc = self.arrays.classify(vs[qi], ve[qi], ti)
        keep = pc.cls != PAIR_NONE
        if self.per_pair:
            pc.cls[keep] = PAIR_OTHER
        qi, ti = qi[keep], ti[keep]
        cls, dist = pc.cls[keep], pc.distance[keep]
        n_pairs = len(qi)
        touched = np.unique(ti)
        # -- reference: only the span the batch needs ------------------------------------
        ends = [p + len(r) for p, r in zip(positions, refs, strict=True)]
        lo = min(min(positions, default=1), int(self.arrays.start[touched].min()) if len(touched) else 1 << 62)
        hi = max(max(ends, default=0), int(self.arrays.end[touched].max()) if len(touched) else 0)
        seq = self.reference.region(c, lo - 100, hi + 100) if positions else ""
        oks = [seq[p - 1:e - 1] == r.upper() if seq else True
               for p, r, e in zip(positions, refs, ends, strict=True)]
        for info in self._info.values():  # a grown window covers the old one
            info.ctx.seq = seq
        infos = {t: self._tx(t, seq) for t in touched.tolist()}
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
                          vs, a_ve, a_ref, a_alt, a_lab, out, lab, pick_s, np.asarray(a_snv, bool))
        out = out.tolist()
        # -- per record ------------------------------------------------------------------
        bounds_a = np.searchsorted(qi, np.arange(n_al + 1))
        bounds = bounds_a.tolist()
        # records whose alleles all have transcripts: one slice of the pair strings
        empty = np.zeros(n_al + 1, np.int64)
        np.cumsum(bounds_a[1:] == bounds_a[:-1], out=empty[1:])
        first = np.asarray(a_first, np.int64)
        whole = (empty[first[1:]] == empty[first[:-1]]).tolist()
        for j in range(len(positions)):
            a0, a1 = a_first[j], a_first[j + 1]
            if whole[j]:
                yield oks[j], out[bounds[a0]:bounds[a1]]
                continue
            entries: list[str] = []
            for a in range(a0, a1):
                b0, b1 = bounds[a], bounds[a + 1]
                if b0 == b1:
                    entries.append(a_lab[a] + _INTERGENIC_TAIL)
                else:
                    entries.extend(out[b0:b1])
            yield oks[j], entries

    def _exon_snvs(self, idx: np.ndarray, qi: np.ndarray, ti: np.ndarray, infos: dict[int, _TxInfo],
                   a_vs: list[int], a_ref: list[str], a_alt: list[str]) -> dict[int, tuple[int, str]]:
        """CSQ entries (without Allele and PICK) and SO rank of SNVs inside one exon, at
        least 3 bases from its edges, of a non-coding transcript or in a UTR: no splice
        term, no codon, HGVSc ``n.N`` / ``c.-N`` / ``c.*N``. Other pairs are left out."""
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
                if cs <= g <= ce:
                    continue  # coding: the per-pair path
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
        tails: list[str] = []
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
            tails.append(f"|||||||{info.strand}||{info.intron_flags}|")
        head = np.asarray(heads, object)
        tail = np.asarray(tails, object)
        snv = a_snv[a_idx]
        tx_tail = {t: "|" + infos[t].tail for t in np.unique(t_idx).tolist()}
        for strand_sel, comp in ((plus, False), (~plus, True)):
            f = np.flatnonzero(snv & strand_sel)
            if not len(f):
                continue
            af = a_idx[f].tolist()
            refs, alts = [a_ref[a] for a in af], [a_alt[a] for a in af]
            if comp:
                refs = list("".join(refs).translate(_COMP_T))
                alts = list("".join(alts).translate(_COMP_T))
            out[idx[f]] = [f"{la}{h}{d}{r}>{x}{ta}{tt}{pk}" for la, h, d, r, x, ta, tt, pk in zip(
                lab[a_idx[f]].tolist(), head[2 * inv[f] + use_left[f]].tolist(), dist[f].tolist(), refs, alts,
                tail[inv[f]].tolist(), [tx_tail[t] for t in t_idx[f].tolist()], pick_s[idx[f]].tolist(),
                strict=True)]
        for j in np.flatnonzero(~snv).tolist():
            k, a, t = int(idx[j]), int(a_idx[j]), int(t_idx[j])
            res = TranscriptConsequence([])
            _hgvs(Allele(int(vs[a]), a_ve[a], a_ref[a], a_alt[a], a_lab[a]), infos[t].ctx, res)
            g = int(inv[j])
            out[k] = (f"{a_lab[a]}{pres[g]}{res.hgvsc}{tails[g]}"
                      f"{res.hgvs_offset}|{infos[t].tail}{'1' if pickl[k] else ''}")


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


def _text_lines(path: Path, chunk: int = 1 << 22) -> Iterator[str]:
    """Lines of a plain / gzip / bgzip text file, read in large chunks."""
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
            yield from data[:cut].decode("utf-8", errors="replace").split("\n")
        if rest:
            yield from rest.decode("utf-8", errors="replace").split("\n")


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
    import multiprocessing as mp
    from collections import deque

    global _WORKER
    stats = AnnotationStats()
    pool = None
    if workers > 1 and "fork" in mp.get_all_start_methods():
        _WORKER = ann  # forked before any thread starts
        pool = mp.get_context("fork").Pool(workers, initializer=_worker_init, initargs=(str(ref.path),))
    writer = BgzfWriter(tmp, level=level, threads=threads) if gz else open(tmp, "w")
    has_ref: dict[str, bool] = {}
    buf: list[list[str]] = []
    pending: deque = deque()

    def job(fields: list[list[str]]) -> tuple[str, list[int], list[str], list[list[str]]]:
        return (fields[0][0], [int(f[1]) for f in fields], [f[3] for f in fields],
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
            if not ok:
                stats.ref_mismatch += 1
                f[6] = "REF_MISMATCH" if f[6] in (".", "PASS", "") else f[6] + ";REF_MISMATCH"
            if n:
                csq = "CSQ=" + csq
                stats.entries += n
                info = f[7]
                if info in (".", ""):
                    f[7] = csq
                elif info.startswith("CSQ=") or ";CSQ=" in info:
                    f[7] = ";".join(csq if kv.startswith("CSQ=") else kv for kv in info.split(";"))
                else:
                    f[7] = info + ";" + csq
            out.append("\t".join(f))
        out.append("")
        writer.write("\n".join(out))

    def flush(final: bool = False) -> None:
        if buf:
            fields = buf.copy()
            buf.clear()
            if pool is None:
                emit(fields, ((ok, len(e), ",".join(e)) for ok, e in ann.annotate_batch(*job(fields))))
            else:
                pending.append((fields, pool.apply_async(_worker_batch, (job(fields),))))
        while pending and (final or len(pending) > 2 * workers):
            fields, fut = pending.popleft()
            emit(fields, fut.get())

    try:
        header_done = False
        for n, line in enumerate(_text_lines(vcf_in), 1):
            if not line:
                continue
            if line[0] == "#":
                if header_done:
                    raise MalformedInputError("header line after records", path=vcf_in, line=n)
                if line.startswith("##INFO=<ID=CSQ,") or line.startswith("##FILTER=<ID=REF_MISMATCH,"):
                    continue
                if line.startswith("#CHROM"):
                    line = "\n".join((_header_line(csq_header(extender.fields if extender else None), "INFO"),
                                      _header_line(_REF_MISMATCH, "FILTER"), line))
                    header_done = True
                writer.write(line + "\n")
                continue
            if not header_done:
                raise MalformedInputError("VCF record before the #CHROM header line", path=vcf_in, line=n)
            f = line.split("\t", 8)
            if len(f) < 8 or not f[1].isdigit():
                raise MalformedInputError("VCF record needs 8 tab-separated columns and an integer POS",
                                          path=vcf_in, line=n)
            stats.records += 1
            chrom = f[0]
            known = has_ref.get(chrom)
            if known is None:
                known = has_ref[chrom] = ref.has(chrom)
            if not known:
                stats.chrom_missing.add(chrom)
            if buf and (chrom != buf[0][0] or len(buf) >= batch):
                flush()
            buf.append(f)
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
