"""Findings → a self-contained HTML report (Jinja2, autoescape on, inline CSS and SVG).

The HTML is the one visual form of the report: the PDF is printed from it
(:mod:`genoma.report.pdf`). It references no external asset (no stylesheet, script,
font or image URL); the only URLs are the ``href`` of evidence links, and only
``http(s)`` links are made clickable.

Sections, in order: header, provenance, summary, one section per analysis (``pgx``
first, then the other known analyses in :data:`ANALYSIS_ORDER`, then unknown ones in
first-seen order), patient phenotypes, limitations (always present), how to read.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import jinja2

from genoma.model.findings import (
    AnalysisResult,
    Color,
    Finding,
    Limitation,
    Recommendation,
    ordinal,
)
from genoma.report.plots import COLOR_HEX, bar_chart, pca_scatter, score_histogram, stacked_bar

__all__ = [
    "ANALYSIS_ORDER",
    "ANALYSIS_TITLES",
    "COLOR_LABELS",
    "build_context",
    "is_normal_call",
    "to_html",
]

ANALYSIS_ORDER: tuple[str, ...] = (
    "pgx",
    "pgx.warfarin",
    "rare",
    "risk",
    "onco",
    "function",
    "ancestry",
    "gwas",
    "omics",
    "discovery",
)
"""Fixed order of the analysis sections; analyses not listed follow in first-seen order."""

ANALYSIS_TITLES: dict[str, str] = {
    "pgx": "Pharmacogenomics",
    "pgx.warfarin": "Warfarin dosing",
    "overview": "Variants in phenotype-linked genes (screen)",
    "rare": "Rare disease diagnosis",
    "risk": "Disease risk",
    "onco": "Oncology",
    "function": "Variant function",
    "ancestry": "Genetic ancestry",
    "gwas": "Association analysis",
    "omics": "Omics",
    "discovery": "Discovery",
}

COLOR_LABELS: dict[str, tuple[str, str]] = {
    Color.GREEN.value: ("✓", "Green — standard use"),
    Color.YELLOW.value: ("▲", "Yellow — adjust or consider alternatives"),
    Color.RED.value: ("✕", "Red — avoid or act"),
    Color.GREY.value: ("–", "Grey — no recommendation / not assessable"),
}
"""Colour → (symbol, text): colour is never the only carrier of meaning."""

_COLOR_SEVERITY = {"red": 0, "yellow": 1, "green": 2, "grey": 3}
_SEX = {
    "FEMALE": "female",
    "MALE": "male",
    "OTHER_SEX": "other",
    "UNKNOWN_SEX": "unknown",
}
_MAX_LIST = 30
_MAX_ROWS = 50


# ---------------------------------------------------------------------------- helpers


def _date(stamp: str | None) -> str:
    """``2026-01-02T03:05:00+00:00`` → ``2026-01-02 03:05 UTC`` (unparsable: as given)."""
    if not stamp:
        return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    try:
        dt = datetime.fromisoformat(stamp)
    except ValueError:
        return stamp
    if dt.tzinfo is None:
        return dt.strftime("%Y-%m-%d %H:%M")
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _short(text: str, limit: int = 140) -> str:
    """``text`` cut at a word boundary to at most ``limit`` characters (plus "…")."""
    text = " ".join(text.split())
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0] + " …"


def _safe_url(url: str | None) -> str | None:
    """Only ``http(s)`` URLs become links (no ``javascript:`` or ``data:``)."""
    if url and url.strip().lower().startswith(("https://", "http://")):
        return url.strip()
    return None


def _scalar(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.4g}"
    if isinstance(v, (dict, list, tuple)):
        return json.dumps(v, ensure_ascii=False, default=str)
    return str(v)


def _label(key: str) -> str:
    return key.replace("_", " ").strip().capitalize()


def data_rows(data: dict[str, Any], skip: Iterable[str] = ()) -> list[dict[str, Any]]:
    """Turn a finding's ``data`` payload into compact rows for a key/value table.

    Lists of scalars are joined (at most 30 shown, then "… N more"); lists of records
    (dicts) become a nested table of at most 50 rows; nested dicts are shown as JSON.

    Parameters
    ----------
    data
        The ``Finding.data`` mapping.
    skip
        Keys already shown elsewhere.

    Returns
    -------
    list of dict
        ``{"key", "label", "text", "table"}`` where ``table`` is ``None`` or
        ``{"columns": [...], "rows": [[...]], "more": int}``.
    """
    skipped = set(skip)
    rows: list[dict[str, Any]] = []
    for key, value in data.items():
        if key in skipped:
            continue
        row: dict[str, Any] = {"key": key, "label": _label(key), "text": "", "table": None}
        if isinstance(value, (list, tuple)) and value and all(isinstance(v, dict) for v in value):
            cols: list[str] = []
            for rec in value[:_MAX_ROWS]:
                for c in rec:
                    if c not in cols:
                        cols.append(c)
            row["table"] = {
                "columns": [_label(c) for c in cols],
                "rows": [[_scalar(rec.get(c)) for c in cols] for rec in value[:_MAX_ROWS]],
                "more": max(0, len(value) - _MAX_ROWS),
            }
            row["text"] = f"{len(value)} records"
        elif isinstance(value, (list, tuple)):
            shown = ", ".join(_scalar(v) for v in value[:_MAX_LIST])
            extra = len(value) - _MAX_LIST
            row["text"] = (shown + (f" … {extra} more" if extra > 0 else "")) or "none"
            row["count"] = len(value)
        else:
            row["text"] = _scalar(value)
        rows.append(row)
    return rows


def _evidence(ev: Iterable[Any]) -> list[dict[str, Any]]:
    return [
        {
            "source": e.source,
            "version": e.version,
            "identifier": e.identifier,
            "url": _safe_url(e.url),
            "raw_url": e.url if not _safe_url(e.url) else None,
            "description": e.description,
        }
        for e in ev
    ]


def _color(c: Color | str) -> dict[str, str]:
    value = c.value if isinstance(c, Color) else str(c)
    symbol, text = COLOR_LABELS.get(value, COLOR_LABELS["grey"])
    return {"value": value, "symbol": symbol, "text": text, "hex": COLOR_HEX.get(value, "#888")}


_RISK_FIGURE_KEYS = ("distribution", "pca")
"""``polygenic_score`` data drawn as figures instead of listed."""


def _risk_figures(f: Finding) -> list[dict[str, Any]]:
    """The PCA and the score distribution of a ``polygenic_score`` finding, patient marked.

    Each figure is ``{"svg": Markup, "caption": str}``; a figure whose data the finding
    does not carry (no reference panel) is left out.
    """
    d = f.data
    figs: list[dict[str, Any]] = []
    pop = d.get("most_similar_population")
    pca = d.get("pca")
    if isinstance(pca, dict) and pca.get("ref_pc1"):
        patient = ((pca["patient_pc1"], pca["patient_pc2"])
                   if pca.get("patient_pc1") is not None else None)
        figs.append({
            "kind": "pca",
            "svg": pca_scatter(
                pca["ref_pc1"], pca["ref_pc2"], pca["ref_population"], patient,
                title=f"Genetic ancestry PCA: reference {pca.get('reference', '')} samples by "
                      "population, with this patient marked",
                patient_label="this patient" + (f" (most similar: {pop})" if pop else "")),
            "caption": (f"Principal components of the reference panel "
                        f"{pca.get('reference', '')} ({len(pca['ref_pc1'])} samples drawn, "
                        f"{pca.get('n_shared_sites', '?')} shared sites); the patient "
                        "(black diamond) is projected onto them"
                        + (f" and is most similar to {pop}." if pop else ".")),
        })
    dist = d.get("distribution")
    if isinstance(dist, dict) and dist.get("bin_edges"):
        z = d.get("patient_z")
        pct = d.get("percentile")
        label = "this patient"
        if z is not None:
            label += f": Z = {z:+.2f}"
        if pct is not None:
            label += f", {ordinal(pct)} percentile"
        figs.append({
            "kind": "distribution",
            "svg": score_histogram(
                dist["bin_edges"], dist["counts_by_population"], z,
                title=f"Distribution of {d.get('pgs_id', 'the score')} in the reference "
                      "panel, with this patient marked",
                highlight=pop, x_label=f"ancestry-adjusted score ({dist.get('statistic')})",
                patient_label=label),
            "caption": ("Ancestry-adjusted score of the reference samples; the percentile "
                        "places the patient among genetically similar people"
                        + (f" ({pop})" if pop else "")
                        + ". Relative, not absolute: this is not a probability of disease."),
        })
    return figs


def _notice(f: Finding) -> str | None:
    """A banner for demonstration or meaningless scores (named so by their header)."""
    text = " ".join(str(f.data.get(k) or "") for k in ("name", "trait")).lower()
    if f.kind == "polygenic_score" and ("demonstration" in text or "no clinical" in text):
        return ("Demonstration score: generated by genoma to show this section; it has no "
                "clinical meaning and predicts no disease.")
    return None


def _finding_card(f: Finding, anchor: str) -> dict[str, Any]:
    is_prs = f.kind == "polygenic_score"
    return {
        "anchor": anchor,
        "title": f.title,
        "kind": f.kind,
        "analysis": f.analysis,
        "analysis_version": f.analysis_version,
        "summary": f.summary,
        "genes": list(f.genes),
        "variants": [{"key": v.key, "build": v.build, "id": v.id} for v in f.variants],
        "confidence": f.confidence.value.replace("_", " "),
        "color": _color(f.color),
        "rank": f.rank,
        "score": f.score,
        "evidence": _evidence(f.evidence),
        "recommendations": [_rec(r) for r in f.recommendations],
        "limitations": [lim.text for lim in f.limitations],
        "data": data_rows(f.data, skip=_RISK_FIGURE_KEYS if is_prs else ()),
        "figures": _risk_figures(f) if is_prs else [],
        "notice": _notice(f),
        "relative": is_prs,
    }


def _rec(r: Recommendation) -> dict[str, Any]:
    return {
        "drug": r.drug,
        "genes": list(r.genes),
        "text": r.text,
        "classification": r.classification,
        "guideline": r.guideline,
        "guideline_url": _safe_url(r.guideline),
        "color": _color(r.color),
        "evidence": _evidence(r.evidence),
    }


_DIPLOTYPE_KEYS = ("diplotype", "phenotype", "activity_score")
_NORMAL_DIPLOTYPES = frozenset({"reference/reference", "*1/*1"})
_NO_PHENOTYPE = frozenset({"", "n/a", "na", "none", "—", "-"})
_FACT_MAX = 60
"""A scalar ``data`` value up to this length is shown inline in a gene card."""


def is_normal_call(f: Finding) -> bool:
    """Whether a ``diplotype`` finding is a normal, fully called genotype.

    Such genes are shown as one row of a compact table instead of a full card. A
    finding qualifies only when *all* of these hold: confidence ``high``; colour not
    red or yellow; no limitation; ``data["status"]`` absent or ``"called"``; no
    ``outside_call``; no missing position; at most one candidate diplotype; and the
    phenotype is normal (starts with "normal") or, when no phenotype is given, the
    diplotype is ``Reference/Reference`` or ``*1/*1``. Anything ambiguous, not
    callable, called outside, low-confidence or non-normal keeps its full card.

    Parameters
    ----------
    f
        A finding of kind ``diplotype``.

    Returns
    -------
    bool
        True when the compact row shows everything that matters about the gene.
    """
    d = f.data
    if f.confidence.value != "high" or f.color in (Color.RED, Color.YELLOW) or f.limitations:
        return False
    if str(d.get("status") or "called").lower() != "called" or d.get("outside_call"):
        return False
    if d.get("missing_positions") or len(d.get("candidates") or ()) > 1:
        return False
    diplotype = str(d.get("diplotype") or "").strip().lower()
    phenotype = str(d.get("phenotype") or "").strip().lower()
    if phenotype.startswith("normal"):
        return bool(diplotype)
    return phenotype in _NO_PHENOTYPE and diplotype in _NORMAL_DIPLOTYPES


def _redundant_notes(f: Finding) -> bool:
    """True when every ``data["notes"]`` entry is repeated in a limitation's text."""
    notes = f.data.get("notes")
    if not isinstance(notes, (list, tuple)) or not notes:
        return False
    texts = " ".join(lim.text for lim in f.limitations)
    return all(isinstance(n, str) and n in texts for n in notes)


def _gene_entry(f: Finding, anchor: str) -> dict[str, Any]:
    gene = f.genes[0] if f.genes else str(f.data.get("gene", f.title))
    score = f.data.get("activity_score", f.score)
    skip = [*_DIPLOTYPE_KEYS, "gene"]
    if _redundant_notes(f):
        skip.append("notes")  # shown word for word under Limitations
    rows = data_rows(f.data, skip=skip)
    facts = [
        r for r in rows if not r["table"] and not r.get("count") and len(r["text"]) <= _FACT_MAX
    ]
    n_pos, n_vcf = f.data.get("n_positions"), f.data.get("n_positions_in_vcf")
    return {
        "anchor": anchor,
        "gene": gene,
        "title": f.title,
        "diplotype": _scalar(f.data.get("diplotype") or "—"),
        "phenotype": _scalar(f.data.get("phenotype") or "—"),
        "activity_score": _scalar(score) if score is not None else "—",
        "confidence": f.confidence.value.replace("_", " "),
        "color": _color(f.color),
        "status": str(f.data.get("status") or ""),
        "positions": f"{n_vcf}/{n_pos}" if n_pos is not None and n_vcf is not None else "—",
        "knowledge_version": _scalar(f.data.get("knowledge_version")),
        "summary": f.summary,
        "data": rows,
        "facts": facts,
        "details": [r for r in rows if r not in facts],
        "evidence": _evidence(f.evidence),
        "limitations": [lim.text for lim in f.limitations],
        "compact": is_normal_call(f),
    }


def _grey_groups(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Grey drug rows grouped by their (identical) recommendation text, first-seen order."""
    groups: dict[str, dict[str, Any]] = {}
    for d in rows:
        text = " ".join(str(d["text"]).split())
        g = groups.setdefault(text, {"text": text, "drugs": []})
        g["drugs"].append(d)
    return list(groups.values())


def _pgx_section(findings: list[Finding], prefix: str) -> dict[str, Any]:
    drugs: list[dict[str, Any]] = []
    genes: list[dict[str, Any]] = []
    others: list[dict[str, Any]] = []
    for i, f in enumerate(findings):
        if f.kind == "drug_recommendation":
            recs = f.recommendations or ()
            if not recs:
                others.append(_finding_card(f, f"{prefix}-{i}"))
            for r in recs:
                row = _rec(r)
                row["drug"] = r.drug or f.data.get("drug") or f.title
                row["genes"] = list(r.genes or f.genes)
                row["confidence"] = f.confidence.value.replace("_", " ")
                drugs.append(row)
        elif f.kind == "diplotype":
            genes.append(_gene_entry(f, f"{prefix}-{i}"))
        else:
            others.append(_finding_card(f, f"{prefix}-{i}"))
    drugs.sort(key=lambda d: (_COLOR_SEVERITY.get(d["color"]["value"], 9), str(d["drug"]).lower()))
    counts = Counter(d["color"]["value"] for d in drugs)
    chart = None
    if drugs:
        chart = stacked_bar(
            [
                (COLOR_LABELS[c][1].split(" — ")[0], counts.get(c, 0), COLOR_HEX[c])
                for c in ("red", "yellow", "green", "grey")
            ],
            title="Drug recommendations by traffic-light level",
        )
    main = [d for d in drugs if d["color"]["value"] != "grey"]
    grey = [d for d in drugs if d["color"]["value"] == "grey"]
    # full cards: called genes first (actionable), then the rest; order kept within each
    cards = [g for g in genes if not g["compact"] and g["status"] != "not_callable"]
    cards.sort(key=lambda g: g["status"].lower() not in ("called", ""))
    # genes the VCF cannot speak to: one compact row each (reason = their limitation)
    not_callable = [g for g in genes if not g["compact"] and g["status"] == "not_callable"]
    return {
        "drugs": drugs,
        "main_drugs": main,
        "grey_drugs": grey,
        "grey_groups": _grey_groups(grey),
        "genes": genes,
        "normal_genes": [g for g in genes if g["compact"]],
        "gene_cards": cards,
        "not_callable_genes": not_callable,
        "others": others,
        "chart": chart,
    }


def _section_order(result: AnalysisResult) -> list[str]:
    grouped = result.by_analysis()
    names = list(dict.fromkeys([*grouped, *result.manifest.analyses]))
    known = [a for a in ANALYSIS_ORDER if a in names]
    return known + [a for a in names if a not in ANALYSIS_ORDER]


def _limitations(result: AnalysisResult) -> list[dict[str, Any]]:
    """Run-level and per-finding limitations, de-duplicated by (code, text)."""
    seen: dict[tuple[str | None, str], dict[str, Any]] = {}

    def add(lim: Limitation, origin: str) -> None:
        key = (lim.code, lim.text.strip())
        item = seen.setdefault(key, {"text": lim.text, "code": lim.code, "origins": []})
        if origin not in item["origins"]:
            item["origins"].append(origin)

    for lim in result.limitations:
        add(lim, "whole run")
    for f in result.findings:
        for lim in f.limitations:
            add(lim, f"{f.analysis}: {f.title}")
    return list(seen.values())


def _patient(result: AnalysisResult) -> dict[str, Any]:
    p = result.patient or {}

    def records(key: str, fields: tuple[str, ...]) -> list[dict[str, Any]]:
        return [{k: x.get(k) for k in fields} for x in (p.get(key) or []) if isinstance(x, dict)]

    feats = records("features", ("id", "label", "excluded", "onset"))
    meds = records("medications", ("id", "label", "status"))
    diseases = records("diseases", ("id", "label", "excluded"))
    return {
        "id": p.get("id") or result.subject,
        "sex": _SEX.get(str(p.get("sex", "UNKNOWN_SEX")), str(p.get("sex", "unknown"))),
        "age": p.get("age") or "not given",
        "observed": [f for f in feats if not f.get("excluded")],
        "excluded": [f for f in feats if f.get("excluded")],
        "medications": meds,
        "diseases": diseases,
        "known": bool(result.patient),
    }


def build_context(result: AnalysisResult) -> dict[str, Any]:
    """Everything the template needs, as plain values (no model objects).

    Parameters
    ----------
    result
        The run result to render.

    Returns
    -------
    dict
        The Jinja2 context of ``report.html.j2``.
    """
    from genoma import __version__

    m = result.manifest
    grouped = result.by_analysis()
    sections: list[dict[str, Any]] = []
    for n, name in enumerate(_section_order(result)):
        findings = grouped.get(name, [])
        prefix = f"sec{n}"
        sec: dict[str, Any] = {
            "name": name,
            "anchor": f"analysis-{n}",
            "title": ANALYSIS_TITLES.get(name, _label(name)),
            "version": m.analyses.get(name) or (findings[0].analysis_version if findings else ""),
            "n": len(findings),
            "pgx": None,
            "cards": [],
        }
        if name == "pgx":
            sec["pgx"] = _pgx_section(findings, prefix)
        else:
            ordered = sorted(
                enumerate(findings),
                key=lambda t: (t[1].rank is None, t[1].rank or 0, t[0]),
            )
            sec["cards"] = [_finding_card(f, f"{prefix}-{i}") for i, f in ordered]
        sections.append(sec)

    colors = Counter(f.color.value for f in result.findings)
    key_findings = sorted(
        (f for f in result.findings if f.color in (Color.RED, Color.YELLOW)),
        key=lambda f: (_COLOR_SEVERITY[f.color.value], f.analysis, f.title),
    )
    summary_chart = (
        bar_chart(
            [(s["title"], float(s["n"])) for s in sections],
            title="Number of findings per analysis",
        )
        if sections
        else None
    )
    return {
        "subject": result.subject,
        "patient": _patient(result),
        "date": _date(m.finished or m.started),
        "report_version": __version__,
        "manifest": {
            "genoma_version": m.genoma_version,
            "command": m.command,
            "started": m.started,
            "finished": m.finished,
            "python": m.python,
            "platform": m.platform,
            "genome_build": m.genome_build or "not stated",
            "status": m.status,
            "knowledge": [k.model_dump() for k in m.knowledge],
            "inputs": [i.model_dump() for i in m.inputs],
            "parameters": [(k, _scalar(v)) for k, v in sorted(m.parameters.items())],
            "analyses": sorted(m.analyses.items()),
        },
        "sections": sections,
        "n_findings": len(result.findings),
        "colors": {c: colors.get(c, 0) for c in ("red", "yellow", "green", "grey")},
        "color_labels": COLOR_LABELS,
        "key_findings": [
            {
                "title": f.title,
                "analysis": f.analysis,
                "color": _color(f.color),
                "summary": _short(f.summary),
            }
            for f in key_findings[:15]
        ],
        "n_key_more": max(0, len(key_findings) - 15),
        "summary_chart": summary_chart,
        "limitations": _limitations(result),
    }


@lru_cache(maxsize=1)
def _env() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("genoma.report", "templates"),
        autoescape=True,  # every template, whatever its extension
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    return env


def to_html(result: AnalysisResult) -> str:
    """Render an :class:`AnalysisResult` as one self-contained HTML document.

    Parameters
    ----------
    result
        Findings, limitations, manifest and patient of one run.

    Returns
    -------
    str
        HTML5 text with inline CSS and inline SVG charts; no JavaScript and no external
        asset. User-supplied strings are HTML-escaped by Jinja2's autoescape.
    """
    return _env().get_template("report.html.j2").render(**build_context(result))
