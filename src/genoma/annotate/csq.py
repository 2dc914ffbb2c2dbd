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

import numpy as np

from genoma.annotate.consequence import (
    TranscriptConsequence,
    TranscriptContext,
    annotate_allele,
    vep_alleles,
)
from genoma.annotate.sequence import Reference
from genoma.annotate.transcripts import Transcript, TranscriptIndex, read_transcripts
from genoma.errors import InputMissingError, MalformedInputError, UsageError
from genoma.model.variant import canonical_chrom

__all__ = ["CSQ_FIELDS", "AnnotationStats", "Annotator", "annotate_vcf", "csq_header"]

CSQ_FIELDS = [
    "Allele", "Consequence", "IMPACT", "SYMBOL", "Gene", "Feature_type", "Feature", "BIOTYPE",
    "EXON", "INTRON", "HGVSc", "HGVSp", "cDNA_position", "CDS_position", "Protein_position",
    "Amino_acids", "Codons", "STRAND", "DISTANCE", "FLAGS", "HGVS_OFFSET", "CANONICAL",
    "MANE_SELECT", "ENSP", "PICK",
]


def csq_header() -> dict[str, str]:
    """The ``##INFO=<ID=CSQ…>`` declaration (cyvcf2 ``add_info_to_header`` form)."""
    return {
        "ID": "CSQ", "Number": ".", "Type": "String",
        "Description": "Consequence annotations from genoma. Format: " + "|".join(CSQ_FIELDS),
    }


@dataclass
class AnnotationStats:
    """Counts of one annotation run."""

    records: int = 0
    alleles: int = 0
    entries: int = 0
    ref_mismatch: int = 0
    chrom_missing: set[str] = field(default_factory=set)


def _pick_key(ctx: TranscriptContext, c: TranscriptConsequence) -> tuple:
    """Order for picking one transcript per gene: MANE Select, canonical, protein coding,
    most severe term, longest CDS, longest cDNA, identifier (the static part is cached)."""
    from genoma.annotate.consequence import SO_RANK

    static = getattr(ctx, "_pick_static", None)
    if static is None:
        tx = ctx.tx
        static = ctx._pick_static = (  # type: ignore[attr-defined]
            0 if tx.is_mane_select else 1, 0 if tx.is_canonical else 1,
            0 if tx.biotype == "protein_coding" else 1,
            -(len(ctx.cds) if ctx.ccs is not None else 0), -ctx.length, tx.id)
    return (*static[:3], SO_RANK.get(c.terms[0], 99) if c.terms else 99, *static[3:])


class Annotator:
    """Annotate alleles against transcript models and a reference.

    Parameters
    ----------
    transcripts
        The models (e.g. from :func:`read_transcripts`).
    reference
        The reference sequence.
    """

    def __init__(self, transcripts: list[Transcript], reference: Reference):
        self.transcripts = transcripts
        self.index = TranscriptIndex(transcripts)
        self.reference = reference
        self._ctx: dict[int, TranscriptContext] = {}
        self._chrom: str | None = None

    def _context(self, i: int, chrom_seq: str) -> TranscriptContext:
        ctx = self._ctx.get(i)
        if ctx is None:
            ctx = self._ctx[i] = TranscriptContext(self.transcripts[i], chrom_seq)
        return ctx

    def annotate_batch(self, chrom: str, positions: list[int], refs: list[str],
                       alts: list[list[str]]) -> Iterator[tuple[bool, list[str]]]:
        """Annotate records of one chromosome.

        Yields, per record, ``(ref_matches_fasta, csq_entries)``.
        """
        c = canonical_chrom(chrom)
        if c != self._chrom:
            self._ctx.clear()
            self._chrom = c
        seq = self.reference.chromosome(c)
        alleles = [vep_alleles(p, r, a) for p, r, a in zip(positions, refs, alts, strict=True)]
        starts = np.array([min(al.start for al in als) if als else p for als, p in zip(alleles, positions, strict=True)], np.int64)
        ends = np.array([max(al.end for al in als) if als else p for als, p in zip(alleles, positions, strict=True)], np.int64)
        qi, ti = self.index.query(c, starts - 1, ends + 1)
        bounds = np.searchsorted(qi, np.arange(len(positions) + 1))
        for j, (p, r, als) in enumerate(zip(positions, refs, alleles, strict=True)):
            ok = seq[p - 1:p - 1 + len(r)] == r.upper() if seq else True
            entries: list[str] = []
            cand = ti[bounds[j]:bounds[j + 1]]
            for al in als:
                results = []
                for t in cand:
                    ctx = self._context(int(t), seq)
                    res = annotate_allele(al, ctx)
                    if res is not None:
                        results.append((ctx, res))
                if not results:
                    entries.append(f"{al.label}|intergenic_variant|MODIFIER" + "|" * (len(CSQ_FIELDS) - 3))
                    continue
                # pick one per gene
                best: dict[str, tuple[tuple, int]] = {}
                for k, (ctx, res) in enumerate(results):
                    key = _pick_key(ctx, res)
                    g = ctx.tx.gene_id
                    if g not in best or key < best[g][0]:
                        best[g] = (key, k)
                chosen = {k for _, k in best.values()}
                for k, (ctx, res) in enumerate(results):
                    tx = ctx.tx
                    entries.append("|".join((
                        al.label, res.consequence, res.impact, tx.gene_name, tx.gene_id, "Transcript",
                        tx.id, tx.biotype, res.exon, res.intron, res.hgvsc, res.hgvsp,
                        res.cdna_position, res.cds_position, res.protein_position, res.amino_acids,
                        res.codons, str(tx.strand), res.distance, "&".join(res.flags),
                        res.hgvs_offset, "YES" if tx.is_canonical else "",
                        "YES" if tx.is_mane_select else "", tx.versioned_protein_id,
                        "1" if k in chosen else "",
                    )))
            yield ok, entries


def annotate_vcf(vcf_in: str | Path, fasta: str | Path, transcripts: str | Path,
                 out: str | Path, *, batch: int = 20000, force: bool = False) -> AnnotationStats:
    """Annotate ``vcf_in`` and write ``out`` (bgzip VCF when it ends in ``.gz``).

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
        Records per interval query.
    force
        Overwrite an existing output.

    Returns
    -------
    AnnotationStats

    Raises
    ------
    InputMissingError, MalformedInputError, UsageError
    """
    from cyvcf2 import VCF, Writer

    vcf_in, out = Path(vcf_in), Path(out)
    if not vcf_in.exists():
        raise InputMissingError("input VCF not found", path=vcf_in)
    if out.exists() and not force:
        raise UsageError(f"output {out} exists (use --force to overwrite)")
    models = read_transcripts(transcripts)
    ref = Reference(fasta)
    ann = Annotator(models, ref)
    try:
        reader = VCF(str(vcf_in))
    except (OSError, ValueError) as exc:
        raise MalformedInputError(f"cannot read VCF: {exc}", path=vcf_in) from None
    reader.add_info_to_header(csq_header())
    reader.add_filter_to_header({"ID": "REF_MISMATCH",
                                 "Description": "REF allele disagrees with the reference FASTA"})
    tmp = out.with_name(out.name + ".tmp" + (".gz" if out.suffix == ".gz" else ""))
    mode = "wz" if out.suffix == ".gz" else "w"
    writer = Writer(str(tmp), reader, mode=mode)
    stats = AnnotationStats()
    buf: list = []

    def flush() -> None:
        if not buf:
            return
        chrom = buf[0].CHROM
        res = ann.annotate_batch(chrom, [v.POS for v in buf], [v.REF for v in buf], [v.ALT for v in buf])
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
    os.replace(tmp, out)
    return stats
