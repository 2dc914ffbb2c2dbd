"""Reference PCA: fit principal components on a reference panel, project targets onto it.

The reference genotypes (sites × samples ALT counts) are restricted to the sites the
target shares with the reference (as pgsc_calc intersects target and reference before
its PCA), to common variants (MAF ≥ ``min_maf`` in the reference), standardised per site
with the reference allele frequency ``p`` (``(g − 2p) / sqrt(2p(1 − p))``, the
Patterson et al. 2006 scaling used by plink and fraposa), and decomposed by SVD. A target
is projected with the reference loadings; a missing target genotype contributes 0 (the
reference mean). Target alleles swapped relative to the reference are recoded
(``2 − g``); strand-ambiguous SNPs whose alleles need a flip are dropped.

The standardisation and the decomposition are genoma's one PCA core
(:func:`genoma.analyses.cohort.pca.patterson_scale`, :func:`~genoma.analyses.cohort.pca.standardise`,
:func:`~genoma.analyses.cohort.pca.top_components`), here in single precision with the
seeded randomised solver and loadings-based signs (so stored reference PCAs keep their
orientation).

References
----------
Patterson N, Price AL, Reich D. Population structure and eigenanalysis. PLoS Genet 2,
e190 (2006). doi:10.1371/journal.pgen.0020190
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from genoma.analyses.cohort.pca import patterson_scale, standardise, top_components
from genoma.errors import InconsistentInputError
from genoma.io.pgs import TargetGenotypes

__all__ = ["ReferencePCA", "SiteAlignment", "align_sites", "fit_pca", "project"]

_COMP = str.maketrans("ACGT", "TGCA")


@dataclass
class SiteAlignment:
    """Reference sites found in a target.

    Attributes
    ----------
    ref_index
        Reference site index of each shared site.
    target_row
        Target row of each shared site.
    swapped
        True where the target's ALT is the reference's REF (target dosage → ``2 − d``).
    """

    ref_index: np.ndarray
    target_row: np.ndarray
    swapped: np.ndarray

    @property
    def n(self) -> int:
        """Number of shared sites."""
        return int(self.ref_index.shape[0])


def align_sites(
    chrom: np.ndarray, pos: np.ndarray, ref: np.ndarray, alt: np.ndarray,
    target: TargetGenotypes,
) -> SiteAlignment:
    """Find reference sites in the target by position and alleles (swaps, strand flips).

    Multi-allelic target rows and palindromic SNPs that would need a strand flip are
    skipped; one target row per reference site (the first).
    """
    rdf = pd.DataFrame({"ri": np.arange(len(pos)), "chrom": np.asarray(chrom, dtype=object),
                        "pos": np.asarray(pos, dtype=np.int64),
                        "rref": np.asarray(ref, dtype=object),
                        "ralt": np.asarray(alt, dtype=object)})
    tdf = pd.DataFrame({"tr": np.arange(target.n_sites), "chrom": target.chrom,
                        "pos": target.pos, "tref": target.ref, "talt": target.alt,
                        "multi": target.multiallelic})
    m = rdf.merge(tdf[~tdf["multi"]], on=["chrom", "pos"], how="inner")
    if m.empty:
        e = np.empty(0, dtype=np.int64)
        return SiteAlignment(e, e.copy(), np.empty(0, dtype=bool))
    rr, ra = m["rref"].to_numpy(), m["ralt"].to_numpy()
    tr, ta = m["tref"].to_numpy(), m["talt"].to_numpy()
    fr = np.array([x.translate(_COMP) for x in tr], dtype=object)
    fa = np.array([x.translate(_COMP) for x in ta], dtype=object)
    palin = np.array([x.translate(_COMP) == y for x, y in zip(rr, ra, strict=True)])
    same = (rr == tr) & (ra == ta)
    swap = (rr == ta) & (ra == tr)
    same_f = (rr == fr) & (ra == fa) & ~palin
    swap_f = (rr == fa) & (ra == fr) & ~palin
    ok = same | swap | same_f | swap_f
    m = m.assign(swapped=(swap | swap_f) & ~same & ~same_f)[ok]
    m = m.drop_duplicates("ri", keep="first")
    return SiteAlignment(m["ri"].to_numpy(np.int64), m["tr"].to_numpy(np.int64),
                         m["swapped"].to_numpy(bool))


@dataclass
class ReferencePCA:
    """A PCA fitted on reference genotypes.

    Attributes
    ----------
    site_index
        Reference site indices used (after the overlap and MAF filters).
    mean, scale
        ``2p`` and ``sqrt(2p(1−p))`` per site used.
    loadings
        ``(n_sites_used, n_pcs)`` right singular vectors.
    singular_values
        The ``n_pcs`` singular values.
    ref_pcs
        ``(n_ref_samples, n_pcs)`` PC scores of the reference samples.
    """

    site_index: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    loadings: np.ndarray
    singular_values: np.ndarray
    ref_pcs: np.ndarray

    @property
    def n_pcs(self) -> int:
        """Number of components."""
        return int(self.loadings.shape[1])

    @property
    def explained_variance(self) -> np.ndarray:
        """Eigenvalues (``s² / (n − 1)``) of the components."""
        n = self.ref_pcs.shape[0]
        return self.singular_values**2 / max(n - 1, 1)


def _standardise(g: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """sites × samples → standardised (float32), missing (NaN or < 0) → 0."""
    return standardise(g, mean, scale, dtype=np.float32)


def fit_pca(
    genotypes: np.ndarray,
    site_index: np.ndarray | None = None,
    sample_mask: np.ndarray | None = None,
    n_pcs: int = 10,
    min_maf: float = 0.01,
) -> ReferencePCA:
    """Fit a PCA on reference genotypes.

    Parameters
    ----------
    genotypes
        ``(n_sites, n_samples)`` ALT counts 0/1/2, ``-1`` (or NaN) missing.
    site_index
        Sites to use (e.g. those shared with the target); all when ``None``.
    sample_mask
        Samples used to fit (e.g. all but a held-out set); all when ``None``. Scores are
        returned for these samples only.
    n_pcs
        Number of components.
    min_maf
        Minimum minor-allele frequency in the fitting samples.

    Returns
    -------
    ReferencePCA

    Raises
    ------
    InconsistentInputError
        Fewer usable sites than ``2 × n_pcs`` (exit 5).
    """
    idx = np.arange(genotypes.shape[0]) if site_index is None else np.asarray(site_index)
    g = genotypes[idx]
    if sample_mask is not None:
        g = g[:, np.asarray(sample_mask, dtype=bool)]
    gf = g.astype(np.float32)
    gf[gf < 0] = np.nan
    with np.errstate(invalid="ignore"):
        p = np.nanmean(gf, axis=1) / 2.0
    maf = np.minimum(p, 1 - p)
    keep = np.isfinite(p) & (maf >= min_maf)
    if keep.sum() < 2 * n_pcs:
        raise InconsistentInputError(
            f"only {int(keep.sum())} common reference sites are usable for the ancestry "
            f"PCA (at least {2 * n_pcs} needed)")
    idx, gf, p = idx[keep], gf[keep], p[keep]
    mean, scale = patterson_scale(p, dtype=np.float32)
    x = _standardise(gf, mean, scale)  # sites × samples
    # truncated SVD of samples × sites (randomized, seeded: Halko et al. 2011)
    k = min(n_pcs, min(x.shape) - 1)
    u, s, v = top_components(x.T, k, method="randomized", seed=0, sign_by="loadings")
    return ReferencePCA(site_index=idx, mean=mean, scale=scale, loadings=v,
                        singular_values=s, ref_pcs=u * s)


def project(pca: ReferencePCA, genotypes: np.ndarray) -> np.ndarray:
    """Project samples onto a reference PCA.

    Parameters
    ----------
    pca
        The fitted PCA.
    genotypes
        ``(len(pca.site_index), n_samples)`` ALT counts on the reference alleles, in
        the order of ``pca.site_index`` (NaN or ``-1`` missing).

    Returns
    -------
    numpy.ndarray
        ``(n_samples, n_pcs)`` PC scores in the reference space.
    """
    x = _standardise(np.asarray(genotypes), pca.mean, pca.scale)
    return (x.T.astype(np.float64)) @ pca.loadings
