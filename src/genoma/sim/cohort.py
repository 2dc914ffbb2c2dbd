"""Simulated multi-ancestry cohorts (msprime, OutOfAfrica_3G09) written straight to Zarr.

The demography is the three-population Out-of-Africa model of Gutenkunst et al. (2009)
with the parameter values of stdpopsim's ``HomSap/OutOfAfrica_3G09`` (defined here, so
nothing is downloaded); the recombination rate is uniform. The tree sequence goes to a
VCF Zarr store through ``bio2zarr.tskit`` (no VCF text is ever written), then phenotypes
are drawn from the stored genotypes chunk by chunk:

* a quantitative trait ``qt`` with ``n_causal`` causal variants (MAF ≥ 1 %) explaining
  ``h2`` of the variance, plus a population mean shift (stratification) and an age effect;
* a binary trait ``cc`` by a liability threshold at ``prevalence``.

References
----------
Gutenkunst RN et al. (2009) Inferring the joint demographic history of multiple
populations from multidimensional SNP frequency data. PLoS Genet 5:e1000695.
Adrion JR et al. (2020) A community-maintained standard library of population genetic
models. eLife 9:e54967.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from genoma.errors import UsageError

__all__ = ["POPULATIONS", "SimulatedCohort", "filter_sites", "out_of_africa_3g09",
           "simulate_cohort", "simulate_phenotypes", "simulate_tree_sequence", "site_alt_freq"]

#: Population names of the model (YRI-like, CEU-like, CHB-like).
POPULATIONS = ("YRI", "CEU", "CHB")
GENERATION_TIME = 25
MUTATION_RATE = 2.35e-8
RECOMBINATION_RATE = 1.0e-8


def out_of_africa_3g09() -> Any:
    """The ``OutOfAfrica_3G09`` demography as an ``msprime.Demography``."""
    import msprime

    n_a, n_b, n_af = 7300, 2100, 12300
    n_eu0, n_as0 = 1000, 510
    r_eu, r_as = 0.004, 0.0055
    t_af = 220e3 / GENERATION_TIME
    t_b = 140e3 / GENERATION_TIME
    t_eu_as = 21.2e3 / GENERATION_TIME
    n_eu = n_eu0 / math.exp(-r_eu * t_eu_as)
    n_as = n_as0 / math.exp(-r_as * t_eu_as)
    d = msprime.Demography()
    d.add_population(name="YRI", description="African (Yoruba)", initial_size=n_af)
    d.add_population(name="CEU", description="European", initial_size=n_eu, growth_rate=r_eu)
    d.add_population(name="CHB", description="East Asian", initial_size=n_as, growth_rate=r_as)
    d.add_population(name="OOA", description="Out-of-Africa bottleneck", initial_size=n_b)
    d.add_population(name="AMH", description="Anatomically modern humans", initial_size=n_af)
    d.add_population(name="ANC", description="Ancestral", initial_size=n_a)
    d.set_symmetric_migration_rate(["YRI", "CEU"], 3e-5)
    d.set_symmetric_migration_rate(["YRI", "CHB"], 1.9e-5)
    d.set_symmetric_migration_rate(["CEU", "CHB"], 9.6e-5)
    d.add_population_split(time=t_eu_as, derived=["CEU", "CHB"], ancestral="OOA")
    d.add_symmetric_migration_rate_change(time=t_eu_as, populations=["YRI", "OOA"], rate=25e-5)
    d.add_population_split(time=t_b, derived=["YRI", "OOA"], ancestral="AMH")
    d.add_population_split(time=t_af, derived=["AMH"], ancestral="ANC")
    return d


def simulate_tree_sequence(n_samples: int, length: int, *, seed: int = 1,
                           proportions: tuple[float, float, float] = (1 / 3, 1 / 3, 1 / 3)
                           ) -> Any:
    """Simulate diploid individuals from the three modern populations.

    Parameters
    ----------
    n_samples
        Diploid individuals in total, split by ``proportions`` over YRI, CEU, CHB.
    length
        Sequence length in bp.
    seed
        Random seed (ancestry uses ``seed``, mutations ``seed + 1``).
    proportions
        Share of each population.
    """
    import msprime

    if n_samples < 3 or length < 1000:
        raise UsageError("simulate at least 3 samples and 1 kb")
    counts = np.floor(np.asarray(proportions) / sum(proportions) * n_samples).astype(int)
    counts[0] += n_samples - counts.sum()
    samples = {p: int(c) for p, c in zip(POPULATIONS, counts, strict=True) if c > 0}
    ts = msprime.sim_ancestry(samples=samples, demography=out_of_africa_3g09(),
                              sequence_length=length, recombination_rate=RECOMBINATION_RATE,
                              ploidy=2, random_seed=seed)
    return msprime.sim_mutations(ts, rate=MUTATION_RATE, random_seed=seed + 1)


def site_alt_freq(ts: Any) -> np.ndarray:
    """Frequency of each site's first ALT allele over the sample haplotypes.

    The first ALT allele is the one ``bio2zarr.tskit`` stores as allele index 1 (the
    derived state of the site's first mutation), i.e. the allele whose dosage genoma
    tests (:func:`genoma.model.cohort.alt_dosage_block`), so ``min(f, 1 - f)`` is the MAF
    genoma and plink2 report on the written store. Sites with one mutation are counted
    from the trees (samples under the mutation's node, no genotype decoding); the few
    sites with several mutations are decoded.

    Parameters
    ----------
    ts
        A ``tskit.TreeSequence`` (no missing data).

    Returns
    -------
    numpy.ndarray
        ``(num_sites,)`` float64.
    """
    import tskit

    n = ts.num_samples
    freq = np.zeros(ts.num_sites)
    multi: list[int] = []
    for tree in ts.trees():
        for site in tree.sites():
            muts = site.mutations
            if len(muts) == 1:
                freq[site.id] = tree.num_samples(muts[0].node) / n
            elif len(muts) > 1:
                multi.append(site.id)
    if multi:
        var = tskit.Variant(ts)
        for sid in multi:
            var.decode(sid)
            freq[sid] = np.count_nonzero(var.genotypes == 1) / n
    return freq


def _check_site_filter(min_maf: float, max_variants: int | None) -> None:
    if not 0.0 <= min_maf <= 0.5:
        raise UsageError(f"min_maf must be between 0 and 0.5 (got {min_maf})")
    if max_variants is not None and max_variants < 1:
        raise UsageError(f"max_variants must be at least 1 (got {max_variants})")


def filter_sites(ts: Any, *, min_maf: float = 0.0, max_variants: int | None = None) -> Any:
    """Keep the sites with ``MAF >= min_maf`` (first in position order, at most ``max_variants``).

    Parameters
    ----------
    ts
        A ``tskit.TreeSequence``.
    min_maf
        Minor allele frequency threshold on the first ALT allele (:func:`site_alt_freq`);
        0 keeps every site.
    max_variants
        Keep at most this many passing sites, the first ones by position; None: all.

    Returns
    -------
    tskit.TreeSequence
        The same trees with the other sites (and their mutations) deleted; unchanged when
        nothing is removed.

    Raises
    ------
    UsageError
        ``min_maf`` outside ``[0, 0.5]`` or ``max_variants < 1``.
    """
    _check_site_filter(min_maf, max_variants)
    keep = np.ones(ts.num_sites, dtype=bool)
    if min_maf > 0:
        f = site_alt_freq(ts)
        keep = np.minimum(f, 1.0 - f) >= min_maf
    if max_variants is not None:  # sites are sorted by position in a tree sequence
        kept = np.flatnonzero(keep)
        keep[kept[max_variants:]] = False
    if keep.all():
        return ts
    return ts.delete_sites(np.flatnonzero(~keep))


@dataclass
class SimulatedCohort:
    """What :func:`simulate_cohort` wrote."""

    store: Path
    samples: pd.DataFrame
    pheno: pd.DataFrame
    covar: pd.DataFrame
    causal: pd.DataFrame
    n_variants: int


def simulate_phenotypes(ds: Any, populations: np.ndarray, *, n_causal: int = 100,
                        h2: float = 0.3, prevalence: float = 0.2, seed: int = 1
                        ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Draw covariates and phenotypes from the genotypes of a cohort.

    Returns
    -------
    tuple of pandas.DataFrame
        ``pheno`` (``sample, qt, cc``), ``covar`` (``sample, sex, age``) and ``causal``
        (``index, pos, beta``).
    """
    from genoma.model.cohort import alt_dosage

    rng = np.random.default_rng(seed)
    ids = np.asarray(ds["sample_id"].values).astype(str)
    n = ids.size
    d = alt_dosage(ds)
    freq = (d.sum(axis=1) / (2 * n)).compute()  # simulated data have no missing calls
    maf = np.minimum(freq, 1 - freq)
    candidates = np.flatnonzero(maf >= 0.01)
    k = min(n_causal, candidates.size)
    causal = np.sort(rng.choice(candidates, size=k, replace=False)) if k else np.array([], int)
    g = np.asarray(d[causal].compute(), dtype=np.float64) if k else np.zeros((0, n))
    p = freq[causal][:, None]
    z = (g - 2 * p) / np.sqrt(2 * p * (1 - p))
    beta = rng.normal(0, math.sqrt(h2 / max(k, 1)), size=k)
    genetic = beta @ z if k else np.zeros(n)
    shift = {"YRI": 0.3, "CEU": 0.0, "CHB": -0.2}
    strat = np.array([shift.get(str(x), 0.0) for x in populations])
    sex = rng.integers(1, 3, size=n)
    age = rng.normal(50, 10, size=n).round(1)
    noise = rng.normal(0, math.sqrt(1 - h2), size=n)
    qt = genetic + strat + 0.01 * (age - 50) + noise
    liability = (qt - qt.mean()) / qt.std()
    threshold = np.quantile(liability, 1 - prevalence)
    cc = (liability > threshold).astype(int)
    pos = np.asarray(ds["variant_position"].values)[causal]
    return (pd.DataFrame({"sample": ids, "qt": qt, "cc": cc}),
            pd.DataFrame({"sample": ids, "sex": sex, "age": age}),
            pd.DataFrame({"index": causal, "pos": pos, "beta": beta}))


def _write_populations(store: Path, pops: np.ndarray) -> None:
    """Add the ``sample_population`` variable (samples,) to a Zarr store."""
    import zarr

    root = zarr.open_group(str(store), mode="r+")
    values = np.asarray(pops).astype("U8")
    arr = root.create_array("sample_population", shape=values.shape, dtype=values.dtype,
                            chunks=values.shape)
    arr[:] = values
    arr.attrs["_ARRAY_DIMENSIONS"] = ["samples"]


def simulate_cohort(out: str | Path, n_samples: int, length: int, *, seed: int = 1,
                    contig: str = "chr1", n_causal: int = 100, h2: float = 0.3,
                    prevalence: float = 0.2, variants_chunk_size: int | None = None,
                    samples_chunk_size: int | None = None, worker_processes: int = 0,
                    show_progress: bool = False, min_maf: float = 0.0,
                    max_variants: int | None = None) -> SimulatedCohort:
    """Simulate a cohort into ``out/cohort.vcz`` plus ``samples/pheno/covar/causal.tsv``.

    Parameters
    ----------
    out
        A directory to create (its parent must exist); written via a temporary sibling.
    n_samples, length, seed
        See :func:`simulate_tree_sequence`.
    contig
        Contig name given to the simulated sequence.
    n_causal, h2, prevalence
        See :func:`simulate_phenotypes`.
    variants_chunk_size, samples_chunk_size, worker_processes, show_progress
        Passed to ``bio2zarr.tskit.convert``.
    min_maf, max_variants
        Keep only sites with a minor allele frequency of at least ``min_maf``, the first
        ``max_variants`` of them by position (:func:`filter_sites`), before anything is
        written; the defaults keep every site. Recorded in the store's
        ``genoma_simulation`` attribute.

    Returns
    -------
    SimulatedCohort
        Paths and tables (the tables are written by the caller or the CLI).
    """
    from bio2zarr import tskit as b2z_tskit

    from genoma.io.vcz import finalise_store, open_cohort, partial_path

    store = Path(out).resolve()
    _check_site_filter(min_maf, max_variants)  # before the (long) simulation
    ts = simulate_tree_sequence(n_samples, length, seed=seed)
    simulated_sites = ts.num_sites
    ts = filter_sites(ts, min_maf=min_maf, max_variants=max_variants)
    if ts.num_sites == 0:  # nothing to write (bio2zarr cannot encode an empty store)
        raise UsageError(
            f"no variant left to write: {simulated_sites} site(s) simulated over {length} bp, "
            f"none with minor allele frequency >= {min_maf}; simulate a longer sequence "
            "(--length) or lower --min-maf")
    names = [f"S{i + 1:06d}" for i in range(ts.num_individuals)]
    pop_names = [p.metadata.get("name", str(p.id)) if isinstance(p.metadata, dict) else str(p.id)
                 for p in ts.populations()]
    pops = np.array([pop_names[ind.population] for ind in ts.individuals()])
    model = ts.map_to_vcf_model(individual_names=names, contig_id=contig,
                                position_transform=lambda x: np.asarray(x).astype(int) + 1)
    tmp = partial_path(store)
    import shutil

    if tmp.exists():
        shutil.rmtree(tmp)
    try:
        b2z_tskit.convert(ts, str(tmp), model_mapping=model,
                          variants_chunk_size=variants_chunk_size,
                          samples_chunk_size=samples_chunk_size,
                          worker_processes=worker_processes, show_progress=show_progress)
        _write_populations(tmp, pops)
        finalise_store(tmp, store, {
            "genome_build": "simulated", "genoma_source": "msprime",
            "genoma_simulation": {"model": "OutOfAfrica_3G09", "n_samples": n_samples,
                                  "length": length, "seed": seed,
                                  "mutation_rate": MUTATION_RATE,
                                  "recombination_rate": RECOMBINATION_RATE,
                                  "min_maf": min_maf, "max_variants": max_variants,
                                  "simulated_sites": simulated_sites}})
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    ds = open_cohort(store)
    pheno, covar, causal = simulate_phenotypes(ds, ds["sample_population"].values, n_causal=n_causal, h2=h2,
                                               prevalence=prevalence, seed=seed + 2)
    samples = pd.DataFrame({"sample": names, "population": pops})
    return SimulatedCohort(store, samples, pheno, covar, causal, int(ds.sizes["variants"]))
