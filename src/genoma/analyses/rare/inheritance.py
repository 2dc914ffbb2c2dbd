"""Modes of inheritance and whether a gene's genotype fits them.

Codes (from HPO inheritance terms, :data:`~.knowledge.MOI_TERMS`): ``AD``, ``AR``,
``XL`` (X-linked, unspecified), ``XLR``, ``XLD``, ``MT``, ``Y``, ``DIGENIC``,
``SOMATIC``, ``UNKNOWN``. A disease without an annotated mode is treated as
"any" (the most permissive fit is used and the explanation says so).

``alleles_needed`` is the number of qualifying alleles on different haplotypes a
patient of a given sex needs for a mode: 1 for dominant, mitochondrial,
X-linked unspecified and X-linked recessive in males (hemizygous) or patients of
unknown sex, 2 for autosomal recessive (homozygous or compound heterozygous) and
X-linked recessive in females.
"""

from __future__ import annotations

__all__ = ["MOI_LABELS", "alleles_needed", "modes_for"]

MOI_LABELS: dict[str, str] = {
    "AD": "autosomal dominant",
    "AR": "autosomal recessive",
    "XL": "X-linked",
    "XLR": "X-linked recessive",
    "XLD": "X-linked dominant",
    "MT": "mitochondrial",
    "Y": "Y-linked",
    "DIGENIC": "digenic",
    "SOMATIC": "somatic mosaicism",
    "UNKNOWN": "unknown",
}

_SCORABLE = ("AD", "AR", "XL", "XLR", "XLD", "MT", "Y")


def modes_for(moi: frozenset[str] | set[str]) -> tuple[str, ...]:
    """The scorable modes of a disease (``AD`` and ``AR`` when none is annotated)."""
    m = tuple(x for x in _SCORABLE if x in moi)
    return m or ("AD", "AR")


def alleles_needed(mode: str, sex: str, chrom: str) -> int:
    """Qualifying alleles (on different haplotypes) needed by ``mode``.

    Parameters
    ----------
    mode
        A mode code.
    sex
        Phenopacket sex of the patient (``MALE``, ``FEMALE``, …).
    chrom
        Canonical chromosome of the gene (``chrX`` makes males hemizygous).

    Returns
    -------
    int
        1 or 2.
    """
    male = sex == "MALE"
    if mode == "AR":
        return 1 if (chrom == "chrX" and male) else 2
    if mode == "XLR":
        return 2 if sex == "FEMALE" else 1
    return 1
