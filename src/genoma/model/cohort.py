"""The cohort: one :class:`xarray.Dataset` with sgkit / VCF Zarr variable names.

A cohort is never a list of Python objects per variant or per sample. It is one
``xarray.Dataset`` whose variables are (possibly Dask-backed) arrays named as in the
`VCF Zarr specification <https://github.com/sgkit-dev/vcf-zarr-spec>`_ written by
bio2zarr and read by sgkit. Every cohort analysis takes such a dataset and returns arrays
or tables computed chunk by chunk.

The variables genoma relies on are documented in :data:`VARIABLES` (the registry);
:func:`validate_cohort` checks a dataset against it. Attributes carried on the dataset:

``genome_build``
    ``"GRCh37"``, ``"GRCh38"`` or ``"unknown"`` (the build travels with the data).
``vcf_zarr_version``
    Written by bio2zarr.

Genotype conventions: ``call_genotype`` holds allele indexes (0 = REF, 1 = first ALT, …),
``-1`` for a missing allele and ``-2`` for ploidy padding. The *dosage* genoma analyses
use is the count of the first ALT allele per call (:func:`alt_dosage`), with ``-1`` for a
call with any missing allele; variants with more than one ALT allele are analysed on their
first ALT allele only.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import numpy as np

from genoma.errors import MalformedInputError

__all__ = [
    "VARIABLES",
    "CohortVariable",
    "alt_dosage",
    "alt_dosage_block",
    "cohort_summary",
    "validate_cohort",
]


@dataclass(frozen=True)
class CohortVariable:
    """One entry of the cohort variable registry.

    Parameters
    ----------
    name
        The variable name (VCF Zarr / sgkit spelling).
    dims
        Its dimension names.
    kind
        NumPy dtype kind(s) accepted (``"i"`` integer, ``"u"`` unsigned, ``"f"`` float,
        ``"b"`` bool, ``"O"``/``"U"``/``"T"`` strings).
    required
        Whether every cohort must carry it.
    description
        What it holds.
    """

    name: str
    dims: tuple[str, ...]
    kind: str
    required: bool
    description: str


#: The documented variable registry of a genoma cohort (VCF Zarr names).
VARIABLES: dict[str, CohortVariable] = {
    v.name: v
    for v in [
        CohortVariable("sample_id", ("samples",), "OUT", True, "Sample identifiers, VCF header order."),
        CohortVariable("contig_id", ("contigs",), "OUT", True, "Contig names as in the VCF."),
        CohortVariable("variant_contig", ("variants",), "iu", True, "Index into contig_id."),
        CohortVariable("variant_position", ("variants",), "iu", True, "1-based VCF POS."),
        CohortVariable("variant_allele", ("variants", "alleles"), "OUT", True,
                       "REF then ALT alleles; empty string pads."),
        CohortVariable("call_genotype", ("variants", "samples", "ploidy"), "i", True,
                       "Allele index per call; -1 missing, -2 ploidy padding."),
        CohortVariable("call_genotype_mask", ("variants", "samples", "ploidy"), "b", False,
                       "True where call_genotype < 0."),
        CohortVariable("call_genotype_phased", ("variants", "samples"), "b", False,
                       "Whether the call is phased."),
        CohortVariable("variant_id", ("variants",), "OUT", False, "VCF ID column."),
        CohortVariable("variant_quality", ("variants",), "f", False, "VCF QUAL."),
        CohortVariable("variant_filter", ("variants", "filters"), "b", False, "FILTER flags."),
        CohortVariable("sample_population", ("samples",), "OUT", False,
                       "Population label (simulated cohorts)."),
    ]
}


def validate_cohort(ds: Any, *, path: str | None = None) -> None:
    """Check that ``ds`` carries the required registry variables with the right shape.

    Parameters
    ----------
    ds
        An ``xarray.Dataset``.
    path
        The store it came from (for messages).

    Raises
    ------
    MalformedInputError
        A required variable is missing or has the wrong dimensions or dtype (exit 4).
    """
    for var in VARIABLES.values():
        if var.name not in ds:
            if var.required:
                raise MalformedInputError(f"cohort store lacks variable {var.name!r}", path=path)
            continue
        arr = ds[var.name]
        if tuple(arr.dims) != var.dims:
            raise MalformedInputError(
                f"variable {var.name!r} has dimensions {tuple(arr.dims)}, expected {var.dims}",
                path=path,
            )
        if arr.dtype.kind not in var.kind:
            raise MalformedInputError(
                f"variable {var.name!r} has dtype {arr.dtype}, expected kind {var.kind!r}",
                path=path,
            )


def _dosage_py(gt: np.ndarray) -> np.ndarray:
    v, n, ploidy = gt.shape
    out = np.empty((v, n), dtype=np.int8)
    for i in range(v):
        for j in range(n):
            d = 0
            for p in range(ploidy):
                a = gt[i, j, p]
                if a == -1:
                    d = -1
                    break
                if a == 1:
                    d += 1
            out[i, j] = d
    return out


@functools.cache
def _dosage_kernel() -> Any:
    import numba

    return numba.njit(cache=True, nogil=True)(_dosage_py)


def alt_dosage_block(gt: np.ndarray) -> np.ndarray:
    """First-ALT allele count of a block of calls (one compiled pass).

    Parameters
    ----------
    gt
        ``call_genotype`` block, shape ``(variants, samples, ploidy)``.

    Returns
    -------
    numpy.ndarray
        ``int8`` array ``(variants, samples)``: 0..ploidy, or ``-1`` when any allele of the
        call is missing (padding ``-2`` is ignored).
    """
    gt = np.ascontiguousarray(gt)
    if gt.dtype != np.int8:
        gt = gt.astype(np.int8)
    return _dosage_kernel()(gt)


def alt_dosage(ds: Any) -> Any:
    """First-ALT dosage of a cohort as a Dask (or NumPy) array ``(variants, samples)``.

    See :func:`alt_dosage_block` for the coding.
    """
    import dask.array as da

    g = ds["call_genotype"].data
    if isinstance(g, da.Array):
        return g.map_blocks(alt_dosage_block, drop_axis=2, dtype=np.int8)
    return alt_dosage_block(g)


def cohort_summary(ds: Any) -> dict[str, Any]:
    """Sizes and attributes of a cohort, JSON-ready."""
    return {
        "samples": int(ds.sizes["samples"]),
        "variants": int(ds.sizes["variants"]),
        "contigs": [str(c) for c in np.asarray(ds["contig_id"].values)],
        "genome_build": str(ds.attrs.get("genome_build", "unknown")),
    }
