"""LD clumping of association results into independent loci, and regions of interest.

:func:`clump` follows plink's ``--clump`` (Purcell et al. 2007; plink 1.9 defaults to
no overlap between clumps):

1. variants with ``p <= p2`` that are in the cohort store are the candidates;
2. in order of ascending ``p`` (ties: genome order), a candidate with ``p <= p1`` not yet
   in a clump becomes an *index variant*;
3. every other unassigned candidate on the same chromosome within ``kb_window`` kb of
   the index whose squared allele-count correlation with the index is ``>= r2`` joins
   the index's clump (and is not considered again).

``r²`` is the squared Pearson correlation of first-ALT dosages
(:func:`genoma.model.cohort.alt_dosage`) over the samples called at both variants,
computed for one index variant against its whole window at once as six matrix–vector
products (no loops over samples). Dosages are read only for the candidate variants, one
chromosome at a time.

:func:`regions_of_interest` turns clumps into a ranked list of loci (the hypotheses
to follow up): the span of each clump widened by a flank, its lead variant, and the
genes nearest to the lead and overlapping the region (:mod:`genoma.kb.genes`).

References
----------
Purcell S et al. (2007) PLINK: a tool set for whole-genome association and
population-based linkage analyses. Am J Hum Genet 81:559–575.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from genoma.errors import InconsistentInputError, MalformedInputError, UsageError

__all__ = ["CLUMP_COLUMNS", "REGION_COLUMNS", "clump", "ld_r2", "regions_of_interest"]

VERSION = "0.1.0"
#: Columns of the :func:`clump` table.
CLUMP_COLUMNS = ("clump", "chrom", "pos", "id", "ref", "alt", "p", "r2", "is_index")
#: Columns of the :func:`regions_of_interest` table.
REGION_COLUMNS = ("rank", "chrom", "start", "end", "lead_variant", "lead_p", "n_variants",
                  "nearest_genes", "genes_in_region")


def ld_r2(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Squared allele-count correlation of one variant with many (pairwise-complete).

    Parameters
    ----------
    x
        Dosages of one variant ``(samples,)``; negative = missing.
    y
        Dosages of other variants ``(variants, samples)``; negative = missing.

    Returns
    -------
    numpy.ndarray
        ``r²`` per row of ``y`` over the samples called at both variants; NaN when either
        variant is constant there (or fewer than 2 such samples).
    """
    return _ld_r2_prepared(*_ld_prepare(np.asarray(x)[None, :]), 0, *_ld_prepare(np.asarray(y)))


def _ld_prepare(d: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Called mask, dosage (0 where missing) and squared dosage as float32, once per block.

    Dosages are small integers, so float32 products and sums of up to 2**22 samples are
    exact (every partial sum is an integer below 2**24): the same r² as float64, at half
    the memory and twice the BLAS speed.
    """
    valid = d >= 0
    z = np.where(valid, d, 0).astype(np.float32)
    return valid.astype(np.float32), z, z * z


def _ld_r2_prepared(mx: np.ndarray, xz: np.ndarray, xz2: np.ndarray, i: int,
                    my: np.ndarray, yz: np.ndarray, yz2: np.ndarray) -> np.ndarray:
    """:func:`ld_r2` of row ``i`` of a prepared block against the rows of another one."""
    mxi, xzi, xz2i = mx[i], xz[i], xz2[i]
    n = (my @ mxi).astype(np.float64)
    sx = (my @ xzi).astype(np.float64)
    sxx = (my @ xz2i).astype(np.float64)
    sy = (yz @ mxi).astype(np.float64)
    syy = (yz2 @ mxi).astype(np.float64)
    sxy = (yz @ xzi).astype(np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        cov = sxy - sx * sy / n
        vx = sxx - sx * sx / n
        vy = syy - sy * sy / n
        r2 = cov * cov / (vx * vy)
    tiny = 1e-9 * np.maximum(n, 1)
    r2[(n < 2) | (vx <= tiny) | (vy <= tiny)] = np.nan
    return np.clip(r2, 0.0, 1.0)


def _match(ds: Any, gwas_table: pd.DataFrame) -> pd.DataFrame:
    """Attach the store's variant index (``vidx``) to GWAS rows; unmatched rows dropped."""
    from genoma.analyses.cohort.gwas import variant_table
    from genoma.model.variant import canonical_chrom

    need = {"chrom", "pos", "p"}
    missing = need - set(gwas_table.columns)
    if missing:
        raise MalformedInputError(
            f"association table lacks column(s) {', '.join(sorted(missing))} (need chrom, pos, p)")
    g = gwas_table.copy()
    g["chrom"] = [canonical_chrom(str(c)) for c in g["chrom"]]
    g["pos"] = pd.to_numeric(g["pos"], errors="coerce")
    g["p"] = pd.to_numeric(g["p"], errors="coerce")
    g = g[g["pos"].notna()].copy()
    g["pos"] = g["pos"].astype(np.int64)
    vt = variant_table(ds)
    vt["vidx"] = np.arange(len(vt))
    keys = ["chrom", "pos"]
    if {"ref", "alt"} <= set(g.columns):
        keys += ["ref", "alt"]
        g["ref"] = g["ref"].astype(str)
        g["alt"] = g["alt"].astype(str)
    right = vt[[*keys, "vidx"] + [c for c in ("id", "ref", "alt") if c not in keys]]
    right = right.drop_duplicates(keys)
    left = g[[*keys, "p"] + (["id"] if "id" in g.columns else [])]
    merged = left.merge(right, on=keys, how="inner", suffixes=("", "_store"))
    if "id_store" in merged.columns:
        merged = merged.drop(columns="id_store")
    merged["id"] = merged["id"].astype(str)
    return merged


def clump(ds: Any, gwas_table: pd.DataFrame, p1: float = 5e-8, p2: float = 1e-2,
          r2: float = 0.1, kb_window: float = 250) -> pd.DataFrame:
    """Group association results into LD clumps around index variants (plink ``--clump``).

    Parameters
    ----------
    ds
        Cohort dataset (:func:`genoma.io.vcz.open_cohort`) giving the genotypes for LD.
    gwas_table
        Association results with ``chrom``, ``pos``, ``p`` (and optionally ``id``,
        ``ref``, ``alt``, used to match the store's variants), e.g. ``gwas.tsv``.
    p1
        Index variants have ``p <= p1``.
    p2
        Clump members have ``p <= p2``.
    r2
        Members have ``r² >= r2`` with the index variant.
    kb_window
        Members lie within this many kb of the index variant (same chromosome).

    Returns
    -------
    pandas.DataFrame
        One row per clumped variant, columns :data:`CLUMP_COLUMNS`: ``clump`` numbers
        clumps 1.. by ascending index ``p``; ``r2`` is the correlation with the index
        (1 for the index itself); rows sorted by clump, then index first, then position.

    Raises
    ------
    UsageError
        Thresholds out of range (``p1 > p2``, ``r2`` outside (0, 1], negative window).
    InconsistentInputError
        None of the association rows is a variant of the store (exit 5).
    """
    from genoma.model.cohort import alt_dosage

    if not (0 < p1 <= p2 <= 1):
        raise UsageError(f"need 0 < p1 <= p2 <= 1 (got p1={p1}, p2={p2})")
    if not (0 < r2 <= 1):
        raise UsageError(f"r2 must be in (0, 1] (got {r2})")
    if kb_window < 0:
        raise UsageError(f"kb window must be >= 0 (got {kb_window})")
    m = _match(ds, gwas_table)
    if len(m) == 0 and len(gwas_table):
        raise InconsistentInputError(
            "no variant of the association table is in the cohort store (chrom/pos/ref/alt)")
    cand = m[m["p"].notna() & (m["p"] <= p2)].sort_values(["p", "vidx"], kind="mergesort")
    cand = cand.reset_index(drop=True)
    out: list[pd.DataFrame] = []
    if len(cand) == 0:
        return pd.DataFrame({c: [] for c in CLUMP_COLUMNS})
    dose = alt_dosage(ds)
    window = round(kb_window * 1000)
    n_clump = 0
    # per chromosome: dosages of the candidates only, then the greedy pass
    pieces: list[tuple[float, int, pd.DataFrame]] = []
    for chrom, sub in cand.groupby("chrom", sort=False):
        sub = sub.reset_index(drop=True)  # already in p order
        order = np.argsort(sub["vidx"].to_numpy(), kind="stable")
        vidx_sorted = sub["vidx"].to_numpy()[order]
        rows = dose[vidx_sorted]
        rows = np.asarray(rows.compute() if hasattr(rows, "compute") else rows)
        d = np.empty_like(rows)
        d[order] = rows  # d[i] = dosages of sub row i
        prep = _ld_prepare(d)  # once per chromosome, not once per index variant
        del d, rows
        pos = sub["pos"].to_numpy()
        pv = sub["p"].to_numpy()
        free = np.ones(len(sub), dtype=bool)
        for i in range(len(sub)):
            if not free[i] or pv[i] > p1:
                continue
            free[i] = False
            near = np.flatnonzero(free & (np.abs(pos - pos[i]) <= window))
            members = np.array([], dtype=np.int64)
            r = np.array([])
            if near.size:
                rr = _ld_r2_prepared(*prep, i, prep[0][near], prep[1][near], prep[2][near])
                keep = rr >= r2  # NaN (monomorphic) never joins
                members, r = near[keep], rr[keep]
                free[members] = False
            idx = np.concatenate([[i], members])
            part = sub.iloc[idx][["chrom", "pos", "id", "ref", "alt", "p"]].copy()
            part["r2"] = np.concatenate([[1.0], r])
            part["is_index"] = np.arange(len(idx)) == 0
            pieces.append((float(pv[i]), int(sub["vidx"].iat[i]), part))
        del chrom
    pieces.sort(key=lambda t: (t[0], t[1]))
    for _, _, part in pieces:
        n_clump += 1
        part.insert(0, "clump", n_clump)
        head, rest = part.iloc[:1], part.iloc[1:].sort_values("pos", kind="mergesort")
        out.append(pd.concat([head, rest]))
    table = pd.concat(out, ignore_index=True)[list(CLUMP_COLUMNS)]
    table["clump"] = table["clump"].astype(np.int64)
    table["pos"] = table["pos"].astype(np.int64)
    return table


def _variant_label(row: pd.Series) -> str:
    vid = str(row["id"])
    if vid and vid not in (".", "nan"):
        return vid
    return f"{row['chrom']}:{row['pos']}:{row['ref']}:{row['alt']}"


def _nearest(genes: Any, chrom: str, pos: int, rows_by_chrom: dict[str, np.ndarray]) -> list[str]:
    """Genes containing ``pos``; else the closest gene on each side (closest first)."""
    rows = rows_by_chrom.get(chrom)
    if rows is None or rows.size == 0:
        return []
    gs = genes.cols["start"][rows]
    ge = genes.cols["end"][rows]
    sym = genes.cols["symbol"][rows]
    inside = (gs <= pos) & (ge >= pos)
    if inside.any():
        return list(dict.fromkeys(sym[inside].tolist()))
    found: list[tuple[int, str]] = []
    up = ge < pos
    if up.any():
        dist = pos - ge[up]
        found.append((int(dist.min()), str(sym[up][np.argmin(dist)])))
    down = gs > pos
    if down.any():
        dist = gs[down] - pos
        found.append((int(dist.min()), str(sym[down][np.argmin(dist)])))
    found.sort()
    return list(dict.fromkeys(s for _, s in found))


def regions_of_interest(clumps: pd.DataFrame, build: str, flank_kb: float = 50,
                        genes: Any = None) -> pd.DataFrame:
    """One ranked region per clump, with the genes near the lead and in the region.

    Parameters
    ----------
    clumps
        The table of :func:`clump`.
    build
        Genome build of the positions (``ds.attrs["genome_build"]``).
    flank_kb
        The region is the clump's span (index and members) widened by this on each side
        (start clipped at 1).
    genes
        A :class:`genoma.kb.genes.GeneTable` (default: :func:`genoma.kb.genes.gene_table`
        for ``build``); its build must equal ``build``.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`REGION_COLUMNS`, ranked by lead p (rank 1 = smallest).
        ``nearest_genes``: the genes containing the lead variant, else the nearest gene
        upstream and downstream (closer first); ``genes_in_region``: every gene
        overlapping ``start..end`` in position order; both comma-separated.

    Raises
    ------
    InconsistentInputError
        No gene coordinates for the build (e.g. GRCh37 without ``gencode-grch37``
        installed, or ``unknown``), or a gene table of another build (exit 5).
    """
    if genes is None:
        from genoma.kb.genes import gene_table

        genes = gene_table(build)
    elif getattr(genes, "build", build) != build:
        raise InconsistentInputError(
            f"gene table is {genes.build} but the positions are {build}")
    if flank_kb < 0:
        raise UsageError(f"flank must be >= 0 kb (got {flank_kb})")
    if len(clumps) == 0:
        return pd.DataFrame({c: [] for c in REGION_COLUMNS})
    flank = round(flank_kb * 1000)
    grp = clumps.groupby("clump", sort=True)
    lead = clumps[clumps["is_index"].astype(bool)].set_index("clump").sort_index()
    span = grp["pos"].agg(["min", "max", "size"]).loc[lead.index]
    reg = pd.DataFrame({
        "chrom": lead["chrom"].astype(str).to_numpy(),
        "start": np.maximum(span["min"].to_numpy() - flank, 1),
        "end": span["max"].to_numpy() + flank,
        "lead_variant": [_variant_label(r) for _, r in lead.reset_index().iterrows()],
        "lead_p": lead["p"].to_numpy(),
        "n_variants": span["size"].to_numpy().astype(np.int64),
    })
    lead_pos = lead["pos"].to_numpy().astype(np.int64)
    gchrom = np.asarray(genes.cols["chrom"]).astype(str)
    rows_by_chrom = {c: np.flatnonzero(gchrom == c) for c in np.unique(reg["chrom"])}
    reg["nearest_genes"] = [",".join(_nearest(genes, c, int(p), rows_by_chrom))
                            for c, p in zip(reg["chrom"], lead_pos, strict=True)]
    q, g = genes.overlaps(reg["chrom"].to_numpy(), reg["start"].to_numpy(),
                          reg["end"].to_numpy())
    inreg = [[] for _ in range(len(reg))]  # type: list[list[str]]
    for qi, gi in zip(q.tolist(), g.tolist(), strict=True):
        inreg[qi].append(str(genes.cols["symbol"][gi]))
    reg["genes_in_region"] = [",".join(dict.fromkeys(s)) for s in inreg]
    reg = reg.sort_values(["lead_p"], kind="mergesort").reset_index(drop=True)
    reg.insert(0, "rank", np.arange(1, len(reg) + 1, dtype=np.int64))
    return reg[list(REGION_COLUMNS)]
