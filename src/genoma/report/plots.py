"""Small inline SVG charts for the HTML report (no JavaScript, no external assets).

The charts are plain SVG strings, built by hand rather than with matplotlib: they are a
few rectangles and labels, and building them as text keeps rendering in the
millisecond range. Every chart carries ``role="img"``, a ``<title>`` and an
``aria-label`` so that screen readers announce it, and every value shown by colour is
also written as text beside it (colour-blind readers).

All text that reaches the SVG goes through :func:`markupsafe.escape`; the functions
return :class:`markupsafe.Markup` so that Jinja2 (autoescape on) inserts them verbatim.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence

from markupsafe import Markup, escape

__all__ = ["COLOR_HEX", "POPULATION_HEX", "bar_chart", "pca_scatter", "score_histogram",
           "stacked_bar"]

COLOR_HEX: dict[str, str] = {
    "green": "#1b7f3b",
    "yellow": "#d4a100",
    "red": "#c0392b",
    "grey": "#8a8f98",
}
"""Fill colours of the traffic-light levels (chosen to differ in lightness as well)."""

_FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'

POPULATION_HEX: dict[str, str] = {
    "AFR": "#e69f00",
    "AMR": "#cc79a7",
    "EAS": "#009e73",
    "EUR": "#0072b2",
    "SAS": "#d55e00",
}
"""Colours of the 1000 Genomes superpopulations (Okabe–Ito, colour-blind safe)."""
_OTHER_HEX = ("#56b4e9", "#f0e442", "#999999", "#000000")
_PATIENT_HEX = "#111111"


def _fmt(v: float) -> str:
    return f"{v:.1f}".rstrip("0").rstrip(".")


def stacked_bar(
    parts: Sequence[tuple[str, int, str]],
    *,
    title: str,
    width: int = 520,
    height: int = 26,
) -> Markup:
    """One horizontal bar split into coloured parts, with a text legend below.

    Parameters
    ----------
    parts
        ``(label, count, fill)`` triples; parts with a zero count are left out of the
        bar but still listed in the legend.
    title
        Accessible title of the chart.
    width, height
        Size of the bar in CSS pixels.

    Returns
    -------
    Markup
        An ``<svg>`` element.
    """
    total = sum(max(0, c) for _, c, _ in parts)
    legend_h = 18
    h = height + legend_h + 6
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{h}" '
        f'viewBox="0 0 {width} {h}" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    if total == 0:
        out.append(
            f'<rect x="0" y="0" width="{width}" height="{height}" fill="#eeeeee" '
            f'stroke="#999999"/><text x="{width / 2}" y="{height / 2 + 4}" '
            f'text-anchor="middle" font-size="11" {_FONT}>none</text>'
        )
    else:
        x = 0.0
        for label, count, fill in parts:
            if count <= 0:
                continue
            w = width * count / total
            out.append(
                f'<rect x="{_fmt(x)}" y="0" width="{_fmt(w)}" height="{height}" '
                f'fill="{escape(fill)}" stroke="#ffffff"><title>{escape(label)}: {count}'
                f"</title></rect>"
            )
            if w >= 18:
                out.append(
                    f'<text x="{_fmt(x + w / 2)}" y="{height / 2 + 4}" text-anchor="middle" '
                    f'font-size="11" fill="#ffffff" {_FONT}>{count}</text>'
                )
            x += w
    # text legend: the colour is never the only carrier of meaning
    lx = 0.0
    step = width / max(1, len(parts))
    for label, count, fill in parts:
        out.append(
            f'<rect x="{_fmt(lx)}" y="{height + 8}" width="10" height="10" '
            f'fill="{escape(fill)}"/><text x="{_fmt(lx + 14)}" y="{height + 17}" '
            f'font-size="10" {_FONT}>{escape(label)}: {count}</text>'
        )
        lx += step
    out.append("</svg>")
    return Markup("".join(out))


def bar_chart(
    items: Sequence[tuple[str, float]],
    *,
    title: str,
    width: int = 520,
    bar_height: int = 14,
    fill: str = "#3b6ea8",
    max_value: float | None = None,
) -> Markup:
    """Horizontal bar chart with one labelled bar per item and its value written out.

    Parameters
    ----------
    items
        ``(label, value)`` pairs, drawn top to bottom.
    title
        Accessible title of the chart.
    width, bar_height
        Size in CSS pixels.
    fill
        Bar colour.
    max_value
        Value of a full-width bar (default: the largest value).

    Returns
    -------
    Markup
        An ``<svg>`` element (an empty chart says "no data").
    """
    label_w = 150
    value_w = 50
    gap = 4
    n = max(1, len(items))
    h = n * (bar_height + gap) + gap
    top = max_value if max_value is not None else max((v for _, v in items), default=0.0)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{h}" '
        f'viewBox="0 0 {width} {h}" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]
    if not items:
        out.append(f'<text x="0" y="{bar_height}" font-size="11" {_FONT}>no data</text>')
    span = width - label_w - value_w
    for i, (label, value) in enumerate(items):
        y = gap + i * (bar_height + gap)
        w = 0.0 if top <= 0 else span * max(0.0, min(value, top)) / top
        text = label if len(label) <= 24 else label[:23] + "…"
        out.append(
            f'<text x="{label_w - 6}" y="{y + bar_height - 3}" text-anchor="end" '
            f'font-size="10" {_FONT}>{escape(text)}</text>'
            f'<rect x="{label_w}" y="{y}" width="{_fmt(w)}" height="{bar_height}" '
            f'fill="{escape(fill)}"/>'
            f'<text x="{_fmt(label_w + w + 4)}" y="{y + bar_height - 3}" font-size="10" '
            f"{_FONT}>{escape(_fmt(value))}</text>"
        )
    out.append("</svg>")
    return Markup("".join(out))


def _pop_color(pop: str, order: Sequence[str]) -> str:
    if pop in POPULATION_HEX:
        return POPULATION_HEX[pop]
    return _OTHER_HEX[list(order).index(pop) % len(_OTHER_HEX)] if pop in order else "#999999"


def _text_width(text: str, size: float = 11.0) -> float:
    """Rough width of bold ``text`` in CSS pixels (for placing labels inside the chart)."""
    return len(text) * size * 0.62


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About ``n`` round tick values covering ``[lo, hi]``."""
    if not (math.isfinite(lo) and math.isfinite(hi)) or hi <= lo:
        return [lo]
    raw = (hi - lo) / n
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    first = math.ceil(lo / step) * step
    return [round(first + i * step, 10) for i in range(int((hi - first) / step) + 1)]


def _x_axis(lo: float, hi: float, sx: Callable[[float], float], *, baseline: float,
            centre: float, label: str) -> str:
    """Tick values under the plot (``baseline`` = bottom of the plot area) and the label."""
    parts = [f'<text x="{_fmt(sx(t))}" y="{baseline + 12}" text-anchor="middle" '
             f'font-size="9" {_FONT}>{escape(f"{t:g}")}</text>' for t in _ticks(lo, hi)]
    parts.append(f'<text x="{centre}" y="{baseline + 25}" text-anchor="middle" '
                 f'font-size="10" {_FONT}>{escape(label)}</text>')
    return "".join(parts)


def _svg_open(width: int, height: int, title: str) -> list[str]:
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" aria-label="{escape(title)}" class="chart">',
        f"<title>{escape(title)}</title>",
    ]


def pca_scatter(
    pc1: Sequence[float],
    pc2: Sequence[float],
    populations: Sequence[str],
    patient: tuple[float, float] | None,
    *,
    title: str,
    patient_label: str = "this patient",
    width: int = 520,
    height: int = 340,
) -> Markup:
    """Scatter of reference samples on PC1/PC2 by population, with the patient marked.

    Parameters
    ----------
    pc1, pc2
        Reference samples' scores on the first two principal components.
    populations
        Population label of each reference sample (coloured, and named in the legend
        with its count).
    patient
        The patient's ``(PC1, PC2)``, drawn as a large black diamond with a text label;
        ``None`` draws the reference only.
    title
        Accessible title of the chart.
    patient_label
        Text written beside the patient's mark.
    width, height
        Size in CSS pixels.

    Returns
    -------
    Markup
        An ``<svg>`` element.
    """
    left, right, top, legend_h, bottom = 46, 12, 10, 22, 34
    pw, ph = width - left - right, height - top - bottom - legend_h
    xs = [float(x) for x in pc1]
    ys = [float(y) for y in pc2]
    if patient is not None:
        xs_all, ys_all = [*xs, float(patient[0])], [*ys, float(patient[1])]
    else:
        xs_all, ys_all = xs, ys
    out = _svg_open(width, height, title)
    if not xs_all:
        out.append(f'<text x="0" y="14" font-size="11" {_FONT}>no data</text></svg>')
        return Markup("".join(out))
    x0, x1 = min(xs_all), max(xs_all)
    y0, y1 = min(ys_all), max(ys_all)
    padx, pady = (x1 - x0) * 0.05 or 1.0, (y1 - y0) * 0.05 or 1.0
    x0, x1, y0, y1 = x0 - padx, x1 + padx, y0 - pady, y1 + pady

    def sx(v: float) -> float:
        return left + pw * (v - x0) / (x1 - x0)

    def sy(v: float) -> float:
        return top + ph * (1 - (v - y0) / (y1 - y0))

    out.append(f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#ffffff" '
               f'stroke="#999999"/>')
    out.append(_x_axis(x0, x1, sx, baseline=top + ph, centre=left + pw / 2, label="PC1"))
    for t in _ticks(y0, y1):
        out.append(f'<text x="{left - 4}" y="{_fmt(sy(t) + 3)}" text-anchor="end" '
                   f'font-size="9" {_FONT}>{escape(f"{t:g}")}</text>')
    out.append(f'<text x="10" y="{top + ph / 2}" text-anchor="middle" font-size="10" '
               f'transform="rotate(-90 10 {top + ph / 2})" {_FONT}>PC2</text>')
    order = sorted(set(map(str, populations)))
    for x, y, pop in zip(xs, ys, populations, strict=True):
        out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="2.2" '
                   f'fill="{_pop_color(str(pop), order)}" fill-opacity="0.6"/>')
    if patient is not None:
        px, py = sx(float(patient[0])), sy(float(patient[1]))
        r = 7
        out.append(
            f'<polygon points="{px:.1f},{py - r:.1f} {px + r:.1f},{py:.1f} {px:.1f},'
            f'{py + r:.1f} {px - r:.1f},{py:.1f}" fill="{_PATIENT_HEX}" stroke="#ffffff" '
            f'stroke-width="1.5"><title>{escape(patient_label)}</title></polygon>')
        anchor = "end" if px + 10 + _text_width(patient_label) > width else "start"
        dx = -10 if anchor == "end" else 10
        out.append(f'<text x="{px + dx:.1f}" y="{py + 4:.1f}" text-anchor="{anchor}" '
                   f'font-size="11" font-weight="bold" {_FONT}>{escape(patient_label)}</text>')
    # legend (text carries the population; the colour only repeats it)
    ly = height - legend_h + 8
    counts = {p: 0 for p in order}
    for pop in populations:
        counts[str(pop)] += 1
    step = pw / max(1, len(order) + (1 if patient is not None else 0))
    lx = float(left)
    for pop in order:
        out.append(f'<circle cx="{lx + 5:.1f}" cy="{ly:.1f}" r="4" '
                   f'fill="{_pop_color(pop, order)}"/><text x="{lx + 12:.1f}" y="{ly + 4:.1f}" '
                   f'font-size="10" {_FONT}>{escape(pop)} ({counts[pop]})</text>')
        lx += step
    if patient is not None:
        out.append(f'<polygon points="{lx + 5:.1f},{ly - 5:.1f} {lx + 10:.1f},{ly:.1f} '
                   f'{lx + 5:.1f},{ly + 5:.1f} {lx:.1f},{ly:.1f}" fill="{_PATIENT_HEX}"/>'
                   f'<text x="{lx + 14:.1f}" y="{ly + 4:.1f}" font-size="10" {_FONT}>patient'
                   '</text>')
    out.append("</svg>")
    return Markup("".join(out))


def score_histogram(
    bin_edges: Sequence[float],
    counts_by_population: Mapping[str, Sequence[int]],
    patient_value: float | None,
    *,
    title: str,
    highlight: str | None = None,
    x_label: str = "Z score",
    patient_label: str = "this patient",
    width: int = 520,
    height: int = 240,
) -> Markup:
    """Histogram of a reference score distribution with the patient's value marked.

    All reference samples are drawn as light grey bars; the ``highlight`` population
    (the patient's most similar population) is drawn over them in its colour; the
    patient is a vertical black line labelled with ``patient_label``.

    Parameters
    ----------
    bin_edges
        ``n + 1`` increasing bin edges.
    counts_by_population
        Population → ``n`` counts per bin.
    patient_value
        The patient's value on the same scale (``None``: not marked).
    title
        Accessible title of the chart.
    highlight
        Population drawn in colour (the others are summed into the grey bars).
    x_label, patient_label
        Axis and mark texts.
    width, height
        Size in CSS pixels.

    Returns
    -------
    Markup
        An ``<svg>`` element.
    """
    left, right, top, bottom, legend_h = 40, 12, 26, 30, 18
    pw, ph = width - left - right, height - top - bottom - legend_h
    edges = [float(e) for e in bin_edges]
    n = len(edges) - 1
    out = _svg_open(width, height, title)
    if n < 1 or not counts_by_population:
        out.append(f'<text x="0" y="14" font-size="11" {_FONT}>no data</text></svg>')
        return Markup("".join(out))
    total = [sum(int(c[i]) for c in counts_by_population.values()) for i in range(n)]
    hl = [int(x) for x in counts_by_population.get(highlight or "", [0] * n)]
    x0, x1 = edges[0], edges[-1]
    if patient_value is not None and math.isfinite(patient_value):
        x0, x1 = min(x0, patient_value), max(x1, patient_value)
    ymax = max(max(total), 1)

    def sx(v: float) -> float:
        return left + pw * (v - x0) / ((x1 - x0) or 1.0)

    def sy(v: float) -> float:
        return top + ph * (1 - v / ymax)

    out.append(f'<line x1="{left}" y1="{top + ph}" x2="{left + pw}" y2="{top + ph}" '
               f'stroke="#666666"/>')
    for i in range(n):
        xa, xb = sx(edges[i]), sx(edges[i + 1])
        w = max(xb - xa - 0.5, 0.5)
        if total[i]:
            out.append(f'<rect x="{xa:.1f}" y="{sy(total[i]):.1f}" width="{w:.1f}" '
                       f'height="{top + ph - sy(total[i]):.1f}" fill="#d5d8dc"/>')
        if hl[i]:
            out.append(f'<rect x="{xa:.1f}" y="{sy(hl[i]):.1f}" width="{w:.1f}" '
                       f'height="{top + ph - sy(hl[i]):.1f}" '
                       f'fill="{POPULATION_HEX.get(highlight or "", "#3b6ea8")}"/>')
    out.append(_x_axis(x0, x1, sx, baseline=top + ph, centre=left + pw / 2, label=x_label))
    out.append(f'<text x="{left - 4}" y="{top + 4}" text-anchor="end" font-size="9" '
               f'{_FONT}>{ymax}</text><text x="{left - 4}" y="{top + ph}" text-anchor="end" '
               f'font-size="9" {_FONT}>0</text>')
    if patient_value is not None and math.isfinite(patient_value):
        px = sx(patient_value)
        out.append(f'<line x1="{px:.1f}" y1="{top - 8}" x2="{px:.1f}" y2="{top + ph}" '
                   f'stroke="{_PATIENT_HEX}" stroke-width="2.5" stroke-dasharray="5,2">'
                   f'<title>{escape(patient_label)}</title></line>')
        # the label sits above the plot area, centred on the line when it fits
        half = _text_width(patient_label) / 2
        tx = min(max(px, half), width - half)
        out.append(f'<text x="{tx:.1f}" y="12" text-anchor="middle" '
                   f'font-size="11" font-weight="bold" {_FONT}>{escape(patient_label)}</text>')
    ly = height - legend_h + 8
    out.append(f'<rect x="{left}" y="{ly - 5}" width="10" height="10" fill="#d5d8dc"/>'
               f'<text x="{left + 14}" y="{ly + 4}" font-size="10" {_FONT}>all reference '
               f'samples ({sum(total)})</text>')
    if highlight:
        hx = left + pw * 0.45
        out.append(f'<rect x="{hx:.1f}" y="{ly - 5}" width="10" height="10" '
                   f'fill="{POPULATION_HEX.get(highlight, "#3b6ea8")}"/>'
                   f'<text x="{hx + 14:.1f}" y="{ly + 4}" font-size="10" {_FONT}>'
                   f'{escape(highlight)} ({sum(hl)}), most similar to the patient</text>')
    out.append("</svg>")
    return Markup("".join(out))
