"""CPIC drug recommendations from gene phenotypes, with a traffic-light color.

The recommendation table of the knowledge (pypgx 0.27: ``Drug, Gene1, Phenotype1,
Gene2, Phenotype2, Recommendation``) holds one row per drug and phenotype (pair).
Two-gene rules present in that table (checked by the tests): NUDT15 + TPMT
(azathioprine, mercaptopurine, thioguanine), CYP2C19 + CYP2D6 (amitriptyline,
clomipramine, doxepin, imipramine, trimipramine), CYP2C9 + SLCO1B1 (fluvastatin),
ABCG2 + SLCO1B1 (rosuvastatin) and CACNA1S + RYR1 (volatile anesthetics and
succinylcholine). A drug is reported for a sample when at least one of its genes was
analysed; a gene of a two-gene rule that was not analysed, or whose phenotype could
not be assigned, is looked up as ``Indeterminate`` (the table has rows for that:
"… genotype result is not available").

**Classification.** The pypgx tables do not carry CPIC's per-recommendation strength
(Strong / Moderate / Optional); they carry the CPIC *level* of each gene–drug pair
(cpic table, ``CPICLevel``: A, B, …). ``classification`` is therefore
``CPIC level A`` (or ``CPIC level A (CYP2C19), B (CYP2D6)`` when the genes of a rule
differ).

**Color** (:func:`recommendation_color`) is derived from the recommendation text by
the explicit keyword rules in :data:`COLOR_RULES`, applied in order:

1. co-medication advice (``Avoid moderate and strong CYP2D6 inhibitors.``) is removed:
   it is not about the drug itself;
2. *explicit* whole-text rules for texts the generic rules would misread;
3. **red** when the first sentence tells to avoid the drug, says it is
   contraindicated / not recommended, or to select an alternative;
4. **grey** when the text gives no recommendation;
5. **yellow** for caveats anywhere (increased myopathy risk, a phenotype that could not
   be assigned, a genotype not available, "consider a 50% reduction");
6. **yellow** when the first sentence changes the dose (reduce, increase, ``<=``, a
   percentage), else **green** when it prescribes the standard / label / desired dose;
7. **yellow** when the text considers an alternative, monitoring, a dose change;
8. otherwise **grey** (``unclassified``; the tests check no text of the shipped table
   falls through).

No row for the phenotype (or an empty recommendation) is grey.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from genoma.analyses.pgx.phenotype import INDETERMINATE
from genoma.model.findings import Color

if TYPE_CHECKING:
    from genoma.kb.pgx import PgxKnowledge

__all__ = [
    "COLOR_RULES",
    "RECOMMENDATION_COLUMNS",
    "SOURCE",
    "DrugRule",
    "classify_recommendation",
    "compile_rules",
    "recommend",
    "recommendation_color",
]

SOURCE = "pgx"
"""Knowledge source name (``genoma kb list``)."""

RECOMMENDATION_COLUMNS = [
    "sample", "drug", "genes", "recommendation", "classification", "color",
    "guideline", "knowledge_version", "source", "phenotypes",
]

NO_RECOMMENDATION = "No CPIC recommendation for this phenotype in the knowledge."

_COMEDICATION = re.compile(r"avoid moderate and strong cyp2d6 inhibitors\.\s*")

#: (step, regex, scope, color): scope ``text`` = whole text, ``first`` = first sentence.
COLOR_RULES: list[tuple[str, str, str, Color]] = [
    # 2. explicit whole-text rules
    ("explicit", r"^there is no need to avoid", "text", Color.GREEN),
    ("explicit", r"approximately 70% chance for svr", "text", Color.GREEN),
    ("explicit", r"approximately 30% chance for svr", "text", Color.YELLOW),
    ("explicit", r"^insufficient evidence demonstrating clinical impact", "text", Color.GREEN),
    ("explicit", r"^clinical findings, family history, further genetic testing", "text",
     Color.GREEN),
    ("explicit", r"^initiate with a dose of 40 mg/day and increase to 80 mg/day after 3 days",
     "text", Color.GREEN),
    # 3. red: the first sentence says avoid / contraindicated / use something else
    ("red", r"^avoid\b", "first", Color.RED),
    ("red", r"contraindicated|should not be used|is not recommended", "first", Color.RED),
    ("red", r"^(select|choose|prescribe|recommend) (an )?alternative", "first", Color.RED),
    # 4. grey: no recommendation given
    ("grey", r"\bno recommendation\b|does not provide a recommendation", "text", Color.GREY),
    # 5. caveats anywhere → yellow
    ("caveat", r"increased risk for myopathy|could not be assigned|not available"
     r"|no (tpmt|nudt15) genotype|consider (a )?\d+(-\d+)?% reduction", "text", Color.YELLOW),
    # 6. yellow: the first sentence changes the dose; else green for the standard dose
    ("adjust", r"reduc|increas|decreas|drastic|<=|\d+%", "first", Color.YELLOW),
    ("green", r"^(initiate|start|use|prescribe)\b.*\b(standard|recommended|normal|desired"
     r"|label)\b", "first", Color.GREEN),
    ("green", r"^(based on \w+( status)?, )?(start|prescribe) with normal starting dose"
     r"|^(based on \w+( status)?, )?(start with normal|prescribe desired) starting dose",
     "first", Color.GREEN),
    ("green", r"^if considering \w+, use at standard dose", "first", Color.GREEN),
    ("green", r"no indication to change dose or therapy", "text", Color.GREEN),
    # 7. yellow: adjust dose, consider an alternative, monitor
    ("yellow", r"consider|reduc|increas|decreas|titrat|<=|alternative|monitor|avoid"
     r"|drastically|higher|lower|jaundice", "text", Color.YELLOW),
]
_COMPILED = [(step, re.compile(rx), scope, color) for step, rx, scope, color in COLOR_RULES]
_SENTENCE_END = re.compile(r"(?<!e\.g)(?<!i\.e)\.(\s|$)")


def classify_recommendation(text: str | None) -> tuple[Color, str]:
    """Color of a recommendation text and the rule step that decided it.

    Returns
    -------
    (Color, str)
        The color and the step (``explicit``, ``red``, ``grey``, ``caveat``, ``green``,
        ``yellow``, ``empty`` or ``unclassified``).
    """
    if text is None or (isinstance(text, float) and math.isnan(text)) or not str(text).strip():
        return Color.GREY, "empty"
    t = " ".join(str(text).lower().split())
    t = _COMEDICATION.sub("", t).strip()
    first = _SENTENCE_END.split(t, maxsplit=1)[0]
    for step, rx, scope, color in _COMPILED:
        if rx.search(first if scope == "first" else t):
            return color, step
    return Color.GREY, "unclassified"


def recommendation_color(text: str | None) -> Color:
    """Traffic-light color of a CPIC recommendation text (see the module docstring)."""
    return classify_recommendation(text)[0]


@dataclass(frozen=True)
class DrugRule:
    """The recommendations of one drug: its genes and the phenotype → text map."""

    drug: str
    genes: tuple[str, ...]
    table: dict[tuple[str | None, ...], str | None]
    """Phenotype per gene (``None`` = gene not tested) → recommendation text."""
    classification: str
    guideline: str | None


def compile_rules(knowledge: PgxKnowledge) -> list[DrugRule]:
    """Compile the recommendation and CPIC tables into one rule per drug."""
    rec = knowledge.recommendations
    cpic = knowledge.cpic
    rules: list[DrugRule] = []
    for drug, sub in rec.groupby("Drug", sort=True):
        g1 = sub["Gene1"].dropna().iloc[0]
        g2s = sub["Gene2"].dropna()
        genes: tuple[str, ...] = (g1, g2s.iloc[0]) if len(g2s) else (g1,)
        table: dict[tuple[str | None, ...], str | None] = {}
        for r in sub.itertuples(index=False):
            p1 = r.Phenotype1 if isinstance(r.Phenotype1, str) else None
            p2 = r.Phenotype2 if isinstance(r.Phenotype2, str) else None
            key = (p1, p2) if len(genes) == 2 else (p1,)
            txt = r.Recommendation
            table[key] = None if not isinstance(txt, str) or not txt.strip() else txt
        levels = []
        guideline = None
        for g in genes:
            row = cpic[(cpic["Gene"] == g) & (cpic["Drug"] == drug)]
            lvl = str(row["CPICLevel"].iloc[0]) if len(row) else "?"
            levels.append((g, lvl))
            if guideline is None and len(row) and isinstance(row["Guideline"].iloc[0], str):
                guideline = row["Guideline"].iloc[0]
        if len({lvl for _, lvl in levels}) == 1:
            classification = f"CPIC level {levels[0][1]}"
        else:
            classification = "CPIC level " + ", ".join(f"{lv} ({g})" for g, lv in levels)
        rules.append(DrugRule(str(drug), genes, table, classification, guideline))
    return rules


def recommend(
    phenotypes: pd.DataFrame,
    knowledge: PgxKnowledge,
    genes: Iterable[str] | None = None,
    rules: list[DrugRule] | None = None,
) -> pd.DataFrame:
    """CPIC recommendations for every sample and every drug of the analysed genes.

    Parameters
    ----------
    phenotypes
        Long table with columns ``sample, gene, phenotype`` (one row per sample × gene).
    knowledge
        The PGx knowledge.
    genes
        The genes analysed (default: the genes in ``phenotypes``). Drugs none of whose
        genes were analysed are left out.
    rules
        Precompiled rules (:func:`compile_rules`), to reuse across calls.

    Returns
    -------
    pandas.DataFrame
        Columns :data:`RECOMMENDATION_COLUMNS`, one row per sample × drug; ``genes`` is
        the rule's genes joined by ``+``; ``phenotypes`` is ``GENE: phenotype; …``.
    """
    rules = compile_rules(knowledge) if rules is None else rules
    analysed = set(phenotypes["gene"]) if genes is None else set(genes)
    wide = phenotypes.pivot_table(index="sample", columns="gene", values="phenotype",
                                  aggfunc="first")
    samples = list(dict.fromkeys(phenotypes["sample"]))
    wide = wide.reindex(samples)
    frames = []
    for rule in rules:
        if not analysed.intersection(rule.genes):
            continue
        cols: list[list[str | None]] = []
        for g in rule.genes:
            if g not in analysed:
                cols.append([None] * len(wide))  # gene not tested: the table's NaN rows
            elif g in wide.columns:
                cols.append(list(wide[g].fillna(INDETERMINATE).astype(str)))
            else:
                cols.append([INDETERMINATE] * len(wide))
        keys = list(zip(*cols, strict=True))
        # each distinct phenotype combination is looked up and colored once; a
        # phenotype the table has no row for (e.g. 'n/a', DPYD Indeterminate) → None
        per_key: dict[tuple[str | None, ...], tuple[str, str, str]] = {}
        for k in set(keys):
            t = rule.table.get(k)
            per_key[k] = (t if t is not None else NO_RECOMMENDATION,
                          recommendation_color(t).value,
                          "; ".join(f"{g}: {p if p is not None else 'not tested'}"
                                    for g, p in zip(rule.genes, k, strict=True)))
        rows = [per_key[k] for k in keys]
        rec_text = [r[0] for r in rows]
        color = [r[1] for r in rows]
        phen_str = [r[2] for r in rows]
        frames.append(pd.DataFrame({
            "sample": wide.index,
            "drug": rule.drug,
            "genes": "+".join(rule.genes),
            "recommendation": rec_text,
            "classification": rule.classification,
            "color": color,
            "guideline": rule.guideline,
            "knowledge_version": knowledge.version,
            "source": SOURCE,
            "phenotypes": phen_str,
        }))
    if not frames:
        return pd.DataFrame(columns=RECOMMENDATION_COLUMNS)
    out = pd.concat(frames, ignore_index=True)
    order = {s: i for i, s in enumerate(samples)}
    out = out.sort_values(["sample", "drug"], key=lambda c: c.map(order) if c.name == "sample"
                          else c, kind="stable").reset_index(drop=True)
    return out[RECOMMENDATION_COLUMNS]
