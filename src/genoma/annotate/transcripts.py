"""Transcript models from GFF3 / GTF (Ensembl, GENCODE, RefSeq) with an interval index.

A :class:`Transcript` holds what consequence prediction and HGVS need: exons (genomic,
1-based, sorted by position), the coding region, strand, identifiers with versions, the
gene and biotype, and flags (``cds_start_NF`` / ``cds_end_NF`` inferred from the CDS
phase and the presence of start / stop codons once the sequence is known, MANE Select /
canonical tags when the file carries them).

:class:`TranscriptIndex` finds the transcripts within a distance of many variants at
once with a nested containment list (``ncls``) per chromosome: queries are vectorised
over NumPy arrays, so whole-genome VCFs are practical.
"""

from __future__ import annotations

import gzip
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from genoma.chrom import canonical_chrom
from genoma.errors import InputMissingError, MalformedInputError

__all__ = ["Transcript", "TranscriptIndex", "read_transcripts"]

_GTF_ATTR = re.compile(r'\s*([^\s"]+)\s+"?([^";]*)"?\s*;?')
_TX_TYPES_SKIP = {"gene", "exon", "CDS", "five_prime_UTR", "three_prime_UTR", "five_prime_utr",
                  "three_prime_utr", "start_codon", "stop_codon", "UTR", "biological_region",
                  "chromosome", "region", "Selenocysteine", "stop_codon_redefined_as_selenocysteine"}


@dataclass
class Transcript:
    """One transcript model.

    Attributes
    ----------
    id, version
        Stable identifier without version, and its version (``None`` when unknown).
    gene_id, gene_name, biotype
        The gene's identifier and symbol, and the transcript biotype.
    chrom
        Canonical chromosome (``chr21``).
    strand
        ``1`` or ``-1``.
    start, end
        Genomic span, 1-based inclusive.
    exon_starts, exon_ends
        Exons, 1-based inclusive, sorted by genomic position (int64 arrays).
    cds_start, cds_end
        Genomic span of the coding region including the stop codon (``None`` if
        non-coding).
    protein_id, protein_version
        Translation identifier (``ENSP…``) and version.
    start_phase
        GFF phase of the 5'-most CDS piece (0 unless the CDS is 5'-incomplete).
    tags
        Tags from the file (``basic``, ``MANE_Select``, ``Ensembl_canonical`` …).
    """

    id: str
    chrom: str
    strand: int
    start: int
    end: int
    gene_id: str = ""
    gene_name: str = ""
    biotype: str = ""
    version: str | None = None
    protein_id: str | None = None
    protein_version: str | None = None
    exon_starts: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    exon_ends: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    cds_start: int | None = None
    cds_end: int | None = None
    start_phase: int = 0
    tags: tuple[str, ...] = ()

    @property
    def is_coding(self) -> bool:
        """True when the transcript has a coding region."""
        return self.cds_start is not None

    @property
    def versioned_id(self) -> str:
        """``ENST…`` with ``.version`` when the version is known."""
        return f"{self.id}.{self.version}" if self.version else self.id

    @property
    def versioned_protein_id(self) -> str:
        """``ENSP…`` with ``.version`` when known."""
        if self.protein_id is None:
            return ""
        return f"{self.protein_id}.{self.protein_version}" if self.protein_version else self.protein_id

    @property
    def is_mane_select(self) -> bool:
        """True when tagged MANE Select."""
        return any(t.lower().startswith("mane_select") for t in self.tags)

    @property
    def is_canonical(self) -> bool:
        """True when tagged Ensembl canonical."""
        return any(t.lower() == "ensembl_canonical" for t in self.tags)

    @property
    def n_exons(self) -> int:
        """Number of exons."""
        return int(self.exon_starts.shape[0])


def _open_text(path: Path):
    with open(path, "rb") as fh:
        magic = fh.read(2)
    if magic == b"\x1f\x8b":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return open(path, encoding="utf-8", errors="replace")


def _parse_gff3_attrs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for part in text.strip().strip(";").split(";"):
        if not part:
            continue
        key, sep, val = part.partition("=")
        if not sep:
            raise ValueError(f"attribute {part!r} is not key=value")
        out[key.strip()] = val.strip()
    return out


def _parse_gtf_attrs(text: str) -> dict[str, str]:
    out: dict[str, str] = {}
    tags: list[str] = []
    for part in text.strip().split(";"):
        part = part.strip()
        if not part:
            continue
        key, _, val = part.partition(" ")
        val = val.strip().strip('"')
        if not key:
            raise ValueError(f"attribute {part!r} is not 'key \"value\"'")
        if key == "tag":
            tags.append(val)
        else:
            out[key] = val
    if tags:
        out["tag"] = ",".join(tags)
    return out


def _strip_prefix(value: str) -> str:
    return value.split(":", 1)[1] if ":" in value and value.split(":", 1)[0] in {
        "gene", "transcript", "CDS", "exon", "rna", "cds", "protein"} else value


@dataclass
class _Builder:
    tid: str
    chrom: str = ""
    strand: int = 0
    start: int = 0
    end: int = 0
    gene_id: str = ""
    biotype: str = ""
    version: str | None = None
    tags: tuple[str, ...] = ()
    exons: list[tuple[int, int]] = field(default_factory=list)
    cds: list[tuple[int, int, int]] = field(default_factory=list)
    stop_codons: list[tuple[int, int]] = field(default_factory=list)
    utrs: list[tuple[int, int]] = field(default_factory=list)
    protein_id: str | None = None
    protein_version: str | None = None
    has_record: bool = False


def read_transcripts(path: str | Path, *, biotypes: Iterable[str] | None = None) -> list[Transcript]:
    """Read transcript models from an Ensembl / GENCODE / RefSeq GFF3 or a GTF file.

    The format is recognised per line (GFF3 ``key=value`` or GTF ``key "value";``
    attributes). Transcripts are the features whose parent is a gene (GFF3) or that carry
    a ``transcript_id`` (GTF); exons and CDS attach by ``Parent`` / ``transcript_id``. In
    GTF the stop codon (a separate feature) is added to the CDS, as in GFF3.

    Parameters
    ----------
    path
        GFF3 / GTF file, plain or gzip / bgzip compressed.
    biotypes
        Keep only these transcript biotypes (all when ``None``).

    Returns
    -------
    list of Transcript
        Sorted by chromosome and start.

    Raises
    ------
    InputMissingError
        When the file does not exist.
    MalformedInputError
        On a line that is not a valid GFF3 / GTF feature line (names file and line).
    """
    p = Path(path)
    if not p.exists():
        raise InputMissingError("transcript models file not found", path=p)
    genes: dict[str, tuple[str, str]] = {}  # gene id -> (name, biotype)
    builders: dict[str, _Builder] = {}
    keep = set(biotypes) if biotypes is not None else None
    chrom_names: dict[str, str] = {}

    def get(tid: str) -> _Builder:
        b = builders.get(tid)
        if b is None:
            b = builders[tid] = _Builder(tid)
        return b

    with _open_text(p) as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip() or line.startswith("#"):
                if line.startswith("##FASTA"):
                    break
                continue
            cols = line.rstrip("\n\r").split("\t")
            if len(cols) > 9:  # tabs inside the attributes column: tolerated, as bcftools does
                cols = [*cols[:8], " ".join(cols[8:])]
            if len(cols) >= 3 and cols[2] in {"chromosome", "region", "scaffold", "biological_region"}:
                continue
            if len(cols) != 9:
                raise MalformedInputError(
                    f"expected 9 tab-separated columns in a GFF3/GTF line, found {len(cols)}",
                    path=p, line=lineno)
            chrom, _src, ftype, s, e, _score, strand_s, phase_s, attr_s = cols
            try:
                start, end = int(s), int(e)
            except ValueError:
                raise MalformedInputError(
                    f"start/end {s!r}/{e!r} are not integers", path=p, line=lineno) from None
            if (start < 1 or end < start) and not (ftype == "gene" or ftype.endswith("_gene")):
                # genes only lend their names: a clipped gene span (as in cut-out test windows)
                # is tolerated, transcript / exon / CDS intervals are not
                raise MalformedInputError(f"invalid interval {start}-{end}", path=p, line=lineno)
            if strand_s not in {"+", "-", ".", "?"}:
                raise MalformedInputError(f"invalid strand {strand_s!r}", path=p, line=lineno)
            if ftype in {"biological_region", "chromosome", "region"}:
                continue
            try:
                if "=" in attr_s and '"' not in attr_s:
                    attrs = _parse_gff3_attrs(attr_s)
                    gtf = False
                else:
                    attrs = _parse_gtf_attrs(attr_s)
                    gtf = True
            except ValueError as exc:
                raise MalformedInputError(str(exc), path=p, line=lineno) from None
            strand = 1 if strand_s == "+" else -1 if strand_s == "-" else 0
            cchrom = chrom_names.get(chrom)
            if cchrom is None:
                cchrom = chrom_names[chrom] = canonical_chrom(chrom)
            if gtf:
                gid = attrs.get("gene_id", "")
                if ftype == "gene":
                    genes[gid] = (attrs.get("gene_name", ""), attrs.get("gene_biotype", attrs.get("gene_type", "")))
                    continue
                tid = attrs.get("transcript_id")
                if not tid:
                    continue
                b = get(tid)
                if ftype == "transcript":
                    b.has_record = True
                    b.chrom, b.strand, b.start, b.end = cchrom, strand, start, end
                    b.gene_id = gid
                    b.biotype = attrs.get("transcript_biotype", attrs.get("transcript_type", ""))
                    b.version = attrs.get("transcript_version")
                    b.tags = tuple(t for t in attrs.get("tag", "").split(",") if t)
                    if gid not in genes or not genes[gid][0]:
                        genes[gid] = (attrs.get("gene_name", ""), attrs.get("gene_biotype", ""))
                elif ftype == "exon":
                    b.exons.append((start, end))
                    b.chrom, b.strand = cchrom, strand
                elif ftype == "CDS":
                    b.cds.append((start, end, int(phase_s) if phase_s.isdigit() else 0))
                    if "protein_id" in attrs:
                        b.protein_id = attrs["protein_id"]
                        b.protein_version = attrs.get("protein_version")
                elif ftype == "stop_codon":
                    b.stop_codons.append((start, end))
                elif "utr" in ftype.lower():
                    b.utrs.append((start, end))
                continue
            # GFF3
            fid = attrs.get("ID", "")
            parent = attrs.get("Parent", "")
            if ftype == "gene" or fid.startswith("gene:") or (ftype.endswith("_gene") and not parent):
                gid = attrs.get("gene_id", _strip_prefix(fid))
                genes[_strip_prefix(fid)] = (attrs.get("Name", ""), attrs.get("biotype", ""))
                if gid != _strip_prefix(fid):
                    genes[gid] = genes[_strip_prefix(fid)]
                continue
            if ftype in {"exon", "CDS"} or ftype in _TX_TYPES_SKIP:
                for par in parent.split(","):
                    if not par:
                        continue
                    b = get(_strip_prefix(par))
                    if ftype == "exon":
                        b.exons.append((start, end))
                    elif ftype == "CDS":
                        b.cds.append((start, end, int(phase_s) if phase_s.isdigit() else 0))
                        pid = attrs.get("protein_id") or _strip_prefix(fid)
                        if pid:
                            b.protein_id = pid
                            b.protein_version = attrs.get("protein_version", b.protein_version)
                    elif ftype == "stop_codon":
                        b.stop_codons.append((start, end))
                    elif "utr" in ftype.lower():
                        b.utrs.append((start, end))
                continue
            if parent:  # a transcript-like feature (mRNA, transcript, lincRNA, NMD_transcript_variant …)
                tid = attrs.get("transcript_id") or _strip_prefix(fid)
                if not tid:
                    continue
                b = get(_strip_prefix(fid) or tid)
                b.has_record = True
                b.chrom, b.strand, b.start, b.end = cchrom, strand, start, end
                b.gene_id = _strip_prefix(parent.split(",")[0])
                b.biotype = attrs.get("biotype", attrs.get("transcript_biotype", attrs.get("transcript_type", ftype)))
                b.version = attrs.get("version", attrs.get("transcript_version"))
                tags = [t for t in attrs.get("tag", "").split(",") if t]
                b.tags = tuple(tags)
                if b.tid != tid:
                    builders.setdefault(tid, b)

    out: list[Transcript] = []
    seen: set[int] = set()
    for b in builders.values():
        if id(b) in seen or not b.has_record:
            continue
        if not b.exons and b.cds:  # CDS (+ UTR) only, as bcftools accepts: exons = their union
            merged: list[list[int]] = []
            for s0, e0 in sorted([(c[0], c[1]) for c in b.cds] + b.utrs + b.stop_codons):
                if merged and s0 <= merged[-1][1] + 1:
                    merged[-1][1] = max(merged[-1][1], e0)
                else:
                    merged.append([s0, e0])
            b.exons = [(m[0], m[1]) for m in merged]
        if not b.exons:
            continue
        seen.add(id(b))
        if keep is not None and b.biotype not in keep:
            continue
        ex = sorted(set(b.exons))
        starts = np.array([x[0] for x in ex], dtype=np.int64)
        ends = np.array([x[1] for x in ex], dtype=np.int64)
        cds_start = cds_end = None
        phase = 0
        if b.cds:
            pieces = sorted(b.cds)
            cds_start = pieces[0][0]
            cds_end = pieces[-1][1]
            for s0, e0 in b.stop_codons:  # GTF: stop codon outside CDS
                cds_start = min(cds_start, s0)
                cds_end = max(cds_end, e0)
            phase = pieces[0][2] if b.strand == 1 else pieces[-1][2]
        gname, _gbt = genes.get(b.gene_id, ("", ""))
        tid = b.tid
        out.append(Transcript(
            id=tid, chrom=b.chrom, strand=b.strand or 1,
            start=min(b.start or int(starts[0]), int(starts[0])),
            end=max(b.end or int(ends[-1]), int(ends[-1])),
            gene_id=b.gene_id, gene_name=gname, biotype=b.biotype, version=b.version,
            protein_id=b.protein_id, protein_version=b.protein_version,
            exon_starts=starts, exon_ends=ends, cds_start=cds_start, cds_end=cds_end,
            start_phase=phase, tags=b.tags,
        ))
    out.sort(key=lambda t: (t.chrom, t.start, t.end, t.id))
    return out


class TranscriptIndex:
    """Interval index over transcripts (per chromosome, ``ncls``), padded by ``flank``.

    Parameters
    ----------
    transcripts
        The models.
    flank
        Padding on both sides (5,000 bp: VEP's upstream / downstream distance).
    """

    def __init__(self, transcripts: list[Transcript], flank: int = 5000):
        from ncls import NCLS

        self.flank = flank
        self.transcripts = transcripts
        self._by_chrom: dict[str, tuple[object, np.ndarray]] = {}
        groups: dict[str, list[int]] = {}
        for i, t in enumerate(transcripts):
            groups.setdefault(t.chrom, []).append(i)
        for chrom, idx in groups.items():
            ids = np.asarray(idx, dtype=np.int64)
            starts = np.array([max(transcripts[i].start - flank, 0) for i in idx], dtype=np.int64)
            ends = np.array([transcripts[i].end + flank + 1 for i in idx], dtype=np.int64)
            self._by_chrom[chrom] = (NCLS(starts, ends, ids), ids)

    def query(self, chrom: str, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pairs (query index, transcript index) whose padded spans overlap.

        Parameters
        ----------
        chrom
            Canonical chromosome of all queries.
        starts, ends
            1-based inclusive query intervals (int64 arrays).

        Returns
        -------
        tuple of numpy.ndarray
            Query indices and transcript indices (into ``self.transcripts``), sorted by
            query then transcript start.
        """
        entry = self._by_chrom.get(chrom)
        if entry is None or len(starts) == 0:
            return np.zeros(0, np.int64), np.zeros(0, np.int64)
        ncls = entry[0]
        qs = np.maximum(np.minimum(starts, ends), 0).astype(np.int64)  # ncls needs >= 0
        qe = np.maximum(starts, ends).astype(np.int64) + 1
        qi, ti = ncls.all_overlaps_both(qs, qe, np.arange(len(qs), dtype=np.int64))  # type: ignore[attr-defined]
        order = np.lexsort((ti, qi))
        return np.asarray(qi)[order], np.asarray(ti)[order]
