"""Manhattan and QQ plots of an association scan (matplotlib figures; no file I/O).

Both take the table of :func:`genoma.analyses.cohort.gwas.gwas` and return a
``matplotlib.figure.Figure`` the caller saves (the CLI writes PNGs). They are built with
the object API (no pyplot state), vectorised over all variants.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["genomic_inflation", "manhattan_figure", "qq_figure"]


def _chrom_order(chrom: pd.Series) -> pd.Series:
    bare = chrom.str.replace("chr", "", regex=False)
    num = pd.to_numeric(bare.replace({"X": "23", "Y": "24", "M": "25"}), errors="coerce")
    return num.fillna(99)


def genomic_inflation(p: np.ndarray) -> float:
    """λ_GC: median χ²(1) of the p-values over its expectation (0.4549)."""
    from scipy import stats

    p = np.asarray(p, dtype=float)
    p = p[np.isfinite(p) & (p > 0)]
    if p.size == 0:
        return float("nan")
    return float(np.median(stats.chi2.isf(p, 1)) / stats.chi2.ppf(0.5, 1))


def manhattan_figure(table: pd.DataFrame, *, threshold: float = 5e-8,
                     title: str = "") -> Any:
    """Manhattan plot: −log10 p along the genome, chromosomes alternating in colour."""
    from matplotlib.figure import Figure

    t = table[np.isfinite(table["p"]) & (table["p"] > 0)].copy()
    t["order"] = _chrom_order(t["chrom"])
    t = t.sort_values(["order", "pos"])
    span = t.groupby("order")["pos"].max()
    offsets = span.cumsum().shift(fill_value=0)
    x = t["pos"].to_numpy() + offsets.loc[t["order"]].to_numpy()
    y = -np.log10(t["p"].to_numpy())
    colour = (t["order"].rank(method="dense").to_numpy().astype(int) % 2)
    fig = Figure(figsize=(11, 4))
    ax = fig.add_subplot()
    for c, col in ((0, "#1f4e79"), (1, "#7fa7d1")):
        m = colour == c
        ax.scatter(x[m], y[m], s=3, color=col, linewidths=0, rasterized=True)
    ax.axhline(-np.log10(threshold), color="#c0392b", lw=0.8, ls="--")
    centres = (offsets + span / 2).to_numpy()
    labels = t.groupby("order")["chrom"].first().str.replace("chr", "", regex=False)
    ax.set_xticks(centres, labels.to_numpy(), fontsize=7)
    ax.set_xlabel("chromosome")
    ax.set_ylabel("−log10 p")
    ax.set_title(title or f"{len(t):,} variants")
    fig.tight_layout()
    return fig


def qq_figure(table: pd.DataFrame, *, title: str = "") -> Any:
    """QQ plot of observed against expected −log10 p, with λ_GC in the title."""
    from matplotlib.figure import Figure

    p = table["p"].to_numpy(dtype=float)
    p = np.sort(p[np.isfinite(p) & (p > 0)])
    n = p.size
    expected = -np.log10((np.arange(1, n + 1) - 0.5) / n)
    fig = Figure(figsize=(4.5, 4.5))
    ax = fig.add_subplot()
    ax.scatter(expected, -np.log10(p), s=3, color="#1f4e79", linewidths=0, rasterized=True)
    top = float(expected.max()) if n else 1.0
    ax.plot([0, top], [0, top], color="#c0392b", lw=0.8)
    ax.set_xlabel("expected −log10 p")
    ax.set_ylabel("observed −log10 p")
    ax.set_title(title or f"λGC = {genomic_inflation(p):.3f}")
    fig.tight_layout()
    return fig
