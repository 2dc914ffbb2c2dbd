"""Per-allele score tables (CADD, REVEL, AlphaMissense …) read through tabix.

A score table is a bgzip-compressed, tabix-indexed TSV with one row per allele (and
possibly per transcript): chromosome, position, reference and alternate allele columns
and one or more score columns. :class:`ScoreTable` finds the columns by name in the
header line (``#Chrom Pos Ref Alt RawScore PHRED`` for CADD, ``#CHROM POS REF ALT …
am_pathogenicity`` for AlphaMissense, ``chr … grch38_pos ref alt … REVEL`` for REVEL
converted to TSV) or by 1-based number. When several rows match an allele (one per
transcript), the highest score is returned (the most damaging prediction for tools
where higher is worse; ``higher_is_worse=False`` takes the lowest, e.g. SIFT).

On the command line a table is given as ``FILE:COLUMN[:NAME]``
(``--scores revel.tsv.gz:REVEL``); :func:`parse_score_spec` reads that.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from genoma.errors import InputMissingError, KnowledgeError, UsageError
from genoma.kb.base import Release, register
from genoma.kb.frequencies import normalise_alleles
from genoma.kb.install import InstalledSource
from genoma.model.variant import canonical_chrom

__all__ = ["ScoreSource", "ScoreSpec", "ScoreTable", "parse_score_spec"]

_CHROM = ("#chrom", "chrom", "#chr", "chr", "chromosome", "#chromosome")
_POS = ("pos", "position", "grch38_pos", "hg38_pos", "start")
_REF = ("ref", "reference")
_ALT = ("alt", "alternative", "alternate")


@dataclass(frozen=True)
class ScoreSpec:
    """Which table and column to read, and under which predictor name.

    Attributes
    ----------
    path
        The bgzip + tabix TSV.
    column
        Score column: header name or 1-based number.
    name
        Predictor name used for PP3 / BP4 thresholds (``REVEL``, ``CADD``, …); default
        the column name.
    """

    path: Path
    column: str
    name: str


def parse_score_spec(spec: str) -> ScoreSpec:
    """Parse ``FILE:COLUMN[:NAME]``.

    Raises
    ------
    UsageError
        When the column is missing.
    """
    path, sep, column = spec.rpartition(":")
    name = column
    if sep and not Path(path).exists() and ":" in path:
        path2, _, column2 = path.rpartition(":")
        if Path(path2).exists() or Path(path2).suffix:
            path, column, name = path2, column2, column
    if not sep or not path or not column:
        raise UsageError(f"--scores needs FILE:COLUMN[:NAME], got {spec!r}")
    return ScoreSpec(Path(path), column, name)


class ScoreTable:
    """Score lookups in a tabix-indexed TSV.

    Parameters
    ----------
    path
        bgzip-compressed TSV with a ``.tbi`` / ``.csi`` index.
    column
        Score column (header name, case-insensitive, or 1-based number).
    name
        Predictor name (default the column name).
    chrom_col, pos_col, ref_col, alt_col
        Column names or 1-based numbers; default: found in the header.
    higher_is_worse
        Take the maximum of several matching rows (else the minimum).

    Raises
    ------
    InputMissingError, KnowledgeError
    """

    def __init__(self, path: str | Path, column: str, name: str | None = None, *,
                 chrom_col: str | None = None, pos_col: str | None = None,
                 ref_col: str | None = None, alt_col: str | None = None,
                 higher_is_worse: bool = True):
        import pysam

        self.path = Path(path)
        if not self.path.exists():
            raise InputMissingError("score table not found", path=self.path)
        if not any(self.path.with_name(self.path.name + s).exists() for s in (".tbi", ".csi")):
            raise KnowledgeError("score table needs a tabix index (bgzip it, then "
                                 "`tabix -s1 -b2 -e2 -c'#'`)", path=self.path)
        try:
            self._tbx = pysam.TabixFile(str(self.path))
        except (OSError, ValueError) as exc:
            raise KnowledgeError(f"cannot open tabix index: {exc}", path=self.path) from exc
        header = self._header()
        self.name = name or column
        self.higher_is_worse = higher_is_worse
        self.icol = self._col(header, column, None, "score")
        self.ichrom = self._col(header, chrom_col, _CHROM, "chromosome")
        self.ipos = self._col(header, pos_col, _POS, "position")
        self.iref = self._col(header, ref_col, _REF, "REF")
        self.ialt = self._col(header, alt_col, _ALT, "ALT")
        self._contig = {canonical_chrom(c): c for c in self._tbx.contigs}

    def _header(self) -> list[str]:
        lines = list(self._tbx.header)
        if lines:
            return lines[-1].split("\t")
        return []

    def _col(self, header: list[str], want: str | None, defaults: tuple[str, ...] | None,
             what: str) -> int:
        low = [h.strip().lower() for h in header]
        if want is not None:
            if want.isdigit():
                return int(want) - 1
            if want.lower() in low:
                return low.index(want.lower())
            if want.lower().lstrip("#") in [h.lstrip("#") for h in low]:
                return [h.lstrip("#") for h in low].index(want.lower().lstrip("#"))
            raise KnowledgeError(f"score table has no {what} column {want!r}; header: {header}",
                                 path=self.path)
        assert defaults is not None
        for d in defaults:
            if d in low:
                return low.index(d)
        raise KnowledgeError(f"score table: no {what} column found in header {header}; "
                             "name it explicitly", path=self.path)

    def lookup(self, chrom: str, pos: int, ref: str, alt: str) -> float | None:
        """The score of one allele (``None`` when the table has none)."""
        name = self._contig.get(canonical_chrom(chrom))
        if name is None:
            return None
        key = normalise_alleles(pos, ref, alt)
        vals: list[float] = []
        width = max(len(ref), 1)
        for line in self._tbx.fetch(name, max(0, pos - 1 - width), pos + width):
            f = line.split("\t")
            try:
                if normalise_alleles(int(f[self.ipos]), f[self.iref], f[self.ialt]) != key:
                    continue
                vals.append(float(f[self.icol]))
            except (ValueError, IndexError):
                continue
        if not vals:
            return None
        return max(vals) if self.higher_is_worse else min(vals)

    def close(self) -> None:
        """Close the tabix handle."""
        self._tbx.close()


_CADD = "https://krishna.gs.washington.edu/download/CADD/v1.7/GRCh38"


@register
class ScoreSource(InstalledSource):
    """CADD v1.7 PHRED scores of every possible SNV of GRCh38 (bgzip TSV + tabix index).

    About 80 GB; CADD publishes MD5 sums only (trust-on-first-use SHA-256). Free for
    non-commercial use. Other tables (REVEL, AlphaMissense) are used from a local path:
    ``--scores FILE:COLUMN``.
    """

    name: ClassVar[str] = "scores"
    title: ClassVar[str] = "CADD v1.7 scores (GRCh38 SNVs)"
    license: ClassVar[str] = "free for non-commercial use (CADD)"
    source: ClassVar[str] = f"CADD, {_CADD}/"
    builds: ClassVar[tuple[str, ...]] = ("GRCh38",)

    def releases(self) -> list[Release]:
        fn = "whole_genome_SNVs.tsv.gz"
        tbi = Release("1.7", f"{_CADD}/{fn}.tbi", fn + ".tbi")
        return [Release("1.7", f"{_CADD}/{fn}", fn, extra={"files": [tbi]})]

    def _load(self) -> ScoreTable:
        return ScoreTable(self.files()[0], "PHRED", "CADD")
