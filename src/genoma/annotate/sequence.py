"""Reference sequence access (indexed FASTA via ``pysam.FastaFile``).

Chromosome names are matched canonically (``21`` = ``chr21``). The annotator reads
windows (:meth:`Reference.window`: the bases a batch needs, as ``(offset, seq)``) and
looks bases up by string slices rather than file reads; :meth:`Reference.chromosome`
holds one whole chromosome, :meth:`Reference.region` an N-padded growing window.
"""

from __future__ import annotations

from pathlib import Path

from genoma.chrom import canonical_chrom
from genoma.errors import InputMissingError, MalformedInputError

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
        self._w: tuple[str, int, int, str] | None = None  # window(): chrom, first, last, sequence
        self.readahead = 1 << 16  # bases window() reads at least
        self.bases_read = 0  # bases fetched from the file (window() and region())

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
        range: the string may end anywhere after ``end``. The annotator uses
        :meth:`window` instead, which reads no bases before ``start``.
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
            self.bases_read += last - win[2]
        else:
            same = win is not None and win[0] == c
            first = 1 if same else start
            last = min(max(end, first + self.min_window, win[2] if same else 0), length)  # type: ignore[index]
            seq = "N" * (first - 1) + self._fa.fetch(name, first - 1, last).upper()
            self.bases_read += last - first + 1
        self._win = (c, first, last, seq)
        return seq

    def window(self, chrom: str, start: int, end: int) -> tuple[int, str]:
        """Bases ``start..end`` (1-based, clipped to the chromosome) as ``(offset, seq)``:
        ``seq[i]`` is the base at 1-based position ``offset + i + 1``, so genomic
        0-based ``x`` is ``seq[x - offset]``.

        Only the requested bases are read (at least :attr:`readahead` of them), not the
        chromosome before them. One window is cached: a request inside it is answered
        without reading; a request that starts inside it and ends after it keeps the
        cached bases from ``start`` on and reads only the new ones (a sorted VCF reads
        each base once); any other request starts a new window. ``seq`` may extend
        beyond ``start..end`` on either side. An absent chromosome gives ``(0, "")``.

        Parameters
        ----------
        chrom
            Chromosome (any spelling :func:`~genoma.chrom.canonical_chrom` knows).
        start, end
            1-based inclusive range.

        Returns
        -------
        tuple
            ``(offset, seq)``, ``seq`` upper case.
        """
        c = canonical_chrom(chrom)
        if self._chrom == c:  # whole chromosome already in memory
            return 0, self._seq
        name = self._names.get(c)
        length = self._lengths.get(c, 0)
        if name is None or not length:
            return 0, ""
        start = min(max(start, 1), length)
        end = min(max(end, start), length)
        w = self._w
        if w is not None and w[0] == c and w[1] <= start <= w[2] + 1:
            if end <= w[2]:
                return w[1] - 1, w[3]
            last = min(max(end, start + self.readahead - 1), length)
            seq = w[3][start - w[1]:] + self._fa.fetch(name, w[2], last).upper()
            self.bases_read += last - w[2]
        else:
            last = min(max(end, start + self.readahead - 1), length)
            seq = self._fa.fetch(name, start - 1, last).upper()
            self.bases_read += last - start + 1
        self._w = (c, start, last, seq)
        return start - 1, seq

    def fetch(self, chrom: str, start: int, end: int) -> str:
        """Bases ``start..end`` (1-based inclusive), upper case; '' outside the contig."""
        seq = self.chromosome(chrom)
        if end < start:
            return ""
        return seq[max(start - 1, 0):max(end, 0)]

    def close(self) -> None:
        """Close the FASTA."""
        self._fa.close()
