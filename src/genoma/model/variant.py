"""Variants: 1-based, VCF-style, build-aware, normalised.

A :class:`Variant` is one ALT allele at one position of one genome build. Chromosome
names are canonicalised to the UCSC style (``chr1`` … ``chr22``, ``chrX``, ``chrY``,
``chrM``) whatever the input used, so that variants from ``1`` and ``chr1`` files
compare equal; the original name is kept by the readers where it matters.

Normalisation (:func:`normalize_alleles`) trims bases shared by REF and ALT, first on
the right and then on the left, keeping one anchor base for indels, as ``bcftools norm``
and vt do for parsimony. Left-shifting through repeats needs the reference sequence and
is done by :func:`left_align` when a FASTA is given.
"""

from __future__ import annotations

import hashlib
import re
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, field_validator, model_validator

from genoma.chrom import _CHROM_ALIASES, canonical_chrom  # noqa: F401  (re-exported; defined there)

__all__ = [
    "BUILDS",
    "Build",
    "Variant",
    "canonical_chrom",
    "left_align",
    "normalize_alleles",
]

Build = Literal["GRCh37", "GRCh38"]
BUILDS: tuple[str, ...] = ("GRCh37", "GRCh38")

_BASES = re.compile(r"^[ACGTN]+$")


def normalize_alleles(pos: int, ref: str, alt: str) -> tuple[int, str, str]:
    """Trim shared bases from REF and ALT (right first, then left), keeping an anchor.

    Parameters
    ----------
    pos
        1-based position of the first base of ``ref``.
    ref, alt
        Alleles (upper case).

    Returns
    -------
    tuple
        ``(pos, ref, alt)`` in the most parsimonious representation.

    Examples
    --------
    >>> normalize_alleles(100, "CAGT", "CT")
    (100, 'CAG', 'C')
    >>> normalize_alleles(100, "GAT", "GCT")
    (101, 'A', 'C')
    """
    while len(ref) > 1 and len(alt) > 1 and ref[-1] == alt[-1]:
        ref, alt = ref[:-1], alt[:-1]
    while len(ref) > 1 and len(alt) > 1 and ref[0] == alt[0]:
        ref, alt = ref[1:], alt[1:]
        pos += 1
    return pos, ref, alt


class SequenceSource(Protocol):
    """Anything that returns reference sequence for a 1-based closed interval."""

    def fetch(self, chrom: str, start: int, end: int) -> str:  # pragma: no cover - protocol
        ...


def left_align(
    pos: int, ref: str, alt: str, chrom: str, genome: SequenceSource, window: int = 100
) -> tuple[int, str, str]:
    """Left-align an indel through repeats using the reference sequence.

    The algorithm is the one of Tan et al. 2015 (vt normalize): while the last bases of
    REF and ALT agree, drop them and prepend the preceding reference base.

    References
    ----------
    Tan A, Abecasis GR, Kang HM. Unified representation of genetic variants.
    Bioinformatics 2015;31:2202-4.
    """
    pos, ref, alt = normalize_alleles(pos, ref, alt)
    if len(ref) == len(alt):
        return pos, ref, alt
    buffer = ""
    buf_start = pos
    while ref[-1] == alt[-1] and pos > 1:
        if not buffer or pos - 1 < buf_start:
            buf_start = max(1, pos - window)
            buffer = genome.fetch(chrom, buf_start, pos - 1).upper()
        prev = buffer[pos - 1 - buf_start]
        ref, alt = prev + ref[:-1], prev + alt[:-1]
        pos -= 1
    return normalize_alleles(pos, ref, alt)


class Variant(BaseModel):
    """One ALT allele at one position of one genome build.

    Attributes
    ----------
    chrom
        Canonical chromosome name (``chr7``).
    pos
        1-based position of the first REF base.
    ref, alt
        Alleles in upper case (``N`` allowed; symbolic alleles such as ``<DEL>`` allowed
        in ``alt``).
    build
        ``GRCh37`` or ``GRCh38``.
    id
        Optional identifier (e.g. an rsID) from the input.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    chrom: str
    pos: int
    ref: str
    alt: str
    build: Build
    id: str | None = None

    @field_validator("chrom")
    @classmethod
    def _chrom(cls, v: str) -> str:
        if not v or any(c.isspace() for c in v):
            raise ValueError(f"invalid chromosome name {v!r}")
        return canonical_chrom(v)

    @field_validator("pos")
    @classmethod
    def _pos(cls, v: int) -> int:
        if v < 1:
            raise ValueError(f"position must be >= 1 (1-based), got {v}")
        return v

    @field_validator("ref")
    @classmethod
    def _ref(cls, v: str) -> str:
        v = v.upper()
        if not _BASES.match(v):
            raise ValueError(f"REF must be A/C/G/T/N bases, got {v!r}")
        return v

    @field_validator("alt")
    @classmethod
    def _alt(cls, v: str) -> str:
        if v.startswith("<") and v.endswith(">"):
            return v
        v = v.upper()
        if v in {"*", "."}:
            raise ValueError(f"ALT {v!r} is not a variant allele")
        if not _BASES.match(v):
            raise ValueError(f"ALT must be A/C/G/T/N bases or symbolic, got {v!r}")
        return v

    @model_validator(mode="after")
    def _distinct(self) -> Variant:
        if self.ref == self.alt:
            raise ValueError(f"REF and ALT are identical ({self.ref})")
        return self

    @property
    def is_symbolic(self) -> bool:
        """True for symbolic ALT alleles (``<DEL>``, ``<DUP>`` …)."""
        return self.alt.startswith("<")

    @property
    def is_snv(self) -> bool:
        """True for a single-nucleotide variant."""
        return len(self.ref) == 1 and len(self.alt) == 1 and not self.is_symbolic

    @property
    def end(self) -> int:
        """1-based inclusive end of the REF allele."""
        return self.pos + len(self.ref) - 1

    @property
    def key(self) -> str:
        """``chrom:pos:ref:alt`` (the form used in TSV outputs)."""
        return f"{self.chrom}:{self.pos}:{self.ref}:{self.alt}"

    def normalized(self) -> Variant:
        """Return the trimmed (parsimonious) form of this variant."""
        if self.is_symbolic:
            return self
        pos, ref, alt = normalize_alleles(self.pos, self.ref, self.alt)
        return self.model_copy(update={"pos": pos, "ref": ref, "alt": alt})

    def digest(self) -> str:
        """A stable identifier of the allele (build, chrom, pos, ref, alt).

        This is a SHA-512/24 digest in the spirit of GA4GH VRS computed identifiers, over
        the normalised VCF-style allele; it is *not* a VRS ``ga4gh:VA`` identifier (which
        needs the reference sequence digest), and is named so in outputs.
        """
        v = self.normalized()
        blob = f"{v.build}|{v.chrom}|{v.pos}|{v.ref}|{v.alt}".encode()
        return "genoma:VA." + hashlib.sha512(blob).hexdigest()[:48]

    def __str__(self) -> str:
        return self.key
