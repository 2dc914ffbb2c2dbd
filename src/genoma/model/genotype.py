"""Genotype calls of one sample at one variant site."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from genoma.model.variant import Variant

__all__ = ["Call", "Genotype"]


class Genotype(BaseModel):
    """The genotype of one sample at one (possibly multi-allelic) site.

    Attributes
    ----------
    alleles
        Allele indices (0 = REF, 1.. = ALT in the record's order); ``None`` is a no-call.
        Haploid calls have one index.
    phased
        True when the VCF separator was ``|``.
    phase_set
        The PS value, if any.
    depth, quality
        DP and GQ, if present.
    filter
        The record's FILTER (``PASS`` or the failing filters).
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    alleles: tuple[int | None, ...]
    phased: bool = False
    phase_set: int | None = None
    depth: int | None = Field(default=None, ge=0)
    quality: float | None = None
    filter: str = "PASS"

    @property
    def is_called(self) -> bool:
        """True when no allele is missing."""
        return all(a is not None for a in self.alleles) and len(self.alleles) > 0

    @property
    def is_hom_ref(self) -> bool:
        """True for a fully called genotype with only reference alleles."""
        return self.is_called and all(a == 0 for a in self.alleles)

    def dosage(self, allele: int = 1) -> int | None:
        """Number of copies of ``allele`` (None when any allele is missing)."""
        if not self.is_called:
            return None
        return sum(1 for a in self.alleles if a == allele)

    def __str__(self) -> str:
        sep = "|" if self.phased else "/"
        return sep.join("." if a is None else str(a) for a in self.alleles)


class Call(BaseModel):
    """A biallelic variant with one sample's genotype.

    After multi-allelic splitting, allele index 1 in ``genotype`` is ``variant.alt`` and
    any other ALT of the original record is written as ``None``-free index ``2`` ("other
    allele"), so the dosage of ``variant`` stays exact.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    variant: Variant
    genotype: Genotype
    sample: str
    line: int | None = None
