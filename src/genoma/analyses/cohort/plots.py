"""Manhattan and QQ plots of an association scan (matplotlib figures; no file I/O).

Both take the table of :func:`genoma.analyses.cohort.gwas.gwas` and return a
``matplotlib.figure.Figure`` the caller saves (the CLI writes PNGs). They are built with
the object API (no pyplot state), vectorised over all variants.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

__all__ = ["genomic_inflation", "manhattan_figure", "manhattan_html", "nearest_genes", "qq_figure",
           "qq_html", "thin_points", "top_loci"]


def _chrom_order(chrom: pd.Series) -> pd.Series:
    codes, uniques = pd.factorize(chrom.astype(str))
    bare = pd.Series(uniques).str.replace("chr", "", regex=False)
    num = pd.to_numeric(bare.replace({"X": "23", "Y": "24", "M": "25"}), errors="coerce")
    order = num.fillna(99).to_numpy()
    return pd.Series(order[codes], index=chrom.index)


def genomic_inflation(p: np.ndarray) -> float:
    """λ_GC: median χ²(1) of the p-values over its expectation (0.4549)."""
    from scipy import special  # not scipy.stats: its import alone costs ~0.4 s per run

    p = np.asarray(p, dtype=float)
    p = p[np.isfinite(p) & (p > 0)]
    if p.size == 0:
        return float("nan")
    # χ² quantiles are monotone in p: only the middle p-values need transforming
    k = p.size // 2
    mid = np.partition(p, [k - 1, k] if p.size % 2 == 0 else [k])
    middle = mid[[k - 1, k]] if p.size % 2 == 0 else mid[[k]]
    return float(np.mean(special.chdtri(1, middle)) / (2 * special.gammaincinv(0.5, 0.5)))


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


# --------------------------------------------------------------------------------------
# Interactive (HTML) plots: Bokeh, with BokehJS inlined (no CDN at view time)

#: Variants with p at or below this are always drawn (never thinned).
THIN_KEEP_P = 1e-3
#: Thinning grid of the Manhattan plot: genome width in this many bins …
THIN_X_BINS = 1200
#: … and −log10 p in steps of this size.
THIN_Y_STEP = 0.05
#: Thinning grid step of the QQ plot (both axes, −log10 units).
THIN_QQ_STEP = 0.01


def thin_points(x: np.ndarray, y: np.ndarray, p: np.ndarray, *, x_bins: int = THIN_X_BINS,
                y_step: float = THIN_Y_STEP, keep_p: float = THIN_KEEP_P) -> np.ndarray:
    """Indexes of the points to draw: all with ``p ≤ keep_p``, one per grid cell otherwise.

    The plane is cut into ``x_bins`` equal bins along ``x`` and steps of ``y_step`` along
    ``y``; in each cell holding only points with ``p > keep_p`` the point with the smallest
    p (then the lowest index) is kept. Deterministic, and invisible at screen resolution:
    a cell is about one pixel wide and high. At most ``x_bins × (−log10 keep_p) / y_step``
    thinned points are drawn (72,000 with the defaults), whatever the number of variants.

    Parameters
    ----------
    x, y
        Plot coordinates.
    p
        p-values (order of preference inside a cell).
    x_bins, y_step, keep_p
        Grid and the p-value below which nothing is thinned.

    Returns
    -------
    numpy.ndarray
        Sorted ``int64`` indexes into the inputs.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    p = np.asarray(p, dtype=float)
    keep = p <= keep_p
    rest = np.flatnonzero(~keep)
    if rest.size == 0:
        return np.flatnonzero(keep)
    lo, hi = float(np.min(x)), float(np.max(x))
    width = (hi - lo) or 1.0
    xb = np.minimum(((x[rest] - lo) / width * x_bins).astype(np.int64), x_bins - 1)
    yb = np.floor(y[rest] / y_step).astype(np.int64)
    cell = xb * (int(np.max(yb)) + 1) + yb
    order = np.lexsort((rest, p[rest], cell))  # by cell, then smallest p, then index
    first = np.ones(order.size, dtype=bool)
    first[1:] = cell[order][1:] != cell[order][:-1]
    return np.sort(np.concatenate([np.flatnonzero(keep), rest[order[first]]]))


def nearest_genes(genes: Any, chrom: np.ndarray, pos: np.ndarray) -> np.ndarray:
    """Nearest gene symbol per position (a gene containing it first), vectorised.

    Parameters
    ----------
    genes
        A :class:`genoma.kb.genes.GeneTable` or None (then all empty).
    chrom, pos
        Canonical chromosome names and 1-based positions.

    Returns
    -------
    numpy.ndarray
        Object array of symbols (``""`` where the chromosome has no genes).
    """
    chrom = np.asarray(chrom).astype(str)
    pos = np.asarray(pos, dtype=np.int64)
    out = np.full(chrom.shape, "", dtype=object)
    if genes is None or len(genes) == 0 or chrom.size == 0:
        return out
    gchrom = np.asarray(genes.cols["chrom"]).astype(str)
    for c in np.unique(chrom):
        rows = np.flatnonzero(gchrom == c)
        if rows.size == 0:
            continue
        at = np.flatnonzero(chrom == c)
        q = pos[at]
        gs = np.asarray(genes.cols["start"])[rows].astype(np.int64)
        ge = np.asarray(genes.cols["end"])[rows].astype(np.int64)
        sym = np.asarray(genes.cols["symbol"])[rows].astype(object)
        by_start = np.argsort(gs, kind="stable")
        by_end = np.argsort(ge, kind="stable")
        # downstream: first gene starting at or after q; upstream: last gene ending before q
        i_down = np.searchsorted(gs[by_start], q, side="left")
        i_up = np.searchsorted(ge[by_end], q, side="left") - 1
        d_down = np.where(i_down < rows.size,
                          gs[by_start][np.minimum(i_down, rows.size - 1)] - q, np.iinfo(np.int64).max)
        d_up = np.where(i_up >= 0, q - ge[by_end][np.maximum(i_up, 0)], np.iinfo(np.int64).max)
        best = np.where(d_up < d_down, sym[by_end][np.maximum(i_up, 0)],
                        sym[by_start][np.minimum(i_down, rows.size - 1)])
        # containing genes win: the gene with the latest start ≤ q whose end ≥ q, via
        # the running maximum of ends over genes sorted by start
        gs_s, ge_s, sym_s = gs[by_start], ge[by_start], sym[by_start]
        j = np.searchsorted(gs_s, q, side="right") - 1
        cmax = np.maximum.accumulate(ge_s)
        inside = (j >= 0) & (cmax[np.maximum(j, 0)] >= q)
        for k in np.flatnonzero(inside):
            jj, qk = int(j[k]), int(q[k])
            while jj >= 0 and ge_s[jj] < qk:
                jj -= 1
            best[k] = sym_s[jj]
        out[at] = best
    return out


def _labels(table: pd.DataFrame) -> np.ndarray:
    ids = table["id"].astype(str).to_numpy() if "id" in table else np.full(len(table), ".")
    fallback = (table["chrom"].astype(str) + ":" + table["pos"].astype(str)
                + (":" + table["ref"].astype(str) + ":" + table["alt"].astype(str)
                   if {"ref", "alt"} <= set(table.columns) else "")).to_numpy()
    return np.where(np.isin(ids, [".", "", "nan", "NA"]), fallback, ids)


def top_loci(table: pd.DataFrame, *, p_max: float = 5e-8, distance: int = 500_000,
             max_loci: int = 15) -> np.ndarray:
    """Row indexes of lead variants: lowest p first, others within ``distance`` bp skipped.

    A distance-based stand-in for clumping (the plots have no genotypes; ``genoma cohort
    regions`` clumps on LD).
    """
    t = table[np.isfinite(table["p"]) & (table["p"] <= p_max)]
    t = t.sort_values(["p", "chrom", "pos"], kind="stable")
    chosen: list[int] = []
    taken: dict[str, list[int]] = {}
    for idx, c, ps in zip(t.index, t["chrom"].astype(str), t["pos"].astype(np.int64), strict=True):
        if any(abs(int(ps) - q) < distance for q in taken.get(c, [])):
            continue
        taken.setdefault(c, []).append(int(ps))
        chosen.append(idx)
        if len(chosen) >= max_loci:
            break
    return np.asarray(chosen, dtype=np.int64)


def _hover_columns(t: pd.DataFrame, genes: Any) -> dict[str, Any]:
    """Hover data: two string columns, the rest numeric (sent as compact binary arrays)."""
    label = _labels(t)
    where = (t["chrom"].astype(str) + ":" + t["pos"].astype(str)).to_numpy()
    variant = np.where(label == where, label, [f"{a} ({b})" for a, b in zip(label, where,
                                                                           strict=True)])
    beta = t["beta"].to_numpy(dtype=float) if "beta" in t else np.full(len(t), np.nan)
    return {"variant": variant.tolist(), "p": t["p"].to_numpy(dtype=float), "beta": beta,
            "gene": nearest_genes(genes, t["chrom"].to_numpy(), t["pos"].to_numpy()).tolist()}


_TOOLTIPS = [("variant", "@variant"), ("p", "@p{%.3g}"), ("beta", "@beta{%.4g}"),
             ("nearest gene", "@gene")]
_FORMATTERS = {"@p": "printf", "@beta": "printf"}


def _html(obj: Any, title: str) -> str:
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    return str(file_html(obj, INLINE, title=title))


def manhattan_html(table: pd.DataFrame, *, genes: Any = None, threshold: float = 5e-8,
                   title: str = "", label_p: float | None = None) -> str:
    """Interactive Manhattan plot as one self-contained HTML page (BokehJS inlined).

    Hovering a point shows the variant, its position, p, beta and nearest gene; the lead
    variants of the top loci (:func:`top_loci`, p ≤ ``label_p``) are labelled with their
    nearest gene (or variant name). Non-significant points are thinned with
    :func:`thin_points` (the title says how many are drawn).

    Parameters
    ----------
    table
        Association table (``chrom, pos, p`` and optionally ``id, ref, alt, beta``).
    genes
        :class:`genoma.kb.genes.GeneTable` of the positions' build, or None.
    threshold
        Genome-wide significance line.
    title
        Plot title (default: counts).
    label_p
        Label loci with p at or below (default: ``threshold``).

    Returns
    -------
    str
        The HTML document.
    """
    from bokeh.models import ColumnDataSource, FixedTicker, HoverTool, LabelSet, Span
    from bokeh.plotting import figure

    t = table[np.isfinite(table["p"]) & (table["p"] > 0)].copy()
    t["chrom"] = t["chrom"].astype(str)
    t["order"] = _chrom_order(t["chrom"])
    t = t.sort_values(["order", "pos"], kind="stable").reset_index(drop=True)
    span = t.groupby("order")["pos"].max()
    offsets = span.cumsum().shift(fill_value=0)
    x = (t["pos"].to_numpy() + offsets.loc[t["order"]].to_numpy()).astype(float)
    y = -np.log10(t["p"].to_numpy(dtype=float))
    keep = thin_points(x, y, t["p"].to_numpy(dtype=float)) if len(t) else np.empty(0, int)
    shown = t.iloc[keep]
    odd = (t["order"].rank(method="dense").to_numpy().astype(int) % 2 == 1)[keep]
    fig = figure(width=1100, height=420, output_backend="webgl", sizing_mode="stretch_width",
                 tools="pan,wheel_zoom,box_zoom,reset,save",
                 title=title or f"{len(t):,} variants ({len(keep):,} drawn; p > {THIN_KEEP_P:g} "
                                "thinned to one point per pixel cell)",
                 x_axis_label="chromosome", y_axis_label="−log10 p")
    hover = _hover_columns(shown, genes)
    renderers = []
    for sel, col in ((~odd, "#1f4e79"), (odd, "#7fa7d1")):  # chromosomes alternate colour
        data = {k: (np.asarray(v, dtype=object)[sel].tolist() if isinstance(v, list)
                    else v[sel]) for k, v in hover.items()}
        src = ColumnDataSource({"x": x[keep][sel], "y": y[keep][sel], **data})
        renderers.append(fig.scatter("x", "y", source=src, size=4, color=col,
                                     line_color=None))
    fig.add_tools(HoverTool(renderers=renderers, tooltips=_TOOLTIPS, formatters=_FORMATTERS))
    fig.add_layout(Span(location=-np.log10(threshold), dimension="width",
                        line_color="#c0392b", line_dash="dashed", line_width=1))
    centres = (offsets + span / 2).to_numpy()
    names = t.groupby("order")["chrom"].first().str.replace("chr", "", regex=False)
    fig.xaxis.ticker = FixedTicker(ticks=[float(c) for c in centres])
    fig.xaxis.major_label_overrides = {float(c): str(n) for c, n in
                                       zip(centres, names.to_numpy(), strict=True)}
    fig.xgrid.visible = False
    lead = top_loci(t, p_max=threshold if label_p is None else label_p)
    if lead.size:
        hov = _hover_columns(t.iloc[lead], genes)
        text = [g or v for g, v in zip(hov["gene"], hov["variant"], strict=True)]
        lab = ColumnDataSource({"x": x[lead], "y": y[lead], "text": text})
        fig.scatter("x", "y", source=lab, size=7, color="#c0392b", line_color=None)
        fig.add_layout(LabelSet(x="x", y="y", text="text", source=lab, x_offset=4, y_offset=4,
                                text_font_size="9pt"))
    return _html(fig, "Manhattan plot")


def qq_html(table: pd.DataFrame, *, genes: Any = None, title: str = "") -> str:
    """Interactive QQ plot (observed vs expected −log10 p) with λ_GC, as one HTML page.

    Points with p > ``THIN_KEEP_P`` are thinned on a grid of ``THIN_QQ_STEP`` (see
    :func:`thin_points`); hover shows variant, p, beta and nearest gene.
    """
    from bokeh.models import ColumnDataSource, HoverTool
    from bokeh.plotting import figure

    t = table[np.isfinite(table["p"]) & (table["p"] > 0)].copy()
    t = t.sort_values("p", kind="stable").reset_index(drop=True)
    n = len(t)
    pv = t["p"].to_numpy(dtype=float)
    expected = -np.log10((np.arange(1, n + 1) - 0.5) / max(n, 1))
    observed = -np.log10(pv)
    span = float(expected.max() - expected.min()) if n else 1.0
    keep = thin_points(expected, observed, pv, x_bins=max(int(span / THIN_QQ_STEP), 1),
                       y_step=THIN_QQ_STEP) if n else np.empty(0, int)
    src = ColumnDataSource({"x": expected[keep], "y": observed[keep],
                            **_hover_columns(t.iloc[keep], genes)})
    lam = genomic_inflation(pv)
    fig = figure(width=520, height=520, output_backend="webgl",
                 tools="pan,wheel_zoom,box_zoom,reset,save",
                 title=title or f"λGC = {lam:.3f} ({n:,} variants, {len(keep):,} drawn)",
                 x_axis_label="expected −log10 p", y_axis_label="observed −log10 p")
    pts = fig.scatter("x", "y", source=src, size=4, color="#1f4e79", line_color=None)
    fig.add_tools(HoverTool(renderers=[pts], tooltips=_TOOLTIPS, formatters=_FORMATTERS))
    top = float(expected.max()) if n else 1.0
    fig.line([0, top], [0, top], line_color="#c0392b", line_width=1)
    return _html(fig, "QQ plot")
