"""The pharmacogenomics analysis: calls → phenotypes → CPIC recommendations → findings.

Pure functions over model objects and knowledge (no file I/O): the CLI reads the VCF
(:func:`pgx_regions` says where) and the outside calls, and calls
:func:`pgx_analysis`, which runs the star-allele caller
(:mod:`genoma.analyses.pgx.caller`) for every gene on the genotypes of every sample at
once, then :func:`pgx_from_calls`, which translates diplotypes into phenotypes
(:mod:`~genoma.analyses.pgx.phenotype`), applies outside calls, and looks up CPIC
recommendations (:mod:`~genoma.analyses.pgx.recommend`).

Genome build
------------
The build comes from the caller (``--build``) or the VCF header. When neither gives it,
:func:`infer_build` compares the VCF's records with the knowledge's defining variants
of both builds: a record *supports* a build when its position and REF allele equal a
defining variant's position and REF in that build, and *contradicts* it when the
position matches but the REF differs. The build with at least
:data:`MIN_BUILD_SUPPORT` supporting records, more than twice the support of the other
build, and no more contradicting than supporting records is chosen; anything else is
an :class:`~genoma.errors.InconsistentInputError` (exit 5) asking for ``--build``.

Outside calls
-------------
An outside call replaces the VCF call of its gene (status ``outside_call``), as in
PharmCAT. A PharmCAT-style file (no sample column) describes one sample: with several
samples analysed it is refused (exit 5) rather than applied to all of them.
For the phenotype, for an activity-score gene a given activity score decides the phenotype, else
a given phenotype, else the diplotype; for other genes a given phenotype wins over the
diplotype. Disagreements between the given fields are kept as notes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from genoma.analyses.pgx import PGX_VERSION
from genoma.analyses.pgx.phenotype import INDETERMINATE, NOT_APPLICABLE, Phenotyper
from genoma.analyses.pgx.recommend import SOURCE, compile_rules, recommend
from genoma.errors import InconsistentInputError
from genoma.model.findings import (
    Color,
    Confidence,
    Evidence,
    Finding,
    Limitation,
    Recommendation,
)

if TYPE_CHECKING:
    from genoma.io.pgx_outside import OutsideCall
    from genoma.io.vcf import SiteGenotypes
    from genoma.kb.pgx import PgxKnowledge

__all__ = [
    "ANALYSIS",
    "ANALYSIS_VERSION",
    "CALL_COLUMNS",
    "CYP2D6_LIMITATION",
    "MIN_BUILD_SUPPORT",
    "PgxRun",
    "infer_build",
    "pgx_analysis",
    "pgx_from_calls",
    "pgx_regions",
]

ANALYSIS = "pgx"
ANALYSIS_VERSION = PGX_VERSION
OUTSIDE_CALL = "outside_call"
CALL_COLUMNS = [
    "sample", "gene", "diplotype", "phenotype", "activity_score", "status",
    "candidates", "missing_positions", "n_positions", "notes", "knowledge_version",
    "n_positions_in_vcf", "phased",
]
CYP2D6_LIMITATION = Limitation(
    text="CYP2D6 copy number and hybrid alleles are not assessable from a VCF",
    code="CYP2D6_CNV_NOT_ASSESSABLE",
)
MIN_BUILD_SUPPORT = 3
"""Records that must support a build for :func:`infer_build` to choose it."""

_LIST_COLUMNS = ("candidates", "missing_positions", "notes")


# --------------------------------------------------------------------------- build
def _defining_sites(knowledge: PgxKnowledge, build: str) -> dict[tuple[str, int], set[str]]:
    from genoma.analyses.pgx.definitions import parse_core

    sites: dict[tuple[str, int], set[str]] = {}
    for core in knowledge.alleles[f"{build}Core"].dropna():
        for c, p, r, _a in parse_core(core):
            sites.setdefault((c, p), set()).add(r)
    return sites


def infer_build(genotypes: SiteGenotypes, knowledge: PgxKnowledge) -> str:
    """Infer the genome build of genotypes from the REF alleles at PGx positions.

    Parameters
    ----------
    genotypes
        Genotypes read over :func:`pgx_regions` with ``build=None`` (both builds).
    knowledge
        The PGx knowledge.

    Returns
    -------
    str
        ``GRCh37`` or ``GRCh38``.

    Raises
    ------
    InconsistentInputError
        When the evidence does not single out one build (exit 5).
    """
    support: dict[str, int] = {}
    against: dict[str, int] = {}
    for build in ("GRCh37", "GRCh38"):
        sites = _defining_sites(knowledge, build)
        s = a = 0
        for c, p, r in zip(genotypes.chrom, genotypes.pos, genotypes.ref, strict=True):
            refs = sites.get((str(c), int(p)))
            if refs is None:
                continue
            if r in refs:
                s += 1
            else:
                a += 1
        support[build], against[build] = s, a
    best = max(support, key=lambda b: support[b])
    other = "GRCh37" if best == "GRCh38" else "GRCh38"
    if (support[best] >= MIN_BUILD_SUPPORT and support[best] > 2 * support[other]
            and against[best] <= support[best]):
        return best
    raise InconsistentInputError(
        "the genome build cannot be told from the VCF header nor from the REF alleles at "
        f"PGx positions (GRCh37: {support['GRCh37']} matching, {against['GRCh37']} "
        f"conflicting; GRCh38: {support['GRCh38']} matching, {against['GRCh38']} "
        "conflicting); pass --build GRCh37 or --build GRCh38"
    )


def pgx_regions(genes: Iterable[str], build: str | None, knowledge: PgxKnowledge) -> list[str]:
    """Disjoint VCF regions covering the genes (both builds' when ``build`` is None)."""
    from genoma.analyses.pgx.caller import gene_regions

    genes = list(genes)
    builds = [build] if build else ["GRCh37", "GRCh38"]
    spans: dict[str, list[tuple[int, int]]] = {}
    for b in builds:
        for reg in gene_regions(genes, b, knowledge):
            c, _, s = reg.partition(":")
            x, _, y = s.partition("-")
            spans.setdefault(c, []).append((int(x), int(y)))
    out: list[str] = []
    for c, ss in spans.items():
        merged: list[list[int]] = []
        for x, y in sorted(ss):
            if merged and x <= merged[-1][1] + 1:
                merged[-1][1] = max(merged[-1][1], y)
            else:
                merged.append([x, y])
        out.extend(f"{c}:{x}-{y}" for x, y in merged)
    return out


# ---------------------------------------------------------------------------- run
def _priority_color(priority: str | None) -> Color:
    if not isinstance(priority, str):
        return Color.GREY
    p = priority.lower()
    if p.startswith("abnormal"):
        return Color.YELLOW
    if p.startswith("normal"):
        return Color.GREEN
    return Color.GREY


def _json_float(x: Any) -> float | None:
    try:
        f = float(x)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(f) else f


@dataclass
class PgxRun:
    """Everything one PGx run produced, for every sample.

    Attributes
    ----------
    build
        Genome build of the input.
    knowledge_version
        Version of the PGx knowledge (``pypgx-0.27.0``).
    samples, genes
        Samples and genes, in output order.
    calls
        One row per sample × gene; columns :data:`CALL_COLUMNS` (``candidates``,
        ``missing_positions`` and ``notes`` hold lists).
    recommendations
        One row per sample × drug; columns
        :data:`genoma.analyses.pgx.recommend.RECOMMENDATION_COLUMNS`.
    priorities
        ``(gene, phenotype) → Priority`` of the knowledge's phenotype table.
    """

    build: str
    knowledge_version: str
    samples: list[str]
    genes: list[str]
    calls: pd.DataFrame
    recommendations: pd.DataFrame
    priorities: dict[tuple[str, str], str] = field(default_factory=dict)
    analysis_version: str = ANALYSIS_VERSION

    # -- summaries -------------------------------------------------------------------
    def summary(self) -> dict[str, Any]:
        """Counts for the ``--json`` summary."""
        return {
            "build": self.build,
            "knowledge_version": self.knowledge_version,
            "samples": len(self.samples),
            "genes": len(self.genes),
            "status": {str(k): int(v) for k, v in
                       self.calls["status"].value_counts().sort_index().items()},
            "recommendation_colors": {str(k): int(v) for k, v in
                                      self.recommendations["color"].value_counts()
                                      .sort_index().items()},
        }

    # -- findings --------------------------------------------------------------------
    def _evidence(self, description: str, url: str | None = None) -> Evidence:
        return Evidence(source=SOURCE, version=self.knowledge_version, url=url,
                        description=description)

    def _gene_confidence(self, r: pd.Series) -> Confidence:
        status, gene = r["status"], r["gene"]
        if status == "not_callable":
            return Confidence.NOT_ASSESSABLE
        if status == "ambiguous":
            return Confidence.LOW if r["phenotype"] == INDETERMINATE else Confidence.MODERATE
        if status == OUTSIDE_CALL:
            return Confidence.MODERATE
        if r["missing_positions"] or gene == "CYP2D6" or r["phenotype"] == INDETERMINATE:
            return Confidence.MODERATE
        return Confidence.HIGH

    def findings(self, sample: str) -> list[Finding]:
        """Findings of one sample: one ``diplotype`` per gene, one
        ``drug_recommendation`` per drug.

        ``diplotype`` data: ``diplotype, phenotype, activity_score, status,
        missing_positions, candidates, notes, n_positions, n_positions_in_vcf,
        outside_call, knowledge_version``. Confidence is ``high`` only for a call with
        every defining position present (never for CYP2D6, which always carries the
        copy-number limitation). ``drug_recommendation`` data: ``drug, genes,
        phenotypes, recommendation, classification, color, guideline``.

        Raises
        ------
        InconsistentInputError
            When ``sample`` was not analysed.
        """
        if sample not in self.samples:
            raise InconsistentInputError(f"sample {sample!r} was not analysed")
        out: list[Finding] = []
        calls = self.calls[self.calls["sample"] == sample]
        conf_of: dict[str, Confidence] = {}
        for _, r in calls.iterrows():
            gene = r["gene"]
            conf = self._gene_confidence(r)
            conf_of[gene] = conf
            lims: list[Limitation] = []
            if gene == "CYP2D6":
                lims.append(CYP2D6_LIMITATION)
            if r["status"] == "not_callable":
                lims.append(Limitation(
                    text="; ".join(r["notes"]) or f"{gene} is not callable from this VCF",
                    code="PGX_NOT_CALLABLE"))
            if r["status"] == "ambiguous":
                lims.append(Limitation(
                    text="several diplotypes fit the genotypes: " + ", ".join(r["candidates"]),
                    code="PGX_AMBIGUOUS"))
            if r["missing_positions"] and r["status"] != "not_callable":
                mp = r["missing_positions"]
                lims.append(Limitation(
                    text=f"{len(mp)} defining position(s) missing or no-call: "
                    + ", ".join(mp[:20]) + (" …" if len(mp) > 20 else ""),
                    code="PGX_MISSING_POSITIONS"))
            outside = r["status"] == OUTSIDE_CALL
            dip = r["diplotype"] or "not callable"
            color = (Color.GREY if r["status"] == "not_callable" else
                     _priority_color(self.priorities.get((gene, r["phenotype"]))))
            summary = f"{gene} {dip}: {r['phenotype']}"
            if _json_float(r["activity_score"]) is not None:
                summary += f" (activity score {r['activity_score']:g})"
            if outside:
                summary += " [outside call]"
            out.append(Finding(
                analysis=ANALYSIS, analysis_version=self.analysis_version,
                kind="diplotype", title=f"{gene} {dip}", summary=summary, subject=sample,
                genes=(gene,), confidence=conf, color=color,
                evidence=(self._evidence(
                    "outside call" if outside else
                    f"star-allele definitions and phenotype rules for {gene}"),),
                limitations=tuple(lims),
                data={
                    "diplotype": r["diplotype"] or None,
                    "phenotype": r["phenotype"],
                    "activity_score": _json_float(r["activity_score"]),
                    "status": r["status"],
                    "missing_positions": list(r["missing_positions"]),
                    "candidates": list(r["candidates"]),
                    "notes": list(r["notes"]),
                    "n_positions": int(r["n_positions"]),
                    "n_positions_in_vcf": int(r["n_positions_in_vcf"]),
                    "outside_call": outside,
                    "knowledge_version": r["knowledge_version"],
                },
            ))
        recs = self.recommendations[self.recommendations["sample"] == sample]
        order = [Confidence.HIGH, Confidence.MODERATE, Confidence.LOW,
                 Confidence.NOT_ASSESSABLE]
        for _, r in recs.iterrows():
            genes = tuple(r["genes"].split("+"))
            confs = [conf_of.get(g, Confidence.NOT_ASSESSABLE) for g in genes]
            conf = max(confs, key=order.index)
            if conf == Confidence.NOT_ASSESSABLE and any(
                    c != Confidence.NOT_ASSESSABLE for c in confs):
                conf = Confidence.LOW
            color = Color(r["color"])
            ev = self._evidence(f"CPIC guideline for {r['drug']}", r["guideline"])
            rec = Recommendation(
                text=r["recommendation"], drug=r["drug"], genes=genes,
                classification=r["classification"], color=color,
                guideline=r["guideline"], evidence=(ev,))
            lims = (CYP2D6_LIMITATION,) if "CYP2D6" in genes else ()
            out.append(Finding(
                analysis=ANALYSIS, analysis_version=self.analysis_version,
                kind="drug_recommendation", title=str(r["drug"]),
                summary=f"{r['drug']} ({r['phenotypes']}): {r['recommendation']}",
                subject=sample, genes=genes, confidence=conf, color=color,
                evidence=(ev,), recommendations=(rec,), limitations=lims,
                data={
                    "drug": r["drug"], "genes": list(genes), "phenotypes": r["phenotypes"],
                    "recommendation": r["recommendation"],
                    "classification": r["classification"], "color": color.value,
                    "guideline": r["guideline"],
                },
            ))
        return out


def _calls_frame(gc: Any, ph: Phenotyper) -> pd.DataFrame:
    """One gene's :class:`~genoma.analyses.pgx.caller.GeneCalls` → call rows."""
    gp = ph.gene(gc.gene)
    n = len(gc.samples)
    status = np.asarray(gc.status, dtype=object)
    phen, score = gp.phenotype_arrays(list(gc.allele1), list(gc.allele2))
    phen = phen.astype(object)
    notes = [list(x) for x in gc.notes]
    cache: dict[tuple[str, ...], Any] = {}
    for i in np.flatnonzero(status == "ambiguous"):
        cands = tuple(gc.candidates[i]) or (gc.diplotype(i),)
        res = cache.get(cands)
        if res is None:
            res = cache[cands] = gp.resolve(list(cands))
        phen[i] = res.phenotype
        score[i] = np.nan if res.activity_score is None else res.activity_score
        notes[i].extend(res.notes)
    bad = status == "not_callable"
    phen[bad] = INDETERMINATE
    score[bad] = np.nan
    if gp.method is None:
        phen[~bad] = NOT_APPLICABLE
    return pd.DataFrame({
        "sample": list(gc.samples),
        "gene": gc.gene,
        "diplotype": [gc.diplotype(i) for i in range(n)],
        "phenotype": phen,
        "activity_score": score,
        "status": status,
        "candidates": [list(x) for x in gc.candidates],
        "missing_positions": [list(x) for x in gc.missing_positions],
        "n_positions": int(gc.n_positions),
        "notes": notes,
        "knowledge_version": gc.knowledge_version,
        "n_positions_in_vcf": int(gc.n_positions_in_vcf),
        "phased": np.asarray(gc.phased, dtype=bool),
    })


def _outside_row(oc: OutsideCall, ph: Phenotyper, knowledge: PgxKnowledge) -> dict[str, Any]:
    from genoma.analyses.pgx.caller import sort_diplotype
    from genoma.io.pgx_outside import HLA_GENES

    gp = ph.gene(oc.gene)
    notes = [f"outside call ({oc.path}:{oc.line})"]
    if oc.gene in HLA_GENES:
        notes.append(f"the {knowledge.version} tables hold no phenotype or recommendation "
                     f"for {oc.gene}: reported as given")
    diplotype = ""
    dip_call = None
    if oc.alleles is not None:
        a, b = oc.alleles
        ref = knowledge.genes.loc[knowledge.genes["Gene"] == oc.gene, "RefAllele"]
        ref_allele = str(ref.iloc[0]) if len(ref) else None
        diplotype = sort_diplotype(a, b, ref_allele)
        dip_call = gp.phenotype(a, b)
    score: float | None = None
    if gp.method == "Score":
        if oc.activity_score is not None:
            score = oc.activity_score
            phenotype = str(gp.phenotype_of_scores(np.array([score]))[0])
            if oc.phenotype and oc.phenotype != phenotype:
                notes.append(f"given phenotype {oc.phenotype!r} disagrees with activity "
                             f"score {score:g} ({phenotype}); the score is used")
            if dip_call is not None and dip_call.activity_score not in (None, score):
                notes.append(f"diplotype {diplotype} has activity score "
                             f"{dip_call.activity_score:g}, not {score:g}")
        elif oc.phenotype:
            phenotype = oc.phenotype
            if dip_call is not None:
                if dip_call.phenotype == phenotype:
                    score = dip_call.activity_score
                else:
                    notes.append(f"diplotype {diplotype} gives {dip_call.phenotype}; the "
                                 "given phenotype is used")
        else:
            assert dip_call is not None  # the reader requires one of the three
            phenotype, score = dip_call.phenotype, dip_call.activity_score
            notes.extend(dip_call.notes)
    else:
        score = oc.activity_score
        if oc.phenotype:
            phenotype = oc.phenotype
            if (dip_call is not None and dip_call.phenotype not in (INDETERMINATE,
                                                                    NOT_APPLICABLE)
                    and dip_call.phenotype != phenotype):
                notes.append(f"diplotype {diplotype} gives {dip_call.phenotype}; the given "
                             "phenotype is used")
        elif dip_call is not None:
            phenotype = dip_call.phenotype
            notes.extend(dip_call.notes)
        else:
            phenotype = NOT_APPLICABLE
    return {"diplotype": diplotype, "phenotype": phenotype,
            "activity_score": np.nan if score is None else float(score),
            "status": OUTSIDE_CALL, "candidates": [], "notes": notes}


def _apply_outside(calls: pd.DataFrame, outside: Sequence[OutsideCall], samples: list[str],
                   ph: Phenotyper, knowledge: PgxKnowledge) -> pd.DataFrame:
    if not outside:
        return calls
    rows: list[dict[str, Any]] = []
    sample_set = set(samples)
    for oc in outside:
        if oc.sample is None and len(samples) > 1:
            raise InconsistentInputError(
                f"the outside-call file has no sample column but {len(samples)} samples "
                "are analysed; add a '#sample<TAB>gene<TAB>diplotype…' header with a sample "
                "column, or select one sample with -s", path=oc.path, line=oc.line)
        if oc.sample is not None and oc.sample not in sample_set:
            raise InconsistentInputError(
                f"outside call for sample {oc.sample!r}, which is not among the analysed "
                "samples", path=oc.path, line=oc.line)
        targets = [oc.sample] if oc.sample is not None else samples
        base = _outside_row(oc, ph, knowledge)
        for s in targets:
            rows.append({"sample": s, "gene": oc.gene, **base,
                         "notes": list(base["notes"])})
    oc_df = pd.DataFrame(rows)
    key = calls["sample"].astype(str) + "\t" + calls["gene"].astype(str)
    okey = set(oc_df["sample"] + "\t" + oc_df["gene"])
    replaced = calls[key.isin(okey)].set_index(["sample", "gene"])
    kept = calls[~key.isin(okey)]
    n_pos = {g: (int(d["n_positions"].iloc[0]), int(d["n_positions_in_vcf"].iloc[0]))
             for g, d in calls.groupby("gene")}
    oc_df["missing_positions"] = [[] for _ in range(len(oc_df))]
    oc_df["n_positions"] = [n_pos.get(g, (0, 0))[0] for g in oc_df["gene"]]
    oc_df["n_positions_in_vcf"] = [n_pos.get(g, (0, 0))[1] for g in oc_df["gene"]]
    oc_df["knowledge_version"] = knowledge.version
    oc_df["phased"] = False
    for i, (s, g) in enumerate(zip(oc_df["sample"], oc_df["gene"], strict=True)):
        if (s, g) in replaced.index:
            vcf = replaced.loc[(s, g)]
            if vcf["status"] != "not_callable":
                oc_df.at[i, "notes"] = [*oc_df.at[i, "notes"],
                                        f"overrides the VCF call {vcf['diplotype']}"]
    return pd.concat([kept, oc_df[CALL_COLUMNS]], ignore_index=True)


def pgx_from_calls(
    calls: dict[str, Any],
    knowledge: PgxKnowledge,
    samples: Sequence[str],
    build: str,
    outside: Sequence[OutsideCall] | None = None,
) -> PgxRun:
    """Phenotypes, outside calls and recommendations from diplotype calls.

    Parameters
    ----------
    calls
        Gene → :class:`~genoma.analyses.pgx.caller.GeneCalls` (same samples, same order).
    knowledge
        The PGx knowledge.
    samples
        The samples, in output order.
    build
        Genome build of the calls.
    outside
        Outside calls (:func:`genoma.io.pgx_outside.read_outside_calls`); they override
        the VCF calls of their genes.

    Returns
    -------
    PgxRun
    """
    ph = Phenotyper(knowledge)
    samples = list(samples)
    frames = [_calls_frame(gc, ph) for gc in calls.values()]
    table = (pd.concat(frames, ignore_index=True) if frames
             else pd.DataFrame({c: pd.Series(dtype=object) for c in CALL_COLUMNS}))
    table = _apply_outside(table, list(outside or []), samples, ph, knowledge)
    genes = list(dict.fromkeys([*calls, *(oc.gene for oc in (outside or []))]))
    s_order = {s: i for i, s in enumerate(samples)}
    g_order = {g: i for i, g in enumerate(genes)}
    table = table.assign(_s=table["sample"].map(s_order), _g=table["gene"].map(g_order))
    table = table.sort_values(["_s", "_g"], kind="stable").drop(columns=["_s", "_g"])
    table = table.reset_index(drop=True)[CALL_COLUMNS]
    recs = recommend(table[["sample", "gene", "phenotype"]], knowledge, genes=genes,
                     rules=compile_rules(knowledge))
    pt = knowledge.phenotypes
    priorities = {(str(g), str(p)): str(x) for g, p, x in
                  zip(pt["Gene"], pt["Phenotype"], pt["Priority"], strict=True)}
    return PgxRun(build=build, knowledge_version=knowledge.version, samples=samples,
                  genes=genes, calls=table, recommendations=recs, priorities=priorities)


def pgx_analysis(
    genotypes: SiteGenotypes,
    build: str,
    knowledge: PgxKnowledge,
    genes: Sequence[str] | None = None,
    outside: Sequence[OutsideCall] | None = None,
    progress: Callable[[str], None] | None = None,
    **caller_options: Any,
) -> PgxRun:
    """Run the PGx analysis on the genotypes of every sample at once.

    Parameters
    ----------
    genotypes
        Genotypes read over :func:`pgx_regions` (all samples, one pass).
    build
        Genome build (``GRCh37`` / ``GRCh38``).
    knowledge
        The PGx knowledge (``genoma.kb.get_source("pgx").load()``).
    genes
        Genes to call; default every gene definable by SNVs/indels in ``build``
        (:func:`genoma.analyses.pgx.caller.callable_genes`). Genes of outside calls
        are added.
    outside
        Outside calls, overriding the VCF calls of their genes.
    progress
        Called with each gene's name once it is called (the CLI's progress bar).
    **caller_options
        Passed to :func:`genoma.analyses.pgx.caller.call_genes`
        (``assume_ref_when_absent``).

    Returns
    -------
    PgxRun
    """
    from genoma.analyses.pgx.caller import call_genes, callable_genes

    if genes is None:
        genes = callable_genes(knowledge, build)
    outside_genes = {oc.gene for oc in (outside or [])}
    callable_set = set(callable_genes(knowledge, build))
    calls: dict[str, Any] = {}
    for g in genes:
        if g not in callable_set and g in outside_genes:
            continue  # e.g. HLA-B: only the outside call
        calls.update(call_genes(genotypes, [g], build, knowledge, **caller_options))
        if progress is not None:
            progress(g)
    return pgx_from_calls(calls, knowledge, genotypes.samples, build, outside)
