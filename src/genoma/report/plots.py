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

from collections.abc import Sequence

from markupsafe import Markup, escape

__all__ = ["COLOR_HEX", "bar_chart", "stacked_bar"]

COLOR_HEX: dict[str, str] = {
    "green": "#1b7f3b",
    "yellow": "#d4a100",
    "red": "#c0392b",
    "grey": "#8a8f98",
}
"""Fill colours of the traffic-light levels (chosen to differ in lightness as well)."""

_FONT = 'font-family="DejaVu Sans, Arial, sans-serif"'


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
