"""Reference sequence access (indexed FASTA via ``pysam.FastaFile``).

Chromosome names are matched canonically (``21`` = ``chr21``). One chromosome is held in
memory at a time (the annotator streams a sorted VCF chromosome by chromosome), so
per-variant lookups are string slices rather than file reads.
"""

from __future__ import annotations

from pathlib import Path

from genoma.errors import InputMissingError, MalformedInputError
from genoma.model.variant import canonical_chrom

__all__ = ["Reference", "revcomp"]

_COMP = str.maketrans("ACGTNacgtnRYKMSWBDHVrykmswbdhv", "TGCANtgcanYRMKSWVHDByrmkswvhdb")


def revcomp(seq: str) -> str:
    """Reverse complement of a DNA string (IUPAC aware)."""
    return seq.translate(_COMP)[::-1]


class Reference:
    """An indexed FASTA (plain or bgzip with ``.fai``; ``.gzi`` for bgzip).

    Parameters
    ----------
    path
        The FASTA file. An index is built by pysam when missing and writable.

    Raises
    ------
    InputMissingError
        When the file does not exist.
    MalformedInputError
        When pysam cannot open or index it.
    """

    def __init__(self, path: str | Path):
        import pysam

        self.path = Path(path)
        if not self.path.exists():
            raise InputMissingError("reference FASTA not found", path=self.path)
        try:
            self._fa = pysam.FastaFile(str(self.path))
        except (OSError, ValueError) as exc:
            raise MalformedInputError(f"cannot open FASTA: {exc}", path=self.path) from None
        self._names = {canonical_chrom(n): n for n in self._fa.references}
        self._lengths = {canonical_chrom(n): ln for n, ln in zip(self._fa.references, self._fa.lengths, strict=True)}
        self._chrom: str | None = None
        self._seq: str = ""
        self._win: tuple[str, int, int, str] | None = None  # chrom, first, last, sequence
        self.min_window = 1 << 20  # bases read at least when a window starts

    def has(self, chrom: str) -> bool:
        """True when the FASTA holds ``chrom`` (canonical name)."""
        return canonical_chrom(chrom) in self._names

    def length(self, chrom: str) -> int:
        """Length of a chromosome (0 when absent)."""
        return self._lengths.get(canonical_chrom(chrom), 0)

    def chromosome(self, chrom: str) -> str:
        """The whole chromosome sequence, upper case (cached: one at a time)."""
        c = canonical_chrom(chrom)
        if self._chrom != c:
            name = self._names.get(c)
            self._seq = self._fa.fetch(name).upper() if name is not None else ""
            self._chrom = c
        return self._seq

    def region(self, chrom: str, start: int, end: int) -> str:
        """A chromosome string whose bases ``start..end`` (1-based) are real: indexable by
        genomic position like :meth:`chromosome`, without reading the whole chromosome.

        Bases before the cached window are ``N``; the window only grows (doubling to
        the right, so a sorted VCF reads each base once). Requests to the left of it
        load the chromosome from its first base. Use only positions within the requested
        range: the string may end anywhere after ``end``.
        """
        c = canonical_chrom(chrom)
        if self._chrom == c:  # whole chromosome already in memory
            return self._seq
        name = self._names.get(c)
        if name is None:
            return ""
        length = self._lengths[c]
        start = min(max(start, 1), length)
        end = min(max(end, start), length)
        win = self._win
        if win is not None and win[0] == c and win[1] <= start and end <= win[2]:
            return win[3]
        if win is not None and win[0] == c and win[1] <= start:
            first, last = win[1], min(max(end, win[2] + (win[2] - win[1] + 1)), length)
            seq = win[3] + self._fa.fetch(name, win[2], last).upper()
        else:
            same = win is not None and win[0] == c
            first = 1 if same else start
            last = min(max(end, first + self.min_window, win[2] if same else 0), length)  # type: ignore[index]
            seq = "N" * (first - 1) + self._fa.fetch(name, first - 1, last).upper()
        self._win = (c, first, last, seq)
        return seq

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Bases ``start..end`` (1-based inclusive), upper case; '' outside the contig."""
        seq = self.chromosome(chrom)
        if end < start:
            return ""
        return seq[max(start - 1, 0):max(end, 0)]

    def close(self) -> None:
        """Close the FASTA."""
        self._fa.close()
